import Foundation

/// `manifest.json` of a VM run started by `osh boot` (build/run/<id>/). Tolerant: unknown keys are
/// ignored and everything but `files` is optional.
public struct RunManifest: Decodable, Equatable {
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
    public var files: [File]

    enum CodingKeys: String, CodingKey { case id, qemuPid, files }

    public init(id: String? = nil, qemuPid: Int32? = nil, files: [File]) {
        self.id = id; self.qemuPid = qemuPid; self.files = files
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // The id may be written as a string or a number.
        if let s = try? c.decodeIfPresent(String.self, forKey: .id) { id = s }
        else if let n = try? c.decodeIfPresent(Int64.self, forKey: .id) { id = String(n) }
        else { id = nil }
        qemuPid = try? c.decodeIfPresent(Int32.self, forKey: .qemuPid)
        files = (try? c.decodeIfPresent([File].self, forKey: .files)) ?? []
    }

    public static func load(from url: URL) throws -> RunManifest {
        try JSONDecoder().decode(RunManifest.self, from: Data(contentsOf: url))
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

/// A run directory and its manifest.
public struct RunDirectory {
    public var url: URL
    public var manifest: RunManifest

    public var qmpSocket: String { url.appendingPathComponent("qmp.sock").path }
    public var gdbSocket: String { url.appendingPathComponent("gdb.sock").path }
    public var serialLog: String { url.appendingPathComponent("serial.log").path }

    /// Absolute path of a manifest file entry.
    public func path(of file: RunManifest.File) -> String {
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
    public static func resolve(_ run: String?, buildDirectory: URL? = nil) throws -> RunDirectory {
        let build = buildDirectory ?? defaultBuildDirectory()
        var dir: URL
        if let run {
            dir = URL(fileURLWithPath: run)
            if !FileManager.default.fileExists(atPath: dir.path), !run.contains("/") {
                dir = build.appendingPathComponent("run").appendingPathComponent(run)
            }
        } else {
            dir = build.appendingPathComponent("run").appendingPathComponent("latest")
        }
        dir = dir.resolvingSymlinksInPath().standardizedFileURL
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw RunError.noRun(dir.path)
        }
        let m = dir.appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: m.path) else { throw RunError.noManifest(dir.path) }
        do { return RunDirectory(url: dir, manifest: try RunManifest.load(from: m)) } catch {
            throw RunError.badManifest(dir.path, "\(error)")
        }
    }

    /// True if the QEMU process of the manifest is alive (unknown pid counts as alive).
    public var qemuAlive: Bool {
        guard let pid = manifest.qemuPid, pid > 0 else { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
