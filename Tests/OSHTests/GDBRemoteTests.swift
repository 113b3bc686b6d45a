import Foundation
import Testing
@testable import OSH

@Suite struct GDBPacketTests {
    @Test func checksumAndFrame() throws {
        #expect(GDBPacket.checksum(Array("OK".utf8)) == 0x9a)
        #expect(String(decoding: GDBPacket.frame("qSupported"), as: UTF8.self) == "$qSupported#37")
        #expect(String(decoding: GDBPacket.frame(""), as: UTF8.self) == "$#00")
        #expect(try GDBPacket.parseFrame(Array("$OK#9a".utf8)) == Array("OK".utf8))
        #expect(throws: GDBRemoteError.self) { try GDBPacket.parseFrame(Array("$OK#9b".utf8)) }
        #expect(throws: GDBRemoteError.self) { try GDBPacket.parseFrame(Array("OK#9a".utf8)) }
    }

    @Test func escapeRoundTrips() throws {
        let raw: [UInt8] = [0x24, 0x23, 0x7d, 0x2a, 0x41, 0x00, 0xff]
        let esc = GDBPacket.escape(raw)
        #expect(esc == [0x7d, 0x04, 0x7d, 0x03, 0x7d, 0x5d, 0x7d, 0x0a, 0x41, 0x00, 0xff])
        #expect(try GDBPacket.decode(esc) == raw)
        let framed = GDBPacket.frame(esc)
        #expect(try GDBPacket.parseFrame(framed) == raw)
    }

    @Test func runLengthDecoding() throws {
        // "0* " = '0' plus 32-29 = 3 more: "0000" (the example of the GDB manual).
        #expect(String(decoding: try GDBPacket.decode(Array("0* ".utf8)), as: UTF8.self) == "0000")
        #expect(String(decoding: try GDBPacket.decode(Array("ab*\"c".utf8)), as: UTF8.self) == "abbbbbbc")
        #expect(throws: GDBRemoteError.self) { try GDBPacket.decode(Array("*!".utf8)) }
    }

    @Test func hex() throws {
        #expect(GDBPacket.hex([0, 0xab, 0x10]) == "00ab10")
        #expect(try GDBPacket.unhex("00AB10") == [0, 0xab, 0x10])
        #expect(throws: GDBRemoteError.self) { try GDBPacket.unhex("0g") }
    }

    @Test func stopReplies() throws {
        #expect(try GDBStopReason.parse("S05") == .signal(5, info: [:]))
        #expect(try GDBStopReason.parse("T05thread:p01.01;swbreak:;") == .signal(5, info: ["thread": "p01.01", "swbreak": ""]))
        #expect(try GDBStopReason.parse("W00") == .exited(0))
        #expect(try GDBStopReason.parse("X09") == .terminated(9))
        #expect(throws: GDBRemoteError.self) { try GDBStopReason.parse("Q") }
    }

    @Test func registerLayoutFromXML() {
        let a = #"<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>i386:x86-64</architecture><xi:include href="core.xml"/></target>"#
        let b = #"<feature name="org.gnu.gdb.i386.core"><reg name="rax" bitsize="64" type="int64"/><reg name="rbx" bitsize="64"/><reg name="rip" bitsize="64" type="code_ptr" regnum="16"/><reg name="eflags" bitsize="32"/><!-- <reg name="ss_base" bitsize="64"/> <reg name="x" bitsize="8"/--> --><reg name="st0" bitsize="80"/><reg name="cs" bitsize="32"/></feature>"#
        let l = GDBRegisterLayout.parse(xmlDocuments: [a, b])
        #expect(l.registers.map(\.name) == ["rax", "rbx", "rip", "eflags", "st0", "cs"])
        #expect(l.register(named: "rip") == GDBRegister(name: "rip", number: 16, bitSize: 64, offset: 16))
        #expect(l.register(named: "cs")?.offset == 38)
        var data = [UInt8](repeating: 0, count: 42)
        data[16] = 0xf0; data[17] = 0xff; data[24] = 2; data[38] = 0x00; data[39] = 0xf0
        let v = l.values(from: data)
        #expect(v["rip"] == 0xfff0)
        #expect(v["eflags"] == 2)
        #expect(v["cs"] == 0xf000)
        #expect(v["st0"] == nil)
        #expect(GDBRegisterLayout.x86_64Fallback.register(named: "gs")?.offset == 17 * 8 + 4 + 5 * 4)
    }
}

