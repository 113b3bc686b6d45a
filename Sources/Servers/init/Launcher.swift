// How init starts a program: the one place pm will take over (spawn by path through pm, which loads the
// image itself). Until pm exists: the ELF file is read through initfsd into a Frame and started with the
// Runtime's Spawn; the new process gets a Sender to initfsd as `import:initfs` (a duplicate of init's, so
// it shares init's badge and file ids).

enum LaunchError: Error {
    case file(FileError)
    case system(SysError)
    case scheme

    var text: String {
        switch self {
        case .file(let e): return "cannot read it: \(e.name)"
        case .system(let e): return "cannot start it: \(e.name)"
        case .scheme: return "only initfs:// paths can be started before pm exists"
        }
    }
}

enum Launcher {
    static var initfs: Handle = .invalid

    static func spawn(path: String, name: String, arguments: String) throws(LaunchError) -> SpawnedProcess {
        guard path.hasPrefix("initfs://") || path.hasPrefix("/") else { throw .scheme }
        let image: [UInt8]
        do throws(FileError) {
            // A client per call: its IPC buffer goes on the calling thread (main or a supervisor).
            let files: FileService
            do throws(SysError) { files = try FileService(initfs) } catch { throw .noMemory }
            image = try files.readFile(path)
        } catch {
            throw .file(error)
        }
        do throws(SysError) {
            let frame = try frameCreate(size: max((UInt64(image.count) + pageSize - 1) / pageSize * pageSize, pageSize))
            defer { _ = try? handleClose(frame) }
            let written = image.withUnsafeBytes { b in
                Result { () throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) }
            }
            if case .failure(let e) = written { throw e }
            let sender = try handleDuplicate(initfs, rights: Rights.defaults(for: .sender))
            return try Spawn.start(image: frame, name: name, commandLine: arguments,
                                   grants: [(staticText(StartupBlock.importPrefix) + "initfs", sender)])
        } catch {
            throw .system(error)
        }
    }
}
