import Foundation
import Testing
@testable import OSH

/// Device capabilities seen from outside the VM: root's IRQ object on the PS/2 keyboard line fires when
/// QMP `send-key` presses a key, and what root writes through a physical Frame over the boot
/// framebuffer is what QMP `screendump` shows (root/DeviceChecks.swift, `devtest=kbd|fb`).
@Suite(.serialized) struct DeviceTests {
    /// Boots osh with `arguments` in a fresh build directory; the process and the run directory.
    static func boot(_ arguments: [String]) throws -> (Process, URL, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-devices-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let build = dir.appendingPathComponent("build")
        let p = try startOSH(["boot", "--build-dir", build.path, "--kernel", Repo.kernel.path,
                              "--module", Repo.build.appendingPathComponent("servers/root.elf").path + ":root",
                              "--module", Repo.build.appendingPathComponent("initfs.tar.zst").path + ":initfs",
                              "--accel", "tcg"] + arguments)
        return (p, dir, build.appendingPathComponent("run/latest"))
    }

    /// Waits until the serial log holds `text` (or `seconds` pass, or osh ends); the log.
    static func waitFor(_ text: String, in run: URL, seconds: Double, while p: Process) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var serial = ""
        while Date() < deadline {
            serial = (try? String(contentsOf: run.appendingPathComponent("serial.log"), encoding: .utf8)) ?? ""
            if serial.contains(text) || !p.isRunning { break }
            Thread.sleep(forTimeInterval: 0.3)
        }
        return serial
    }

    @Test func keyboardIRQFiresOnQMPSendKey() throws {
        let (osh, dir, run) = try Self.boot(["--cmdline", "devtest=kbd", "--timeout", "120"])
        defer {
            if osh.isRunning { osh.terminate(); osh.waitUntilExit() }
            try? FileManager.default.removeItem(at: dir)
        }
        let ready = Self.waitFor("devtest: kbd ready", in: run, seconds: 60, while: osh)
        #expect(ready.contains("devtest: kbd ready"), "\(ready)")
        let qmp = try QMPClient(path: run.appendingPathComponent("qmp.sock").path, timeout: 10)
        _ = try qmp.execute("send-key", .object(["keys": .array([.object(["type": .string("qcode"), "data": .string("a")])])]))
        qmp.close()
        let serial = Self.waitFor("devtest: kbd irq", in: run, seconds: 60, while: osh)
        #expect(serial.contains("devtest: kbd irq bits 0x2 scancode 0x1e"), "\(serial)")
        osh.waitUntilExit()
        #expect(osh.terminationStatus == 0)
    }

    @Test func framebufferFrameShowsInScreendump() throws {
        let (osh, dir, run) = try Self.boot(["--boot", "iso", "--cmdline", "devtest=fb", "--timeout", "180"])
        defer {
            if osh.isRunning { osh.terminate(); osh.waitUntilExit() }
            try? FileManager.default.removeItem(at: dir)
        }
        let serial = Self.waitFor("devtest: fb painted", in: run, seconds: 150, while: osh)
        #expect(serial.contains("devtest: fb painted 1024x768"), "\(serial)")
        let qmp = try QMPClient(path: run.appendingPathComponent("qmp.sock").path, timeout: 20)
        let shot = dir.appendingPathComponent("screen.ppm")
        try qmp.screendump(to: shot.path, format: "ppm")
        qmp.close()
        let image = try PPM(Data(contentsOf: shot))
        #expect(image.width == 1024 && image.height == 768)
        // 0xc03010, as root painted it, in every pixel.
        let painted = image.pixels.filter { $0 == (0xc0, 0x30, 0x10) }.count
        #expect(painted == image.width * image.height, "\(painted) of \(image.width * image.height) pixels painted")
    }
}

/// A binary PPM (P6, maxval 255) as QEMU's screendump writes it.
struct PPM {
    var width = 0, height = 0
    var pixels: [(UInt8, UInt8, UInt8)] = []

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        var fields: [String] = [], i = 0
        while fields.count < 4 && i < bytes.count {
            while i < bytes.count && (bytes[i] == 0x20 || bytes[i] == 0x0a) { i += 1 }
            var word = ""
            while i < bytes.count && bytes[i] != 0x20 && bytes[i] != 0x0a { word.append(Character(UnicodeScalar(bytes[i]))); i += 1 }
            fields.append(word)
        }
        i += 1
        guard fields.count == 4, fields[0] == "P6", let w = Int(fields[1]), let h = Int(fields[2]), fields[3] == "255",
              bytes.count - i >= w * h * 3 else { throw CocoaError(.fileReadCorruptFile) }
        width = w
        height = h
        pixels.reserveCapacity(w * h)
        for p in 0..<(w * h) { pixels.append((bytes[i + 3 * p], bytes[i + 3 * p + 1], bytes[i + 3 * p + 2])) }
    }
}
