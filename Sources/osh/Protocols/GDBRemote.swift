import Foundation

/// Errors of the GDB remote protocol client.
public enum GDBRemoteError: Error, Equatable, CustomStringConvertible {
    case socket(SocketError)
    /// The stub answered `Exx`.
    case stubError(command: String, code: String)
    /// The stub does not support the packet (empty reply).
    case unsupported(String)
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .socket(.timedOut(let what)):
            return "gdbstub timed out \(what) (is another debugger attached?)"
        case .socket(let e): return "gdbstub: \(e)"
        case .stubError(let c, let code): return "gdbstub: \(c) failed with E\(code)"
        case .unsupported(let c): return "gdbstub does not support \(c)"
        case .protocolViolation(let s): return "gdbstub protocol error: \(s)"
        }
    }
}

/// Pure encoding and decoding of remote serial protocol packets: `$data#cs`.
public enum GDBPacket {
    /// Sum of the bytes modulo 256.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
        bytes.reduce(0) { $0 &+ $1 }
    }

    /// Escapes `$`, `#`, `}` and `*` as `}` followed by the byte XOR 0x20 (binary data, e.g. `X` packets).
    public static func escape(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            if b == 0x24 || b == 0x23 || b == 0x7d || b == 0x2a { out.append(0x7d); out.append(b ^ 0x20) } else { out.append(b) }
        }
        return out
    }

    /// Undoes escapes and run-length encoding (`X*n` repeats X another n-29 times) of a packet body.
    public static func decode(_ body: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var i = 0
        while i < body.count {
            let b = body[i]
            if b == 0x7d {
                guard i + 1 < body.count else { throw GDBRemoteError.protocolViolation("escape at end of packet") }
                out.append(body[i + 1] ^ 0x20)
                i += 2
            } else if b == 0x2a {
                guard let prev = out.last, i + 1 < body.count else {
                    throw GDBRemoteError.protocolViolation("bad run-length encoding")
                }
                let n = Int(body[i + 1]) - 29
                guard n >= 0 else { throw GDBRemoteError.protocolViolation("bad run-length count") }
                out.append(contentsOf: repeatElement(prev, count: n))
                i += 2
            } else {
                out.append(b)
                i += 1
            }
        }
        return out
    }

    /// Frames an (already escaped) body: `$body#xx`.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x24]
        out.append(contentsOf: body)
        out.append(0x23)
        out.append(contentsOf: Array(String(format: "%02x", checksum(body)).utf8))
        return out
    }

    public static func frame(_ body: String) -> [UInt8] { frame(Array(body.utf8)) }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    public static func unhex(_ s: String) throws -> [UInt8] {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { throw GDBRemoteError.protocolViolation("odd hex length") }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = hexDigit(u[i]), let lo = hexDigit(u[i + 1]) else {
                throw GDBRemoteError.protocolViolation("bad hex: \(s.prefix(40))")
            }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    /// Parses a complete `$body#xx` frame, verifying the checksum; returns the decoded body.
    public static func parseFrame(_ frame: [UInt8]) throws -> [UInt8] {
        guard frame.count >= 4, frame.first == 0x24, frame[frame.count - 3] == 0x23,
              let hi = hexDigit(frame[frame.count - 2]), let lo = hexDigit(frame[frame.count - 1]) else {
            throw GDBRemoteError.protocolViolation("malformed frame")
        }
        let body = Array(frame[1..<(frame.count - 3)])
        guard checksum(body) == hi << 4 | lo else { throw GDBRemoteError.protocolViolation("checksum mismatch") }
        return try decode(body)
    }
}

/// Why the target stopped (a stop reply packet).
public enum GDBStopReason: Equatable {
    /// `S`/`T`: stopped by a signal (5 = SIGTRAP), with the `T` packet's n:r pairs.
    case signal(UInt8, info: [String: String])
    /// `W`: exited with a status.
    case exited(UInt8)
    /// `X`: terminated by a signal.
    case terminated(UInt8)

