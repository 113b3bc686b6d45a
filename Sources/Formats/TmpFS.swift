// A RAM file system (vfs mounts one at fs:///): directories and files in memory, addressed by path
// components relative to its root. Nodes are numbered; a file stays readable through an open node
// number after it is unlinked, until the last open reference goes (POSIX's rule). The bytes of all files
// together are bounded by `capacity` (.noSpace past it).

#if !USERSPACE
import ABI
#endif

/// The in-memory file system.
public struct TmpFS {
    /// One file or directory.
    struct Node {
        var kind: FileKind
        var data: [UInt8] = []
        /// A directory's entries: name → node number.
        var children: [String: Int] = [:]
        /// Directory entries naming it (0 once unlinked), and open references.
        var links = 1
        var opens = 0
    }

    /// Nodes by number; nil for a freed number (reused by later nodes).
    private var nodes: [Node?] = [Node(kind: .directory)]
    private var freeNumbers: [Int] = []
    /// Bytes of file data held, and the bound.
    public private(set) var used = 0
    public let capacity: Int

    public static let rootNode = 0

    public init(capacity: Int = 64 << 20) { self.capacity = capacity }

    // MARK: Paths

    /// The node a path names.
    public func lookup(_ path: [String]) throws(FileError) -> Int {
        var n = TmpFS.rootNode
        for name in path {
            guard let node = nodes[n], node.kind == .directory else { throw .notDirectory }
            guard let child = node.children[name] else { throw .notFound }
            n = child
        }
        return n
    }

    /// The directory holding the last component, and that component; .invalid for the root itself.
    func parent(_ path: [String]) throws(FileError) -> (dir: Int, name: String) {
        guard let name = path.last else { throw .invalid }
        let dir = try lookup(Array(path.dropLast()))
        guard nodes[dir]!.kind == .directory else { throw .notDirectory }
        return (dir, name)
    }

    // MARK: Operations by path

    /// Opens (and with .create makes) the file or directory at `path`; the caller closes the node number.
    public mutating func open(_ path: [String], _ flags: OpenFlags) throws(FileError) -> Int {
        guard flags.subtracting(.all).isEmpty else { throw .invalid }
        let writes = flags.contains(.write)
        guard flags.contains(.read) || writes else { throw .invalid }
        guard !(flags.contains(.directory) && flags.contains(.create)) else { throw .invalid }
        guard writes || !flags.contains(.truncate) && !flags.contains(.append) else { throw .invalid }
        var n: Int
        do throws(FileError) {
            n = try lookup(path)
            guard !(flags.contains(.create) && flags.contains(.exclusive)) else { throw .exists }
        } catch .notFound where flags.contains(.create) {
            let (dir, name) = try parent(path)
            n = insert(Node(kind: .file), named: name, in: dir)
        }
        if flags.contains(.directory) {
            guard nodes[n]!.kind == .directory else { throw .notDirectory }
            guard !writes else { throw .isDirectory }
        } else {
            guard nodes[n]!.kind == .file else { throw .isDirectory }
        }
        if flags.contains(.truncate) { truncate(n) }
        nodes[n]!.opens += 1
        return n
    }

    /// Drops one open reference (the node is freed when it was unlinked and this was the last).
    public mutating func close(_ node: Int) {
        guard node < nodes.count, nodes[node] != nil, nodes[node]!.opens > 0 else { return }
        nodes[node]!.opens -= 1
        freeIfUnused(node)
    }

    public mutating func mkdir(_ path: [String]) throws(FileError) {
        let (dir, name) = try parent(path)
        guard nodes[dir]!.children[name] == nil else { throw .exists }
        _ = insert(Node(kind: .directory), named: name, in: dir)
    }

    /// Removes a file or an empty directory. `directory` true: only a directory (`.notDirectory` for a
    /// file); false: only a file (`.isDirectory` for a directory); nil: either.
    public mutating func unlink(_ path: [String], directory: Bool? = nil) throws(FileError) {
        let (dir, name) = try parent(path)
        guard let n = nodes[dir]!.children[name] else { throw .notFound }
        if directory == true && nodes[n]!.kind != .directory { throw .notDirectory }
        if directory == false && nodes[n]!.kind == .directory { throw .isDirectory }
        guard nodes[n]!.children.isEmpty else { throw .notEmpty }
        nodes[dir]!.children[name] = nil
        nodes[n]!.links = 0
        freeIfUnused(n)
    }