@Suite(.serialized, .enabled(if: QEMUFixture.available)) struct GDBRemoteQEMUTests {
    @Test func handshakeRegistersAndMemory() throws {
        let q = try QEMUFixture()
        defer { q.stop() }
        let g = try GDBRemoteClient(path: q.gdbPath)
        // QEMU 7.2 does not offer QStartNoAckMode (later versions do); use it only when offered.
        #expect(g.acksEnabled == (g.features["QStartNoAckMode"] != "+"))
        #expect(g.layout.register(named: "fs_base") != nil)  // from QEMU's target.xml, not the fallback
        if case .signal(let sig, _) = try g.haltReason() { #expect(sig == 5) } else { Issue.record("not stopped") }
        let regs = try g.readRegisters()
        #expect(regs["rip"] == 0xfff0)
        #expect(regs["cs"] == 0xf000)
        #expect(regs["cr0"] == 0x6000_0010)  // CD | NW | ET at reset (QEMU sends it short in real mode)
        #expect(regs["fs_base"] == 0)
        #expect(try g.readRegister("rip") == 0xfff0)
        // Paging off: gdb addresses are linear == physical. The reset vector's alias below 1 MiB.
        let vec = try g.readMemory(address: 0xffff0, count: 16)
        #expect(vec == (try q.pmem(0xffff0, 16)))
        #expect(vec.first == 0xea)  // far jmp
        // A read bigger than one packet is chunked.
        let big = try g.readMemory(address: 0xf0000, count: 0x10000)
        #expect(big.count == 0x10000)
        #expect(Array(big[0xfff0..<0x10000]) == vec)
        // Write then read back, in RAM.
        let pattern: [UInt8] = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try g.writeMemory(address: 0x8000, bytes: pattern)
        #expect(try g.readMemory(address: 0x8000, count: pattern.count) == pattern)
        #expect(try q.pmem(0x8000, pattern.count) == pattern)
        try g.detach()
    }

    @Test func stepBreakpointContinueInterrupt() throws {
        let q = try QEMUFixture()
        defer { q.stop() }
        let g = try GDBRemoteClient(path: q.gdbPath)
        #expect(try g.readRegister("rip") == 0xfff0)
        // The reset vector holds `jmp far f000:xxxx`; one step lands at its target.
        let vec = try g.readMemory(address: 0xffff0, count: 5)
        let target = UInt64(vec[1]) | UInt64(vec[2]) << 8
        if case .signal(5, _) = try g.step() {} else { Issue.record("step did not stop with SIGTRAP") }
        let afterStep = try g.readRegisters()
        #expect(afterStep["rip"] == target)
        #expect(afterStep["rip"] != 0xfff0)
        // Breakpoint a few instructions ahead: find the next instruction by stepping, then restart.
        _ = try g.step()
        let next = try g.readRegister("rip")
        let linear = 0xf0000 + next
        #expect(next != target)
        try g.writeRegister("rip", target)
        #expect(try g.readRegister("rip") == target)
        try g.insertBreakpoint(at: linear)
        try g.cont()
        if case .signal(5, _) = try g.waitForStop(timeout: 10) {} else { Issue.record("breakpoint not hit") }
        #expect(try g.readRegister("rip") == next)
        try g.removeBreakpoint(at: linear)
        // Run freely, then interrupt.
        try g.cont()
        usleep(200_000)
        if case .signal = try g.interrupt() {} else { Issue.record("interrupt did not stop") }
        let qmp = try QMPClient(path: q.qmpPath)
        #expect(try qmp.queryStatus().running == false)
        try g.kill()
        q.process.wait()
    }
}

/// A scripted fake gdbstub on a Unix socket, to exercise acks, retransmission, QStartNoAckMode and
/// run-length encoded replies (QEMU 7.2 offers no QStartNoAckMode and never sends RLE).
final class FakeStub: @unchecked Sendable {
    let path: String
    private let listener: Int32
    private var conn: Int32 = -1
    /// Everything the client sent, in order.
    private(set) var received: [UInt8] = []
    private let done = DispatchSemaphore(value: 0)

    init(path: String) throws {
        self.path = path
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, listen(listener, 1) == 0 else { throw SocketError.system(call: "bind", errno: errno) }
    }

    func byte() -> UInt8? {
        var b: UInt8 = 0
        guard recv(conn, &b, 1, 0) == 1 else { return nil }
        received.append(b)
        return b
    }

    /// Reads one packet body (skipping acks and other bytes before '$').
    func packet() -> String? {
        while let b = byte() { if b == 0x24 { break } }
        var body: [UInt8] = []
        while let b = byte(), b != 0x23 { body.append(b) }
        _ = byte(); _ = byte()
        return String(decoding: body, as: UTF8.self)
    }

    func sendRaw(_ s: String) { _ = Array(s.utf8).withUnsafeBytes { send(conn, $0.baseAddress, $0.count, 0) } }
    func reply(_ body: String) { sendRaw(String(decoding: GDBPacket.frame(body), as: UTF8.self)) }

    func serve(_ script: @escaping @Sendable (FakeStub) -> Void) {
        Thread {
            self.conn = accept(self.listener, nil, nil)
            script(self)
            self.done.signal()
        }.start()
    }

    private var finished = false

    func finish() {
        if finished { return }
        finished = true
        _ = done.wait(timeout: .now() + 5)
        if conn >= 0 { close(conn) }
        close(listener)
        unlink(path)
    }
}

@Suite struct GDBRemoteFakeStubTests {
    @Test func acksRetransmissionNoAckModeAndRLE() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stub = try FakeStub(path: dir.appendingPathComponent("s").path)
        stub.serve { s in
            guard s.packet()?.hasPrefix("qSupported") == true else { return }
            s.sendRaw("+")
            s.sendRaw("$PacketSize=40;QStartNoAckMode+#00")      // bad checksum: the client must answer '-'
            guard s.byte() == 0x2d else { return }
            s.reply("PacketSize=40;QStartNoAckMode+;qXfer:features:read-")
            guard s.byte() == 0x2b else { return }                // acked
            guard s.packet() == "QStartNoAckMode" else { return }
            s.sendRaw("+")
            s.reply("OK")
            guard s.byte() == 0x2b else { return }                // the OK is still acked
            // From here on no acks either way.
            guard s.packet() == "m1000,10" else { return }
            s.reply("0*<")                                         // 32 '0's: 16 zero bytes
            guard s.packet() == "m1010,4" else { return }
            s.reply("deadbeef")
            guard s.packet() == "?" else { return }
            s.reply("T05thread:01;")
            guard s.packet() == "m0,1" else { return }
            s.reply("E14")
        }
        defer { stub.finish() }
        let g = try GDBRemoteClient(path: stub.path, timeout: 5)
        #expect(!g.acksEnabled)
        #expect(g.packetSize == 0x40)
        #expect(g.layout == .x86_64Fallback)
        let mem = try g.readMemory(address: 0x1000, count: 20)      // chunked by (0x40 - 32) / 2 = 16
        #expect(mem == [UInt8](repeating: 0, count: 16) + [0xde, 0xad, 0xbe, 0xef])
        #expect(try g.haltReason() == .signal(5, info: ["thread": "01"]))
        #expect(throws: GDBRemoteError.stubError(command: "m0,1", code: "14")) { try g.readMemory(address: 0, count: 1) }
        g.close()
        stub.finish()
        // No '+' was sent after the OK of QStartNoAckMode was acked.
        let text = String(decoding: stub.received, as: UTF8.self)
        let afterOK = text.components(separatedBy: "$QStartNoAckMode#")[1].dropFirst(2)  // checksum, then the OK's '+'
        #expect(afterOK.first == "+")
        #expect(!afterOK.dropFirst().contains("+"), "\(text)")
    }
}
