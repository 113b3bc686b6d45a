// A scheme served by another server: vfs connects to it over the same file protocol (a shared Frame of
// its own) and forwards each operation with the path below the mount.

final class RemoteFS {
    let client: VFSClient

    /// Connects to `server` (the admin Sender it was given; it stays with this mount).
    init(server: Handle, page: MessagePage) throws(ServiceError) {
        client = try VFSClient(connectingTo: server, frameSize: 64 * 1024, page: page)
    }

    func uri(_ rest: [String]) -> String { "/" + rest.joined(separator: "/") }

    func open(_ rest: [String], _ flags: VFSOpenFlags) throws(ServiceError) -> UInt64 { try client.open(uri(rest), flags) }
    func read(_ fd: UInt64, count: Int) throws(ServiceError) -> [UInt8] { try client.read(fd, count: count) }
    func write(_ fd: UInt64, _ bytes: [UInt8]) throws(ServiceError) -> Int { try client.write(fd, bytes) }
    func seek(_ fd: UInt64, _ offset: Int64, _ whence: VFSWhence) throws(ServiceError) -> UInt64 {
        try client.seek(fd, offset, whence)
    }
    func close(_ fd: UInt64) throws(ServiceError) { try client.close(fd) }
    func stat(_ rest: [String]) throws(ServiceError) -> (kind: VFSFileKind, size: UInt64) { try client.stat(uri(rest)) }
    func fstat(_ fd: UInt64) throws(ServiceError) -> (kind: VFSFileKind, size: UInt64) { try client.fstat(fd) }
    func list(_ rest: [String]) throws(ServiceError) -> [(name: String, kind: VFSFileKind)] { try client.readdir(uri(rest)) }
    func change(_ op: VFSOp, _ rest: [String]) throws(ServiceError) {
        if op == .mkdir { try client.mkdir(uri(rest)) } else { try client.unlink(uri(rest)) }
    }
    func rename(_ from: [String], _ to: [String]) throws(ServiceError) { try client.rename(uri(from), to: uri(to)) }
    func readWhole(_ rest: [String]) throws(ServiceError) -> [UInt8] { try client.readFile(uri(rest), limit: 1 << 20) }
}
