// `--accel auto` and `osh accel --check`: KVM is used only after the check guest proved it right on
// this host. The check guest is the kernel booted with `accelcheck` and the program
// BUILD/servers/accelcheck.elf as its root (see Sources/Kernel/Debug/AccelCheck.swift): ring 3,
// syscall/sysret, int3 and page faults taken and returned from, a CR3 switch, the TSC, and a status
// through isa-debug-exit within a few seconds. Anything else (silence, a wrong status, an internal
// error, a crash) is a failure, and the run uses TCG. The verdict is cached in build/run/accel.json
// per host boot and per QEMU version.

import ABI
import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one run of the check guest showed.
public struct AccelCheckResult: Equatable, Sendable {
    public var accel: Accel
    public var passed: Bool
    /// One line: what failed (empty when passed).
    public var reason: String
    public var seconds: Double
    /// The check's serial lines (`accelcheck:` steps, faults, panics), for `osh accel --check`.
    public var details: [String]
}

/// The files and settings of one check.
struct AccelCheck {
    /// Seconds the check guest gets; it needs under one under TCG on a loaded machine.
    static let defaultTimeout = 5.0
    static let commandLine = "accelcheck"

    var qemu: String
    var kernel: String
    var program: String
    /// RUNROOT/accelcheck/: serial.log, qemu.log, registers.txt, sockets of the last check.
    var directory: URL
    var timeout = AccelCheck.defaultTimeout

    /// The check guest's files under a build directory, or a one-line reason they are missing.
    static func guestFiles(buildDir: URL) -> Result<(kernel: String, program: String), BootFailure> {
        let kernel = buildDir.appendingPathComponent("kernel.elf").path
        let program = buildDir.appendingPathComponent("servers/accelcheck.elf").path
        for p in [kernel, program] where access(p, R_OK) != 0 {
            return .failure(BootFailure(status: BootExitCode.missingInput, message: "the check guest is missing: \(p) (run make)"))
        }
        return .success((kernel, program))
    }

    /// Boots the check guest under `accel` and judges the outcome.
    func run(accel: Accel) -> AccelCheckResult {
        let fm = FileManager.default
        try? fm.removeItem(at: directory)
        try? fm.createDirectory(at: directory, withIntermediateDirectories: true)
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let plan = QEMULaunchPlan(
            qemu: qemu, mode: .direct, kernel: kernel, cmdline: AccelCheck.commandLine, memoryMB: 128, accel: accel,
            qmpSocket: file(RunDirectory.qmpSocketName), gdbSocket: file(RunDirectory.gdbSocketName),
            modules: [ModuleSpec(path: program, name: "root")], watchSocket: file(RunDirectory.watchSocketName))
        let serialFD = open(file(RunDirectory.serialLogName), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { if serialFD >= 0 { close(serialFD) } }
        var settings = BootSession.Settings(argv: BootPlanning.qemuArguments(plan),
                                            qemuLogPath: file(RunDirectory.qemuLogName), serialLogFD: serialFD)
        settings.launcher = QEMUSpawner.deathSignalLauncher
        settings.timeout = timeout
        settings.forwardInput = false
        settings.stdoutFD = -1
        settings.stderrFD = -1
        settings.registersPath = file(RunDirectory.registersName)
        settings.watchSocket = plan.watchSocket
        let session = BootSession(settings: settings, filter: PassthroughSerialFilter())
        let start = FD.now()
        let outcome = session.run()
        let seconds = FD.now() - start
        for name in [RunDirectory.qmpSocketName, RunDirectory.gdbSocketName, RunDirectory.watchSocketName] { unlink(file(name)) }
        let serial = (try? String(contentsOfFile: file(RunDirectory.serialLogName), encoding: .utf8)) ?? ""
        return AccelCheck.judge(outcome: outcome, serial: serial, accel: accel, seconds: seconds,
                                registersAtTimeout: session.registersAtTimeout)
    }

    /// The verdict from how the check guest ended and what it printed. Pure; unit-tested.
    static func judge(outcome: RunOutcome, serial: String, accel: Accel, seconds: Double,
                      registersAtTimeout: String? = nil) -> AccelCheckResult {
        let lines = serial.split(whereSeparator: \.isNewline).map(String.init)
        let details = lines.filter {
            $0.contains("accelcheck:") || $0.contains("USER FAULT") || $0.contains("PANIC") || $0.contains("EXCEPTION")
        }
        let failedStep = lines.first { $0.contains("accelcheck: FAILED") }
            .map { String($0[$0.range(of: "FAILED ")!.upperBound...]) }
        let fault = lines.first { $0.contains("USER FAULT") || $0.contains("PANIC") || $0.contains("EXCEPTION") }
        var reason: String
        switch outcome {
        case let .qemuExited(status, errorLine):
            let verdict = BootStatusMapping.verdict(for: outcome)
            if verdict.guestStatus == GuestStatus.success.rawValue, lines.contains(where: { $0.contains("accelcheck: passed") }) {
                return AccelCheckResult(accel: accel, passed: true, reason: "", seconds: seconds, details: details)
            }
            if let failedStep {
                reason = "step '\(failedStep)' failed"
                if let fault { reason += " (\(fault.trimmingCharacters(in: .whitespaces)))" }
            } else if let guest = verdict.guestStatus {
                reason = "guest status \(guest) (\(BootStatusMapping.describe(guest: guest)))"
                if let fault { reason += ": \(fault.trimmingCharacters(in: .whitespaces))" }
            } else {
                reason = errorLine.map { "QEMU failed: \($0)" } ?? "QEMU exited with status \(status) without a guest status"
            }
        case let .vmStopped(cause, registers):
            reason = cause.description + (registers.map { "; \($0)" } ?? "")
        case .timedOut:
            let last = lines.last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            reason = "no result within \(BootStatusMapping.formatSeconds(seconds.rounded())) s"
                + (last.map { "; last output: \($0.trimmingCharacters(in: .whitespaces))" } ?? "; the guest printed nothing")
                + (registersAtTimeout.map { "; \($0)" } ?? "")
        default:
            reason = BootStatusMapping.verdict(for: outcome).message
        }
        return AccelCheckResult(accel: accel, passed: false, reason: reason, seconds: seconds, details: details)
    }
}

/// The `--accel auto` verdict, cached per host boot and per QEMU version in RUNROOT/accel.json.
struct AccelCache {
    let runRoot: URL

