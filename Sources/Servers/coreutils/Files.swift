// The file utilities: ls, cat, mkdir, rm, mv, cp, stat, df and mount, over the file protocol
// through the Runtime's POSIX layer (IO.swift's `Files`). Errors read `NAME: PATH: message`.

/// ls [-l] [-a] [-1] [PATH...]: a directory's entries sorted by name, or the file itself. Exit status 2
/// when an operand cannot be read (as GNU ls).
func ls(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "la1") else { return 2 }
    let operands = a.operands.isEmpty ? ["."] : a.operands
    var status: Int32 = 0
    for (k, operand) in operands.enumerated() {
        let path = IO.path(operand)
        do throws(FileError) {
            let info = try Files.stat(path)
            guard info.kind == .directory else {
                listOne(name: operand, path: path, info: info, long: a.has("l"))
                continue
            }
            if operands.count > 1 { IO.line((k > 0 ? "\n" : "") + operand + ":") }
            var names = try Files.list(path).filter { a.has("a") || !$0.hasPrefix(".") }
            names.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            if a.has("a") { names = [".", ".."] + names }
            if a.has("l") {
                var rows: [(name: String, info: FileStat)] = []
                for n in names {
                    let full = n == "." ? path : n == ".." ? UtilityPath.dirname(path) : UtilityPath.join(path, n)
                    rows.append((n, try Files.stat(full)))
                }
                let width = rows.map { "\($0.info.size)".utf8.count }.max() ?? 1
                for r in rows { IO.line(LongListing.line(directory: r.info.kind == .directory, mode: r.info.mode, size: r.info.size,
                                                         modified: r.info.modified, name: r.name, sizeWidth: width)) }
            } else {
                for n in names { IO.line(n) }
            }
        } catch {
            IO.error(operand, error)
            status = 2
        }
    }
    return status
}

func listOne(name: String, path: String, info: FileStat, long: Bool) {
    if long {
        IO.line(LongListing.line(directory: info.kind == .directory, mode: info.mode, size: info.size, modified: info.modified,
                                 name: name, sizeWidth: 1))
    } else {
        IO.line(name)
    }
}

/// cat [FILE...]: the files (standard input for none or `-`) one after another.
func cat(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "u") else { return 1 }
    var status: Int32 = 0
    for operand in a.operands.isEmpty ? [nil] : a.operands.map({ Optional($0) }) {
        if !eachPiece(of: operand, { IO.out($0) }) { status = 1 }
    }
    return status
}

/// mkdir [-p] DIR...: makes directories; with -p their missing parents too, and one that exists is fine.
func mkdir(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "p") else { return 1 }
    guard !a.operands.isEmpty else { return missingOperand() }
    var status: Int32 = 0
    for operand in a.operands {
        let path = IO.path(operand)
        do throws(FileError) {
            if a.has("p") {
                for dir in UtilityPath.parents(path) {
                    do throws(FileError) { try Files.mkdir(dir) } catch {
                        guard error == .exists, try Files.stat(dir).kind == .directory else { throw error }
                    }
                }
            } else {
                try Files.mkdir(path)
            }
        } catch {
            IO.error("cannot create directory '" + operand + "': " + staticText(error.name))
            status = 1
        }
    }
    return status
}

/// Removes `path`; a directory (with everything in it) only when `recursive`.
func remove(_ path: String, recursive: Bool) throws(FileError) {
    let info = try Files.stat(path)
    if info.kind == .directory {
        guard recursive else { throw .isDirectory }
        for name in try Files.list(path) { try remove(UtilityPath.join(path, name), recursive: true) }
        try Files.rmdir(path)
    } else {
        try Files.unlink(path)
    }
}

/// rm [-r] [-f] PATH...: -f is quiet about missing files (and exit status 0 for them).
func rm(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "rRf") else { return 1 }
    guard !a.operands.isEmpty else { return a.has("f") ? 0 : missingOperand() }
    var status: Int32 = 0
    for operand in a.operands {
        do throws(FileError) { try remove(IO.path(operand), recursive: a.has("r") || a.has("R")) } catch {
            if error == .notFound && a.has("f") { continue }
            IO.error("cannot remove '" + operand + "': " + staticText(error.name))
            status = 1
        }
    }
    return status
}

/// Copies file `from` to `to` (made or emptied); a directory only when `recursive`.
func copy(_ from: String, _ to: String, recursive: Bool) throws(FileError) {
    let info = try Files.stat(from)
    if info.kind == .directory {
        guard recursive else { throw .isDirectory }
        do throws(FileError) { try Files.mkdir(to) } catch {
            guard error == .exists, try Files.stat(to).kind == .directory else { throw error }
        }
        for name in try Files.list(from) {
            try copy(UtilityPath.join(from, name), UtilityPath.join(to, name), recursive: true)
        }
        return
    }
    let source = try Files.open(from, O_RDONLY)
    defer { _ = close(source) }
    let target = try Files.open(to, O_WRONLY | O_CREAT | O_TRUNC, mode: UInt32(info.mode))
    defer { _ = close(target) }
    while true {
        let piece = try Files.read(source)
        if piece.isEmpty { break }
        try Files.write(target, piece)
    }
}

/// The operands of cp and mv: sources and a destination; the target path of each source.
func targets(_ operands: [String]) throws(FileError) -> [(operand: String, from: String, to: String)] {
    let destination = IO.path(operands.last!)
    var isDirectory = false
    do throws(FileError) { isDirectory = try Files.stat(destination).kind == .directory } catch {
        guard error == .notFound else { throw error }
    }
    if operands.count > 2 && !isDirectory { throw .notDirectory }
    return operands.dropLast().map { o in
        let from = IO.path(o)
        return (o, from, UtilityPath.target(source: from, destination: destination, destinationIsDirectory: isDirectory))
    }
}

