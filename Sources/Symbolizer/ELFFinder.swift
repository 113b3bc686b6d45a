import Foundation

/// Finds ELF files by GNU build ID in a list of directories, in order: each directory's own ELF files
/// (not recursive) and its `.build-id/xx/rest.debug` (or `rest`) layout. Symbolizers are opened once and
/// kept.
public final class ELFFinder {
    public let directories: [String]
    private var index: [String: String]? = nil
    private var opened: [String: Result<ELFSymbolizer, SymbolizerError>] = [:]

    public init(directories: [String]) {
        self.directories = directories
    }

    /// The path of the ELF file with this build ID (lower-case hex), or nil.
    public func path(forBuildID id: String) -> String? {
        let id = id.lowercased()
        if id.count > 2 {
            let head = id.prefix(2), rest = id.dropFirst(2)
            for dir in directories {
                for candidate in ["\(dir)/.build-id/\(head)/\(rest).debug", "\(dir)/.build-id/\(head)/\(rest)"] {
                    if let found = try? ELFSymbolizer.readBuildID(candidate), found == id { return candidate }
                }
            }
        }
        if index == nil { index = scan() }
        return index?[id]
    }

    private func scan() -> [String: String] {
        var result: [String: String] = [:]
        let fm = FileManager.default
        for dir in directories {
            guard let names = try? fm.contentsOfDirectory(atPath: dir) else { continue }
            for name in names.sorted() {
                let path = "\(dir)/\(name)"
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                      ELFFinder.hasELFMagic(path),
                      let id = try? ELFSymbolizer.readBuildID(path) else { continue }
                if result[id] == nil { result[id] = path }
            }
        }
        return result
    }

    static func hasELFMagic(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let magic = (try? handle.read(upToCount: 4)) ?? Data()
        return magic == Data([0x7f, 0x45, 0x4c, 0x46])
    }

    /// The symbolizer for the ELF file with this build ID. Throws `.unknownBuildID` when no file has it;
    /// a file without DWARF is opened for its symbol table only.
    public func symbolizer(forBuildID id: String) throws(SymbolizerError) -> ELFSymbolizer {
        guard let path = path(forBuildID: id) else { throw .unknownBuildID(id.lowercased()) }
        return try symbolizer(path: path)
    }

    public func symbolizer(path: String) throws(SymbolizerError) -> ELFSymbolizer {
        if let result = opened[path] { return try result.get() }
        let result: Result<ELFSymbolizer, SymbolizerError>
        do {
            result = .success(try ELFSymbolizer(path: path, requireDebugInfo: false))
        } catch {
            result = .failure(error)
        }
        opened[path] = result
        return try result.get()
    }
}
