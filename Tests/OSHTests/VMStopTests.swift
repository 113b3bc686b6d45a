// Every way a VM stops is reported at once: the watcher's pure decisions, and osh boot end to end with
// fixture kernels under TCG (a pvpanic crash, a KVM internal error line on QEMU's stderr, a VM paused
// through QMP that must not count as stopped, --display vnc, a deleted run directory).

import Foundation
import Testing
@testable import OSH

@Suite("osh boot: how a VM stops")
struct VMStopClassifierTests {
    @Test func statusWordsNameTheCause() {
        #expect(VMStopClassifier.cause(status: "internal-error", shutdownReason: nil) == .internalError(detail: nil))
        #expect(VMStopClassifier.cause(status: "guest-panicked", shutdownReason: nil) == .guestPanicked)
        #expect(VMStopClassifier.cause(status: "shutdown", shutdownReason: "guest-reset") == .guestReset)
        #expect(VMStopClassifier.cause(status: "shutdown", shutdownReason: "guest-shutdown") == .guestPoweredOff)
        // Paused by a user, a debugger or -S: not an end.
        for quiet in ["paused", "debug", "prelaunch", "running"] {
            #expect(VMStopClassifier.cause(status: quiet, shutdownReason: nil) == nil)
        }
        // osh's own quit is not the guest's doing.
        #expect(VMStopClassifier.cause(shutdownReason: "host-qmp-quit") == nil)
        #expect(VMStopClassifier.cause(shutdownReason: "host-signal") == nil)
    }

    @Test func kvmInternalErrorLineIsFound() {
        let log = "qemu-system-x86_64: warning: x\r\nKVM internal error. Suberror: 1\nextra data[0]: 0x0\n"
        #expect(VMStopClassifier.kvmInternalError(in: log) == "KVM internal error. Suberror: 1")
        #expect(VMStopClassifier.kvmInternalError(in: "VNC server running on 127.0.0.1:5900\n") == nil)
    }

    @Test func registerSummaryIsOneLine() {
        let long = "RAX=000000000000000a RBX=0000000000000000\r\nRSI=1 RDI=2 RBP=ffffffff80137fe0 RSP=ffffffff80137320\r\n"
            + "RIP=ffffffff801034d5 RFL=00000046 [---Z-P-] CPL=0 II=0\r\nCR0=80010033 CR2=0000000000000000 CR3=0000000000121000 CR4=00000620\r\n"
        #expect(VMStopClassifier.summary(registers: long)
                == "RIP=ffffffff801034d5 RSP=ffffffff80137320 RBP=ffffffff80137fe0 RAX=000000000000000a CR0=80010033 CR2=0000000000000000 CR3=0000000000121000 CPL=0")
        let firmware = "EAX=000c0000 EBX=06feb320\r\nESI=1 EDI=2 EBP=00014c40 ESP=00006e14\r\nEIP=000ea667 EFL=00000002 [-------] CPL=0\r\nCR0=00000011 CR2=00000000 CR3=00000000"
        #expect(VMStopClassifier.summary(registers: firmware).hasPrefix("EIP=000ea667 ESP=00006e14"))
    }

    @Test func eachCauseHasItsExitStatusAndOneLine() {
        let cases: [(VMStopCause, Int32, String)] = [
            (.internalError(detail: "KVM internal error. Suberror: 1"), 120, "internal-error"),
            (.guestPanicked, 121, "guest-panicked"),
            (.guestReset, 122, "guest-reset"),
        ]
        for (cause, code, reason) in cases {
            let v = BootStatusMapping.verdict(for: .vmStopped(cause: cause, registers: "RIP=1"))
            #expect(v.exitCode == code)
            #expect(v.reason == reason)
            #expect(v.isError)
            #expect(v.message.hasPrefix("VM stopped: "))
            #expect(v.message.hasSuffix("; registers: RIP=1"))
            #expect(!v.message.contains("\n"))
        }
        #expect(BootStatusMapping.verdict(for: .vmStopped(cause: .guestReset, registers: nil)).message.contains("registers unavailable"))
    }

    @Test func guestStatusWords() {
        #expect(BootStatusMapping.describe(guest: 1) == "tests failed")
        #expect(BootStatusMapping.describe(guest: 3) == "root process faulted")
        #expect(BootStatusMapping.describe(guest: 4) == "root process exited with an error")
    }

    @Test func vncInformationIsNotAnError() {
        // Guest status 0 makes QEMU exit 1, like a QEMU error: only a real error line may turn it into one.
        let vnc = "VNC server running on 127.0.0.1:5900\n"
        #expect(BootStatusMapping.qemuErrorLine(stderr: vnc) == nil)
        let v = BootStatusMapping.verdict(for: .qemuExited(status: 1, errorLine: BootStatusMapping.qemuErrorLine(stderr: vnc)))
        #expect(v.exitCode == 0)
        #expect(BootStatusMapping.qemuErrorLine(stderr: vnc + "qemu-system-x86_64: -bogus: invalid option\n")
                == "qemu-system-x86_64: -bogus: invalid option")
    }

    @Test func watcherSocketAndShutdownPauseAreInTheArguments() {
        var plan = QEMULaunchPlan(qemu: "q", mode: .direct, kernel: "k", qmpSocket: "/r/qmp.sock", gdbSocket: "/r/gdb.sock")
        #expect(!BootPlanning.qemuArguments(plan).contains("-action"))
        plan.watchSocket = "/r/osh-qmp.sock"
        let args = BootPlanning.qemuArguments(plan)
        #expect(args.contains("unix:/r/osh-qmp.sock,server=on,wait=off"))
        #expect(args.contains("unix:/r/qmp.sock,server=on,wait=off"))
        #expect(args.contains("shutdown=pause"))
        #expect(args.contains("-no-reboot"))
    }
}