/// cp [-r] SOURCE... DEST
func cp(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "rR") else { return 1 }
    guard a.operands.count >= 2 else { return missingOperand() }
    var status: Int32 = 0
    do throws(FileError) {
        for t in try targets(a.operands) {
            do throws(FileError) { try copy(t.from, t.to, recursive: a.has("r") || a.has("R")) } catch {
                IO.error("cannot copy '" + t.operand + "': " + staticText(error.name))
                status = 1
            }
        }
    } catch {
        IO.error(a.operands.last!, error)
        return 1
    }
    return status
}

/// mv SOURCE... DEST: a rename; across schemes or mounts a copy and a removal.
func mv(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "f") else { return 1 }
    guard a.operands.count >= 2 else { return missingOperand() }
    var status: Int32 = 0
    do throws(FileError) {
        for t in try targets(a.operands) {
            do throws(FileError) {
                do throws(FileError) { try Files.rename(t.from, to: t.to) } catch {
                    guard error == .crossDevice else { throw error }
                    try copy(t.from, t.to, recursive: true)
                    try remove(t.from, recursive: true)
                }
            } catch {
                IO.error("cannot move '" + t.operand + "': " + staticText(error.name))
                status = 1
            }
        }
    } catch {
        IO.error(a.operands.last!, error)
        return 1
    }
    return status
}

/// stat PATH...: size, kind, permissions and modification time.
func stat(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "") else { return 1 }
    guard !a.operands.isEmpty else { return missingOperand() }
    var status: Int32 = 0
    for operand in a.operands {
        do throws(FileError) {
            let s = try Files.stat(IO.path(operand))
            let mode = LongListing.modeString(directory: s.kind == .directory, mode: s.mode)
            IO.line("  File: " + operand)
            IO.line("  Size: \(s.size)\tType: " + (s.kind == .directory ? "directory" : "regular file"))
            IO.line("Access: (0" + octal(s.mode & 0o7777) + "/" + mode + ")")
            IO.line("Modify: " + (s.modified == 0 ? "-" : SystemFormat.date(unixSeconds: Int64(s.modified))))
        } catch {
            IO.error("cannot stat '" + operand + "': " + staticText(error.name))
            status = 1
        }
    }
    return status
}

func octal(_ v: UInt64) -> String {
    var digits: [UInt8] = []
    var x = v
    repeat { digits.append(UInt8(48 + x % 8)); x /= 8 } while x > 0
    while digits.count < 3 { digits.append(48) }
    return String(decoding: digits.reversed(), as: UTF8.self)
}

/// df [-h] [PATH...]: each path's file system (statfs): size, used, free, and where it is mounted.
/// Without paths every mount vfs lists whose server runs (one not started yet is left out, as its
/// server would be started to answer).
func df(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "h") else { return 1 }
    var status: Int32 = 0
    let mounts = mountEntries()
    var rows: [(path: String, source: String, point: String)] = []
    if a.operands.isEmpty {
        guard let mounts else {
            IO.error("cannot list the mounts", Files.failure)
            return 1
        }
        for m in mounts where m.flags.contains(.running) { rows.append((m.point, m.source, m.point)) }
    } else {
        for operand in a.operands {
            let uri = MountPaths.uri(IO.path(operand))
            let m = mounts.flatMap { MountPaths.mount(of: uri, in: $0) }
            rows.append((operand, m?.source ?? "-", m.map { MountPaths.shown($0.point) } ?? operand))
        }
    }
    IO.line(SystemFormat.dfHeader(human: a.has("h")))
    for row in rows {
        var f = StatFS()
        guard statfs(IO.path(row.path), &f) == 0 else {
            IO.error(row.path, Files.failure)
            status = 1
            continue
        }
        IO.line(SystemFormat.dfLine(source: row.source, size: f.size, free: f.free, point: MountPaths.shown(row.point),
                                    human: a.has("h")))
    }
    return status
}

/// vfs's mount table (the file protocol's `mounts`), or nil (errno set) when it cannot be read.
func mountEntries() -> [MountEntry]? {
    var raw: [(count: Int, bytes: [UInt8])] = []
    guard listMounts(&raw) == 0 else { return nil }
    var out: [MountEntry] = []
    for r in raw {
        guard let e = MountEntry.decode(r.bytes, count: r.count) else {
            errno = EIO
            return nil
        }
        out += e
    }
    return out
}

/// mount: without operands, vfs's mounts in Linux's shape (`SOURCE on POINT type TYPE (OPTIONS)`).
/// mount [-r] SERVICE POINT: mounts the file server this program was given as `import:SERVICE` at POINT
/// (vfs allows it only through an administrative Sender or connection).
func mount(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "r") else { return 1 }
    if a.operands.isEmpty && !a.has("r") {
        guard let entries = mountEntries() else {
            IO.error("cannot list the mounts", Files.failure)
            return 1
        }
        for e in entries { IO.line(e.line) }
        return 0
    }
    guard a.operands.count == 2 else {
        IO.error("usage: mount [-r] SERVICE POINT (or mount alone for the list)")
        return 1
    }
    guard let server = IO.startup.imported(a.operands[0]),
          let copy = try? handleDuplicate(server, rights: Rights.defaults(for: .sender)) else {
        IO.error(a.operands[0] + ": no such service given to this program")
        return 1
    }
    guard coreutils.mount(IO.path(a.operands[1]), server: copy, readOnly: a.has("r")) == 0 else {
        IO.error(a.operands[1], Files.failure)
        return 1
    }
    return 0
}
