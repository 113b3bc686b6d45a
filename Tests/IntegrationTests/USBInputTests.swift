import Foundation
import Testing
@testable import OSH

/// usbd seen from outside the VM: `osh boot --usb --cmdline usbtest` gives QEMU an xHCI controller with
/// a USB keyboard and tablet; init runs bin/usbtest, which finds usbd's xHCI function claimed in pcid, subscribes to
/// usbd's input events and prints them. This test types through QMP `send-key` (QEMU gives keys to the
/// keyboard created last: usb-kbd, not the PS/2 one), moves and clicks the tablet with absolute
/// `input-send-event`s, then plugs in a second usb-kbd with `device_add` and types on it.
@Suite(.serialized) struct USBInputTests {
    static let text = "Hello USB 42 -=[]\\;',./ !@#$%^&*()_+{}|:\"<>?"

    static func abs(_ axis: String, _ value: Int) -> JSON {
        .object(["type": .string("abs"), "data": .object(["axis": .string(axis), "value": .int(Int64(value))])])
    }

    @Test func keysTabletAndHotplugThroughUSBD() throws {
        let (osh, dir, run) = try DeviceTests.boot(["--usb", "--cmdline", "usbtest", "--timeout", "600"])
        defer {
            if osh.isRunning { osh.terminate(); osh.waitUntilExit() }
            try? FileManager.default.removeItem(at: dir)
        }
        var serial = DeviceTests.waitFor("usbtest: input ready", in: run, seconds: 400, while: osh)
        try #require(serial.contains("usbtest: input ready"), "\(serial.suffix(3000))")
        serial = DeviceTests.waitFor("usbd: 2 devices ready", in: run, seconds: 120, while: osh)
        try #require(serial.contains("usbd: 2 devices ready"), "\(serial.suffix(3000))")
        let qmp = try QMPClient(path: run.appendingPathComponent("qmp.sock").path, timeout: 20)
        defer { qmp.close() }
        for chord in try KeyTyping.chords(Self.text) {
            _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(chord))
            Thread.sleep(forTimeInterval: 0.15)
        }
        for k in [["ctrl", "c"], ["right"], ["esc"]] {
            _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(k))
            Thread.sleep(forTimeInterval: 0.15)
        }
        serial = DeviceTests.waitFor("usbtest: pointer ready", in: run, seconds: 120, while: osh)
        try #require(serial.contains("usbtest: pointer ready"), "\(serial.suffix(3000))")
        let steps: [[JSON]] = [
            [Self.abs("x", 0x4000), Self.abs("y", 0x2000)],
            [Self.abs("x", 0x7fff), Self.abs("y", 0)],
            [InputDeviceTests.button("left", true)], [InputDeviceTests.button("left", false)],
            [InputDeviceTests.button("right", true)], [InputDeviceTests.button("right", false)],
            [InputDeviceTests.button("wheel-up", true)], [InputDeviceTests.button("wheel-up", false)],
            [InputDeviceTests.button("middle", true)], [InputDeviceTests.button("middle", false)],
        ]
        for s in steps { try InputDeviceTests.sendEvents(qmp, s) }
        serial = DeviceTests.waitFor("usbtest: plug ready", in: run, seconds: 120, while: osh)
        try #require(serial.contains("usbtest: plug ready"), "\(serial.suffix(3000))")
        _ = try qmp.execute("device_add", .object(["driver": .string("usb-kbd"), "id": .string("usbkbd2"), "bus": .string("xhci.0")]))
        // The new keyboard is enumerated (its own line), then a key typed on it arrives.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && serial.components(separatedBy: ": keyboard on slot").count < 3 && osh.isRunning {
            Thread.sleep(forTimeInterval: 0.3)
            serial = (try? String(contentsOf: run.appendingPathComponent("serial.log"), encoding: .utf8)) ?? serial
        }
        #expect(serial.components(separatedBy: ": keyboard on slot").count == 3, "\(serial.suffix(3000))")
        _ = try? qmp.execute("send-key", KeyTyping.sendKeyArguments(["z"]))
        osh.waitUntilExit()
        serial = (try? String(contentsOf: run.appendingPathComponent("serial.log"), encoding: .utf8)) ?? serial
        let failures = serial.split(separator: "\n").filter { $0.contains("FAIL") }.joined(separator: "\n")
        #expect(serial.range(of: #"usbtest: \d+ passed, 0 failed"#, options: .regularExpression) != nil, "\(failures)")
        #expect(osh.terminationStatus == 0)
        // usbd (a boot server) claimed the xHCI function from pcid; both devices were enumerated.
        #expect(serial.contains(/pcid: [0-9a-f:.]+ claimed \(1b36:d\)/), "\(serial.suffix(3000))")
        #expect(serial.contains(": keyboard on slot") && serial.contains(": tablet on slot"))
        #expect(serial.contains("-byte reports (absolute)"))
        // Every character arrived as typed; Control+C as 3; Right's usage; shift+H with left shift held.
        let expected = Self.text.unicodeScalars.map { "0x" + String($0.value, radix: 16) } + ["0x3"]
        #expect(InputDeviceTests.line(serial, "usbtest: typed ") == "usbtest: typed " + expected.joined(separator: " "))
        #expect(serial.contains("usbtest: key 0x4f down"))
        #expect(serial.contains("usbtest: key 0xb down mods 0x2 char 0x48"))
        // The tablet's absolute positions (QEMU's 0...0x7fff range, scaled by usbd from the report
        // descriptor's logical range, which is the same), its buttons and the wheel.
        #expect(serial.contains("usbtest: position x 16384 y 8192 "), "\(serial.suffix(2000))")
        #expect(serial.contains("usbtest: position x 32767 y 0 "))
        #expect(InputDeviceTests.line(serial, "usbtest: pointer done")?.hasSuffix("wheel 1, buttons seen 0x7") == true,
                "\(InputDeviceTests.line(serial, "usbtest: pointer done") ?? "none")")
        // The hot-plugged keyboard's key.
        #expect(serial.contains("usbtest: hotplug key 0x1d char 0x7a"))
    }
}