    public static func parse(_ s: String) throws -> GDBStopReason {
        guard let kind = s.first, s.count >= 3, let code = UInt8(s.dropFirst().prefix(2), radix: 16) else {
            throw GDBRemoteError.protocolViolation("bad stop reply: \(s)")
        }
        switch kind {
        case "S": return .signal(code, info: [:])
        case "T":
            var info: [String: String] = [:]
            for pair in s.dropFirst(3).split(separator: ";") {
                let kv = pair.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                if kv.count == 2 { info[String(kv[0])] = String(kv[1]) }
            }
            return .signal(code, info: info)
        case "W": return .exited(code)
        case "X": return .terminated(code)
        default: throw GDBRemoteError.protocolViolation("bad stop reply: \(s)")
        }
    }
}

/// One register of the target description.
public struct GDBRegister: Equatable, Sendable {
    public var name: String
    public var number: Int
    public var bitSize: Int
    /// Byte offset of this register in the `g` packet's data.
    public var offset: Int
    public init(name: String, number: Int, bitSize: Int, offset: Int) {
        self.name = name; self.number = number; self.bitSize = bitSize; self.offset = offset
    }
}

/// Register layout of the target, from its XML description or the fixed i386:x86-64 order.
public struct GDBRegisterLayout: Equatable, Sendable {
    public var registers: [GDBRegister]

    public init(registers: [GDBRegister]) { self.registers = registers }

    /// Builds a layout from (name, bitsize, explicit regnum) triples in document order.
    init(entries: [(String, Int, Int?)]) {
        var regs: [GDBRegister] = []
        var next = 0
        for (name, bits, regnum) in entries {
            let n = regnum ?? next
            regs.append(GDBRegister(name: name, number: n, bitSize: bits, offset: 0))
            next = n + 1
        }
        regs.sort { $0.number < $1.number }
        var off = 0
        for i in regs.indices { regs[i].offset = off; off += regs[i].bitSize / 8 }
        registers = regs
    }

    /// The general registers of x86_64 in the order every x86_64 gdbstub (QEMU's included) sends first.
    public static let x86_64Fallback = GDBRegisterLayout(entries:
        ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip"].map { ($0, 64, nil) }
        + [("eflags", 32, nil)] + ["cs", "ss", "ds", "es", "fs", "gs"].map { ($0, 32, nil) })

    /// Parses the `<reg …/>` elements of one or more target-description documents (concatenated
    /// in include order).
    public static func parse(xmlDocuments: [String]) -> GDBRegisterLayout {
        var entries: [(String, Int, Int?)] = []
        for doc in xmlDocuments {
            for element in xmlElements(named: "reg", in: doc) {
                guard let name = element["name"], let bits = element["bitsize"].flatMap({ Int($0) }) else { continue }
                entries.append((name, bits, element["regnum"].flatMap { Int($0) }))
            }
        }
        return GDBRegisterLayout(entries: entries)
    }

    public func register(named name: String) -> GDBRegister? { registers.first { $0.name == name } }

    /// Size of the `g` data the description promises.
    public var totalBytes: Int { registers.last.map { $0.offset + $0.bitSize / 8 } ?? 0 }

    /// Splits `g` data into values (≤ 64-bit registers, little-endian). Registers past the end of
    /// the data (a stub may send fewer) are omitted.
    public func values(from data: [UInt8]) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for r in registers where r.bitSize <= 64 {
            let n = r.bitSize / 8
            guard r.offset + n <= data.count else { continue }
            out[r.name] = littleEndian(data[r.offset..<(r.offset + n)])
        }
        return out
    }
}

func littleEndian<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var v: UInt64 = 0
    for (i, b) in bytes.prefix(8).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
    return v
}

