// `osh boot`: boot the OS in QEMU with the serial console on the terminal.

import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct Boot: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Boot the OS in QEMU with the serial console on this terminal.",
        discussion: """
            Console keys: Ctrl-A x quits, Ctrl-A h lists the keys, Ctrl-A Ctrl-A sends Ctrl-A.

            Boot modules: each --module PATH[:NAME] is handed to the kernel with NAME as its string (NAME defaults to the file's base name without extension; the root process is the module named root). Without --module, BUILD/servers/root.elf is the module root and BUILD/initfs.tar.zst the module initfs, when they exist.

            Symbolizer markup lines in the serial output ({{{reset}}}, {{{module…}}}, {{{mmap…}}}, {{{bt…}}}) are shown symbolized with the run's ELF files (--raw shows them as they are); serial.log always keeps the raw bytes.

            Every run gets build/run/<id>/ (serial.log, qemu.log, qmp.sock, gdb.sock, kernel.elf, NAME.elf per module, manifest.json); build/run/latest points at the newest. Old runs are pruned, never one whose QEMU is alive; sockets are removed when the VM ends.

            Accelerator: --accel auto uses KVM only when the check guest passed on this host (osh accel --check; the verdict is cached per host boot and QEMU version) and prints one 'accel:' line saying which and why.

            A VM that stops for good ends the run at once with one line naming the cause and CPU 0's registers (all of them in RUN/registers.txt).

            Exit status: the guest's isa-debug-exit status (0 success, 1 tests failed, 2 panic, 3 root process faulted, 4 root process exited with an error, 5 accelerator check failed); 120 the VM stopped with an internal error (e.g. KVM internal error); 121 the guest panicked (guest-panicked); 122 the guest reset or triple-faulted (-no-reboot) or powered off without a status; 124 timeout; 125 QEMU missing, failed, or ended without a guest status; 64 bad option value; 66 missing kernel, ISO or firmware; 69 grub-mkrescue missing or failed; 128+N after signal N.
            """ + "\n\n" + kernelWordsHelp)

    @Option(name: .long, help: "How to load the kernel: direct (QEMU -kernel) or iso (GRUB). Default: direct, but iso with --display gtk|sdl|vnc (only GRUB sets up the framebuffer fbd and outputd draw on).")
    var boot: BootMode?

    @Flag(name: .long, help: "Boot the ISO with UEFI firmware (OVMF); implies --boot iso.")
    var uefi = false

    @Option(name: .long, help: "Kernel command line (e.g. 'log=debug panic=halt').")
    var cmdline: String?

    @Flag(name: .long, help: "Run the in-kernel tests: append 'test', exit with the guest's status.")
    var test = false

    @Option(name: .long, help: "Stop QEMU after this many seconds and exit 124 (0: none; default 300 with --test).")
    var timeout: Double?

    @Option(name: .long, help: "Number of CPUs (QEMU -smp N; the kernel starts them all, threads run on the first).")
    var cpus: Int = 1

    @Option(name: .long, help: "Machine type: q35 or pc (i440FX); default QEMU's own (pc).")
    var machine: MachineChoice?

    @Option(name: .customLong("disk"), help: ArgumentHelp(
        "A raw disk image attached as a virtio-blk PCI device (repeatable; the guest's pcid finds them in this order).",
        valueName: "file"))
    var disks: [String] = []

    @Flag(name: .long, help: "Add a USB xHCI controller with a keyboard and a tablet (qemu-xhci, usb-kbd, usb-tablet; the guest's usbd drives them).")
    var usb = false

    @Option(name: .long, help: "Memory in MB, or with a suffix (512M, 1G).")
    var memory: String = "\(BootPlanning.defaultMemoryMB)M"

    @Option(name: .long, help: "Accelerator: tcg, kvm, or auto (KVM only after its check guest passed on this host, else TCG).")
    var accel: AccelChoice = .auto

    @Option(name: .long, help: "Display: none, gtk, sdl or vnc.")
    var display: DisplayChoice = .none

    @Flag(name: .long, help: "On a kernel panic, write the guest's memory to RUN/core.elf (boots with panic=halt; open it with osh attach --core RUN).")
    var dumpOnPanic = false

    @Flag(name: .long, help: "Start paused (-S) and wait for a debugger on the run's gdb.sock.")
    var gdbWait = false

    @Option(name: .long, help: "Also copy the serial output to this file.")
    var log: String?

    @Option(name: .long, help: "Boot, wait for the shell's prompt, type COMMAND there, print its output and exit with its exit status.")
    var exec: String?

    @Option(name: .long, help: "Like --exec with the lines of FILE, one per prompt; exit with the last line's status.")
    var script: String?

    @Option(name: .long, help: "How the shell's prompt ends, for --exec and --script.")
    var prompt: String = "$ "

    @Option(name: .long, help: "Build directory (default: the osh executable's directory if it holds kernel.elf, else ./build).")
    var buildDir: String?

    @Option(name: .long, help: "Kernel ELF (default: BUILD/kernel.elf).")
    var kernel: String?

    @Option(name: .long, help: "ISO image (default: BUILD/os.iso).")
    var iso: String?

    @Option(name: .customLong("module"), help: ArgumentHelp(
        "A boot module: PATH[:NAME] (repeatable; default BUILD/servers/root.elf as root and BUILD/initfs.tar.zst as initfs, if they exist).",
        valueName: "path[:name]"))
    var modules: [String] = []

    @Flag(name: .long, help: "Show symbolizer markup as it is instead of symbolizing it.")
    var raw = false

    @Option(name: .long, help: "QEMU executable: a path, or a name looked up in PATH.")
    var qemu: String = "qemu-system-x86_64"

    @Option(name: .long, help: "OVMF firmware code image for --uefi.")
    var ovmf: String = BootPlanning.defaultOVMF

    @Flag(name: .long, help: .hidden)
    var record = false

    @Option(name: .long, help: .hidden)
    var replay: String?

    @Flag(name: .long, help: .hidden)
    var untilPanic = false

    public init() {}

    public func run() throws {
        let code = BootRunner(options: self).run()
        throw ExitCode(code)
    }

    /// The options as plain values, for BootRunner.
    var resolvedTimeout: Double? {
        let value = timeout ?? (test ? BootPlanning.defaultTestTimeout : 0)
        return value > 0 ? value : nil
    }
    var mode: BootMode { uefi ? .iso : boot ?? (display == .none ? .direct : .iso) }
}

