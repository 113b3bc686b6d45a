import Foundation

/// `manifest.json` of a VM run started by `osh boot` (build/run/<id>/), as the debugging commands
/// read it. Tolerant: unknown keys are ignored and everything is optional. (`osh boot` has its own
/// full `RunManifest` type for writing it; this reader depends only on the few keys it needs.)
public struct VMRunManifest: Decodable, Equatable {
    public struct File: Decodable, Equatable {
        public var role: String
        public var name: String?
        /// Relative to the run directory (or absolute).
        public var path: String
        public var source: String?
        public var buildID: String?
        /// Where the ELF's lowest PT_LOAD segment was loaded, "0x…" (servers).
        public var loadAddress: String?
        /// Offset to add to the ELF's addresses, "0x…", if the writer knows it (takes precedence).
        public var loadOffset: String?

        public init(role: String, name: String? = nil, path: String, source: String? = nil, buildID: String? = nil,
                    loadAddress: String? = nil, loadOffset: String? = nil) {
            self.role = role; self.name = name; self.path = path; self.source = source; self.buildID = buildID
            self.loadAddress = loadAddress; self.loadOffset = loadOffset
        }
    }

    public var id: String?
    public var qemuPid: Int32?
    /// Socket paths if the manifest names them (relative to the run directory or absolute).
    public var qmpSocket: String?
    public var gdbSocket: String?
    public var files: [File]
    /// "starting", "running" or "exited" (osh boot's manifests), nil when absent.
    public var state: String?

    // Both spellings are accepted: `id`/`runID`, `qemuPid`/`qemuPID`.
    enum CodingKeys: String, CodingKey { case id, runID, qemuPid, qemuPID, qmpSocket, gdbSocket, files, state }

    public init(id: String? = nil, qemuPid: Int32? = nil, files: [File]) {
        self.id = id; self.qemuPid = qemuPid; self.files = files
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func string(_ k: CodingKeys) -> String? {
            if let s = try? c.decodeIfPresent(String.self, forKey: k) { return s }
            if let n = try? c.decodeIfPresent(Int64.self, forKey: k) { return String(n) }
            return nil
        }
        id = string(.id) ?? string(.runID)
        qemuPid = (try? c.decodeIfPresent(Int32.self, forKey: .qemuPid)) ?? (try? c.decodeIfPresent(Int32.self, forKey: .qemuPID))
        qmpSocket = string(.qmpSocket)
        gdbSocket = string(.gdbSocket)
        files = (try? c.decodeIfPresent([File].self, forKey: .files)) ?? []
        state = string(.state)
    }

    public static func load(from url: URL) throws -> VMRunManifest {
        try JSONDecoder().decode(VMRunManifest.self, from: Data(contentsOf: url))
    }

    public var kernel: File? { files.first { $0.role == "kernel" } }
    public var servers: [File] { files.filter { $0.role == "server" } }
}

/// Parses "0x…" (or decimal) addresses.
public func parseAddress(_ s: String) -> UInt64? {
    let t = s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
    if t.lowercased().hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
    return UInt64(t)
}

/// Errors locating a run, each a one-line message for the user.
public enum RunError: Error, Equatable, CustomStringConvertible {
    case noRun(String)
    case noManifest(String)
    case badManifest(String, String)
    case notRunning(String)

    public var description: String {
        switch self {
        case .noRun(let d): return "no VM run found at \(d) (start one with `osh boot`, or pass --run DIR)"
        case .noManifest(let d): return "\(d) has no manifest.json: not a run directory of `osh boot`"
        case .badManifest(let d, let why): return "cannot read \(d)/manifest.json: \(why)"
        case .notRunning(let d): return "the VM of run \(d) is not running (its sockets refuse connections)"
        }
    }
}

/// A run directory and its manifest, for the debugging commands (attach, shell).
public struct VMRun {
    public var url: URL
    public var manifest: VMRunManifest

    public var qmpSocket: String { file(manifest.qmpSocket ?? "qmp.sock") }
    public var gdbSocket: String { file(manifest.gdbSocket ?? "gdb.sock") }

    /// A path of the manifest, relative to the run directory unless absolute.
    public func file(_ p: String) -> String { p.hasPrefix("/") ? p : url.appendingPathComponent(p).path }
    public var serialLog: String { url.appendingPathComponent("serial.log").path }

    /// Absolute path of a manifest file entry.
    public func path(of file: VMRunManifest.File) -> String {
        file.path.hasPrefix("/") ? file.path : url.appendingPathComponent(file.path).path
    }

    /// Default build dir: the directory holding the osh executable if it contains kernel.elf, else ./build.
    public static func defaultBuildDirectory() -> URL {
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: exe.appendingPathComponent("kernel.elf").path) { return exe }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("build")
    }

    /// Resolves `--run DIR` (a run directory, or a run id under build/run), default build/run/latest.
    public static func resolve(_ run: String?, buildDirectory: URL? = nil) throws -> VMRun {
        let build = buildDirectory ?? defaultBuildDirectory()
        var dir: URL
        if let run {
            dir = URL(fileURLWithPath: run)
            if !FileManager.default.fileExists(atPath: dir.path), !run.contains("/") {
                dir = build.appendingPathComponent("run").appendingPathComponent(run)
            }
        } else {
            dir = build.appendingPathComponent("run").appendingPathComponent("latest")
            // A command needing a live VM takes the newest live run when latest has ended, and says so.
            let root = RunDirectory.runRoot(buildDir: build)
            if let latest = RunDirectory.latest(buildDir: build), !latest.isLive,
               let live = RunDirectory.newestLive(runRoot: root), live.id != latest.id {
                FD.writeAll(STDERR_FILENO, "osh: the latest run \(latest.id) has ended; using the newest live run \(live.id)\n")
                dir = live.url
            }
        }
        dir = dir.resolvingSymlinksInPath().standardizedFileURL
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw RunError.noRun(dir.path)
        }
        let m = dir.appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: m.path) else { throw RunError.noManifest(dir.path) }
        do { return VMRun(url: dir, manifest: try VMRunManifest.load(from: m)) } catch {
            throw RunError.badManifest(dir.path, "\(error)")
        }
    }

    /// True if the QEMU process of the manifest is alive (unknown pid counts as alive).
    public var qemuAlive: Bool {
        guard let pid = manifest.qemuPid, pid > 0 else { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
