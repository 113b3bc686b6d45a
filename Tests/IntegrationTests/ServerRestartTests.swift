import Foundation
import Testing
@testable import OSH

/// Root restarts boot servers that end (Sources/Servers/root/Supervisor.swift), in a boot: a test initfs
/// (build/initfs.tar.zst plus three sbin/ servers with made-up manifests, built as BootFailureTests builds
/// its fakes) holds `restartsvc` and `restartcli` (copies of bin/restarttest: a server that exits on
/// request, and its client, which pings it through one Sender across the restarts) and `crasher` (a copy
/// of crashtest, which faults at once). Each is restarted with back-offs of 200, 400 and 800 ms and then
/// given up; the client's Sender reaches every new instance, and after the limit its call fails with
/// .peerClosed. The client itself ends with code 0, which root takes as done (no restart). restartsvc's
/// devices.conf grant (an IRQ object) is made again for every instance. Then a real driver: kbd, ended
/// by root with process_kill under `killtest=kbd`, is restarted and typing on the console goes on.
@Suite(.serialized) struct ServerRestartTests {
    /// build/initfs.tar.zst with the three servers added to sbin/; its path.
    func testInitfs(in dir: URL) throws -> URL {
        let tree = dir.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        let tar = dir.appendingPathComponent("initfs.tar")
        try must(run("zstd", ["-d", "-q", "-f", Repo.build.appendingPathComponent("initfs.tar.zst").path, "-o", tar.path]))
        try must(run("tar", ["-xf", tar.path, "-C", tree.path]))
        // restartsvc also gets an IRQ object (ISA line 7, unused here) from devices.conf: root must make it
        // again for each new instance, which the kernel allows only once the ended one's is gone.
        let conf = tree.appendingPathComponent("etc/devices.conf")
        try (String(contentsOf: conf, encoding: .utf8) + "restartsvc irq irq isa 7\n").write(to: conf, atomically: true, encoding: .utf8)
        let servers = [("restartsvc", "restarttest", "", "restartsvc"), ("restartcli", "restarttest", "restartsvc", ""),
                       ("crasher", "crashtest", "", "crashsvc")]
        for (file, program, imports, exports) in servers {
            let manifest = dir.appendingPathComponent("\(file).manifest"), note = dir.appendingPathComponent("\(file).note")
            try "name=\(file)\nimports=\(imports)\nexports=\(exports)\n".write(to: manifest, atomically: true, encoding: .utf8)
            try must(run("python3", [Repo.root.appendingPathComponent("scripts/manifest-note.py").path, manifest.path, note.path]))
            let base = Repo.build.appendingPathComponent("servers/\(program).elf").path
            try must(run(Repo.tool("llvm-objcopy"), ["--update-section", ".note.manifest=\(note.path)", base,
                                                     tree.appendingPathComponent("sbin/\(file)").path]))
        }
        return try packInitfs(tree, tar: tar, in: dir)
    }