/// Prints `osh: error: ...` on stderr (one line).
func printError(_ message: String) {
    ConsoleTerminal.restore()
    FD.writeAll(STDERR_FILENO, "osh: error: \(message)\n")
}

func printNote(_ message: String) {
    FD.writeAll(STDERR_FILENO, "osh: \(message)\n")
}

/// Runs one `osh boot`; returns osh's exit status.
struct BootRunner {
    let options: Boot

    func run() -> Int32 {
        // Option values.
        guard BootPlanning.validCPUs.contains(options.cpus) else {
            printError("--cpus must be between 1 and \(BootPlanning.validCPUs.upperBound)"); return BootExitCode.usage
        }
        guard let memoryMB = BootPlanning.parseMemory(options.memory) else {
            printError("--memory: cannot parse '\(options.memory)' (use MB, or a suffix: 512M, 1G)")
            return BootExitCode.usage
        }
        var disks: [String] = []
        for d in options.disks {
            let path = d.hasPrefix("/") ? d : FileManager.default.currentDirectoryPath + "/" + d
            guard FileManager.default.isWritableFile(atPath: path) else {
                printError("--disk: cannot write '\(d)' (a raw image file must exist)"); return BootExitCode.missingInput
            }
            disks.append(path)
        }
        if let t = options.timeout, t < 0 || !t.isFinite {
            printError("--timeout must be a non-negative number of seconds"); return BootExitCode.usage
        }
        if options.exec != nil && options.script != nil {
            printError("--exec and --script cannot be used together"); return BootExitCode.usage
        }
        var execCommands: [String]?
        if let command = options.exec { execCommands = [command] }
        if let script = options.script {
            guard let text = try? String(contentsOfFile: script, encoding: .utf8) else {
                printError("--script: cannot read '\(script)'"); return BootExitCode.missingInput
            }
            execCommands = ExecDriver.scriptLines(text)
        }
        let mode = options.mode
        var cmdline = BootPlanning.kernelCommandLine(user: options.cmdline, test: options.test, panicHalt: options.dumpOnPanic)
        // A replay boots what the recording booted: its copies of the kernel and modules, its command line.
        var recorded: (run: VMRun, manifest: RunManifest)?
        if let replay = options.replay {
            do { recorded = try BootRunner.recording(replay, buildDir: BootRunner.buildDirectory(option: options.buildDir)) } catch {
                printError("\(error)"); return BootExitCode.missingInput
            }
            cmdline = recorded!.manifest.cmdline
        }
        if options.record || recorded != nil, mode != .direct || options.accel == .kvm {
            printError("record/replay works with direct boots under TCG only (no --boot iso, --uefi or --accel kvm)")
            return BootExitCode.usage
        }

        // Files.
        let buildDir = BootRunner.buildDirectory(option: options.buildDir)
        let kernelPath = recorded.flatMap { r in r.run.manifest.kernel.map(r.run.path(of:)) }
            ?? absolute(options.kernel ?? buildDir.appendingPathComponent("kernel.elf").path)
        let isoPath = absolute(options.iso ?? buildDir.appendingPathComponent("os.iso").path)
        let kernelExists = isReadableFile(kernelPath)
        // Boot modules: --module, else BUILD/servers/root.elf as root when it exists.
        var modules: [ModuleSpec] = []
        for text in options.modules {
            guard let spec = ModuleSpec.parse(text) else {
                printError("--module \(text): expected PATH[:NAME] with NAME made of letters, digits, '-', '_', '.' (and not 'kernel')")
                return BootExitCode.usage
            }
            if modules.contains(where: { $0.name == spec.name }) {
                printError("--module \(text): a module named \(spec.name) was given before")
                return BootExitCode.usage
            }
            modules.append(ModuleSpec(path: absolute(spec.path), name: spec.name))
        }
        if let recorded {
            for s in recorded.run.manifest.servers { modules.append(ModuleSpec(path: recorded.run.path(of: s), name: s.name ?? "root")) }
        } else if options.modules.isEmpty {
            let root = buildDir.appendingPathComponent("servers/root.elf").path
            if isReadableFile(root) { modules.append(ModuleSpec(path: root, name: "root")) }
            let initfs = buildDir.appendingPathComponent("initfs.tar.zst").path
            if isReadableFile(initfs) { modules.append(ModuleSpec(path: initfs, name: "initfs")) }
        }
        for m in modules where !isReadableFile(m.path) {
            printError("module not found: \(m.path) (run make, or fix --module)")
            return BootExitCode.missingInput
        }
        // --boot iso --kernel X boots X: a per-run ISO (never silently the default ISO).
        let perRunISO = BootPlanning.needsPerRunISO(mode: mode, cmdline: cmdline, explicitModules: !options.modules.isEmpty,
                                                    explicitKernel: options.kernel != nil && options.iso == nil)
        if mode == .direct || perRunISO, !kernelExists {
            printError("kernel not found: \(kernelPath) (run make, or pass --kernel PATH)")
            return BootExitCode.missingInput
        }
        if mode == .iso, !perRunISO, !isReadableFile(isoPath) {
            printError("ISO not found: \(isoPath) (run make, or pass --iso PATH)")
            return BootExitCode.missingInput
        }
        if options.uefi, !isReadableFile(options.ovmf) {
            printError("UEFI firmware not found: \(options.ovmf) (install the ovmf package, or pass --ovmf PATH)")
            return BootExitCode.missingInput
        }
        var grubMkrescue: String?
        if perRunISO {
            guard let tool = findExecutable("grub-mkrescue") else {
                printError("grub-mkrescue not found (needed to put --cmdline/--test into an ISO; install grub-common and xorriso)")
                return BootExitCode.toolFailure
            }
            grubMkrescue = tool
        }
        guard let qemuPath = findExecutable(options.qemu) else {
            printError("QEMU not found: \(options.qemu) (install qemu-system-x86, or pass --qemu PATH)")
            return BootExitCode.qemuFailure
        }

        // The run directory.
        let runDir: RunDirectory
        do {
            runDir = try RunDirectory.create(buildDir: buildDir)
        } catch {
            printError("cannot create a run directory under \(RunDirectory.runRoot(buildDir: buildDir).path): \(error.localizedDescription)")
            return BootExitCode.missingInput
        }
        for name in [RunDirectory.qmpSocketName, RunDirectory.gdbSocketName] where runDir.file(name).utf8.count >= 108 {
            printError("socket path too long for a Unix socket: \(runDir.file(name)) (use a shorter --build-dir)")
            return BootExitCode.usage
        }
        var files: [RunManifest.File] = []
        if kernelExists {
            do {
                files.append(try runDir.addELF(source: URL(fileURLWithPath: kernelPath), role: "kernel", name: "kernel.elf"))
            } catch {
                printError("cannot copy \(kernelPath) to \(runDir.path): \(error.localizedDescription)")
                return BootExitCode.missingInput
            }
        }
        // QEMU and GRUB load the run directory's copies, so the files booted are the files kept.
        if mode == .direct, !modules.isEmpty, runDir.path.contains(" ") {
            printError("QEMU's -initrd cannot load modules from a path with a space: \(runDir.path) (use a --build-dir without spaces)")
            return BootExitCode.usage
        }
        var bootModules: [ModuleSpec] = []
        for m in modules {
            do {
                var file = try runDir.addELF(source: URL(fileURLWithPath: m.path), role: "server", name: m.fileName)
                file.name = m.name
                files.append(file)
                bootModules.append(ModuleSpec(path: runDir.file(m.fileName), name: m.name))
            } catch {
                printError("cannot copy \(m.path) to \(runDir.path): \(error.localizedDescription)")
                return BootExitCode.missingInput
            }
        }
        var image: String?
        if mode == .iso {
            if perRunISO, let grubMkrescue {
                if let message = BootRunner.buildISO(runDir: runDir, grubMkrescue: grubMkrescue, cmdline: cmdline,
                                                         modules: bootModules) {
                    printError(message)
                    return BootExitCode.toolFailure
                }
                image = "os.iso"
            } else {
                image = isoPath
            }
        }

        // Accelerator: --accel auto boots the check guest (or reads its cached verdict) first.
        let accel: Accel
        switch options.accel {
        case _ where options.record || recorded != nil: accel = .tcg
        case .tcg: accel = .tcg
        case .kvm: accel = .kvm
        case .auto:
            let (chosen, line) = AccelChoiceResolver.auto(qemu: qemuPath, buildDir: buildDir)
            accel = chosen
            printNote(line)
        }
        var plan = QEMULaunchPlan(
            qemu: qemuPath, mode: mode, uefi: options.uefi,
            kernel: runDir.file("kernel.elf"),
            iso: image.map { $0.hasPrefix("/") ? $0 : runDir.file($0) },
            ovmf: options.ovmf, cmdline: cmdline, cpus: options.cpus, machine: options.machine, memoryMB: memoryMB,
            accel: accel, display: options.display, gdbWait: options.gdbWait,
            qmpSocket: runDir.file(RunDirectory.qmpSocketName), gdbSocket: runDir.file(RunDirectory.gdbSocketName),
            modules: mode == .direct ? bootModules : [], watchSocket: runDir.file(RunDirectory.watchSocketName))
        plan.disks = disks
        plan.usb = options.usb
        plan.multiThreadedTCG = !options.record
        plan.x2APIC = !options.record

        var manifest = RunManifest(
            runID: runDir.id, startTime: RunDirectory.timestamp(Date()), oshPID: getpid(),
            bootMode: mode.rawValue, uefi: options.uefi, accel: accel.rawValue, cmdline: cmdline, files: files)
        manifest.image = image
        if !disks.isEmpty { manifest.disks = disks }
        try? runDir.writeManifest(manifest)

        // Logs.
        let serialFD = open(runDir.file(RunDirectory.serialLogName), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard serialFD >= 0 else {
            printError("cannot create \(runDir.file(RunDirectory.serialLogName))")
            return BootExitCode.missingInput
        }
        defer { close(serialFD) }
        var logCopyFD: Int32 = -1
        if let log = options.log {
            logCopyFD = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard logCopyFD >= 0 else {
                printError("cannot write --log file \(log): \(String(cString: strerror(errno)))")
                return BootExitCode.usage
            }
        }
        defer { if logCopyFD >= 0 { close(logCopyFD) } }

        // The console.
        let interactive = execCommands == nil && ConsoleTerminal.enterRawMode()
        let signalFD = SignalPipe.install()
        defer {
            SignalPipe.uninstall(readEnd: signalFD)
            ConsoleTerminal.restore()
        }
        if interactive { printNote("run \(runDir.id); Ctrl-A x quits, Ctrl-A h lists keys") }
        if options.gdbWait {
            printNote("VM paused at start; attach with: gdb -ex 'target remote \(runDir.file(RunDirectory.gdbSocketName))' \(runDir.file("kernel.elf"))  (or osh attach)")
        }

        var argv = BootPlanning.qemuArguments(plan)
        if options.record {
            guard let qemuImg = findExecutable("qemu-img") else {
                printError("qemu-img not found (needed for the snapshot image of a recording; install qemu-utils)")
                return BootExitCode.toolFailure
            }
            if let message = RecordReplay.createSnapshotDrive(at: runDir.file(RecordReplay.snapshotDriveName), qemuImg: qemuImg) {
                printError(message); return BootExitCode.toolFailure
            }
            argv += RecordReplay.recordArguments(runDir: runDir.path)
            printNote("recording into \(runDir.file(RecordReplay.logName)); replay with: osh replay \(runDir.id)")
        }
        if let recorded {
            var sockets: [String: String] = [:]
            for name in RunDirectory.socketNames { sockets[recorded.run.file(name)] = runDir.file(name) }
            argv = RecordReplay.replayArguments(recorded: recorded.manifest.qemuArgv, sockets: sockets,
                                                gdbWait: options.gdbWait || options.untilPanic)
            printNote("replaying run \(recorded.run.url.lastPathComponent)")
            if !RecordReplay.hasNoVAPIC(recorded.manifest.qemuArgv) {
                printNote("this recording has QEMU's kvmvapic device (made by an older osh): reverse debugging on it can hang QEMU; record again for reliable reverse commands")
            }
        }
        for name in RunDirectory.socketNames { unlink(runDir.file(name)) }
        var settings = BootSession.Settings(
            argv: argv, qemuLogPath: runDir.file(RunDirectory.qemuLogName), serialLogFD: serialFD)
        settings.logCopyFD = logCopyFD
        settings.launcher = QEMUSpawner.deathSignalLauncher
        settings.timeout = options.resolvedTimeout
        settings.watchSocket = plan.watchSocket
        settings.registersPath = runDir.file(RunDirectory.registersName)
        settings.dumpQMPSocket = plan.qmpSocket
        if options.dumpOnPanic { settings.panicDumpPath = runDir.file(CoreDump.fileName) }
        if let execCommands {
            settings.exec = ExecDriver(commands: execCommands, prompt: options.prompt)
            settings.forwardInput = false
        }
        if accel == .kvm {
            settings.silenceNote = (10, "no output from the guest under KVM for 10 s; if KVM is broken on this host, `osh accel --check` shows it (or use --accel tcg)")
        }
        let session = BootSession(settings: settings, filter: BootRunner.makeConsoleFilter(runDir: runDir, files: files, raw: options.raw))
        session.signalFD = signalFD
        manifest.qemuArgv = argv
        manifest.launcher = settings.launcher.isEmpty ? nil : settings.launcher
        let untilPanic = options.untilPanic && recorded != nil
        session.onStarted = { pid in
            manifest.qemuPID = pid
            manifest.state = "running"
            try? runDir.writeManifest(manifest)
            if untilPanic {
                UntilPanic.start(gdbSocket: plan.gdbSocket, qmpSocket: plan.qmpSocket, kernelELF: runDir.file("kernel.elf")) { line in
                    FD.writeAll(STDERR_FILENO, "\r\nosh: \(line)\r\n")
                }
            }
        }
        var outcome = session.run()
        session.finishOutput()
        if let recorded {
            let serial = { (dir: String) in FileManager.default.contents(atPath: dir) }
            let same = serial(runDir.file(RunDirectory.serialLogName)) == serial(recorded.run.file(RunDirectory.serialLogName))
            if let replayed = RecordReplay.replayOutcome(outcome, recordedGuestStatus: recorded.manifest.end?.guestStatus,
                                                         serialMatches: same) {
                printNote("the replay stopped at the recording's guest shutdown before the guest's status write replayed; every serial byte matched, so its status is the recording's")
                outcome = replayed
            }
        }
        // The VM is gone: its sockets go too (nothing listens on them any more).
        for name in RunDirectory.socketNames { unlink(runDir.file(name)) }

        let verdict = BootStatusMapping.verdict(for: outcome)
        ConsoleTerminal.restore()
        if options.test {
            printNote("test result: \(session.testResult ?? "none (the guest printed no 'N passed, N failed' line)")")
        }
        var qemuStatus: Int32?
        if case let .qemuExited(status, _) = outcome { qemuStatus = status }
        manifest.state = "exited"
        manifest.end = RunManifest.End(
            time: RunDirectory.timestamp(Date()), reason: verdict.reason, exitStatus: verdict.exitCode,
            guestStatus: verdict.guestStatus, qemuExitStatus: qemuStatus, message: verdict.message,
            testResult: session.testResult)
        try? runDir.writeManifest(manifest)
        // One closing line on stderr: how the run ended, where its files are, osh's status.
        let summary = "\(verdict.message) [run \(runDir.path); exit status \(verdict.exitCode)]"
        if verdict.isError { printError(summary) } else { printNote(summary) }
        return verdict.exitCode
    }

    /// The filter between the serial port and the terminal (serial.log always gets the raw bytes):
    /// symbolizer markup lines are rewritten with the ELF copies in `runDir` (kernel and modules, found
    /// by build ID), unless `raw`.
    static func makeConsoleFilter(runDir: RunDirectory, files: [RunManifest.File], raw: Bool = false) -> any SerialConsoleFilter {
        if raw { return PassthroughSerialFilter() }
        let cwd = FileManager.default.currentDirectoryPath
        return SymbolizingSerialFilter(directories: [runDir.path], pathPrefix: cwd.hasSuffix("/") ? cwd : cwd + "/")
    }

    /// The recorded run `name` (directory or id) for a replay: its manifest with the QEMU argv of a
    /// recording, and its event log. Throws a one-line description.
    static func recording(_ name: String, buildDir: URL) throws -> (run: VMRun, manifest: RunManifest) {
        let run: VMRun
        do { run = try VMRun.resolve(name, buildDirectory: buildDir) } catch let e as RunError { throw ValidationErrorLine(e.description) }
        guard let data = FileManager.default.contents(atPath: run.file(RunDirectory.manifestName)),
              let manifest = try? JSONDecoder().decode(RunManifest.self, from: data) else {
            throw ValidationErrorLine("cannot read \(run.file(RunDirectory.manifestName))")
        }
        guard RecordReplay.isRecording(manifest.qemuArgv),
              FileManager.default.fileExists(atPath: run.file(RecordReplay.logName)) else {
            throw ValidationErrorLine("run \(run.url.path) is not a recording (make one with osh record)")
        }
        return (run, manifest)
    }

    /// --build-dir, else the osh executable's directory when it holds kernel.elf, else ./build.
    static func buildDirectory(option: String?) -> URL {
        if let option { return URL(fileURLWithPath: option).standardizedFileURL }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("kernel.elf").path) { return dir }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("build")
    }