    var file: URL { runRoot.appendingPathComponent("accel.json") }

    struct Entry: Codable, Equatable {
        var bootID: String
        var qemuVersion: String
        var accel: String
        /// Why KVM was not used (empty when it was).
        var reason: String
    }

    static func bootID() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    /// The first line of `QEMU --version`, nil when it does not answer.
    static func qemuVersion(_ qemu: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["--version"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init)
        return p.terminationStatus == 0 ? line : nil
    }

    /// The KVM device osh checks: /dev/kvm, or $OSH_KVM_DEVICE (tests point it at a file that opens, so
    /// the check itself runs on any host).
    static var kvmDevice: String {
        ProcessInfo.processInfo.environment["OSH_KVM_DEVICE"].flatMap { $0.isEmpty ? nil : $0 } ?? "/dev/kvm"
    }

    /// Why the KVM device cannot be used, nil when it opens read-write.
    static func kvmDeviceProblem() -> String? {
        let device = kvmDevice
        let fd = open(device, O_RDWR | O_CLOEXEC)
        if fd < 0 { return "\(device): \(String(cString: strerror(errno)))" }
        close(fd)
        return nil
    }

    static func kvmDeviceOpens() -> Bool { kvmDeviceProblem() == nil }

    func cached(qemuVersion: String) -> Entry? {
        guard let bootID = AccelCache.bootID(), let data = try? Data(contentsOf: file),
              let entry = try? JSONDecoder().decode(Entry.self, from: data),
              entry.bootID == bootID, entry.qemuVersion == qemuVersion else { return nil }
        return entry
    }

    func store(_ result: AccelCheckResult, qemuVersion: String) {
        guard let bootID = AccelCache.bootID() else { return }
        let entry = Entry(bootID: bootID, qemuVersion: qemuVersion, accel: result.passed ? "kvm" : "tcg", reason: result.reason)
        guard let data = try? JSONEncoder().encode(entry) else { return }
        try? FileManager.default.createDirectory(at: runRoot, withIntermediateDirectories: true)
        try? data.write(to: file, options: .atomic)
    }