    @Test func serversThatEndAreRestartedWithTheirReceiverThenGivenUp() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let initfs = try testInitfs(in: dir)
        let build = dir.appendingPathComponent("build")
        let osh = try startOSH(["boot", "--accel", "tcg", "--timeout", "400", "--build-dir", build.path,
                                "--kernel", Repo.kernel.path,
                                "--module", Repo.build.appendingPathComponent("servers/root.elf").path + ":root",
                                "--module", initfs.path + ":initfs"])
        defer { if osh.isRunning { osh.terminate(); osh.waitUntilExit() } }
        let run = build.appendingPathComponent("run/latest")
        let done = "restarttest: 4 instances answered"
        var serial = DeviceTests.waitFor(done, in: run, seconds: 360, while: osh)
        try #require(serial.contains(done), "\(serial.suffix(4000))")
        serial = DeviceTests.waitFor("root: sbin/crasher ended with code", in: run, seconds: 60, while: osh)
        let crasherGone = "not restarted again"
        let deadline = Date().addingTimeInterval(60)
        while serial.components(separatedBy: crasherGone).count < 3 && Date() < deadline && osh.isRunning {
            Thread.sleep(forTimeInterval: 0.5)
            serial = (try? String(contentsOf: run.appendingPathComponent("serial.log"), encoding: .utf8)) ?? serial
        }
        #expect(serial.contains("restarttest: 4 instances answered, 0 failed"), "\(serial.suffix(4000))")
        #expect(serial.contains("restarttest: a ping after the restart limit: peer closed"))
        // The server's ends: three restarts with doubling back-offs, then given up.
        for (n, ms) in [(1, 200), (2, 400), (3, 800)] {
            #expect(serial.contains("root: sbin/restartsvc ended with code 0x3; restarting it in \(ms) ms (restart \(n) of 3)"),
                    "\(serial.suffix(4000))")
            #expect(serial.contains("root: sbin/crasher ended with code ") && serial.contains("restarting it in \(ms) ms (restart \(n) of 3)"))
        }
        #expect(serial.contains("root: sbin/restartsvc ended with code 0x3 after 3 restarts in a row; not restarted again"))
        #expect(serial.contains(/root: sbin\/crasher ended with code 0x[0-9a-f]+ after 3 restarts in a row; not restarted again/))
        #expect(serial.components(separatedBy: "root: started sbin/restartsvc").count == 5)
        // The client ends with code 0 when it is done: not restarted.
        #expect(serial.contains("root: sbin/restartcli ended with code 0; not restarted"))
        #expect(serial.components(separatedBy: "root: started sbin/restartcli").count == 2)
        #expect(serial.components(separatedBy: "restarttest: server instance").count - 1 >= 8)  // 4 serving + 4 exits
        #expect(serial.components(separatedBy: "serving (its IRQ bound)").count - 1 == 4, "\(serial.suffix(4000))")
        // The rest of the system runs on: init started and idles.
        #expect(serial.contains("services running; idle"), "\(serial.suffix(2000))")
    }

    /// `killtest=kbd`: root ends kbd with process_kill 25 s after init started; kbd is restarted with its
    /// IRQ and ports made again and the same Receiver, the console's keyboard thread subscribes again
    /// through its old Sender, and keys typed on the PS/2 keyboard reach the terminal before and after.
    @Test func aKilledKeyboardDriverIsRestartedAndTypingGoesOn() throws {
        let (osh, dir, run, qmp) = try ConsoleScreenTests.bootForTyping(["--cmdline", "consoletest killtest=kbd", "--timeout", "600"],
                                                                       prompt: "tty $ ")
        defer { ConsoleScreenTests.finish(osh, dir) }
        defer { qmp.close() }
        var serial = ""
        try ConsoleScreenTests.type(qmp, "echo before\n")
        serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("\r\nbefore\r\ntty $ ") }
        try #require(serial.contains("\r\nbefore\r\ntty $ "), "\(serial.suffix(2000))")
        serial = ConsoleScreenTests.waitUntil(run, osh, seconds: 180) { $0.contains("console: keys from kbd again") }
        #expect(serial.contains("root: killtest: ending sbin/kbd"), "\(serial.suffix(3000))")
        #expect(serial.contains("root: sbin/kbd ended with code 0xffffffffffffffff; restarting it in 200 ms (restart 1 of 3)"))
        #expect(serial.components(separatedBy: "root: started sbin/kbd (").count == 3, "\(serial.suffix(3000))")
        #expect(serial.components(separatedBy: "kbd: PS/2 controller ready").count == 3)
        try #require(serial.contains("console: keys from kbd again (subscription 2)"), "\(serial.suffix(3000))")
        if let before = serial.range(of: "\r\nbefore\r\n"), let kill = serial.range(of: "root: killtest: ending") {
            #expect(before.lowerBound < kill.lowerBound, "the first line was typed after the kill")
        }
        try ConsoleScreenTests.type(qmp, "echo after the restart\n")
        serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("\r\nafter the restart\r\ntty $ ") }
        #expect(serial.contains("tty $ echo after the restart\r\nafter the restart\r\ntty $ "), "\(serial.suffix(2000))")
        try ConsoleScreenTests.type(qmp, "exit\n")
        serial = ConsoleScreenTests.waitUntil(run, osh) { $0.contains("init: ttytest exited with code") }
        #expect(serial.contains("init: ttytest exited with code 0"), "\(serial.suffix(2000))")
    }
}
