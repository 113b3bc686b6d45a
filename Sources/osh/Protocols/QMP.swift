import Foundation

/// Errors of the QMP client.
public enum QMPError: Error, Equatable, CustomStringConvertible {
    /// QEMU answered the command with `{"error": {"class": …, "desc": …}}`.
    case command(command: String, errorClass: String, desc: String)
    /// The peer did not speak QMP as expected.
    case protocolViolation(String)
    case socket(SocketError)

    public var description: String {
        switch self {
        case .command(let c, let cls, let d): return "QMP \(c) failed: \(cls): \(d)"
        case .protocolViolation(let s): return "QMP protocol error: \(s)"
        case .socket(.timedOut(let what)):
            return "QMP timed out \(what) (is another client holding the QMP socket?)"
        case .socket(let e): return "QMP: \(e)"
        }
    }
}

/// One message from the server, classified.
public enum QMPMessage: Equatable {
    case greeting(JSON)
    case success(id: JSON?, result: JSON)
    case failure(id: JSON?, errorClass: String, desc: String)
    case event(name: String, data: JSON, timestamp: JSON?)

    /// Classifies a decoded server message.
    public static func classify(_ json: JSON) throws -> QMPMessage {
        guard case .object(let o) = json else { throw QMPError.protocolViolation("message is not an object: \(json)") }
        if let g = o["QMP"] { return .greeting(g) }
        if let r = o["return"] { return .success(id: o["id"], result: r) }
        if let e = o["error"] {
            return .failure(id: o["id"], errorClass: e["class"]?.string ?? "GenericError", desc: e["desc"]?.string ?? "\(e)")
        }
        if let name = o["event"]?.string { return .event(name: name, data: o["data"] ?? .object([:]), timestamp: o["timestamp"]) }
        throw QMPError.protocolViolation("unrecognised message: \(json)")
    }
}

/// Splits the QMP byte stream into messages: QEMU ends each JSON object with CRLF, and newlines
/// inside strings are always escaped, so a line is a message. Partial input stays buffered.
public struct QMPFramer {
    private var pending: [UInt8] = []
    public init() {}

    public mutating func feed(_ bytes: [UInt8]) { pending.append(contentsOf: bytes) }

    /// The next complete message, or nil if more input is needed. Blank lines are skipped.
    public mutating func next() throws -> JSON? {
        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = Array(pending[..<nl])
            pending.removeSubrange(...nl)
            while let last = line.last, last == 13 || last == 32 || last == 9 { line.removeLast() }
            if line.isEmpty { continue }
            do { return try JSON.parse(line) } catch {
                throw QMPError.protocolViolation("bad JSON from server: \(String(decoding: line, as: UTF8.self))")
            }
        }
        return nil
    }

    /// Encodes a command as one line.
    public static func encodeCommand(_ command: String, arguments: JSON?, id: JSON) -> [UInt8] {
        var o: [String: JSON] = ["execute": .string(command), "id": id]
        if let arguments { o["arguments"] = arguments }
        return Array((JSON.object(o).serialized() + "\r\n").utf8)
    }
}

/// A client of QEMU's QMP monitor over its Unix socket (`-qmp unix:PATH,server=on,wait=off`).
///
/// Replies are matched to commands by `id`; events arriving in between are kept in `events`.
/// Note that a QMP chardev serves one client at a time: while another client holds it, connecting
/// succeeds but the greeting never comes, which surfaces as a timeout.
public final class QMPClient {
    public let socket: UnixSocket
    public private(set) var greeting: JSON = .null
    /// Asynchronous events received so far and not yet taken.
    public private(set) var events: [JSON] = []
    public var timeout: Double
    private var framer = QMPFramer()
    private var nextID: Int64 = 1

    /// Connects, reads the greeting and negotiates capabilities (`qmp_capabilities`).
    public init(path: String, timeout: Double = 5) throws {
        do { socket = try UnixSocket(path: path) } catch { throw QMPError.socket(error) }
        self.timeout = timeout
        // Events emitted while no client was connected (a STOP after a gdb interrupt, say) can reach the
        // socket ahead of the greeting: keep them, and wait for the greeting itself.
        while true {
            let m = try readMessage(what: "waiting for the QMP greeting")
            switch try QMPMessage.classify(m) {
            case .greeting(let g):
                greeting = g
            case .event:
                events.append(m)
                continue
            default:
                throw QMPError.protocolViolation("first message is not a greeting")
            }
            break
        }
        _ = try execute("qmp_capabilities")
    }

    public func close() { socket.close() }

    /// QEMU's version from the greeting, like "7.2.0".
    public var version: String? {
        guard let q = greeting["version"]?["qemu"], let ma = q["major"]?.int, let mi = q["minor"]?.int,
              let mc = q["micro"]?.int else { return nil }
        return "\(ma).\(mi).\(mc)"
    }

    private func readMessage(what: String) throws -> JSON {
        while true {
            if let m = try framer.next() { return m }
            do {
                var chunk = try socket.readUntil(UInt8(ascii: "\n"), timeout: timeout, what: what)
                chunk.append(UInt8(ascii: "\n"))
                framer.feed(chunk)
            } catch { throw QMPError.socket(error) }
        }
    }

