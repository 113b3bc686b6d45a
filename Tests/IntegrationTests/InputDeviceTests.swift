import Foundation
import Testing
@testable import OSH

/// The device servers seen from outside the VM (Sources/Servers/kbd, moused, timed, rngd): with
/// `devicetest` on the kernel command line init runs bin/devicetest, which checks timed and rngd in the
/// guest (sleeps, alarms in order, cancel, many sleepers, random bytes' frequency and byte counts,
/// getrandom, arc4random_buf, malformed requests to every server) and then prints each key and mouse
/// event that arrives through kbd and moused while this test types and moves the mouse through QMP.
@Suite(.serialized) struct InputDeviceTests {
    /// QMP qcodes for a character on a US keyboard: the key, shifted or not.
    static func qcodes(_ c: Character) -> [String] {
        let plain: [Character: String] = [" ": "spc", "-": "minus", "=": "equal", "[": "bracket_left", "]": "bracket_right",
                                          "\\": "backslash", ";": "semicolon", "'": "apostrophe", "`": "grave_accent",
                                          ",": "comma", ".": "dot", "/": "slash"]
        let shifted: [Character: String] = ["!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8",
                                            "(": "9", ")": "0", "_": "minus", "+": "equal", "{": "bracket_left",
                                            "}": "bracket_right", "|": "backslash", ":": "semicolon", "\"": "apostrophe",
                                            "~": "grave_accent", "<": "comma", ">": "dot", "?": "slash"]
        if c.isLetter { return c.isUppercase ? ["shift", c.lowercased()] : [String(c)] }
        if c.isNumber { return [String(c)] }
        if let k = plain[c] { return [k] }
        return ["shift", shifted[c]!]
    }

    static func sendKeys(_ qmp: QMPClient, _ keys: [String]) throws {
        _ = try qmp.execute("send-key", .object(["keys": .array(keys.map { .object(["type": .string("qcode"), "data": .string($0)]) })]))
        Thread.sleep(forTimeInterval: 0.15)
    }

    static func sendEvents(_ qmp: QMPClient, _ events: [JSON]) throws {
        _ = try qmp.execute("input-send-event", .object(["events": .array(events)]))
        Thread.sleep(forTimeInterval: 0.15)
    }

    static func button(_ name: String, _ down: Bool) -> JSON {
        .object(["type": .string("btn"), "data": .object(["down": .bool(down), "button": .string(name)])])
    }

    static func motion(_ axis: String, _ value: Int) -> JSON {
        .object(["type": .string("rel"), "data": .object(["axis": .string(axis), "value": .int(Int64(value))])])
    }

    static let text = "The quick brown fox jumps over the lazy dog 0123456789 -=[]\\;'`,./ !@#$%^&*()_+{}|:\"~<>? HELLO"

    /// One boot of devicetest: types `text`, ctrl-c, arrows, Escape; moves and clicks; the serial log, the
    /// exit status and the host's time when it saw `input ready` (which carries the guest's wall clock).
    static func bootAndDrive() throws -> (serial: String, status: Int32, readyAt: Double) {
        let (osh, dir, run) = try DeviceTests.boot(["--cmdline", "devicetest", "--timeout", "600"])
        defer {
            if osh.isRunning { osh.terminate(); osh.waitUntilExit() }
            try? FileManager.default.removeItem(at: dir)
        }
        let ready = DeviceTests.waitFor("devicetest: input ready", in: run, seconds: 400, while: osh)
        let readyAt = Date().timeIntervalSince1970
        try #require(ready.contains("devicetest: input ready"), "\(ready)")
        let qmp = try QMPClient(path: run.appendingPathComponent("qmp.sock").path, timeout: 20)
        defer { qmp.close() }
        for c in text { try sendKeys(qmp, qcodes(c)) }
        try sendKeys(qmp, ["ctrl", "c"])
        for k in ["right", "up", "kp_divide", "delete"] { try sendKeys(qmp, [k]) }
        try sendKeys(qmp, ["esc"])
        let mouseReady = DeviceTests.waitFor("devicetest: mouse ready", in: run, seconds: 120, while: osh)
        try #require(mouseReady.contains("devicetest: mouse ready"), "\(mouseReady.suffix(3000))")
        try sendEvents(qmp, [motion("x", 30), motion("y", 20)])
        try sendEvents(qmp, [motion("x", -10), motion("y", -5)])
        try sendEvents(qmp, [button("left", true)])
        try sendEvents(qmp, [button("left", false)])
        try sendEvents(qmp, [button("right", true)])
        try sendEvents(qmp, [button("right", false)])
        try sendEvents(qmp, [button("wheel-up", true)])
        try sendEvents(qmp, [button("wheel-up", false)])
        try sendEvents(qmp, [button("middle", true)])
        // The release ends devicetest, and the run with it: QEMU may quit before it answers this command
        // (the guest's `mouse total` line below is the check that the release arrived).
        _ = try? sendEvents(qmp, [button("middle", false)])
        let serial = DeviceTests.waitFor("devicetest: mouse total", in: run, seconds: 120, while: osh)
        osh.waitUntilExit()
        let final = (try? String(contentsOf: run.appendingPathComponent("serial.log"), encoding: .utf8)) ?? serial
        return (final, osh.terminationStatus, readyAt)
    }

