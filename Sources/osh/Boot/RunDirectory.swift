// build/run/<id>/: everything about one VM run. `osh boot` writes it; trace, syscalls and attach read
// it (RunDirectory.latest + RunDirectory.readManifest) to find the VM's sockets and the ELF files booted.
//
//   build/run/<id>/serial.log     every serial byte, written as it arrives
//   build/run/<id>/qemu.log       QEMU's stderr
//   build/run/<id>/qmp.sock       QMP socket
//   build/run/<id>/gdb.sock       gdbstub socket
//   build/run/<id>/osh-qmp.sock   osh boot's own QMP connection (watching for a stopped VM)
//   build/run/<id>/registers.txt  CPU registers when the VM stopped for good
//   build/run/<id>/kernel.elf     copy of the kernel booted
//   build/run/<id>/NAME.elf       copy of each boot module (role "server" in the manifest)
//   build/run/<id>/manifest.json  RunManifest
//   build/run/latest -> <id>

import Foundation
import KernelCore

/// manifest.json of a run directory. Paths in `files`, `serialLog`, `qemuLog`, `qmpSocket`, `gdbSocket`
/// are relative to the run directory.
public struct RunManifest: Codable, Equatable, Sendable {
    public struct File: Codable, Equatable, Sendable {
        /// What the file is: "kernel", or "server" for a boot module.
        public var role: String
        /// A boot module's name (its multiboot string, `root` for the root process).
        public var name: String?
        /// The copy, relative to the run directory.
        public var path: String
        /// Where it was copied from.
        public var source: String
        /// GNU build ID in lower-case hex, nil when the ELF has none (or is not ELF64).
        public var buildID: String?

        public init(role: String, name: String? = nil, path: String, source: String, buildID: String?) {
            self.role = role
            self.name = name
            self.path = path
            self.source = source
            self.buildID = buildID
        }
    }

    public struct End: Codable, Equatable, Sendable {
        public var time: String
        /// guest-exit, timeout, user-quit, signal, qemu-error, qemu-exit, qemu-signal.
        public var reason: String
        /// osh's exit status.
        public var exitStatus: Int32
        /// The guest's isa-debug-exit status, when it wrote one.
        public var guestStatus: UInt8?
        /// QEMU's raw exit status, when it exited by itself.
        public var qemuExitStatus: Int32?
        public var message: String
        /// `N passed, N failed` as printed by the kernel, when seen.
        public var testResult: String?
    }

    public var runID: String
    public var startTime: String
    /// "starting", "running" (QEMU alive) or "exited".
    public var state: String
    public var oshPID: Int32
    public var qemuPID: Int32?
    public var qemuArgv: [String]
    /// The command QEMU was started through (it execs QEMU), e.g. setpriv --pdeathsig TERM --.
    public var launcher: [String]?
    /// "direct" or "iso".
    public var bootMode: String
    public var uefi: Bool
    /// "tcg" or "kvm".
    public var accel: String
    public var cmdline: String
    public var qmpSocket: String
    public var gdbSocket: String
    public var serialLog: String
    public var qemuLog: String
    /// The ISO booted (absolute when outside the run directory), ISO mode only.
    public var image: String?
    /// The raw disk images attached as virtio-blk devices (`--disk`), absolute paths, in order.
    public var disks: [String]?
    public var files: [File]
    public var end: End?

    public init(runID: String, startTime: String, oshPID: Int32, bootMode: String, uefi: Bool, accel: String,
                cmdline: String, files: [File]) {
        self.runID = runID
        self.startTime = startTime
        self.state = "starting"
        self.oshPID = oshPID
        self.qemuPID = nil
        self.qemuArgv = []
        self.launcher = nil
        self.bootMode = bootMode
        self.uefi = uefi
        self.accel = accel
        self.cmdline = cmdline
        self.qmpSocket = RunDirectory.qmpSocketName
        self.gdbSocket = RunDirectory.gdbSocketName
        self.serialLog = RunDirectory.serialLogName
        self.qemuLog = RunDirectory.qemuLogName
        self.image = nil
        self.files = files
        self.end = nil
    }
}

public struct RunDirectory: Sendable {
    public static let serialLogName = "serial.log"
    public static let qemuLogName = "qemu.log"
    public static let qmpSocketName = "qmp.sock"
    public static let gdbSocketName = "gdb.sock"
    /// osh boot's own QMP connection (VMWatcher); qmp.sock stays free for other commands.
    public static let watchSocketName = "osh-qmp.sock"
    /// Every socket of a run, removed when the VM ends.
    public static let socketNames = [qmpSocketName, gdbSocketName, watchSocketName]
    /// CPU 0's registers when the VM stopped for good (HMP `info registers`).
    public static let registersName = "registers.txt"
    public static let manifestName = "manifest.json"
    public static let latestName = "latest"
    /// How many run directories are kept.
    public static let keep = 20

    public let id: String
    public let url: URL

    public var path: String { url.path }
    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// build/run under a build directory.
    public static func runRoot(buildDir: URL) -> URL { buildDir.appendingPathComponent("run") }

    /// A sortable run id: UTC timestamp with milliseconds, then the pid. Example: 20261124T204344.123Z-4242.
    public static func makeID(date: Date, pid: Int32) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        func pad(_ v: Int?, _ width: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let millis = min(999, (c.nanosecond ?? 0) / 1_000_000)
        return pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + "T" + pad(c.hour, 2) + pad(c.minute, 2)
            + pad(c.second, 2) + "." + pad(millis, 3) + "Z-" + String(pid)
    }