@Suite("osh boot: stopped VMs end to end", .serialized, .enabled(if: BootFixture.toolsAvailable))
final class VMStopEndToEndTests {
    let build: URL

    init() throws { build = try BootFixture.temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(at: build) }

    var latest: RunDirectory? { RunDirectory.latest(buildDir: build) }

    /// A QEMU wrapper: `body` runs in bash before `exec REAL "$@" EXTRA`.
    func wrapper(_ name: String, body: String = "", extra: String = "") throws -> String {
        let real = try #require(findExecutable("qemu-system-x86_64"))
        let path = build.appendingPathComponent(name)
        try "#!/bin/bash\n\(body)\nexec \(real) \"$@\" \(extra)\n".write(to: path, atomically: true, encoding: .utf8)
        chmod(path.path, 0o755)
        return path.path
    }

    /// Seconds from the guest's last serial output to osh recording the end.
    func reportDelay(_ dir: RunDirectory) throws -> Double {
        let m = try dir.readManifest()
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let end = try #require(m.end.flatMap { f.date(from: $0.time) })
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.file(RunDirectory.serialLogName))
        let lastOutput = try #require(attributes[.modificationDate] as? Date)
        return end.timeIntervalSince(lastOutput)
    }

    @Test func guestPanickedIsReportedWithinASecond() throws {
        let kernel = try BootFixture.kernel(in: build, message: "about to panic\\n", pvpanic: true)
        let qemu = try wrapper("pvpanic-qemu", extra: "-device pvpanic")
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "tcg",
                                  "--qemu", qemu, "--timeout", "60"])
        #expect(run.status == BootExitCode.guestPanicked, "\(run.stderr)")
        #expect(run.stdout.contains("about to panic"))
        let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("osh: error: ") }
        #expect(errors.count == 1)
        #expect(errors.first?.contains("VM stopped: the guest panicked") == true)
        #expect(errors.first?.contains("EIP=") == true)  // the fixture runs in 32-bit mode
        let dir = try #require(latest)
        #expect(try dir.readManifest().end?.reason == "guest-panicked")
        #expect(try reportDelay(dir) < 1.0)
        #expect(FileManager.default.fileExists(atPath: dir.file(RunDirectory.registersName)))
        // The VM is gone, and so are its sockets.
        for name in RunDirectory.socketNames { #expect(!FileManager.default.fileExists(atPath: dir.file(name))) }
    }

    @Test func kvmInternalErrorInQEMULogIsReportedWithinASecond() throws {
        // QEMU prints the error and waits paused: here a wrapper prints QEMU's line after the guest started.
        let kernel = try BootFixture.kernel(in: build, message: "running\\n", loop: true)
        let qemu = try wrapper("internal-error-qemu",
                               body: "(sleep 1; echo 'KVM internal error. Suberror: 1' >&2; echo 'emulation failure' >&2) &")
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "tcg",
                                  "--qemu", qemu, "--timeout", "60"])
        #expect(run.status == BootExitCode.internalError, "\(run.stderr)")
        #expect(run.stderr.contains("osh: error: VM stopped: the VM stopped with an internal error (KVM internal error. Suberror: 1)"))
        #expect(run.seconds < 30)
        let dir = try #require(latest)
        #expect(try dir.readManifest().end?.reason == "internal-error")
        let log = try String(contentsOfFile: dir.file(RunDirectory.qemuLogName), encoding: .utf8)
        let written = try #require(try FileManager.default.attributesOfItem(atPath: dir.file(RunDirectory.qemuLogName))[.modificationDate] as? Date)
        #expect(log.contains("KVM internal error"))
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let end = try #require(try dir.readManifest().end.flatMap { f.date(from: $0.time) })
        #expect(end.timeIntervalSince(written) < 1.0)
    }

    @Test func pausedThroughQMPIsNotAStop() throws {
        // A VM paused by `stop` (a user, a debugger) is quiet, not dead: the run goes on to its timeout.
        let kernel = try BootFixture.kernel(in: build, message: "spinning\\n", loop: true)
        let p = try OSHRun.startBoot(buildDir: build, kernel: kernel, timeout: 8)
        var client: QMPClient?
        let deadline = Date().addingTimeInterval(30)
        while client == nil, Date() < deadline, p.isRunning {
            if let dir = latest, (try? dir.readManifest().state) == "running" {
                client = try? QMPClient(path: dir.file(RunDirectory.qmpSocketName), timeout: 5)
            }
            if client == nil { Thread.sleep(forTimeInterval: 0.1) }
        }
        let qmp = try #require(client)
        try qmp.stop()
        #expect(try qmp.queryStatus().status == "paused")
        qmp.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == BootExitCode.timeout)
        #expect(try latest?.readManifest().end?.reason == "timeout")
    }

    @Test func vncDisplayRunExitsWithTheGuestStatus() throws {
        let kernel = try BootFixture.kernel(in: build, status: 0, message: "vnc\\n")
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "tcg",
                                  "--display", "vnc", "--timeout", "60"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("osh: error"))
        let log = try String(contentsOfFile: try #require(latest).file(RunDirectory.qemuLogName), encoding: .utf8)
        #expect(log.contains("VNC server running on"))
    }

    @Test func deletedRunDirectoryIsReportedAndOutputGoesOn() throws {
        let kernel = try BootFixture.kernel(in: build, message: "still here\\n", loop: true)
        let copy = build.appendingPathComponent("copy.log")
        let p = Process()
        p.executableURL = OSHRun.executable
        p.arguments = ["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "tcg", "--timeout", "6",
                       "--log", copy.path]
        let err = Pipe()
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(30)
        var removed = false
        while !removed, Date() < deadline, p.isRunning {
            if let dir = latest, ((try? String(contentsOfFile: dir.file("serial.log"), encoding: .utf8)) ?? "").contains("still here") {
                try FileManager.default.removeItem(at: dir.url)
                removed = true
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        #expect(removed)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == BootExitCode.timeout)
        #expect(stderr.contains("osh: warning: the run directory was deleted while the VM runs"))
        #expect(try String(contentsOf: copy, encoding: .utf8).contains("still here"))
    }

    @Test func fullDiskIsReportedAndOutputGoesOn() throws {
        // /dev/full fails every write with ENOSPC, as a full disk would.
        let kernel = try BootFixture.kernel(in: build, status: 0, message: "disk full\\n")
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "tcg",
                                  "--log", "/dev/full", "--timeout", "60"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("disk full"))
        #expect(run.stderr.contains("osh: warning: cannot write the --log copy: No space left on device"))
        #expect(try String(contentsOfFile: try #require(latest).file("serial.log"), encoding: .utf8).contains("disk full"))
    }

    /// A test double of QEMU (python3): prints on the serial port, then on osh's QMP socket announces a
    /// STOP and answers `query-status` with internal-error, as QEMU does after "KVM internal error".
    static let internalErrorQEMU = #"""
        import json, os, signal, socket, sys, time
        args = sys.argv[1:]
        qmp = [a.split(",")[0][5:] for i, a in enumerate(args) if i > 0 and args[i - 1] == "-qmp"]
        server = socket.socket(socket.AF_UNIX)
        server.bind(qmp[-1])
        server.listen(1)
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        sys.stdout.write("guest output before the stop\n"); sys.stdout.flush()
        conn, _ = server.accept()
        f = conn.makefile("rw")
        def send(o): f.write(json.dumps(o) + "\r\n"); f.flush()
        send({"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}})
        stopped = False
        while True:
            line = f.readline()
            if not line: break
            c = json.loads(line)
            if c["execute"] == "query-status":
                send({"return": {"status": "internal-error" if stopped else "running", "running": not stopped}, "id": c["id"]})
                continue
            if c["execute"] == "human-monitor-command":
                send({"return": "RAX=0000000000000001 RBX=0\r\nRIP=ffffffff80101234 RFL=00000002 CPL=0\r\n", "id": c["id"]})
                continue
            send({"return": {}, "id": c["id"]})
            if not stopped:
                time.sleep(0.5)
                stopped = True
                open(sys.argv[0] + ".stopped", "w").close()
                send({"event": "STOP", "data": {}, "timestamp": {"seconds": 0, "microseconds": 0}})
        time.sleep(60)
        """#

    @Test func stopWithInternalErrorStatusIsReportedWithinASecond() throws {
        let script = build.appendingPathComponent("internal-error-qemu.py")
        try Self.internalErrorQEMU.write(to: script, atomically: true, encoding: .utf8)
        let qemu = build.appendingPathComponent("internal-error-qemu")
        let python = try #require(findExecutable("python3"))
        try "#!/bin/sh\nexec \(python) \(script.path) \"$@\"\n".write(to: qemu, atomically: true, encoding: .utf8)
        chmod(qemu.path, 0o755)
        let kernel = try BootFixture.kernel(in: build)
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "tcg",
                                  "--qemu", qemu.path, "--timeout", "60"])
        #expect(run.status == BootExitCode.internalError, "\(run.stderr)")
        #expect(run.stdout.contains("guest output before the stop"))
        #expect(run.stderr.contains("osh: error: VM stopped: the VM stopped with an internal error (QMP query-status: internal-error); registers: RIP=ffffffff80101234 RAX=0000000000000001 CPL=0"))
        let dir = try #require(latest)
        #expect(try dir.readManifest().end?.reason == "internal-error")
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let end = try #require(try dir.readManifest().end.flatMap { f.date(from: $0.time) })
        let stopped = try FileManager.default.attributesOfItem(atPath: script.path + ".stopped")[.modificationDate] as? Date
        #expect(end.timeIntervalSince(try #require(stopped)) < 1.0)
    }

    @Test func hostResetThroughQMPRebootsAndTheRunGoesOn() throws {
        // -no-reboot turns a QMP system_reset into a shutdown: osh resets the VM for real and goes on.
        let kernel = try BootFixture.kernel(in: build, message: "boot banner\\n", loop: true)
        let p = try OSHRun.startBoot(buildDir: build, kernel: kernel, timeout: 8)
        func serial() -> String { latest.flatMap { try? String(contentsOfFile: $0.file("serial.log"), encoding: .utf8) } ?? "" }
        let deadline = Date().addingTimeInterval(30)
        while !serial().contains("boot banner"), Date() < deadline, p.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        let qmp = try QMPClient(path: try #require(latest).file(RunDirectory.qmpSocketName))
        try qmp.systemReset()
        qmp.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == BootExitCode.timeout)
        #expect(serial().components(separatedBy: "boot banner").count - 1 == 2, "the guest booted twice: \(serial())")
    }
}