/// Minimal attribute scan of `<name a="…" …>` elements (enough for target descriptions).
func xmlElements(named name: String, in doc: String) -> [[String: String]] {
    var out: [[String: String]] = []
    // Drop comments first: QEMU's i386-64bit.xml comments out some <reg> elements.
    var text = ""
    var scan = Substring(doc)
    while let open = scan.range(of: "<!--") {
        text += scan[..<open.lowerBound]
        guard let close = scan[open.upperBound...].range(of: "-->") else { scan = ""; break }
        scan = scan[close.upperBound...]
    }
    text += scan
    var rest = Substring(text)
    while let start = rest.range(of: "<\(name)") {
        let after = rest[start.upperBound...]
        guard let first = after.first, first == " " || first == "\t" || first == "\n" || first == "/" || first == ">",
              let end = after.firstIndex(of: ">") else { rest = after; continue }
        let attrs = after[..<end]
        var dict: [String: String] = [:]
        var s = attrs
        while let eq = s.firstIndex(of: "=") {
            let key = s[..<eq].trimmingCharacters(in: .whitespacesAndNewlines)
            var v = s[s.index(after: eq)...].drop { $0 == " " }
            guard let q = v.first, q == "\"" || q == "'" else { break }
            v = v.dropFirst()
            guard let close = v.firstIndex(of: q) else { break }
            dict[String(key.split(separator: " ").last ?? "")] = String(v[..<close])
            s = v[v.index(after: close)...]
        }
        out.append(dict)
        rest = after[end...]
    }
    return out
}

/// A client of a GDB remote serial protocol stub (QEMU's `-gdb`), over a Unix socket.
///
/// QEMU's gdbstub pauses the VM when a client connects; `detach()` resumes it.
public final class GDBRemoteClient {
    public let socket: UnixSocket
    public var timeout: Double
    /// False after `QStartNoAckMode` was accepted.
    public private(set) var acksEnabled = true
    /// The stub's `qSupported` features (name → value, or "+"/"-").
    public private(set) var features: [String: String] = [:]
    public private(set) var layout: GDBRegisterLayout = .x86_64Fallback
    /// Largest packet the stub accepts (from `PacketSize`).
    public private(set) var packetSize = 4096
    /// Console output (`O` packets) received while waiting.
    public private(set) var consoleOutput: [UInt8] = []

    /// Connects and handshakes: `qSupported`, `QStartNoAckMode` (if offered), the target
    /// description (if offered). `timeout` bounds each reply.
    public init(path: String, timeout: Double = 5, noAck: Bool = true) throws {
        do { socket = try UnixSocket(path: path) } catch { throw GDBRemoteError.socket(error) }
        self.timeout = timeout
        let reply = try request("qSupported:multiprocess-;swbreak+;hwbreak+;xmlRegisters=i386")
        for item in reply.split(separator: ";") {
            if let eq = item.firstIndex(of: "=") {
                features[String(item[..<eq])] = String(item[item.index(after: eq)...])
            } else if let last = item.last, last == "+" || last == "-" || last == "?" {
                features[String(item.dropLast())] = String(last)
            }
        }
        if let ps = features["PacketSize"], let n = Int(ps, radix: 16) { packetSize = n }
        if noAck && features["QStartNoAckMode"] == "+" {
            if try request("QStartNoAckMode") == "OK" { acksEnabled = false }
        }
        if features["qXfer:features:read"] == "+" {
            var docs: [String] = []
            var queue = ["target.xml"]
            var seen = Set<String>()
            while !queue.isEmpty {
                let annex = queue.removeFirst()
                guard seen.insert(annex).inserted, let doc = try? readXfer(object: "features", annex: annex) else { continue }
                docs.append(doc)
                for inc in xmlElements(named: "xi:include", in: doc) { if let h = inc["href"] { queue.append(h) } }
            }
            let parsed = GDBRegisterLayout.parse(xmlDocuments: docs)
            if parsed.register(named: "rip") != nil { layout = parsed }
        }
    }

    public func close() { socket.close() }

    // MARK: packet I/O

    /// Sends a packet body (text; escape binary data first) and, with acks on, waits for `+`.
    public func send(_ body: String) throws {
        let frame = GDBPacket.frame(body)
        for _ in 0..<5 {
            do { try socket.write(frame) } catch { throw GDBRemoteError.socket(error) }
            if !acksEnabled { return }
            while true {
                let b: UInt8
                do { b = try socket.readByte(timeout: timeout, what: "waiting for the ack of \(body.prefix(20))") } catch {
                    throw GDBRemoteError.socket(error)
                }
                if b == 0x2b { return }        // '+'
                if b == 0x2d { break }         // '-': resend
                // Anything else before the ack is noise; keep waiting.
            }
        }
        throw GDBRemoteError.protocolViolation("packet rejected 5 times")
    }

