import Foundation
import Testing
@testable import OSH

@Suite struct QMPFramingTests {
    @Test func splitsMessagesAcrossChunksAndCRLF() throws {
        var f = QMPFramer()
        f.feed(Array("{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n{\"ret".utf8))
        let g = try #require(try f.next())
        #expect(try QMPMessage.classify(g) == .greeting(["version": [:], "capabilities": []]))
        #expect(try f.next() == nil)
        f.feed(Array("urn\": {}, \"id\": 1}\r\n\r\n{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1}}\r\n".utf8))
        #expect(try QMPMessage.classify(try #require(try f.next())) == .success(id: 1, result: [:]))
        if case .event(let name, _, let ts) = try QMPMessage.classify(try #require(try f.next())) {
            #expect(name == "STOP")
            #expect(ts?["seconds"]?.int == 1)
        } else { Issue.record("not an event") }
        #expect(try f.next() == nil)
    }

    @Test func classifiesErrors() throws {
        let m = try JSON.parse(#"{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": 7}"#)
        #expect(try QMPMessage.classify(m) == .failure(id: 7, errorClass: "CommandNotFound", desc: "The command nope has not been found"))
    }

    @Test func rejectsGarbage() {
        var f = QMPFramer()
        f.feed(Array("not json\n".utf8))
        #expect(throws: QMPError.self) { try f.next() }
    }

    @Test func encodesCommandsOnOneLine() throws {
        let bytes = QMPFramer.encodeCommand("memsave", arguments: ["val": 4096, "filename": "/tmp/a\nb"], id: 3)
        let s = String(decoding: bytes, as: UTF8.self)
        #expect(s.hasSuffix("\r\n"))
        let line = s.replacingOccurrences(of: "\r\n", with: "")
        #expect(!line.contains("\n"))
        let back = try JSON.parse(line)
        #expect(back == ["execute": "memsave", "id": 3, "arguments": ["val": 4096, "filename": "/tmp/a\nb"]])
    }

    @Test func jsonRoundTripsLargeNumbers() throws {
        let j = try JSON.parse(#"{"a": 18446744071562067968, "b": -1, "c": 1.5, "d": [true, null, "x"]}"#)
        #expect(j["a"]?.int == Int64(bitPattern: 18446744071562067968))
        #expect(j["b"]?.int == -1)
        #expect(j["c"] == .double(1.5))
        #expect(j["d"]?[2]?.string == "x")
    }
}

@Suite(.serialized, .enabled(if: QEMUFixture.available)) struct QMPQEMUTests {
    @Test func greetingCapabilitiesStatusContStopReset() throws {
        let q = try QEMUFixture()
        defer { q.stop() }
        let qmp = try QMPClient(path: q.qmpPath)
        #expect(qmp.version?.hasPrefix("") == true)
        #expect(qmp.greeting["capabilities"] != nil)
        #expect(try qmp.queryStatus() == .init(running: false, status: "prelaunch"))
        try qmp.cont()
        #expect(try qmp.queryStatus().running)
        _ = try qmp.waitForEvent("RESUME")
        try qmp.stop()
        #expect(try qmp.queryStatus() == .init(running: false, status: "paused"))
        _ = try qmp.waitForEvent("STOP")
        try qmp.systemReset()
        _ = try qmp.waitForEvent("RESET")
        let cpus = try qmp.queryCPUsFast()
        #expect(cpus.count == 1)
        #expect(cpus.first?.index == 0)
        #expect(cpus.first?.target == "x86_64")
        try qmp.quit()
        q.process.wait()
        #expect(!q.process.isRunning)
    }

    @Test func unknownCommandIsATypedError() throws {
        let q = try QEMUFixture()
        defer { q.stop() }
        let qmp = try QMPClient(path: q.qmpPath)
        #expect(throws: QMPError.command(command: "no-such-command", errorClass: "CommandNotFound",
                                         desc: "The command no-such-command has not been found")) {
            try qmp.execute("no-such-command")
        }
        // The connection still works after an error.
        #expect(try qmp.queryStatus().status == "prelaunch")
    }

    @Test func screendumpWritesPNG() throws {
        let q = try QEMUFixture(vga: true)
        defer { q.stop() }
        let qmp = try QMPClient(path: q.qmpPath)
        let f = q.dir.appendingPathComponent("screen.png").path
        try qmp.screendump(to: f)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: f)))
        #expect(bytes.count > 8)
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    }

    @Test func memsaveWritesTheAskedSize() throws {
        let q = try QEMUFixture()
        defer { q.stop() }
        let qmp = try QMPClient(path: q.qmpPath)
        let f = q.dir.appendingPathComponent("mem.bin").path
        try qmp.memsave(address: 0xffff0, size: 4096, to: f)
        #expect((try FileManager.default.attributesOfItem(atPath: f)[.size] as? Int) == 4096)
        // Paging is off at reset, so virtual == physical.
        #expect(try qmp.readVirtualMemory(address: 0xffff0, size: 16) == (try q.pmem(0xffff0, 16, client: qmp)))
        // HMP fallback for registers: real mode at reset, so the 32-bit layout.
        let regs = try qmp.humanMonitorCommand("info registers")
        #expect(regs.contains("EIP=0000fff0"))
        #expect(regs.contains("CS =f000 ffff0000"))
    }
}

/// QEMU can deliver events it emitted while no client was connected ahead of the greeting; the client
/// keeps them and still finds the greeting (seen after a gdb interrupt: a STOP event first).
@Suite struct QMPGreetingOrderTests {
    @Test func eventsBeforeTheGreetingAreKept() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock").path
        let server = try FakeStub(path: path)
        defer { server.finish() }
        server.serve { s in
            s.sendRaw("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n")
            s.sendRaw("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n")
            // The capabilities command: answer with its id.
            var line: [UInt8] = []
            while let b = s.byte(), b != 10 { line.append(b) }
            let text = String(decoding: line, as: UTF8.self)
            let id = text.firstMatch(of: /"id": *(\d+)/).map { String($0.1) } ?? "0"
            s.sendRaw("{\"return\": {}, \"id\": \(id)}\r\n")
        }
        let client = try QMPClient(path: path, timeout: 5)
        defer { client.close() }
        #expect(client.version == "7.2.0")
        #expect(client.events.count == 1)
        #expect(client.events.first?["event"]?.string == "STOP")
    }
}
