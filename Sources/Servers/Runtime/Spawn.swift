// Starting a program from an ELF image held in a Frame (a boot module, later a file): the kernel maps
// the image (process_load, which also records it for fault reports); the runtime gives the new process
// a stack, handles to itself and a startup block, as the kernel does for root.

public struct SpawnedProcess {
    public let process: Handle
    public let vmem: Handle
    public let thread: Handle

    /// Waits for the process to end and closes the handles; returns its exit code.
    public func wait() throws(SysError) -> UInt64 {
        let code = try processWait(process)
        try? handleClose(thread)
        try? handleClose(vmem)
        try? handleClose(process)
        return code
    }
}

public enum Spawn {
    public static let stackTop: UInt64 = 0x0000_7000_0000_0000
    public static let stackSize: UInt64 = 256 * 1024
    public static let startupAddress: UInt64 = 0x0000_7000_0000_0000

    /// Starts `name` from the ELF in `image`; `commandLine` reaches it in its startup block. Each of
    /// `give` is duplicated into the new process before it starts, and its value there is appended to the
    /// command line as ` handle=N` (in order). On an error nothing is left behind: the half-made child is
    /// ended and its handles closed. Each of `grants` moves into the new process (the caller's handle is
    /// gone) and is listed in its startup block under its name (`import:NAME`, `export:NAME`, `grant:NAME`;
    /// Startup.imported/exported/granted find them). `environment` entries follow the command line, each
    /// after a zero byte (Startup.environment). `faultHandler` (a Sender) is bound to the new process
    /// (fault_handler_set) before its thread starts, so no fault of it goes past the handler. Each of
    /// `descriptors` (a Sender holding one open file, from the file protocol's `share`, and that file's
    /// id) moves into the new process as its POSIX descriptor `number` (the startup entry `fd:N`).
    /// With `running: false` everything is made but the thread is not started: the caller starts it
    /// (thread_start on `thread`) once it has told others about the process (root adopts init into pm
    /// first), or closes the handles to end it.
    public static func start(image: Handle, name: String, commandLine: String = "", give: [Handle] = [],
                             grants: [(name: String, handle: Handle)] = [],
                             descriptors: [(number: Int, sender: Handle, file: UInt64)] = [],
                             environment: [String] = [], faultHandler: Handle? = nil,
                             running: Bool = true) throws(SysError) -> SpawnedProcess {
        var named = grants.map { (name: $0.name, handle: $0.handle, value: UInt64(0)) }
        for d in descriptors {
            named.append((staticText(StartupBlock.descriptorPrefix) + String(d.number), d.sender, d.file))
        }
        let vmem = try vmemCreate()
        let process = try processCreate(vmem: vmem)
        let nameBytes = Array(name.utf8)
        let loaded = nameBytes.withUnsafeBytes { b in
            raw_syscall(Syscall.processLoad.rawValue, process.word, image.word,
                        UInt64(UInt(bitPattern: b.baseAddress)), UInt64(b.count), 0, 0)
        }
        guard loaded.error == 0 else {
            try? handleClose(process)
            try? handleClose(vmem)
            throw SysError(code: loaded.error)
        }
        do throws(SysError) {
            if let faultHandler { try faultHandlerSet(process, sender: faultHandler) }
            return try finish(process: process, vmem: vmem, entry: loaded.value, commandLine: commandLine, give: give,
                              grants: named, environment: environment, running: running)
        } catch {
            // Undo: a thread created but never started would keep the child (which may already hold
            // handles to itself) alive; stopping it ends the child, which closes its handles.
            try? handleClose(process)
            try? handleClose(vmem)
            throw error
        }
    }

    /// The rest of start once the image is loaded: stack, thread, handles, startup block, start.
    private static func finish(process: Handle, vmem: Handle, entry: UInt64, commandLine: String,
                               give: [Handle], grants: [(name: String, handle: Handle, value: UInt64)],
                               environment: [String], running: Bool) throws(SysError) -> SpawnedProcess {
        let stack = try frameCreate(size: stackSize)
        try vmemMap(vmem, frame: stack, address: stackTop - stackSize, length: stackSize, flags: [.read, .write])
        try handleClose(stack)
        let thread = try threadCreate(process: process, entry: entry, stack: stackTop, argument: startupAddress)
        do throws(SysError) {
            try prepare(process: process, vmem: vmem, thread: thread, commandLine: commandLine, give: give,
                        grants: grants, environment: environment)
            if running { try threadStart(thread) }
        } catch {
            try? threadStop(thread)
            try? handleClose(thread)
            throw error
        }
        return SpawnedProcess(process: process, vmem: vmem, thread: thread)
    }

    /// The child's own handles, the given ones, its startup block.
    private static func prepare(process: Handle, vmem: Handle, thread: Handle, commandLine: String,
                                give: [Handle], grants: [(name: String, handle: Handle, value: UInt64)],
                                environment: [String]) throws(SysError) {
        // The child's own handles, then its startup block (Sources/ABI/Syscalls.swift, StartupBlock).
        let childProcess = try processGive(process, try handleDuplicate(process, rights: Rights.defaults(for: .process)))
        let childVmem = try processGive(process, try handleDuplicate(vmem, rights: Rights.defaults(for: .vmem)))
        let childThread = try processGive(process, try handleDuplicate(thread, rights: Rights.defaults(for: .thread)))
        var fullLine = commandLine
        for h in give {
            let value = try processGive(process, try handleDuplicate(h, rights: try handleIdentify(h).rights))
            fullLine += " handle=\(value.raw)"
        }
        var given: [(value: Handle, size: UInt64, name: [UInt8])] = []
        for g in grants {
            given.append((try processGive(process, g.handle), g.value, Array(g.name.utf8)))
        }
        var line = Array(fullLine.utf8)
        for entry in environment { line.append(0); line.append(contentsOf: entry.utf8) }
        // Header (word 7, the machine Resource, is root's only: 0 here), the entries (handle, size 0, name offset, name length), the command line, the names.
        let entriesEnd = (StartupBlock.headerWords + given.count * StartupBlock.moduleWords) * 8
        var words: [UInt64] = [StartupBlock.magic, UInt64(childProcess.raw), UInt64(childVmem.raw), UInt64(childThread.raw),
                               UInt64(given.count), UInt64(entriesEnd), UInt64(line.count), 0]
        var nameOffset = entriesEnd + line.count
        for g in given {
            words += [UInt64(g.value.raw), g.size, UInt64(nameOffset), UInt64(g.name.count)]
            nameOffset += g.name.count
        }
        guard nameOffset <= 4096 else { throw .tooLarge }
        var block: [UInt8] = []
        for w in words { for k in 0..<8 { block.append(UInt8(truncatingIfNeeded: w >> (8 * k))) } }
        block.append(contentsOf: line)
        for g in given { block.append(contentsOf: g.name) }
        let startup = try frameCreate(size: 4096)
        let written = block.withUnsafeBytes { b in
            raw_syscall(Syscall.frameWrite.rawValue, startup.word, 0, UInt64(UInt(bitPattern: b.baseAddress)),
                        UInt64(b.count), 0, 0)
        }
        guard written.error == 0 else { throw SysError(code: written.error) }
        try vmemMap(vmem, frame: startup, address: startupAddress, length: 4096, flags: [.read])
        try handleClose(startup)
    }
}