    func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    func isReadableFile(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
            && access(path, R_OK) == 0
    }

    /// Builds RUN/os.iso with GRUB booting RUN/kernel.elf with `cmdline` and `modules` (copies in the run
    /// directory). Returns an error message.
    static func buildISO(runDir: RunDirectory, grubMkrescue: String, cmdline: String, modules: [ModuleSpec] = []) -> String? {
        let tree = runDir.url.appendingPathComponent("iso")
        let grubDir = tree.appendingPathComponent("boot/grub")
        do {
            try FileManager.default.createDirectory(at: grubDir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: runDir.url.appendingPathComponent("kernel.elf"),
                                             to: tree.appendingPathComponent("boot/kernel.elf"))
            for m in modules {
                try FileManager.default.copyItem(at: URL(fileURLWithPath: m.path),
                                                 to: tree.appendingPathComponent("boot/\(m.fileName)"))
            }
            try BootPlanning.grubConfig(cmdline: cmdline, modules: modules)
                .write(to: grubDir.appendingPathComponent("grub.cfg"), atomically: true, encoding: .utf8)
        } catch {
            return "cannot prepare the ISO tree in \(tree.path): \(error.localizedDescription)"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: grubMkrescue)
        process.arguments = ["-o", runDir.file("os.iso"), tree.path]
        let logPath = runDir.file("grub-mkrescue.log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return "cannot run \(grubMkrescue): \(error.localizedDescription)"
        }
        process.waitUntilExit()
        try? log?.close()
        if process.terminationStatus != 0 {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            let last = text.split(separator: "\n").last.map(String.init) ?? "no output"
            return "grub-mkrescue failed (status \(process.terminationStatus)): \(last)"
        }
        try? FileManager.default.removeItem(at: tree)
        return nil
    }
}
