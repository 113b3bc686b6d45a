// Starting the root process: its ELF comes in as a boot module; the kernel maps its segments into a new
// Vmem (fresh Frames holding copies of the file's bytes), gives it a stack and a startup block, and hands
// it handles to its own Process, Vmem and Thread and to Frames over the other boot modules.

#if !KERNEL
import ABI
#endif

enum Loader {
    static let stackTop: UInt64 = 0x0000_7000_0000_0000
    static let stackSize: UInt64 = 256 * 1024
    static let startupAddress: UInt64 = 0x0000_7000_0000_0000

    /// Maps every loadable segment of an ELF image into `vmem`; returns the entry point and the program
    /// image description for fault reports.
    static func load(elfBytes image: UnsafeRawBufferPointer, name: [UInt8], into vmem: Vmem, process: Process) throws(SysError) -> UInt64 {
        let elf: ELFFile
        do { elf = try ELFFile(image) } catch { throw .badELF }
        let plan = try ELFLoadPlan.plan(elf)
        var segments: [(start: UInt64, size: UInt64, flags: UInt32)] = []
        for s in plan.segments {
            let frame = try Frame(pageCount: s.memorySize / pageSize, account: process.account)
            if s.fileSize > 0 {
                let source = UnsafeMutableRawBufferPointer(mutating: UnsafeRawBufferPointer(
                    rebasing: image[Int(s.fileOffset)..<Int(s.fileOffset + s.fileSize)]))
                try frame.copy(offset: s.offsetInPage, buffer: source, write: true)
            }
            try vmem.map(frame: frame, frameOffset: 0, address: s.vaddr, length: s.memorySize, flags: s.flags,
                         cache: .writeBack, ownerProcess: 0, ownerHandle: 0)
            var elfFlags: UInt32 = 0
            if s.flags.contains(.read) { elfFlags |= 4 }
            if s.flags.contains(.write) { elfFlags |= 2 }
            if s.flags.contains(.exec) { elfFlags |= 1 }
            segments.append((s.vaddr, s.memorySize, elfFlags))
        }
        let buildID = (try? elf.buildID()) ?? nil
        process.image = ProgramImage(name: name, buildID: buildID ?? [], segments: segments)
        ProcessTable.describe(process.debugEntry, name: name, buildID: buildID ?? [])
        return plan.entry
    }

    /// Creates and starts the root process from the boot module that holds it.
    static func startRoot(module: BootModule, otherModules: [BootModule]) throws(SysError) -> Process {
        let vmem = try Vmem()
        let process = Process(vmem: vmem)
        let size = Int(module.end - module.start)
        let image = UnsafeRawBufferPointer(start: KernelMemory.virtual(physical: module.start), count: size)
        let entry = try load(elfBytes: image, name: bytes("root"), into: vmem, process: process)

        let stack = try Frame(pageCount: stackSize / pageSize, account: process.account)
        try vmem.map(frame: stack, frameOffset: 0, address: stackTop - stackSize, length: stackSize,
                     flags: [.read, .write], cache: .writeBack, ownerProcess: 0, ownerHandle: 1)

        let thread = try Thread(process: process, entry: entry, stack: stackTop, argument: startupAddress)
        process.threads.append(thread)

        // Handles, then the startup block that lists them.
        func give(_ object: KernelObject) throws(SysError) -> UInt64 {
            UInt64(try process.handles.insert(object, rights: Rights.defaults(for: object.type)))
        }
        let namesStart = (StartupBlock.headerWords + otherModules.count * StartupBlock.moduleWords) * 8
        let commandLine = Kernel.boot.commandLine
        var words: [UInt64] = [StartupBlock.magic, try give(.process(process)), try give(.vmem(vmem)),
                               try give(.thread(thread)), UInt64(otherModules.count),
                               UInt64(namesStart), UInt64(commandLine.count),
                               try give(.resource(Resource(.machine)))]
        var names: [UInt8] = commandLine
        for m in otherModules {
            let frame = try Frame(physical: m.start, byteCount: m.end - m.start)
            words.append(try give(.frame(frame)))
            words.append(m.end - m.start)
            words.append(UInt64(namesStart + names.count))
            let name = moduleName(m.string)
            words.append(UInt64(name.count))
            names.append(contentsOf: name)
        }
        var block: [UInt8] = []
        for w in words { for b in 0..<8 { block.append(UInt8(truncatingIfNeeded: w >> (8 * b))) } }
        block.append(contentsOf: names)
        let pages = (UInt64(block.count) + pageSize - 1) / pageSize
        let startup = try Frame(pageCount: pages, account: process.account)
        try withBytes(&block) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            try startup.copy(offset: 0, buffer: b, write: true)
        }
        try vmem.map(frame: startup, frameOffset: 0, address: startupAddress, length: pages * pageSize,
                     flags: [.read], cache: .writeBack, ownerProcess: 0, ownerHandle: 2)
        Scheduler.makeReady(thread)
        return process
    }
}
