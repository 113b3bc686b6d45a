// `osh boot` on a terminal: raw mode while the guest runs, the terminal restored however the run ends.
// The terminal is a pseudo-terminal made with openpty (looked up with dlsym: Glibc's Swift module
// does not export it).

import Foundation
import Testing
@testable import OSH

enum PTY {
    typealias OpenPTY = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>,
                                        UnsafeMutablePointer<CChar>?, UnsafeRawPointer?, UnsafeRawPointer?) -> Int32

    static let openpty: OpenPTY? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "openpty") else { return nil }
        return unsafeBitCast(symbol, to: OpenPTY.self)
    }()

    static var available: Bool { openpty != nil }

    /// (master, slave)
    static func open() -> (Int32, Int32)? {
        var master: Int32 = -1, slave: Int32 = -1
        guard let openpty, openpty(&master, &slave, nil, nil, nil) == 0 else { return nil }
        return (master, slave)
    }
}

@Suite("osh boot: terminal raw mode and restore", .serialized,
       .enabled(if: PTY.available))
final class BootTerminalTests {
    let build: URL

    init() throws { build = try BootFixture.temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(at: build) }

    struct Observed {
        var status: Int32
        var before: termios
        var during: termios
        var after: termios
        var output: String
    }

    /// Boots a spinning fixture with the pty as stdin/stdout/stderr, waits for the console, then `end`s it.
    func bootOnTerminal(end: (_ master: Int32, _ pid: pid_t) -> Void) throws -> Observed {
        let (master, slave) = try #require(PTY.open())
        defer { close(master); close(slave) }
        var before = termios()
        tcgetattr(slave, &before)
        let kernel = try BootFixture.kernel(in: build, message: "spinning\\n", loop: true)
        let p = Process()
        p.executableURL = OSHRun.executable
        p.arguments = ["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "tcg", "--timeout", "20"]
        let tty = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        p.standardInput = tty
        p.standardOutput = tty
        p.standardError = tty
        try p.run()
        var output = [UInt8]()
        func readAvailable(for seconds: Double, until text: String? = nil) {
            let deadline = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, 50) > 0 {
                    let n = read(master, &buffer, buffer.count)
                    if n > 0 { output += buffer[0..<n] }
                }
                if let text, String(decoding: output, as: UTF8.self).contains(text) { return }
            }
        }
        readAvailable(for: 20, until: "spinning")
        var during = termios()
        tcgetattr(slave, &during)
        end(master, p.processIdentifier)
        while p.isRunning { readAvailable(for: 0.1) }
        readAvailable(for: 0.2)
        var after = termios()
        tcgetattr(slave, &after)
        return Observed(status: p.terminationStatus, before: before, during: during, after: after,
                        output: String(decoding: output, as: UTF8.self))
    }

    func same(_ a: termios, _ b: termios) -> Bool {
        a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag && a.c_lflag == b.c_lflag
    }

    func qemuIsGone() throws -> Bool {
        let pid = try #require(try RunDirectory.latest(buildDir: build)?.readManifest().qemuPID)
        return kill(pid, 0) != 0
    }

    @Test func ctrlAXOnATerminalQuitsAndRestoresIt() throws {
        let seen = try bootOnTerminal { master, _ in
            var keys: [UInt8] = [0x01, UInt8(ascii: "x")]
            _ = write(master, &keys, keys.count)
        }
        #expect(seen.status == 0)
        #expect(seen.during.c_lflag & tcflag_t(ICANON) == 0, "raw mode while the guest runs")
        #expect(seen.during.c_lflag & tcflag_t(ECHO) == 0)
        #expect(same(seen.before, seen.after), "terminal restored")
        #expect(seen.output.contains("Ctrl-A x quits"))
        #expect(seen.output.contains("quit by user"))
        #expect(try qemuIsGone())
    }

    @Test(arguments: [SIGTERM, SIGHUP, SIGINT])
    func signalKillsQEMUAndRestoresTheTerminal(signal: Int32) throws {
        let seen = try bootOnTerminal { _, pid in kill(pid, signal) }
        #expect(seen.status == 128 + signal)
        #expect(seen.during.c_lflag & tcflag_t(ICANON) == 0)
        #expect(same(seen.before, seen.after), "terminal restored")
        #expect(try qemuIsGone())
        #expect(try RunDirectory.latest(buildDir: build)?.readManifest().end?.reason == "signal")
    }
}