    static func line(_ serial: String, _ prefix: String) -> String? {
        serial.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.first { $0.hasPrefix(prefix) }
    }

    @Test func keysMouseTimeAndRandomThroughTheDeviceServers() throws {
        let first = try Self.bootAndDrive()
        let serial = first.serial
        // Every guest-side check passed, and the run ended with devicetest's code through init and root.
        #expect(serial.contains("devicetest: 0 failed") || serial.range(of: #"devicetest: \d+ passed, 0 failed"#, options: .regularExpression) != nil,
                "\(serial.split(separator: "\n").filter { $0.contains("FAIL") }.joined(separator: "\n"))")
        #expect(first.status == 0)
        // Root gave each driver its own narrowed devices.
        #expect(serial.contains("kbd: PS/2 controller ready (two ports, mouse port on), keyboard reset, scancode set 2"))
        #expect(serial.contains("moused: PS/2 mouse ready (wheel, 4-byte packets)"))
        // The characters typed arrive as the right characters, ctrl-c as 0x03.
        let expected = Self.text.unicodeScalars.map { "0x" + String($0.value, radix: 16) } + ["0x3", "0x2f", "0x7f"]
        #expect(Self.line(serial, "devicetest: typed ") == "devicetest: typed " + expected.joined(separator: " "))
        // Extended keys: Right (E0 74 → usage 0x4f), Up (0x52), keypad / (0x54), Delete (0x4c); shift's usage 0xe1.
        for usage in ["0x4f", "0x52", "0x54", "0x4c", "0xe1", "0xe0"] {
            #expect(serial.contains("devicetest: key \(usage) down"), "usage \(usage)")
            #expect(serial.contains("devicetest: key \(usage) up"), "usage \(usage) release")
        }
        // Escape ends the keys (devicetest reads no further, so its release is not printed).
        #expect(serial.contains("devicetest: key 0x29 down mods 0x0 char 0x1b"))
        #expect(serial.contains("devicetest: key 0x17 down mods 0x2 char 0x54"), "shift+t is T with left shift held")
        // Mouse: motion sums, every button, the wheel.
        #expect(Self.line(serial, "devicetest: mouse total") == "devicetest: mouse total dx 20 dy 15 wheel 1 buttons seen 0x7")
        // Alarms in deadline order.
        #expect(serial.contains("devicetest: alarms fired 1,2,4 "))
        // timed's wall clock against the host's: the guest printed it with `input ready`, which this test saw
        // within its 0.3 s polling (QEMU's RTC follows the host's UTC clock).
        let wall = try #require(Self.line(serial, "devicetest: input ready at wall "))
        let seconds = try #require(Double(wall.split(separator: " ")[5]))
        #expect(abs(first.readyAt - seconds) < 3, "guest \(seconds), host \(first.readyAt)")
        // rngd's bytes differ between boots.
        let randomLine = try #require(Self.line(serial, "devicetest: random first "))
        let second = try Self.bootAndDrive()
        let otherLine = try #require(Self.line(second.serial, "devicetest: random first "))
        #expect(randomLine != otherLine)
        #expect(second.status == 0)
    }
}
