import Foundation
import Testing
import Formats
@testable import OSH

/// The system as `osh boot --display vnc --usb` shows it: the ISO boot (a framebuffer), no test word (init
/// starts sh on the console), keys typed on the USB keyboard (QMP `send-key` goes to usb-kbd, the keyboard
/// created last), the shell's lines read back from the serial log and from the screen (QMP `screendump`,
/// decoded cell by cell against the font as ConsoleScreenTests does).
@Suite(.serialized) struct ShellScreenTests {
    @Test func typingIntoTheShellOnTheScreenWithAUSBKeyboard() throws {
        let (osh, dir, run, qmp) = try ConsoleScreenTests.bootForTyping(["--boot", "iso", "--usb", "--timeout", "600"], prompt: "/ $ ")
        defer { ConsoleScreenTests.finish(osh, dir) }
        defer { qmp.close() }
        var serial = ""
        let files = try FileManager.default.contentsOfDirectory(atPath: Repo.root.appendingPathComponent("Sources/initfs/etc").path).count
        let command = "ls initfs:///etc | wc -l"
        try ConsoleScreenTests.type(qmp, command + "\n")
        serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("\r\n\(files)\r\n/ $ ") }
        try #require(serial.contains("/ $ \(command)\r\n\(files)\r\n/ $ "), "\(serial.suffix(2000))")

        // The screen shows the message of the day, the command, its output and the next prompt.
        let (screen, at) = try ConsoleScreenTests.screen(qmp, dir, row: "/ $ \(command)", then: ["\(files)", "/ $"])
        let text = screen.joined(separator: "\n")
        let row = try #require(at, "no `/ $ \(command)` row on the screen:\n\(text)")
        #expect(Array(screen.dropFirst(row + 1).prefix(2)) == ["\(files)", "/ $"], "\(text)")
        #expect(screen.contains { $0.hasPrefix("Welcome.") }, "the message of the day:\n\(text)")
        #expect(!text.contains("\u{fffd}"), "cells that match no glyph:\n\(text)")
    }
}
