import Foundation
import Testing
@testable import OSH

/// Key repeat and lock LEDs in the guest: a key held on the USB keyboard (QMP `send-key` with a
/// hold time) repeats through usbd's software repeat; Caps Lock on either keyboard sets its LEDs (usbd's
/// SET_REPORT, kbd's 0xED exchange), each logged once the device took it. Keys typed on the PS/2 keyboard
/// reach sh.
@Suite(.serialized) struct KeyRepeatLEDTests {
    static func hold(_ qmp: QMPClient, _ key: String, milliseconds: Int) throws {
        _ = try qmp.execute("send-key", .object(["keys": .array([.object(["type": .string("qcode"), "data": .string(key)])]),
                                                 "hold-time": .int(Int64(milliseconds))]))
    }

    @Test func aHeldUSBKeyRepeatsAndCapsLockSetsTheLEDs() throws {
        let (osh, dir, run, qmp) = try ConsoleScreenTests.bootForTyping(["--usb", "--cmdline", "consoletest", "--timeout", "600"],
                                                                         prompt: "tty $ ")
        defer { ConsoleScreenTests.finish(osh, dir) }
        defer { qmp.close() }
        try ConsoleScreenTests.type(qmp, "echo x")
        // Held for 1.5 s: one press, then a repeat every 33 ms after 500 ms (about 30 more).
        try Self.hold(qmp, "a", milliseconds: 1500)
        Thread.sleep(forTimeInterval: 2)
        try ConsoleScreenTests.type(qmp, "\n")
        var serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("\r\nxaa") && $0.hasSuffix("tty $ ") }
        let echoed = try #require(serial.firstMatch(of: #/\r\nx(a+)\r\ntty \$ /#), "\(serial.suffix(2000))").1.count
        #expect(echoed >= 10 && echoed <= 60, "\(echoed) a's for a key held 1.5 s: \(serial.suffix(500))")
        _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(["caps_lock"]))
        serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("LEDs: caps") }
        #expect(serial.contains("usbd: port 5: LEDs: caps"), "\(serial.suffix(2000))")
        #expect(!serial.contains("refused its LEDs"), "\(serial.suffix(2000))")
    }

    /// The system as `make run` boots it (sh on the console): a command typed on the PS/2 keyboard runs
    /// in the shell; Caps Lock sets the keyboard's LEDs and clears them again.
    @Test func typingIntoTheShellOnPS2AndCapsLockSetsTheLEDs() throws {
        let (osh, dir, run, qmp) = try ConsoleScreenTests.bootForTyping(["--timeout", "600"], prompt: "/ $ ")
        defer { ConsoleScreenTests.finish(osh, dir) }
        defer { qmp.close() }
        var serial = ""
        try ConsoleScreenTests.type(qmp, "echo typed on ps2 | wc -w\n")
        serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("\r\n3\r\n/ $ ") }
        #expect(serial.contains("/ $ echo typed on ps2 | wc -w\r\n3\r\n/ $ "), "\(serial.suffix(2000))")
        _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(["caps_lock"]))
        serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("kbd: LEDs: caps") }
        #expect(serial.contains("kbd: LEDs: caps"), "\(serial.suffix(2000))")
        _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(["caps_lock"]))
        serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("kbd: LEDs: none") }
        #expect(serial.contains("kbd: LEDs: none"), "\(serial.suffix(2000))")
    }
}