    /// Receives one packet body (decoded), acking it if acks are on. `timeout` < 0 waits forever.
    public func receive(timeout: Double? = nil, what: String = "waiting for a reply") throws -> String {
        let t = timeout ?? self.timeout
        while true {
            do {
                var b = try socket.readByte(timeout: t, what: what)
                while b != 0x24 { b = try socket.readByte(timeout: t, what: what) }  // skip '+', stray bytes
                var frame: [UInt8] = [0x24]
                frame.append(contentsOf: try socket.readUntil(0x23, timeout: t, what: what))
                frame.append(0x23)
                frame.append(try socket.readByte(timeout: t, what: what))
                frame.append(try socket.readByte(timeout: t, what: what))
                let body: [UInt8]
                do { body = try GDBPacket.parseFrame(frame) } catch {
                    if acksEnabled { try socket.write([0x2d]); continue }
                    throw error
                }
                if acksEnabled { try socket.write([0x2b]) }
                return String(decoding: body, as: UTF8.self)
            } catch let e as SocketError { throw GDBRemoteError.socket(e) }
        }
    }

    /// Sends a packet and returns the reply body; `Exx` replies throw `.stubError`.
    @discardableResult
    public func request(_ body: String) throws -> String {
        try send(body)
        let r = try receive(what: "waiting for the reply to \(body.prefix(24))")
        if r.count == 3, r.first == "E", UInt8(r.dropFirst(), radix: 16) != nil {
            throw GDBRemoteError.stubError(command: String(body.prefix(24)), code: String(r.dropFirst()))
        }
        return r
    }

    private func requestOK(_ body: String) throws {
        let r = try request(body)
        if r.isEmpty { throw GDBRemoteError.unsupported(String(body.prefix(24))) }
        guard r == "OK" else { throw GDBRemoteError.protocolViolation("\(body.prefix(24)): expected OK, got \(r.prefix(40))") }
    }

    /// Reads a `qXfer` object completely (`m…` more / `l…` last chunks).
    public func readXfer(object: String, annex: String) throws -> String {
        var out: [UInt8] = []
        let chunk = max(256, packetSize - 16)
        while true {
            let r = try request("qXfer:\(object):read:\(annex):\(String(out.count, radix: 16)),\(String(chunk, radix: 16))")
            guard let kind = r.first else { throw GDBRemoteError.unsupported("qXfer:\(object)") }
            out.append(contentsOf: Array(r.utf8.dropFirst()))
            if kind == "l" { break }
            guard kind == "m" else { throw GDBRemoteError.protocolViolation("qXfer reply \(r.prefix(20))") }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: commands

    /// `?`: why the target is stopped.
    public func haltReason() throws -> GDBStopReason { try GDBStopReason.parse(try request("?")) }

    /// `g`: all registers, raw.
    public func readRegisterBytes() throws -> [UInt8] { try GDBPacket.unhex(try request("g")) }

    /// `g`, split by the layout: name → value for registers of 64 bits or less. If the stub sent
    /// a different amount of data than its description promises (QEMU 7.2 outside long mode sends
    /// fs_base…efer as 32-bit values), every such register is read on its own with `p` instead.
    public func readRegisters() throws -> [String: UInt64] {
        let data = try readRegisterBytes()
        guard data.count != layout.totalBytes else { return layout.values(from: data) }
        var out: [String: UInt64] = [:]
        for r in layout.registers where r.bitSize <= 64 {
            out[r.name] = try readRegister(r.name)
        }
        return out
    }

    /// `p n`: one register by name (from the layout), little-endian value (≤ 64 bits).
    public func readRegister(_ name: String) throws -> UInt64 {
        guard let r = layout.register(named: name) else { throw GDBRemoteError.protocolViolation("no register \(name)") }
        let reply = try request("p\(String(r.number, radix: 16))")
        if reply.isEmpty { throw GDBRemoteError.unsupported("p") }
        return littleEndian(try GDBPacket.unhex(reply))
    }

    /// `P n=v`: writes one register.
    public func writeRegister(_ name: String, _ value: UInt64) throws {
        guard let r = layout.register(named: name) else { throw GDBRemoteError.protocolViolation("no register \(name)") }
        let bytes = (0..<(r.bitSize / 8)).map { UInt8(truncatingIfNeeded: $0 < 8 ? value >> (8 * UInt64($0)) : 0) }
        try requestOK("P\(String(r.number, radix: 16))=\(GDBPacket.hex(bytes))")
    }

    /// Largest memory chunk per `m`/`M` packet.
    var memoryChunk: Int { max(16, (packetSize - 32) / 2) }

    /// `m addr,len` in chunks.
    public func readMemory(address: UInt64, count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            let n = min(memoryChunk, count - out.count)
            let addr = address &+ UInt64(out.count)
            let part = try GDBPacket.unhex(try request("m\(String(addr, radix: 16)),\(String(n, radix: 16))"))
            if part.isEmpty { throw GDBRemoteError.stubError(command: "m\(String(addr, radix: 16))", code: "empty") }
            out.append(contentsOf: part)
        }
        return out
    }

    /// `M addr,len:hex` in chunks.
    public func writeMemory(address: UInt64, bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = min(memoryChunk, bytes.count - off)
            let addr = address &+ UInt64(off)
            try requestOK("M\(String(addr, radix: 16)),\(String(n, radix: 16)):\(GDBPacket.hex(Array(bytes[off..<(off + n)])))")
            off += n
        }
    }

