import Foundation
import Testing
@testable import OSH

/// A real QEMU paused at reset (`-S`), with QMP and gdbstub on Unix sockets in a fresh temp dir.
/// Killed and cleaned up on `stop()` and in `deinit`, so a failing test does not leak it.
final class QEMUFixture {
    let dir: URL
    private(set) var process: ChildProcess!
    var qmpPath: String { dir.appendingPathComponent("qmp.sock").path }
    var gdbPath: String { dir.appendingPathComponent("gdb.sock").path }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-x86_64") || which("qemu-system-x86_64") != nil }

    static func which(_ name: String) -> String? {
        for d in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(d)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    init(vga: Bool = false) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-qemu-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var args = ["-accel", "tcg", "-S", "-display", "none", "-monitor", "none", "-serial", "none", "-nodefaults",
                    "-m", "64",
                    "-qmp", "unix:\(qmpPath),server=on,wait=off",
                    "-chardev", "socket,id=gdb0,path=\(gdbPath),server=on,wait=off", "-gdb", "chardev:gdb0"]
        if vga { args += ["-device", "VGA"] }
        process = try ChildProcess(QEMUFixture.which("qemu-system-x86_64") ?? "/usr/bin/qemu-system-x86_64", args, quiet: true)
        let deadline = Date().addingTimeInterval(20)
        while !(FileManager.default.fileExists(atPath: qmpPath) && FileManager.default.fileExists(atPath: gdbPath)) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw FixtureError.qemuDidNotStart
            }
            usleep(20_000)
        }
        // The files exist from bind(); QEMU answering on QMP means its main loop runs and every socket
        // (the gdbstub's too) is listening.
        while true {
            if let probe = try? QMPClient(path: qmpPath, timeout: 2) {
                probe.close()
                break
            }
            guard process.isRunning, Date() < deadline else {
                stop()
                throw FixtureError.qemuDidNotStart
            }
            usleep(20_000)
        }
    }

    enum FixtureError: Error { case qemuDidNotStart }

    var pid: Int32 { process.pid }

    func stop() {
        process?.terminate()
        try? FileManager.default.removeItem(at: dir)
    }

    deinit { stop() }

    /// Physical memory via pmemsave, on `client` or a fresh QMP connection (QMP serves one client at a time).
    func pmem(_ address: UInt64, _ count: Int, client: QMPClient? = nil) throws -> [UInt8] {
        let qmp = try client ?? QMPClient(path: qmpPath)
        defer { if client == nil { qmp.close() } }
        let f = dir.appendingPathComponent("pmem-\(address)-\(count)").path
        try qmp.pmemsave(address: address, size: UInt64(count), to: f)
        return Array(try Data(contentsOf: URL(fileURLWithPath: f)))
    }
}
