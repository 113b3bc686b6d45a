// The initfs as a tree of nodes: every member of the ustar archive, plus the directories its paths imply
// (an archive need not list them), plus the root directory. Paths are kept without leading `./` or `/`.
// A hard link is served as a file of its own with its target's data (bin/ls and the other utilities are
// links to bin/coreutils); symbolic links are not served.

struct Node {
    /// "bin/init"; "" for the root directory.
    let path: [UInt8]
    let kind: FileKind
    let size: Int
    let dataOffset: Int
    let mode: UInt64
    let modified: UInt64
    /// The index of its parent directory (the root is its own parent).
    var parent: Int
}

struct Tree {
    var nodes: [Node] = [Node(path: [], kind: .directory, size: 0, dataOffset: 0, mode: 0o555, modified: 0, parent: 0)]

    init(_ entries: [TarEntry]) {
        for e in entries {
            var p = e.path[...]
            while p.starts(with: [UInt8(ascii: "."), UInt8(ascii: "/")]) { p = p.dropFirst(2) }
            while p.first == UInt8(ascii: "/") { p = p.dropFirst() }
            while p.last == UInt8(ascii: "/") { p = p.dropLast() }
            if p.isEmpty || p.elementsEqual([UInt8(ascii: ".")]) { continue }
            let kind: FileKind
            var data = (size: e.size, offset: e.dataOffset)
            switch e.kind {
            case .file: kind = .file
            case .directory: kind = .directory
            case .hardLink:
                // Another name for a file listed earlier (the core utilities' links to one image).
                var target = e.linkTarget[...]
                while target.starts(with: [UInt8(ascii: "."), UInt8(ascii: "/")]) { target = target.dropFirst(2) }
                while target.first == UInt8(ascii: "/") { target = target.dropFirst() }
                guard let t = find(Array(target)), nodes[t].kind == .file else { continue }
                kind = .file
                data = (nodes[t].size, nodes[t].dataOffset)
            default: continue   // symbolic links and devices are not served
            }
            let parent = directory(for: Array(p))
            if let existing = find(Array(p)) {
                // A directory implied earlier and listed now: keep its mode and time.
                if kind == .directory, nodes[existing].kind == .directory {
                    nodes[existing] = Node(path: Array(p), kind: .directory, size: 0, dataOffset: 0,
                                           mode: UInt64(e.mode & 0o7777), modified: UInt64(max(0, e.modificationTime)),
                                           parent: parent)
                }
                continue
            }
            nodes.append(Node(path: Array(p), kind: kind, size: kind == .file ? data.size : 0, dataOffset: data.offset,
                              mode: UInt64(e.mode & 0o7777), modified: UInt64(max(0, e.modificationTime)), parent: parent))
        }
    }

    /// The node with this normalized path.
    func find(_ path: [UInt8]) -> Int? {
        if path.isEmpty { return 0 }
        return nodes.firstIndex { $0.path == path }
    }

    /// The index of the directory holding `path`, made (with its own parents) when missing.
    mutating func directory(for path: [UInt8]) -> Int {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return 0 }
        let dir = Array(path[..<slash])
        if let i = find(dir) { return i }
        let parent = directory(for: dir)
        nodes.append(Node(path: dir, kind: .directory, size: 0, dataOffset: 0, mode: 0o555, modified: 0, parent: parent))
        return nodes.count - 1
    }

    /// The children of directory `index`, in archive order.
    func children(of index: Int) -> [Int] {
        var result: [Int] = []
        for i in 1..<nodes.count where nodes[i].parent == index { result.append(i) }
        return result
    }

    /// The last component of a node's path.
    func name(_ index: Int) -> ArraySlice<UInt8> {
        let p = nodes[index].path
        if let slash = p.lastIndex(of: UInt8(ascii: "/")) { return p[(slash + 1)...] }
        return p[...]
    }
}

/// A request's path made into a tree path: `initfs://` is dropped, then it must be absolute; empty
/// components go, `.` and `..` are `.invalid`, a component over FileProtocol.maxName bytes `.nameTooLong`.
func normalize(_ bytes: [UInt8]) throws(FileError) -> [UInt8] {
    guard !bytes.isEmpty else { throw .invalid }
    guard bytes.count <= FileProtocol.maxPath else { throw .nameTooLong }
    if bytes.contains(0) { throw .invalid }
    var rest = bytes[...]
    let scheme = Array("initfs://".utf8)
    if rest.starts(with: scheme) { rest = rest.dropFirst(scheme.count) }
    else if rest.contains(UInt8(ascii: ":")) && rest.firstIndex(of: UInt8(ascii: ":"))! < (rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex) {
        throw .noServer   // another scheme
    }
    guard rest.first == UInt8(ascii: "/") else { throw .invalid }
    var out: [UInt8] = []
    for part in rest.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
        if part.elementsEqual([UInt8(ascii: ".")]) || part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
            throw .invalid
        }
        guard part.count <= FileProtocol.maxName else { throw .nameTooLong }
        if !out.isEmpty { out.append(UInt8(ascii: "/")) }
        out.append(contentsOf: part)
    }
    return out
}
