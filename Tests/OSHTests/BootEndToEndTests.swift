// `osh boot` end to end: the built osh executable boots fixture kernels in QEMU (TCG).

import Foundation
import Testing
@testable import OSH

@Suite("osh boot: end to end with fixture kernels", .serialized)
final class BootEndToEndTests {
    let build: URL

    init() throws { build = try BootFixture.temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(at: build) }

    func boot(_ kernel: URL, _ extra: [String] = [], stdin: Data? = nil, stdinDelay: Double = 0) throws -> OSHRun {
        try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "tcg"] + extra,
                       stdin: stdin, stdinDelay: stdinDelay)
    }

    var latest: RunDirectory? { RunDirectory.latest(buildDir: build) }

    /// osh's own lines (stderr), without anything QEMU or the guest printed.
    func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

    @Test func serialOutputReachesStdoutAndSerialLogAndStatusPassesThrough() throws {
        let kernel = try BootFixture.kernel(in: build, status: 0, message: "hello from the fixture\\n")
        let run = try boot(kernel, ["--cmdline", "log=debug", "--log", build.appendingPathComponent("copy.log").path])
        #expect(run.status == 0)
        #expect(run.stdout.contains("hello from the fixture\n"))
        #expect(run.stdout.contains("log=debug"))
        let dir = try #require(latest)
        let serial = try String(contentsOfFile: dir.file("serial.log"), encoding: .utf8)
        #expect(serial == run.stdout)
        #expect(try String(contentsOf: build.appendingPathComponent("copy.log"), encoding: .utf8) == serial)
        // The summary goes to stderr, one line.
        #expect(lines(run.stderr).count == 1)
        #expect(run.stderr.contains(dir.path))
        #expect(!run.stdout.contains("osh:"))
    }

    @Test func manifestDescribesTheRun() throws {
        let kernel = try BootFixture.kernel(in: build, status: 0)
        let run = try boot(kernel, ["--cmdline", "panic=halt"])
        #expect(run.status == 0)
        let dir = try #require(latest)
        let m = try dir.readManifest()
        #expect(m.runID == dir.id)
        #expect(m.state == "exited")
        #expect(m.bootMode == "direct")
        #expect(m.accel == "tcg")
        #expect(m.cmdline == "panic=halt")
        #expect(m.qemuPID != nil)
        #expect(m.oshPID > 0)
        #expect(m.qemuArgv.contains("-kernel"))
        #expect(m.qemuArgv.contains(dir.file("kernel.elf")))
        #expect(m.files == [.init(role: "kernel", path: "kernel.elf", source: kernel.path, buildID: BootFixture.buildID)])
        #expect(m.end?.reason == "guest-exit")
        #expect(m.end?.exitStatus == 0)
        #expect(m.end?.guestStatus == 0)
        #expect(FileManager.default.fileExists(atPath: dir.file("qemu.log")))
    }

    @Test(arguments: [UInt8(1), 2])
    func guestFailureAndPanicStatusesPassThrough(status: UInt8) throws {
        let run = try boot(try BootFixture.kernel(in: build, status: status, message: "PANIC: fixture\\n"))
        #expect(run.status == Int32(status))
        #expect(run.stdout.contains("PANIC: fixture"))
    }

    @Test func testModeAppendsTestAndPrintsTheResultLine() throws {
        let kernel = try BootFixture.kernel(in: build, status: 1, message: "4 passed, 1 failed\\n")
        let run = try boot(kernel, ["--test", "--cmdline", "log=warn"])
        #expect(run.status == 1)
        #expect(run.stdout.contains("log=warn test"))
        #expect(run.stderr.contains("test result: 4 passed, 1 failed"))
        #expect(try latest?.readManifest().end?.testResult == "4 passed, 1 failed")
    }

    @Test func timeoutKillsQEMUAndExits124() throws {
        let kernel = try BootFixture.kernel(in: build, message: "spinning\\n", loop: true)
        let run = try boot(kernel, ["--timeout", "2"])
        #expect(run.status == 124)
        #expect(run.seconds < 10)
        #expect(run.stdout.contains("spinning"))
        #expect(lines(run.stderr).count == 1)
        #expect(run.stderr.hasPrefix("osh: timeout: the guest did not finish within 2 s"))
        #expect(try latest?.readManifest().end?.reason == "timeout")
    }

    @Test func stdinEOFDoesNotEndTheRun() throws {
        // stdin is /dev/null: the run still lasts until the timeout.
        let run = try boot(try BootFixture.kernel(in: build, loop: true), ["--timeout", "1.5"])
        #expect(run.status == 124)
        #expect(run.seconds >= 1.4)
    }

    @Test func ctrlAXQuitsWithStatusZero() throws {
        let run = try boot(try BootFixture.kernel(in: build, message: "waiting\\n", loop: true), ["--timeout", "30"],
                           stdin: Data([0x01, UInt8(ascii: "h"), 0x01, UInt8(ascii: "x")]), stdinDelay: 0.5)
        #expect(run.status == 0)
        #expect(run.seconds < 20)
        #expect(run.stderr.contains("Ctrl-A x"))
        #expect(try latest?.readManifest().end?.reason == "user-quit")
    }

    @Test func missingQEMUIs125WithOneLine() throws {
        let run = try boot(try BootFixture.kernel(in: build), ["--qemu", "/nonexistent/qemu-system-x86_64"])
        #expect(run.status == 125)
        #expect(lines(run.stderr).count == 1)
        #expect(run.stderr.hasPrefix("osh: error: "))
    }

    @Test func qemuRejectingAnOptionIs125WithQEMUsLine() throws {
        // A fake QEMU that fails like QEMU does on a bad option: message on stderr, status 1.
        let fake = build.appendingPathComponent("fake-qemu")
        try "#!/bin/sh\necho \"qemu-system-x86_64: -bogus: invalid option\" >&2\nexit 1\n"
            .write(to: fake, atomically: true, encoding: .utf8)
        chmod(fake.path, 0o755)
        let run = try boot(try BootFixture.kernel(in: build), ["--qemu", fake.path])
        #expect(run.status == 125)
        #expect(run.stderr.hasPrefix("osh: error: QEMU failed: qemu-system-x86_64: -bogus: invalid option"))
        #expect(lines(run.stderr).count == 1)
    }

    @Test func realQEMUBadOptionIs125() throws {
        // An impossible memory size makes the real QEMU refuse to start.
        let run = try boot(try BootFixture.kernel(in: build), ["--memory", "100000G"])
        #expect(run.status == 125)
        #expect(run.stderr.hasPrefix("osh: error: QEMU failed: qemu-system-x86_64"))
        #expect(lines(run.stderr).count == 1)
    }

    @Test func missingKernelIsOneLineError() throws {
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", build.appendingPathComponent("none.elf").path])
        #expect(run.status == BootExitCode.missingInput)
        #expect(lines(run.stderr).count == 1)
        #expect(run.stderr.hasPrefix("osh: error: kernel not found"))
    }

    @Test func missingModuleIsOneLineError() throws {
        let kernel = try BootFixture.kernel(in: build, status: 0)
        let missing = build.appendingPathComponent("none.elf").path
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--module", missing + ":root"])
        #expect(run.status == BootExitCode.missingInput)
        #expect(lines(run.stderr).count == 1)
        #expect(run.stderr == "osh: error: module not found: \(missing) (run make, or fix --module)\n")
        let bad = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--module", kernel.path + ":a b"])
        #expect(bad.status == BootExitCode.usage)
        #expect(lines(bad.stderr).count == 1)
    }

    @Test func modulesAreCopiedListedAndPassedWithInitrd() throws {
        let kernel = try BootFixture.kernel(in: build, status: 0)
        let module = try BootFixture.kernel(in: build, status: 1)  // any ELF with the fixture build ID
        let extra = module.deletingLastPathComponent().appendingPathComponent("extra.elf")
        try FileManager.default.copyItem(at: module, to: extra)
        let run = try boot(kernel, ["--module", module.path + ":root", "--module", extra.path])
        #expect(run.status == 0, "\(run.stderr)")
        let dir = try #require(latest)
        let m = try dir.readManifest()
        #expect(m.files.count == 3)
        #expect(m.files.dropFirst().map(\.role) == ["server", "server"])
        #expect(m.files[1] == .init(role: "server", name: "root", path: "root.elf", source: module.path, buildID: BootFixture.buildID))
        #expect(m.files[2].name == "extra")
        #expect(m.files[2].path == "extra.elf")
        let initrd = m.qemuArgv.firstIndex(of: "-initrd").map { m.qemuArgv[$0 + 1] }
        #expect(initrd == "\(dir.file("root.elf")) root,\(dir.file("extra.elf")) extra")
        #expect(FileManager.default.contentsEqual(atPath: dir.file("root.elf"), andPath: module.path))

        // Without --module, BUILD/servers/root.elf is the module root.
        let servers = build.appendingPathComponent("servers")
        try FileManager.default.createDirectory(at: servers, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: module, to: servers.appendingPathComponent("root.elf"))
        defer { try? FileManager.default.removeItem(at: servers) }
        let again = try boot(kernel)
        #expect(again.status == 0, "\(again.stderr)")
        let m2 = try #require(latest).readManifest()
        #expect(m2.files.map(\.name) == [nil, "root"])
        #expect(m2.qemuArgv.contains("-initrd"))
    }

    @Test func missingISOIsOneLineError() throws {
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--boot", "iso"])
        #expect(run.status == BootExitCode.missingInput)
        #expect(lines(run.stderr).count == 1)
        #expect(run.stderr.hasPrefix("osh: error: ISO not found"))
    }

    @Test func missingOVMFIsOneLineError() throws {
        let run = try boot(try BootFixture.kernel(in: build), ["--uefi", "--iso", "/dev/null", "--ovmf", "/nonexistent/OVMF.fd"])
        #expect(run.status == BootExitCode.missingInput)
        #expect(run.stderr.hasPrefix("osh: error: UEFI firmware not found"))
    }

    @Test func autoAccelWithoutTheCheckGuestUsesTCGAndSaysWhy() throws {
        // This build directory has no BUILD/kernel.elf + servers/accelcheck.elf: KVM cannot be proven.
        let kernel = try BootFixture.kernel(in: build, status: 0, message: "auto\\n")
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "auto"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("auto"))
        #expect(run.seconds < 60)
        let accelLines = lines(run.stderr).filter { $0.hasPrefix("osh: accel: ") }
        #expect(accelLines.count == 1, "one accel line: \(run.stderr)")
        #expect(accelLines.first?.hasPrefix("osh: accel: tcg (") == true)
        #expect(try latest?.readManifest().accel == "tcg")
    }

    static let canBuildISO = findExecutable("grub-mkrescue") != nil
    static let hasOVMF = FileManager.default.fileExists(atPath: BootPlanning.defaultOVMF)

    @Test
    func isoWithCommandLineBootsAPerRunISO() throws {
        let kernel = try BootFixture.kernel(in: build, message: "iso fixture\\n")
        let run = try boot(kernel, ["--boot", "iso", "--cmdline", "log=info", "--timeout", "120"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("iso fixture"))
        #expect(run.stdout.contains("cmdline: log=info"))
        let dir = try #require(latest)
        let m = try dir.readManifest()
        #expect(m.bootMode == "iso")
        #expect(m.image == "os.iso")
        #expect(m.qemuArgv.contains(dir.file("os.iso")))
        #expect(!m.qemuArgv.contains("-kernel"))
        #expect(m.files.first?.buildID == BootFixture.buildID)
    }

    @Test
    func isoWithoutCommandLineBootsTheISOAsBuilt() throws {
        let kernel = try BootFixture.kernel(in: build, message: "prebuilt\\n")
        let tree = build.appendingPathComponent("isotree")
        try FileManager.default.createDirectory(at: tree.appendingPathComponent("boot/grub"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: kernel, to: tree.appendingPathComponent("boot/kernel.elf"))
        try BootPlanning.grubConfig(cmdline: "baked=yes")
            .write(to: tree.appendingPathComponent("boot/grub/grub.cfg"), atomically: true, encoding: .utf8)
        let iso = build.appendingPathComponent("os.iso")
        try BootFixture.run(findExecutable("grub-mkrescue")!, ["-o", iso.path, tree.path])
        let run = try boot(kernel, ["--boot", "iso", "--iso", iso.path, "--timeout", "120"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("cmdline: baked=yes"))
        let dir = try #require(latest)
        #expect(try dir.readManifest().image == iso.path)
        #expect(!FileManager.default.fileExists(atPath: dir.file("os.iso")))
    }

    @Test
    func uefiBootsThroughOVMF() throws {
        let kernel = try BootFixture.kernel(in: build, status: 2, message: "uefi fixture\\n")
        let run = try boot(kernel, ["--uefi", "--cmdline", "panic=halt", "--timeout", "180"])
        #expect(run.status == 2)
        #expect(run.stdout.contains("uefi fixture"))
        #expect(run.stdout.contains("cmdline: panic=halt"))
        let m = try #require(try latest?.readManifest())
        #expect(m.uefi)
        #expect(m.qemuArgv.contains("if=pflash,format=raw,readonly=on,file=\(BootPlanning.defaultOVMF)"))
    }

    @Test func killedOshKeepsSerialLogAndTakesQEMUAlong() throws {
        let kernel = try BootFixture.kernel(in: build, message: "before the kill\\n", loop: true)
        let p = try OSHRun.startBoot(buildDir: build, kernel: kernel, timeout: 30)
        var serial = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !serial.contains("before the kill") {
            Thread.sleep(forTimeInterval: 0.1)
            if let dir = latest { serial = (try? String(contentsOfFile: dir.file("serial.log"), encoding: .utf8)) ?? "" }
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let dir = try #require(latest)
        #expect(try String(contentsOfFile: dir.file("serial.log"), encoding: .utf8).contains("before the kill\n"))
        let m = try dir.readManifest()
        #expect(m.state == "running")  // osh had no chance to record the end
        if m.launcher != nil, let qemu = m.qemuPID {
            var gone = false
            for _ in 0..<50 where !gone {
                gone = kill(qemu, 0) != 0
                if !gone { Thread.sleep(forTimeInterval: 0.1) }
            }
            #expect(gone, "QEMU gets SIGTERM when osh dies")
        }
    }
}
