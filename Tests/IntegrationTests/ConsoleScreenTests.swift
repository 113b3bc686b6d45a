import Foundation
import Testing
import Formats
@testable import OSH

/// The console beyond the serial line (Sources/Servers/console): keys typed on a USB keyboard (usbd's
/// `usbinput`) reach the terminal like PS/2 keys, and under the ISO boot the terminal and the kernel's
/// log lines are mirrored on outputd's framebuffer console. With `consoletest` init runs bin/ttytest on
/// the console; this test types through QMP `send-key` (QEMU gives keys to the keyboard created last:
/// usb-kbd under `--usb`, the PS/2 keyboard otherwise) and reads the serial log and QMP `screendump`,
/// whose character cells are decoded by comparing each cell's pixels with every glyph of the font
/// (exact matches, no OCR).
@Suite(.serialized) struct ConsoleScreenTests {
    static func type(_ qmp: QMPClient, _ text: String) throws {
        for chord in try KeyTyping.chords(text) {
            _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(chord))
            Thread.sleep(forTimeInterval: 0.15)
        }
    }

    static func finish(_ osh: Process, _ dir: URL) {
        if osh.isRunning { osh.terminate(); osh.waitUntilExit() }
        try? FileManager.default.removeItem(at: dir)
    }

    static func serial(_ run: URL) -> String {
        (try? String(contentsOf: run.appendingPathComponent("serial.log"), encoding: .utf8)) ?? ""
    }

    /// Waits until `done` holds for the serial log (or `seconds` pass, or osh ends); the log.
    static func waitUntil(_ run: URL, _ osh: Process, seconds: Double = 120, _ done: (String) -> Bool) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var s = serial(run)
        while Date() < deadline && !done(s) && osh.isRunning {
            Thread.sleep(forTimeInterval: 0.3)
            s = serial(run)
        }
        return s
    }

    /// Boots with `arguments`, waits for `prompt` (and, with `--usb`, for usbd's keyboard and tablet);
    /// osh, its directory, the run directory and a QMP client to type with.
    static func bootForTyping(_ arguments: [String], prompt: String) throws -> (Process, URL, URL, QMPClient) {
        let (osh, dir, run) = try DeviceTests.boot(arguments)
        do {
            let serial = DeviceTests.waitFor(prompt, in: run, seconds: 400, while: osh)
            try #require(serial.contains(prompt), "\(serial.suffix(3000))")
            if arguments.contains("--usb") {
                let usb = DeviceTests.waitFor("usbd: 2 devices ready", in: run, seconds: 120, while: osh)
                try #require(usb.contains("usbd: 2 devices ready"), "\(usb.suffix(3000))")
            }
            Thread.sleep(forTimeInterval: 2)     // the console's keyboard threads subscribe after the program's open
            return (osh, dir, run, try QMPClient(path: run.appendingPathComponent("qmp.sock").path, timeout: 20))
        } catch {
            finish(osh, dir)
            throw error
        }
    }

    @Test func usbKeysReachTheConsole() throws {
        let (osh, dir, run, qmp) = try Self.bootForTyping(["--usb", "--cmdline", "consoletest", "--timeout", "600"], prompt: "tty $ ")
        defer { Self.finish(osh, dir) }
        defer { qmp.close() }
        var serial = ""
        try Self.type(qmp, "echo Typed on USB, 42!\n")
        serial = Self.waitUntil(run, osh) { $0.contains("\r\nTyped on USB, 42!\r\ntty $ ") }
        #expect(serial.contains("tty $ echo Typed on USB, 42!\r\nTyped on USB, 42!\r\ntty $ "), "\(serial.suffix(2000))")
        // Backspace and Control+U on the USB keyboard are edited by the console like serial bytes.
        try Self.type(qmp, "echo wrong")
        _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(["ctrl", "u"]))
        try Self.type(qmp, "echo rightx")
        _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(["backspace"]))
        Thread.sleep(forTimeInterval: 0.15)
        try Self.type(qmp, "\n")
        serial = Self.waitUntil(run, osh) { $0.contains("\r\nright\r\ntty $ ") }
        #expect(serial.contains("\r\nright\r\ntty $ "), "\(serial.suffix(2000))")
        try Self.type(qmp, "exit 7\n")
        serial = Self.waitUntil(run, osh) { $0.contains("init: ttytest exited with code") }
        #expect(serial.contains("init: ttytest exited with code 7"), "\(serial.suffix(2000))")
    }

    /// The font's glyphs by their 128 pixels (8x16, one bit each), printable ASCII.
    static let glyphs: [[Bool]: Character] = {
        var table: [[Bool]: Character] = [:]
        for c in UInt8(0x20)...UInt8(0x7e) {
            var bits: [Bool] = []
            for y in 0..<16 { for x in 0..<8 { bits.append(TerminalRenderer.pixel(c, x: x, y: y)) } }
            if table[bits] == nil { table[bits] = Character(UnicodeScalar(c)) }
        }
        return table
    }()

    /// The screen's 48 rows of 128 cells, each cell the glyph whose pixels it shows in its two colours
    /// (either way round: the cursor's cell is reversed); "\u{fffd}" for a cell no glyph matches. Trailing
    /// spaces are cut.
    static func rows(_ image: PPM) -> [String] {
        (0..<48).map { row in
            var text = ""
            for column in 0..<128 {
                var pixels: [UInt32] = []
                for y in 0..<16 {
                    for x in 0..<8 {
                        let p = image.pixels[(row * 16 + y) * 1024 + column * 8 + x]
                        pixels.append(UInt32(p.0) << 16 | UInt32(p.1) << 8 | UInt32(p.2))
                    }
                }
                let colours = Array(Set(pixels))
                if colours.count == 1 { text.append(" "); continue }
                guard colours.count == 2 else { text.append("\u{fffd}"); continue }
                let a = pixels.map { $0 == colours[0] }, b = pixels.map { $0 == colours[1] }
                text.append(glyphs[a] ?? glyphs[b] ?? "\u{fffd}")
            }
            while text.last == " " { text.removeLast() }
            return text
        }
    }

    /// The screen's rows (QMP `screendump`, once a second for up to 60 s) until a row reads `row` and the
    /// rows after it read `then`; the last rows read and that row's index (nil when it never appeared so).
    static func screen(_ qmp: QMPClient, _ dir: URL, row: String, then: [String]) throws -> ([String], Int?) {
        let shot = dir.appendingPathComponent("screen.ppm")
        var screen: [String] = []
        let deadline = Date().addingTimeInterval(60)
        repeat {
            Thread.sleep(forTimeInterval: 1)
            try qmp.screendump(to: shot.path, format: "ppm")
            let image = try PPM(Data(contentsOf: shot))
            try #require(image.width == 1024 && image.height == 768)
            screen = rows(image)
            if let at = screen.indices.first(where: { screen[$0] == row }), at + then.count < screen.count,
               Array(screen[(at + 1)...(at + then.count)]) == then {
                return (screen, at)
            }
        } while Date() < deadline
        return (screen, screen.firstIndex(of: row))
    }

    @Test func theTerminalAndKernelLinesAreOnTheScreen() throws {
        let (osh, dir, run) = try DeviceTests.boot(["--boot", "iso", "--cmdline", "consoletest", "--timeout", "600"])
        defer { Self.finish(osh, dir) }
        var serial = DeviceTests.waitFor("tty $ ", in: run, seconds: 400, while: osh)
        try #require(serial.contains("tty $ "), "\(serial.suffix(3000))")
        #expect(serial.contains("; mirrored on outputd's screen"), "\(serial.suffix(3000))")
        Thread.sleep(forTimeInterval: 2)     // the console's keyboard thread subscribes after ttytest's open
        let qmp = try QMPClient(path: run.appendingPathComponent("qmp.sock").path, timeout: 20)
        defer { qmp.close() }
        // A kernel log line (ttytest's debug_log) arrives while "echo hel" is being edited: the serial
        // line erases the edited line, writes the log line and draws prompt and line again; so must the
        // screen, with the log line once.
        let logLine = "a-kernel-line-on-the-screen"
        try Self.type(qmp, "logsoon 2500 \(logLine)\n")
        try Self.type(qmp, "echo hel")
        serial = Self.waitUntil(run, osh) { $0.components(separatedBy: logLine).count >= 3 }
        try #require(serial.components(separatedBy: logLine).count >= 3, "\(serial.suffix(2000))")
        try Self.type(qmp, "lo\n")
        serial = Self.waitUntil(run, osh) { $0.contains("\r\nhello\r\ntty $ ") }
        try #require(serial.contains("\r\nhello\r\ntty $ "), "\(serial.suffix(2000))")

        // The screen catches up with the serial line within a few seconds.
        let (screen, at) = try Self.screen(qmp, dir, row: "tty $ echo hello", then: ["hello", "tty $"])
        let text = screen.joined(separator: "\n")
        let row = try #require(at, "no `tty $ echo hello` row on the screen:\n\(text)")
        #expect(Array(screen.dropFirst(row + 1).prefix(2)) == ["hello", "tty $"], "\(text)")
        #expect(row > 0 && screen[row - 1] == logLine, "\(text)")
        #expect(screen.filter { $0 == logLine }.count == 1, "\(text)")
        #expect(screen.contains("tty $ logsoon 2500 \(logLine)"), "\(text)")
        #expect(!text.contains("\u{fffd}"), "cells that match no glyph:\n\(text)")
        // The boot's kernel lines are there too (the newest of them, above ttytest's lines).
        #expect(screen.contains { $0.hasPrefix("init: ") }, "\(text)")
        try Self.type(qmp, "exit\n")
        serial = Self.waitUntil(run, osh) { $0.contains("init: ttytest exited with code") }
        #expect(serial.contains("init: ttytest exited with code 0"), "\(serial.suffix(2000))")
    }
}