    /// Runs a command and returns its `return` value; QMP errors are thrown as `QMPError.command`.
    @discardableResult
    public func execute(_ command: String, _ arguments: JSON? = nil) throws -> JSON {
        let id = JSON.int(nextID)
        nextID += 1
        do { try socket.write(QMPFramer.encodeCommand(command, arguments: arguments, id: id)) } catch {
            throw QMPError.socket(error)
        }
        while true {
            let m = try readMessage(what: "waiting for the reply to \(command)")
            switch try QMPMessage.classify(m) {
            case .event: events.append(m)
            case .greeting: throw QMPError.protocolViolation("unexpected second greeting")
            case .success(let rid, let result):
                if rid == id { return result }
            case .failure(let rid, let cls, let desc):
                if rid == id || rid == nil { throw QMPError.command(command: command, errorClass: cls, desc: desc) }
            }
        }
    }

    /// Reads every message already received or readable now without waiting for more, and returns
    /// the buffered events (removing them). Throws when the connection closed.
    public func readPendingEvents() throws -> [JSON] {
        while socket.hasPendingInput() {
            let m = try readMessage(what: "reading events")
            if m["event"] != nil { events.append(m) }
        }
        return takeEvents()
    }

    /// Removes and returns the buffered events.
    public func takeEvents() -> [JSON] {
        defer { events.removeAll() }
        return events
    }

    /// Waits for an event called `name` (buffered or new), removing it from the buffer.
    public func waitForEvent(_ name: String, timeout: Double = 5) throws -> JSON {
        if let i = events.firstIndex(where: { $0["event"]?.string == name }) { return events.remove(at: i) }
        let saved = self.timeout
        self.timeout = timeout
        defer { self.timeout = saved }
        while true {
            let m = try readMessage(what: "waiting for event \(name)")
            if m["event"]?.string == name { return m }
            if m["event"] != nil { events.append(m) }
        }
    }

    // MARK: helpers

    public struct Status: Equatable {
        public var running: Bool
        public var status: String
    }

    public func queryStatus() throws -> Status {
        let r = try execute("query-status")
        return Status(running: r["running"]?.bool ?? false, status: r["status"]?.string ?? "unknown")
    }

    public func stop() throws { try execute("stop") }
    public func cont() throws { try execute("cont") }
    public func systemReset() throws { try execute("system_reset") }

    /// Asks QEMU to exit. The connection closes right after the reply; that is not an error.
    public func quit() throws {
        do { try execute("quit") } catch QMPError.socket(.closed) {}
    }

    /// Writes the screen as PNG (QEMU ≥ 7.1 `screendump format=png`) to `path` (absolute; QEMU writes it).
    public func screendump(to path: String, format: String = "png", device: String? = nil) throws {
        var a: [String: JSON] = ["filename": .string(path), "format": .string(format)]
        if let device { a["device"] = .string(device) }
        try execute("screendump", .object(a))
    }

    /// Saves `size` bytes of `cpu`'s *virtual* memory at `address` to `path` (QMP `memsave`).
    public func memsave(address: UInt64, size: UInt64, to path: String, cpu: Int = 0) throws {
        try execute("memsave", [
            "val": .int(Int64(bitPattern: address)), "size": .int(Int64(size)),
            "filename": .string(path), "cpu-index": .int(Int64(cpu)),
        ])
    }

    /// Saves `size` bytes of *physical* memory at `address` to `path` (QMP `pmemsave`).
    public func pmemsave(address: UInt64, size: UInt64, to path: String) throws {
        try execute("pmemsave", [
            "val": .int(Int64(bitPattern: address)), "size": .int(Int64(size)), "filename": .string(path),
        ])
    }

    /// Reads virtual memory through `memsave` into a temporary file and returns the bytes.
    public func readVirtualMemory(address: UInt64, size: Int, cpu: Int = 0) throws -> [UInt8] {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("osh-memsave-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try memsave(address: address, size: UInt64(size), to: tmp, cpu: cpu)
        return Array(FileManager.default.contents(atPath: tmp) ?? Data())
    }

    public struct CPU: Equatable {
        public var index: Int
        public var threadID: Int?
        public var qomPath: String?
        public var target: String?
    }

    public func queryCPUsFast() throws -> [CPU] {
        let r = try execute("query-cpus-fast")
        return (r.array ?? []).map {
            CPU(index: Int($0["cpu-index"]?.int ?? 0), threadID: $0["thread-id"]?.int.map { Int($0) },
                qomPath: $0["qom-path"]?.string, target: $0["target"]?.string)
        }
    }

    /// Runs an HMP command line (e.g. "info registers") and returns its text output.
    public func humanMonitorCommand(_ line: String, cpu: Int? = nil) throws -> String {
        var a: [String: JSON] = ["command-line": .string(line)]
        if let cpu { a["cpu-index"] = .int(Int64(cpu)) }
        return try execute("human-monitor-command", .object(a)).string ?? ""
    }

    /// `query-chardev`: label → filename. A socket chardev's filename starts with "disconnected:"
    /// while no client is connected.
    public func queryChardevs() throws -> [String: String] {
        var out: [String: String] = [:]
        for c in try execute("query-chardev").array ?? [] {
            if let l = c["label"]?.string { out[l] = c["filename"]?.string ?? "" }
        }
        return out
    }
}
