// The initfs: build/initfs.tar.zst, handed to the kernel as the boot module `initfs`. Root reads the
// module's Frame, decompresses it with the Swift Zstandard decoder (Sources/Formats), lists the ustar
// archive, and finds programs in it (bin/NAME, sbin/NAME) by name. A damaged archive is one log line and
// an empty initfs: the rest of the system still starts.

enum Initfs {
    /// The decompressed archive, and its members.
    private(set) static var archive: [UInt8] = []
    private(set) static var entries: [TarEntry] = []

    /// Unpacks the `initfs` module if there is one; logs what it found and what it cost.
    static func load(_ startup: Startup) {
        guard let module = startup.modules.first(where: { $0.name == "initfs" }) else { return }
        var read: Result<Void, SysError> = .success(())
        // Uninitialized: frameReadAll fills all of it (a zero fill first would cost a byte loop).
        let packed = [UInt8](unsafeUninitializedCapacity: Int(module.size)) { b, count in
            read = Result { () throws(SysError) in try frameReadAll(module.frame, offset: 0, into: UnsafeMutableRawBufferPointer(start: b.baseAddress, count: Int(module.size))) }
            count = Int(module.size)
        }
        if case .failure(let error) = read {
            print("root: initfs: cannot read the module: \(error.name)")
            return
        }
        let start = read_tsc()
        do throws(ZstdError) {
            archive = try zstdDecompress(packed, maxOutput: 256 << 20)
        } catch {
            print("root: initfs: not a valid zstd stream (\(describe(error))); starting without it")
            return
        }
        let decoded = read_tsc()
        do throws(TarError) {
            entries = try tarEntries(archive)
        } catch {
            print("root: initfs: not a valid ustar archive; starting without it")
            archive = []
            return
        }
        let files = entries.filter { $0.kind == .file }
        print("root: initfs: \(files.count) files, \(archive.count) bytes from \(packed.count) compressed; "
              + "zstd took \(decoded &- start) TSC ticks")
        for e in files { print("root: initfs: \(path(e)) \(e.size)\(manifestSummary(e))") }
    }

    /// For a program (bin/, sbin/): its manifest as read from its ELF note, without running it.
    static func manifestSummary(_ e: TarEntry) -> String {
        let p = path(e)
        guard p.hasPrefix("bin/") || p.hasPrefix("sbin/") else { return "" }
        let result = archive.withUnsafeBytes { all in
            Result { () throws(ManifestError) in
                try ServerManifest(elf: UnsafeRawBufferPointer(rebasing: all[e.dataOffset..<(e.dataOffset + e.size)]))
            }
        }
        switch result {
        case .success(let m):
            let imports = m.imports.isEmpty ? "none" : m.importsText
            let exports = m.exports.isEmpty ? "none" : m.exports.joined(separator: ",")
            return " manifest: name \(m.name), imports \(imports), exports \(exports)"
        case .failure(.missing): return " (no manifest)"
        case .failure: return " (bad manifest)"
        }
    }

    /// A member's path without tar's leading "./".
    static func path(_ e: TarEntry) -> String {
        var p = String(decoding: e.path, as: UTF8.self)
        if p.hasPrefix("./") { p.removeFirst(2) }
        return p
    }

    /// The bytes of the file at `path`, if the initfs has it.
    static func file(_ path: String) -> ArraySlice<UInt8>? {
        guard let e = entries.first(where: { $0.kind == .file && Initfs.path($0) == path }) else { return nil }
        return archive[e.dataOffset..<(e.dataOffset + e.size)]
    }

    private static func describe(_ error: ZstdError) -> String {
        switch error {
        case .truncated: "truncated"
        case .badMagic: "bad magic"
        case .corrupt: "corrupt"
        case .unsupported: "unsupported"
        case .checksumMismatch: "checksum mismatch"
        case .tooLarge: "too large"
        }
    }
}

extension Initfs {
    /// The programs in sbin/ with the manifests their ELF notes hold; one without a readable manifest is
    /// one log line and left out.
    static func servers() -> [BootServer] {
        var result: [BootServer] = []
        for e in entries where e.kind == .file {
            let p = path(e)
            guard p.hasPrefix("sbin/") else { continue }
            let manifest = archive.withUnsafeBytes { all in
                Result { () throws(ManifestError) in
                    try ServerManifest(elf: UnsafeRawBufferPointer(rebasing: all[e.dataOffset..<(e.dataOffset + e.size)]))
                }
            }
            switch manifest {
            case .success(let m): result.append(BootServer(path: p, manifest: m))
            case .failure: print("root: \(p) not started: no readable manifest in its ELF file")
            }
        }
        return result
    }

    /// The unpacked archive in a fresh Frame (for initfsd), or nil.
    static func archiveFrame() -> Handle? {
        let size = max((UInt64(archive.count) + pageSize - 1) / pageSize * pageSize, pageSize)
        guard let frame = try? frameCreate(size: size) else { return nil }
        let written = archive.withUnsafeBytes { b in
            Result { () throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) }
        }
        if case .failure = written {
            _ = try? handleClose(frame)
            return nil
        }
        return frame
    }
}

/// Programs by name: a boot module of that name, else bin/NAME or sbin/NAME in the initfs.
enum Programs {
    /// A Frame holding the ELF image at `path` in the initfs (the caller closes it when `owned`).
    static func image(path: String) throws(SysError) -> (frame: Handle, owned: Bool)? {
        guard let bytes = Initfs.file(path) else { return nil }
        return (try frame(holding: bytes), true)
    }

    static func frame(holding bytes: ArraySlice<UInt8>) throws(SysError) -> Handle {
        let size = (UInt64(bytes.count) + 4095) / 4096 * 4096
        let frame = try frameCreate(size: max(size, 4096))
        let written = bytes.withUnsafeBytes { b in
            Result { () throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) }
        }
        if case .failure(let error) = written {
            try? handleClose(frame)
            throw error
        }
        return frame
    }

    /// A Frame holding the program's ELF image (the caller closes it when `owned`).
    static func image(named name: String, _ startup: Startup) throws(SysError) -> (frame: Handle, owned: Bool)? {
        if let module = startup.modules.first(where: { $0.name == name }) { return (module.frame, false) }
        guard let bytes = Initfs.file("bin/" + name) ?? Initfs.file("sbin/" + name) else { return nil }
        return (try frame(holding: bytes), true)
    }
}
