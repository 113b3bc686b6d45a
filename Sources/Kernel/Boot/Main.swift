// kmain: entered from Boot/entry.S in long mode on the boot stack, with the multiboot magic and the
// physical address of the boot information.

#if !KERNEL
import ABI
#endif

enum Kernel {
    static var boot = BootInfo(protocolVersion: 0, infoRange: PhysicalRange(start: 0, length: 0))
    static var commandLine = KernelCommandLine([])
    static var root: Process? = nil

    /// The root process is the system: when it ends, the run ends, with status success when its exit
    /// code is 0. A non-zero code is `testsFailed` under `usertest` or `fuzz=` (test runs: they exit with their verdict),
    /// `rootFailed` otherwise; a fault is `rootFaulted` in a normal boot.
    static func rootExited(_ process: Process) -> Never {
        let code = process.exitCode
        Log.info("root process exited with code \(hex: code)")
        if commandLine.has(.syscalls) || commandLine.has(.usertest) { Tracker.print() }
        if AccelCheck.active { AccelCheck.finish(rootExitCode: code) }
        exitQEMU(rootStatus(code: code, testRun: commandLine.has(.usertest) || commandLine.value(of: .fuzz) != nil))
    }

    /// The guest status for root's exit code.
    static func rootStatus(code: UInt64, testRun: Bool) -> GuestStatus {
        if code == 0 { return .success }
        if testRun { return .testsFailed }
        if ExitCode.isFault(code) {
            Log.error("root process faulted")
            return .rootFaulted
        }
        return .rootFailed
    }
}

@_cdecl("kmain")
func kmain(_ magic: UInt32, _ info: UInt64) {
    Console.initialize()
    Console.write("\nSwift microkernel for x86_64, build ")
    StackTrace.withBuildID { id in
        var sink = ConsoleSink()
        sink.writeHexBytes(id)
    }
    Console.write(10)
    Descriptors.initialize()

    Kernel.boot = parseBootInformation(magic: magic, info: info)
    dropIdentityMap()
    Kernel.commandLine = KernelCommandLine(Kernel.boot.commandLine)
    configureFromCommandLine()

    let boot = Kernel.boot
    Log.info("boot: multiboot\(boot.protocolVersion) from \"\(text: boot.bootloaderName)\", command line \"\(text: boot.commandLine)\"")
    CPU.logProtections()
    PMM.initialize(boot)
    Heap.usePhysicalMemory = true
    // After the heap moved to the PMM: the plan's page list outgrows the boot pool on large machines.
    DirectMap.extend(DirectMapPlan.managedMap(boot.memoryMap).map)
    // The share counts cover every page the PMM hands out (up to PMM.highestAddress, above 4 GiB too);
    // after the extension, so the table is reachable wherever it lands.
    SharedPages.initialize()
    logMemory()
    TLB.initialize(off: Kernel.commandLine.value(of: KernelWord.pcid.name, is: "off"))
    ACPIBoot.initialize()
    Tracker.initialize()
    PerCPU.initialize()
    KernelLock.take()           // held by CPU 0 until its idle loop first halts (Arch/KernelLock.swift)
    SyscallEntry.initialize()
    Platform.initialize()
    SyscallTrace.initialize()
    Scheduler.initialize()      // CPU 0's idle thread, then the other CPUs (SMP.startOtherCPUs)

    if Kernel.commandLine.has(.test) {
        let passed = KernelTests.run()
        exitQEMU(passed ? .success : .testsFailed)
    }
    if Kernel.commandLine.has(.panicTest) {
        PanicTest.start()
    }
    if Kernel.commandLine.has(.faultTest) {
        PanicTest.pageFault()
    }
    if Kernel.commandLine.has(.tripleFaultTest) {
        Log.info("triplefault_test: loading an empty IDT and trapping on purpose")
        cpu_triple_fault()
    }
    if Kernel.commandLine.has(.accelCheck) {
        AccelCheck.active = true
        AccelCheck.kernelSteps()
    }
    if Kernel.commandLine.has(.lockOrderTest) {
        let inner = SpinLock(LockRanks.testInner)
        inner.lock()
        Log.info("lockorder_test: logging while holding test.inner on purpose")
    }
    if Kernel.commandLine.has(.stackOverflowTest) {
        StackOverflowTest.start()
    }
    guard let rootModule = findRootModule() else {
        Log.info("kernel: no root module (multiboot module named \"root\"); nothing to run, halting")
        Panic.halt()
    }
    do {
        let others = boot.modules.filter { $0.start != rootModule.start }
        Kernel.root = try Loader.startRoot(module: rootModule, otherModules: others)
    } catch {
        Log.error("kernel: cannot start the root process: \(error.name)")
        exitQEMU(.panic)
    }
    Log.info("kernel: root process started")
    Timer.start()
    Scheduler.startAPs()
    Scheduler.idleLoop()
}

/// The boot module named `root` (see moduleName), or the only module.
private func findRootModule() -> BootModule? {
    let modules = Kernel.boot.modules
    for m in modules where moduleName(m.string).elementsEqual(bytes("root")) { return m }
    return modules.count == 1 ? modules[0] : nil
}

