#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func sysClose(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}

/// Errors of the socket layer shared by the QMP and GDB remote clients.
public enum SocketError: Error, Equatable, CustomStringConvertible {
    /// Nothing listens at the path (no such file, or connection refused): the VM is not running.
    case notListening(path: String, errno: Int32)
    case pathTooLong(String)
    case system(call: String, errno: Int32)
    case timedOut(String)
    case closed

    public var description: String {
        switch self {
        case .notListening(let path, let e): return "nothing listens on \(path): \(String(cString: strerror(e)))"
        case .pathTooLong(let p): return "socket path too long: \(p)"
        case .system(let call, let e): return "\(call): \(String(cString: strerror(e)))"
        case .timedOut(let what): return "timed out \(what)"
        case .closed: return "connection closed by peer"
        }
    }
}

/// A connected stream socket to a Unix-domain path, with buffered reads and per-call timeouts.
public final class UnixSocket {
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var bufferStart = 0

    /// Connects to `path`. Throws `.notListening` if the file is missing or the connection is refused.
    public init(path: String) throws(SocketError) {
        self.path = path
        #if canImport(Glibc)
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let s = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard s >= 0 else { throw .system(call: "socket", errno: errno) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { sysClose(s); throw .pathTooLong(path) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc != 0 {
            let e = errno
            sysClose(s)
            if e == ENOENT || e == ECONNREFUSED || e == ENOTSOCK { throw .notListening(path: path, errno: e) }
            throw .system(call: "connect", errno: e)
        }
        fd = s
    }

    deinit { if fd >= 0 { sysClose(fd) } }

    public func close() {
        if fd >= 0 { sysClose(fd); fd = -1 }
    }

    public var isOpen: Bool { fd >= 0 }

    /// The socket's descriptor, for poll() in an event loop (-1 once closed).
    public var fileDescriptor: Int32 { fd }

    public func write(_ bytes: [UInt8]) throws(SocketError) {
        guard fd >= 0 else { throw .closed }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { throw .closed }
                throw .system(call: "send", errno: errno)
            }
            off += n
        }
    }

    public func write(_ string: String) throws(SocketError) { try write(Array(string.utf8)) }

    /// Waits until data is readable; returns false on timeout. `timeout` < 0 waits forever.
    private func waitReadable(_ timeout: Double) throws(SocketError) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms: Int32 = timeout < 0 ? -1 : Int32(min(timeout * 1000, Double(Int32.max)))
        while true {
            let rc = poll(&p, 1, ms)
            if rc < 0 {
                if errno == EINTR { continue }
                throw .system(call: "poll", errno: errno)
            }
            return rc > 0
        }
    }

    private func fill(timeout: Double, what: String) throws(SocketError) {
        guard fd >= 0 else { throw .closed }
        guard try waitReadable(timeout) else { throw .timedOut(what) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { throw .closed }
                throw .system(call: "recv", errno: errno)
            }
            if n == 0 { throw .closed }
            if bufferStart > 0 && bufferStart == buffer.count { buffer.removeAll(keepingCapacity: true); bufferStart = 0 }
            buffer.append(contentsOf: chunk[0..<n])
            return
        }
    }

    /// Reads one byte, waiting up to `timeout` seconds.
    public func readByte(timeout: Double, what: String = "waiting for data") throws(SocketError) -> UInt8 {
        if bufferStart == buffer.count { try fill(timeout: timeout, what: what) }
        let b = buffer[bufferStart]
        bufferStart += 1
        return b
    }

    /// Reads up to and including the byte `delimiter`, returning the bytes before it.
    public func readUntil(_ delimiter: UInt8, timeout: Double, what: String = "waiting for data") throws(SocketError) -> [UInt8] {
        var scanned = 0  // bytes after bufferStart already searched (fill may move the buffer)
        while true {
            if let i = buffer[(bufferStart + scanned)...].firstIndex(of: delimiter) {
                let out = Array(buffer[bufferStart..<i])
                bufferStart = i + 1
                return out
            }
            scanned = buffer.count - bufferStart
            try fill(timeout: timeout, what: what)
        }
    }

    /// True if bytes are already buffered or readable right now.
    public func hasPendingInput() -> Bool {
        if bufferStart < buffer.count { return true }
        return (try? waitReadable(0)) ?? false
    }
}
