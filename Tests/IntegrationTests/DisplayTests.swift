import Foundation
import Testing
import Formats
@testable import OSH

/// fbd and outputd seen from outside the VM (Sources/Servers/fbd, outputd, displaytest): under the ISO
/// boot (GRUB's 1024x768x32 framebuffer) displaytest writes text with colours through outputd, and every
/// character cell of QMP `screendump` must be exactly the font's glyph in the expected colours (no OCR:
/// the host runs the same TextTerminal on the same text and compares pixels). Under a direct boot
/// (no framebuffer) both servers say so and refuse plainly.
@Suite(.serialized) struct DisplayTests {
    /// What displaytest writes (Sources/Servers/displaytest/Main.swift, displayText).
    static let text = "\u{1b}[2J\u{1b}[Hhello\n\u{1b}[31mred \u{1b}[1;32mbold green\u{1b}[0m \u{1b}[97;44mwhite on blue\u{1b}[0m\n"
        + "\u{1b}[3;10H\u{1b}[93mat row 3, column 10\u{1b}[0m"

    static func finish(_ osh: Process, _ dir: URL) {
        if osh.isRunning { osh.terminate(); osh.waitUntilExit() }
        try? FileManager.default.removeItem(at: dir)
    }

    @Test func outputdTextIsOnTheScreen() throws {
        let (osh, dir, run) = try DeviceTests.boot(["--boot", "iso", "--cmdline", "displaytest", "--timeout", "400"])
        defer { Self.finish(osh, dir) }
        let serial = DeviceTests.waitFor("displaytest: written", in: run, seconds: 360, while: osh)
        try #require(serial.contains("displaytest: written"), "\(serial.suffix(3000))")
        #expect(serial.contains("fbd: 1024x768 32-bit RGB at"), "\(serial)")
        #expect(serial.contains("outputd: 128x48 text console on fbd's 1024x768 screen; serving `output`"))
        #expect(serial.contains(/displaytest: \d+ passed, 0 failed/), "\(serial.suffix(3000))")
        let qmp = try QMPClient(path: run.appendingPathComponent("qmp.sock").path, timeout: 20)
        let shot = dir.appendingPathComponent("screen.ppm")
        try qmp.screendump(to: shot.path, format: "ppm")
        qmp.close()
        let image = try PPM(Data(contentsOf: shot))
        try #require(image.width == 1024 && image.height == 768)

        var expected = TextTerminal(columns: 128, rows: 48)
        expected.write(Array(Self.text.utf8))
        #expect(expected.text(row: 0) == "hello" && expected.text(row: 2) == "         at row 3, column 10")
        var wrong: [String] = []
        var lit = 0
        for row in 0..<48 {
            for column in 0..<128 {
                let cell = expected.cell(column, row)
                let cursor = expected.cursorVisible && row == expected.cursorRow && column == expected.cursorColumn
                var fg = TerminalPalette.colour(cell.foreground), bg = TerminalPalette.colour(cell.background)
                if cursor { swap(&fg, &bg) }
                var bad = 0
                for y in 0..<16 {
                    for x in 0..<8 {
                        let on = TerminalRenderer.pixel(cell.character, x: x, y: y)
                        let want = on ? fg : bg
                        let p = image.pixels[(row * 16 + y) * 1024 + column * 8 + x]
                        if UInt32(p.0) << 16 | UInt32(p.1) << 8 | UInt32(p.2) != want { bad += 1 }
                        if on && cell.character != 0x20 { lit += 1 }
                    }
                }
                if bad > 0 { wrong.append("(\(column),\(row)) '\(Character(UnicodeScalar(cell.character)))': \(bad) pixels") }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) cells differ: \(wrong.prefix(20))")
        #expect(lit > 300)
        // The colours are there: red, bright green (bold), bright white on blue, bright yellow.
        let colours = Set(image.pixels.map { UInt32($0.0) << 16 | UInt32($0.1) << 8 | UInt32($0.2) })
        #expect([0xaa0000, 0x55ff55, 0xffffff, 0x0000aa, 0xffff55, 0xaaaaaa, 0].allSatisfy { colours.contains($0) })
    }

    @Test func withoutAFramebufferBothServersSaySo() throws {
        let (osh, dir, run) = try DeviceTests.boot(["--cmdline", "displaytest", "--timeout", "200"])
        defer { Self.finish(osh, dir) }
        let serial = DeviceTests.waitFor("displaytest: no framebuffer", in: run, seconds: 180, while: osh)
        #expect(serial.contains("displaytest: no framebuffer"), "\(serial.suffix(3000))")
        #expect(serial.contains("fbd: no framebuffer (the boot loader set up none; a direct -kernel boot has none); serving `framebuffer` with noDevice answers"))
        #expect(serial.contains("outputd: no framebuffer (fbd has none); serving `output` (opens answer noServer)"))
        #expect(serial.contains(/displaytest: [1-9]\d* passed, 0 failed/), "\(serial.suffix(3000))")
    }
}