    /// The one line `--accel auto` prints.
    static func line(accel: Accel, reason: String) -> String {
        accel == .kvm ? "accel: kvm (checked)" : "accel: tcg (KVM failed its check: \(reason))"
    }
}

/// The accelerator for `--accel auto`: the cached verdict, else the check's.
enum AccelChoiceResolver {
    /// Returns the accelerator and the one line to print.
    static func auto(qemu: String, buildDir: URL) -> (Accel, String) {
        if let problem = AccelCache.kvmDeviceProblem() { return (.tcg, "accel: tcg (KVM cannot be used: \(problem))") }
        let runRoot = RunDirectory.runRoot(buildDir: buildDir)
        let cache = AccelCache(runRoot: runRoot)
        let version = AccelCache.qemuVersion(qemu) ?? "unknown"
        if let entry = cache.cached(qemuVersion: version), let accel = Accel(rawValue: entry.accel) {
            return (accel, AccelCache.line(accel: accel, reason: entry.reason))
        }
        let files: (kernel: String, program: String)
        switch AccelCheck.guestFiles(buildDir: buildDir) {
        case .failure(let f): return (.tcg, "accel: tcg (KVM not checked: \(f.message))")
        case .success(let found): files = found
        }
        let check = AccelCheck(qemu: qemu, kernel: files.kernel, program: files.program,
                               directory: runRoot.appendingPathComponent("accelcheck"))
        let result = check.run(accel: .kvm)
        cache.store(result, qemuVersion: version)
        let accel: Accel = result.passed ? .kvm : .tcg
        return (accel, AccelCache.line(accel: accel, reason: result.reason))
    }
}

/// An error that ends a command with one line and a status.
struct BootFailure: Error {
    let status: Int32
    let message: String
}

/// `osh accel --check`: runs the check guest now and shows what it did.
public struct AccelCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "accel",
        abstract: "Check whether an accelerator runs the OS correctly on this host.",
        discussion: """
            With --check, boots the check guest (BUILD/kernel.elf with 'accelcheck', BUILD/servers/accelcheck.elf as root) \
            under the accelerator, prints each step and the verdict, and for kvm updates the cached verdict that \
            'osh boot --accel auto' uses. Without --check, shows the cached verdict.
            Exit status: 0 the check passed (or a cached verdict was shown), 1 it failed, 66 the check guest is missing, \
            125 QEMU is missing.
            """)

    @Flag(name: .long, help: "Run the check now (else show the cached verdict).")
    var check = false

    @Option(name: .long, help: "Accelerator to check: kvm or tcg.")
    var accel: Accel = .kvm

    @Option(name: .long, help: "Seconds the check guest gets.")
    var timeout: Double = AccelCheck.defaultTimeout

    @Option(name: .long, help: "QEMU executable: a path, or a name looked up in PATH.")
    var qemu: String = "qemu-system-x86_64"

    @Option(name: .long, help: "Build directory (default: the osh executable's directory if it holds kernel.elf, else ./build).")
    var buildDir: String?

    public init() {}

    public func run() throws {
        let buildDir = BootRunner.buildDirectory(option: buildDir)
        guard timeout > 0, timeout.isFinite else { printError("--timeout must be a positive number of seconds"); throw ExitCode(BootExitCode.usage) }
        guard let qemuPath = findExecutable(qemu) else {
            printError("QEMU not found: \(qemu) (install qemu-system-x86, or pass --qemu PATH)")
            throw ExitCode(BootExitCode.qemuFailure)
        }
        let runRoot = RunDirectory.runRoot(buildDir: buildDir)
        let version = AccelCache.qemuVersion(qemuPath) ?? "unknown"
        guard check else {
            if let entry = AccelCache(runRoot: runRoot).cached(qemuVersion: version), let a = Accel(rawValue: entry.accel) {
                print(AccelCache.line(accel: a, reason: entry.reason) + " [cached for this host boot and \(version)]")
            } else {
                print("no cached verdict for this host boot and \(version); run: osh accel --check")
            }
            return
        }
        if accel == .kvm, let problem = AccelCache.kvmDeviceProblem() {
            print("accel check under kvm: FAILED: KVM cannot be used: \(problem)")
            throw ExitCode(1)
        }
        let files: (kernel: String, program: String)
        switch AccelCheck.guestFiles(buildDir: buildDir) {
        case .failure(let f): printError(f.message); throw ExitCode(f.status)
        case .success(let found): files = found
        }
        let directory = runRoot.appendingPathComponent("accelcheck")
        let result = AccelCheck(qemu: qemuPath, kernel: files.kernel, program: files.program, directory: directory,
                                timeout: timeout).run(accel: accel)
        for line in result.details { print("  " + line.trimmingCharacters(in: .whitespaces)) }
        let time = String(format: "%.1f s", result.seconds)
        if result.passed {
            print("accel check under \(accel.rawValue): passed in \(time)")
        } else {
            print("accel check under \(accel.rawValue): FAILED in \(time): \(result.reason) [logs in \(directory.path)]")
        }
        if accel == .kvm { AccelCache(runRoot: runRoot).store(result, qemuVersion: version) }
        if !result.passed { throw ExitCode(1) }
    }
}

extension Accel: ExpressibleByArgument {}