    /// Whether a directory name looks like a run id (so pruning never touches anything else).
    public static func isRunID(_ name: String) -> Bool {
        name.wholeMatch(of: /[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9]+/) != nil
    }

    /// ISO 8601 UTC with milliseconds, as written in manifests.
    public static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// Creates build/run/<id>/, points build/run/latest at it and prunes old runs.
    public static func create(buildDir: URL, date: Date = Date(), pid: Int32 = getpid()) throws -> RunDirectory {
        let root = runRoot(buildDir: buildDir)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var id = makeID(date: date, pid: pid)
        var suffix = 0
        // Two runs from one process within a millisecond (tests) get distinct ids.
        while FileManager.default.fileExists(atPath: root.appendingPathComponent(id).path) {
            suffix += 1
            id = makeID(date: date.addingTimeInterval(Double(suffix) / 1000), pid: pid)
        }
        let dir = RunDirectory(id: id, url: root.appendingPathComponent(id))
        try FileManager.default.createDirectory(at: dir.url, withIntermediateDirectories: false)
        try updateLatest(runRoot: root, id: id)
        prune(runRoot: root, keep: keep, except: id)
        return dir
    }

    /// Atomically repoints build/run/latest (a relative symlink) at `id`.
    public static func updateLatest(runRoot: URL, id: String) throws {
        let link = runRoot.appendingPathComponent(latestName).path
        let temp = runRoot.appendingPathComponent(".latest-\(getpid())").path
        unlink(temp)
        guard symlink(id, temp) == 0 else { throw POSIXError(errnoCode()) }
        guard rename(temp, link) == 0 else {
            let e = errnoCode()
            unlink(temp)
            throw POSIXError(e)
        }
    }

    /// The run ids under build/run, oldest first.
    public static func runIDs(runRoot: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runRoot.path)) ?? []
        return names.filter(isRunID).sorted()
    }

    /// Removes all but the newest `keep` run directories (never `except`, never a live run).
    public static func prune(runRoot: URL, keep: Int, except: String? = nil) {
        let ids = runIDs(runRoot: runRoot)
        guard ids.count > keep else { return }
        for id in ids.prefix(ids.count - keep) where id != except {
            let dir = RunDirectory(id: id, url: runRoot.appendingPathComponent(id))
            if dir.isLive { continue }
            try? FileManager.default.removeItem(at: dir.url)
        }
    }

    /// Whether this run's VM may still be running: its manifest says starting or running and the
    /// process named there (QEMU, or osh while QEMU starts) is alive. A run without a manifest yet
    /// (osh is still copying files or building its ISO) counts as live while the osh named in its id
    /// is alive and the id is less than ten minutes old.
    public var isLive: Bool {
        guard let m = try? readManifest() else {
            guard let dash = id.lastIndex(of: "-"), let pid = Int32(id[id.index(after: dash)...]) else { return false }
            let recent = id >= RunDirectory.makeID(date: Date().addingTimeInterval(-600), pid: 0)
            return recent && (kill(pid, 0) == 0 || errno == EPERM)
        }
        guard m.state == "running" || m.state == "starting" else { return false }
        let pid = m.qemuPID ?? m.oshPID
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// The newest run whose VM is alive, if any.
    public static func newestLive(runRoot: URL) -> RunDirectory? {
        for id in runIDs(runRoot: runRoot).reversed() {
            let dir = RunDirectory(id: id, url: runRoot.appendingPathComponent(id))
            if dir.isLive { return dir }
        }
        return nil
    }

    /// The run directory build/run/latest points at, if any.
    public static func latest(buildDir: URL) -> RunDirectory? {
        let root = runRoot(buildDir: buildDir)
        guard let target = try? FileManager.default.destinationOfSymbolicLink(
            atPath: root.appendingPathComponent(latestName).path) else { return nil }
        let url = target.hasPrefix("/") ? URL(fileURLWithPath: target) : root.appendingPathComponent(target)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return RunDirectory(id: url.lastPathComponent, url: url)
    }

    public init(id: String, url: URL) {
        self.id = id
        self.url = url
    }

    public static func encode(_ manifest: RunManifest) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(manifest)
    }

    /// Writes manifest.json atomically (temporary file, then rename), so readers never see half of it.
    public func writeManifest(_ manifest: RunManifest) throws {
        var data = try RunDirectory.encode(manifest)
        data.append(0x0a)
        try data.write(to: url.appendingPathComponent(RunDirectory.manifestName), options: .atomic)
    }

    public func readManifest() throws -> RunManifest {
        let data = try Data(contentsOf: url.appendingPathComponent(RunDirectory.manifestName))
        return try JSONDecoder().decode(RunManifest.self, from: data)
    }

    /// Copies an ELF file into the run directory under `name` and describes it for the manifest.
    public func addELF(source: URL, role: String, name: String) throws -> RunManifest.File {
        let destination = url.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.copyItem(at: source, to: destination)
        let data = try Data(contentsOf: destination)
        return RunManifest.File(role: role, path: name, source: source.path, buildID: RunDirectory.buildID(of: data))
    }

    /// The GNU build ID of an ELF image in hex, nil when it has none or is not a 64-bit ELF.
    public static func buildID(of data: Data) -> String? {
        data.withUnsafeBytes { raw -> String? in
            guard let elf = try? ELFFile(raw), let id = try? elf.buildID() else { return nil }
            return hexString(id)
        }
    }
}

func errnoCode() -> POSIXErrorCode { POSIXErrorCode(rawValue: errno) ?? .EIO }