/// A module's name from its multiboot string: QEMU passes "PATH NAME", GRUB's module2 "NAME" (or a
/// path): the last word, without directories and without ".elf".
func moduleName(_ string: [UInt8]) -> [UInt8] {
    var words = string.split(separator: 32)
    while let last = words.last, last.isEmpty { words.removeLast() }
    guard var word = words.last.map(Array.init) else { return [] }
    if let slash = word.lastIndex(of: 47) { word = Array(word[(slash + 1)...]) }
    if word.count > 4 && word.suffix(4).elementsEqual(bytes(".elf")) { word.removeLast(4) }
    return word
}

private func parseBootInformation(magic: UInt32, info: UInt64) -> BootInfo {
    guard magic == BootInfo.multiboot1Magic || magic == BootInfo.multiboot2Magic else {
        kernelPanic("not started by a multiboot loader (bad magic in eax)")
    }
    do {
        return try BootInfo.parse(magic: magic, info: UnsafeRawPointer(KernelMemory.virtual(physical: info)),
                                  physicalAddress: info) { physical, length in
            guard physical < KernelMemory.directMapSize,
                  UInt64(length) <= KernelMemory.directMapSize - physical else { return nil }
            return UnsafeRawPointer(KernelMemory.virtual(physical: physical))
        }
    } catch {
        kernelPanic("malformed multiboot information")
    }
}

/// The boot code's identity map of the first 4 GiB (PML4 slot 0) was only needed to reach the higher
/// half; from here on the lower half belongs to user address spaces (and slot 255 to the heap window).
/// The image's pages are global (Boot/entry.S), so their identity-mapped entries go by toggling CR4.PGE.
private func dropIdentityMap() {
    symbol_boot_pml4()![0] = 0
    let cr4 = read_cr4()
    write_cr4(cr4 & ~TLB.cr4PGE)
    write_cr4(cr4)
}

private func configureFromCommandLine() {
    let line = Kernel.commandLine
    line.forEachUnknownWord { word in
        Log.warn("command line: unknown word \"\(text: word)\" (ignored; `osh boot --help` lists the words)")
    }
    if let value = line.value(of: .log) {
        if let level = line.logLevel {
            Log.level = level
        } else {
            Log.warn("log=\(text: value) is not a level (trace, debug, info, warn, error); keeping info")
        }
    }
    Panic.haltInsteadOfExit = line.value(of: KernelWord.panic.name, is: "halt")
    if line.value(of: KernelWord.ipcFastPath.name, is: "off") {
        FastPath.enabled = false
        Log.info("ipc: fast path off (ipc_fastpath=off)")
    } else if let value = line.value(of: .ipcFastPath) {
        Log.warn("ipc_fastpath=\(text: value) is not `off`; the fast path stays on")
    }
}

private func logMemory() {
    var usable: UInt64 = 0, total: UInt64 = 0
    for r in Kernel.boot.memoryMap where DirectMapPlan.isRAM(r.kind) {
        total += r.length
        if r.kind == .usable { usable += r.length }
    }
    for r in Kernel.boot.memoryMap {
        Log.debug("memory: \(hex: r.start)..\(hex: r.start + r.length) \(memoryKindName(r.kind))")
    }
    let plan = DirectMap.plan
    Log.info("memory: \(total >> 20) MiB total, \(usable >> 20) MiB usable, \(UInt64(PMM.managedFrames) >> 8) MiB managed, \(PMM.freeCount) frames free (\(PMM.freeAbove4GiB) above 4 GiB); direct map to \(hex: plan.end) (\(plan.pages.count) more \(plan.pageSize >> 20) MiB pages); kernel image \(hex: KernelMemory.imagePhysicalStart)..\(hex: KernelMemory.imagePhysicalEnd)")
    if PMM.ignoredBytes > 0 {
        Log.warn("memory: \(PMM.ignoredBytes >> 20) MiB beyond the direct map's 512 GiB left unused")
    }
    for m in Kernel.boot.modules {
        Log.info("module: \(hex: m.start)..\(hex: m.end) \"\(text: m.string)\"")
    }
    if let fb = Kernel.boot.framebuffer {
        Log.info("framebuffer: \(fb.width)x\(fb.height)x\(fb.bpp) at \(hex: fb.address), pitch \(fb.pitch)")
    }
}

private func memoryKindName(_ kind: MemoryKind) -> StaticString {
    switch kind {
    case .usable: return "usable"
    case .reserved: return "reserved"
    case .acpiReclaimable: return "ACPI reclaimable"
    case .acpiNVS: return "ACPI NVS"
    case .bad: return "bad"
    }
}

/// `panic_test`: a deliberate panic three calls deep, for testing stack traces end to end.
enum PanicTest {
    @inline(never) static func start() { Log.info("panic_test: panicking on purpose"); first(3) }
    static var depth = 0
    @inline(never) static func first(_ n: Int) { second(n &- 1); depth &+= 1 }
    @inline(never) static func second(_ n: Int) { third(n &- 1); depth &+= 1 }
    @inline(never) static func third(_ n: Int) {
        if n >= 0 { kernelPanic("panic_test: deliberate panic from a nested call chain") }
    }

    /// `fault_test`: a read of an unmapped lower-half address, for testing CPU exception reports.
    @inline(never) static func pageFault() {
        Log.info("fault_test: reading an unmapped address on purpose")
        let p = UnsafePointer<UInt64>(bitPattern: 0x0000_1000_0000_0000 as UInt)!
        depth &+= Int(truncatingIfNeeded: p.pointee)
    }
}
