import Testing
@testable import OSH

/// `osh boot --usb` (QEMU's xHCI controller, keyboard and tablet) and the shell's `type TEXT` chords.
@Suite("osh boot --usb and type")
struct USBOptionTests {
    func devices(_ args: [String]) -> [String] {
        args.indices.filter { args[$0] == "-device" && $0 + 1 < args.count }.map { args[$0 + 1] }
    }

    @Test func usbAddsTheControllerKeyboardAndTabletOnItsBus() {
        var plan = QEMULaunchPlan(qemu: "q", mode: .direct, kernel: "k", qmpSocket: "/r/q", gdbSocket: "/r/g")
        #expect(!devices(BootPlanning.qemuArguments(plan)).contains { $0.contains("xhci") || $0.hasPrefix("usb-") })
        plan.usb = true
        #expect(devices(BootPlanning.qemuArguments(plan)).filter { $0.contains("xhci") || $0.hasPrefix("usb-") }
                == ["qemu-xhci,id=xhci", "usb-kbd,id=usbkbd,bus=xhci.0", "usb-tablet,id=usbtablet,bus=xhci.0"])
    }

    @Test func textBecomesSendKeyChords() throws {
        #expect(try KeyTyping.chords("aB1 !\\n") == [["a"], ["shift", "b"], ["1"], ["spc"], ["shift", "1"], ["ret"]])
        #expect(try KeyTyping.chords("{|}~?/") == [["shift", "bracket_left"], ["shift", "backslash"], ["shift", "bracket_right"],
                                                   ["shift", "grave_accent"], ["shift", "slash"], ["slash"]])
        #expect(throws: (any Error).self) { try KeyTyping.chords("é") }
        #expect(KeyTyping.sendKeyArguments(["shift", "a"]) == .object(["keys": .array([
            .object(["type": .string("qcode"), "data": .string("shift")]),
            .object(["type": .string("qcode"), "data": .string("a")])])]))
    }
}