    /// Moves `from` to `to`, replacing a file there, or an empty directory with a directory (POSIX rename).
    public mutating func rename(_ from: [String], _ to: [String]) throws(FileError) {
        let (fromDir, fromName) = try parent(from)
        guard let n = nodes[fromDir]!.children[fromName] else { throw .notFound }
        let (toDir, toName) = try parent(to)
        if from == to { return }
        guard !(nodes[n]!.kind == .directory && to.starts(with: from)) else { throw .invalid }
        if let old = nodes[toDir]!.children[toName] {
            switch (nodes[n]!.kind, nodes[old]!.kind) {
            case (.file, .directory): throw .isDirectory
            case (.directory, .file): throw .notDirectory
            case (.directory, .directory) where !nodes[old]!.children.isEmpty: throw .notEmpty
            default: break
            }
            nodes[old]!.links = 0
            freeIfUnused(old)
        }
        nodes[fromDir]!.children[fromName] = nil
        nodes[toDir]!.children[toName] = n
    }

    /// A directory's entries in name order.
    public func list(_ path: [String]) throws(FileError) -> [(name: String, kind: FileKind)] {
        let n = try lookup(path)
        guard nodes[n]!.kind == .directory else { throw .notDirectory }
        return nodes[n]!.children.keys.sorted().map { ($0, nodes[nodes[n]!.children[$0]!]!.kind) }
    }

    /// An open directory's entries in name order, with their kinds and sizes.
    public func entries(node: Int) throws(FileError) -> [(name: String, kind: FileKind, size: Int)] {
        guard nodes[node]!.kind == .directory else { throw .notDirectory }
        return nodes[node]!.children.keys.sorted().map { name in
            let child = nodes[nodes[node]!.children[name]!]!
            return (name, child.kind, child.kind == .file ? child.data.count : child.children.count)
        }
    }

    // MARK: Operations on open nodes

    /// Kind and size of a node.
    public func stat(node: Int) -> (kind: FileKind, size: Int) {
        let node = nodes[node]!
        return (node.kind, node.kind == .file ? node.data.count : node.children.count)
    }

    /// Up to `count` bytes from `offset` (none at or past the end).
    public func read(node: Int, offset: Int, count: Int) throws(FileError) -> ArraySlice<UInt8> {
        guard nodes[node]!.kind == .file else { throw .isDirectory }
        let data = nodes[node]!.data
        guard offset < data.count else { return [] }
        return data[offset..<min(data.count, offset + count)]
    }

    /// Writes `bytes` at `offset`, filling a gap with zeros.
    public mutating func write(node: Int, offset: Int, _ bytes: ArraySlice<UInt8>) throws(FileError) {
        guard nodes[node]!.kind == .file else { throw .isDirectory }
        let old = nodes[node]!.data.count
        let (end, overflow) = offset.addingReportingOverflow(bytes.count)
        guard !overflow, offset >= 0 else { throw .tooLarge }
        guard end <= old || used + (end - old) <= capacity else { throw .noSpace }
        if end > old {
            nodes[node]!.data.append(contentsOf: repeatElement(0, count: end - old))
            used += end - old
        }
        nodes[node]!.data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    }

    /// Cuts a file to 0 bytes.
    public mutating func truncate(_ node: Int) {
        used -= nodes[node]!.data.count
        nodes[node]!.data = []
    }

    /// Nodes in use (for leak checks in tests).
    public var liveNodes: Int { nodes.count - freeNumbers.count }

    // MARK: Bookkeeping

    private mutating func insert(_ node: Node, named name: String, in dir: Int) -> Int {
        let n: Int
        if let reuse = freeNumbers.popLast() { n = reuse; nodes[n] = node } else { n = nodes.count; nodes.append(node) }
        nodes[dir]!.children[name] = n
        return n
    }

    private mutating func freeIfUnused(_ n: Int) {
        guard let node = nodes[n], node.links == 0, node.opens == 0 else { return }
        used -= node.data.count
        nodes[n] = nil
        freeNumbers.append(n)
    }
}