    /// `c`: resumes; no reply until the target stops (see `waitForStop`, `interrupt`).
    public func cont() throws { try send("c") }

    /// `s`: single-steps one instruction and returns the stop reply.
    public func step() throws -> GDBStopReason {
        try send("s")
        return try waitForStop()
    }

    /// Waits for a stop reply, collecting `O` console output. `timeout` < 0 waits forever.
    public func waitForStop(timeout: Double? = nil) throws -> GDBStopReason {
        while true {
            let r = try receive(timeout: timeout, what: "waiting for the target to stop")
            if r.first == "O", r != "OK" {
                consoleOutput.append(contentsOf: (try? GDBPacket.unhex(String(r.dropFirst()))) ?? [])
                continue
            }
            return try GDBStopReason.parse(r)
        }
    }

    /// Sends the interrupt byte 0x03 (out of band) and waits for the stop reply.
    public func interrupt() throws -> GDBStopReason {
        do { try socket.write([0x03]) } catch { throw GDBRemoteError.socket(error) }
        return try waitForStop()
    }

    /// `Z0`/`Z1`: inserts a software (kind 0) or hardware (1) breakpoint.
    public func insertBreakpoint(at address: UInt64, hardware: Bool = false, kind: Int = 1) throws {
        let r = try request("Z\(hardware ? 1 : 0),\(String(address, radix: 16)),\(kind)")
        if r.isEmpty { throw GDBRemoteError.unsupported(hardware ? "Z1" : "Z0") }
        guard r == "OK" else { throw GDBRemoteError.protocolViolation("Z: \(r)") }
    }

    /// `z0`/`z1`: removes a breakpoint.
    public func removeBreakpoint(at address: UInt64, hardware: Bool = false, kind: Int = 1) throws {
        let r = try request("z\(hardware ? 1 : 0),\(String(address, radix: 16)),\(kind)")
        if r.isEmpty { throw GDBRemoteError.unsupported(hardware ? "z1" : "z0") }
        guard r == "OK" else { throw GDBRemoteError.protocolViolation("z: \(r)") }
    }

    /// `D`: detaches (QEMU resumes the VM) and closes the connection.
    public func detach() throws {
        defer { close() }
        try requestOK("D")
    }

    /// `k`: kills the target (QEMU exits). No reply is expected.
    public func kill() throws {
        defer { close() }
        do { try send("k") } catch GDBRemoteError.socket(.closed) {}
    }
}
