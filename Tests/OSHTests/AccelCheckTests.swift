// `--accel auto` and the accelerator check: the verdict from the check guest's outcome (pure), and a
// fake accelerator end to end: a QEMU wrapper whose "KVM" runs a guest that prints and then crashes
// (pvpanic under TCG) must lead `auto` to TCG with the reason printed, and cache that verdict.

import Foundation
import Testing
@testable import OSH

@Suite("osh accel: the check's verdict")
struct AccelCheckJudgeTests {
    let passedLog = "[info] accelcheck: ok tsc\r\n[info] accelcheck: ok kernel int3\r\n[info] accelcheck: passed\r\n"

    @Test func successNeedsStatusZeroAndThePassedLine() {
        let ok = AccelCheck.judge(outcome: .qemuExited(status: 1, errorLine: nil), serial: passedLog, accel: .kvm, seconds: 0.5)
        #expect(ok.passed)
        #expect(ok.details.count == 3)
        // Status 0 without the line (some other guest exited 0) is not a pass.
        let other = AccelCheck.judge(outcome: .qemuExited(status: 1, errorLine: nil), serial: "hello\n", accel: .kvm, seconds: 0.5)
        #expect(!other.passed)
    }

    @Test func aFailedStepIsNamedWithTheFault() {
        let serial = "[info] accelcheck: ok tsc\r\nUSER FAULT: process 1 \"root\" thread 1: page fault at 0xffffffff80101000\r\n[error] accelcheck: FAILED user program ran without a fault\r\n"
        let r = AccelCheck.judge(outcome: .qemuExited(status: 11, errorLine: nil), serial: serial, accel: .kvm, seconds: 1)
        #expect(!r.passed)
        #expect(r.reason.hasPrefix("step 'user program ran without a fault' failed (USER FAULT: process 1"))
    }

    @Test func silenceAndStopsAreFailures() {
        let silent = AccelCheck.judge(outcome: .timedOut(seconds: 5), serial: "", accel: .kvm, seconds: 5.02,
                                      registersAtTimeout: "EIP=000ea661")
        #expect(!silent.passed)
        #expect(silent.reason == "no result within 5 s; the guest printed nothing; EIP=000ea661")
        let stopped = AccelCheck.judge(outcome: .vmStopped(cause: .internalError(detail: "KVM internal error. Suberror: 1"), registers: "RIP=1"),
                                       serial: "[info] accelcheck: ok tsc\n", accel: .kvm, seconds: 0.3)
        #expect(!stopped.passed)
        #expect(stopped.reason == "the VM stopped with an internal error (KVM internal error. Suberror: 1); RIP=1")
        let panic = AccelCheck.judge(outcome: .qemuExited(status: 5, errorLine: nil), serial: "PANIC: x\n", accel: .kvm, seconds: 0.3)
        #expect(panic.reason == "guest status 2 (panic): PANIC: x")
    }

    @Test func theLinePrintedOnce() {
        #expect(AccelCache.line(accel: .kvm, reason: "") == "accel: kvm (checked)")
        #expect(AccelCache.line(accel: .tcg, reason: "no result within 5 s") == "accel: tcg (KVM failed its check: no result within 5 s)")
    }
}

@Suite("osh accel: a fake accelerator end to end", .serialized, .enabled(if: BootFixture.toolsAvailable))
final class FakeAcceleratorTests {
    let build: URL

    init() throws { build = try BootFixture.temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(at: build) }

    /// BUILD/kernel.elf is a guest that prints and then crashes; BUILD/servers/accelcheck.elf is present.
    func installCheckGuest() throws {
        let crashing = try BootFixture.kernel(in: build, message: "check guest printing\\n", pvpanic: true)
        try FileManager.default.copyItem(at: crashing, to: build.appendingPathComponent("kernel.elf"))
        let servers = build.appendingPathComponent("servers")
        try FileManager.default.createDirectory(at: servers, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: crashing, to: servers.appendingPathComponent("accelcheck.elf"))
    }

    /// A QEMU whose `-accel kvm` runs are TCG with a pvpanic device: the guest prints, then the VM stops
    /// as guest-panicked, as a broken accelerator would leave it.
    func fakeKVM() throws -> String {
        let real = try #require(findExecutable("qemu-system-x86_64"))
        let path = build.appendingPathComponent("fake-kvm-qemu")
        try """
            #!/bin/bash
            args=(); kvm=0
            for a in "$@"; do case "$a" in kvm) args+=(tcg); kvm=1;; host) args+=(max);; *) args+=("$a");; esac; done
            if [ $kvm = 1 ]; then exec \(real) "${args[@]}" -device pvpanic; fi
            exec \(real) "$@"

            """.write(to: path, atomically: true, encoding: .utf8)
        chmod(path.path, 0o755)
        return path.path
    }

    @Test func autoFallsBackToTCGWithTheReasonAndCachesIt() throws {
        try installCheckGuest()
        let qemu = try fakeKVM()
        let kernel = try BootFixture.kernel(in: build, message: "the real boot\\n")
        let args = ["boot", "--build-dir", build.path, "--kernel", kernel.path, "--accel", "auto", "--qemu", qemu, "--timeout", "60"]
        let run = try OSHRun.run(args, environment: ["OSH_KVM_DEVICE": "/dev/null"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("the real boot"))
        #expect(!run.stdout.contains("check guest printing"))
        let accelLines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("osh: accel: ") }
        #expect(accelLines.count == 1, "\(run.stderr)")
        #expect(accelLines.first?.hasPrefix("osh: accel: tcg (KVM failed its check: the guest panicked (QMP query-status: guest-panicked)") == true)
        #expect(accelLines.first?.contains("RIP=") == true || accelLines.first?.contains("EIP=") == true)
        #expect(try RunDirectory.latest(buildDir: build)?.readManifest().accel == "tcg")
        let checkSerial = try String(contentsOf: build.appendingPathComponent("run/accelcheck/serial.log"), encoding: .utf8)
        #expect(checkSerial.contains("check guest printing"))
        let cache = try String(contentsOf: build.appendingPathComponent("run/accel.json"), encoding: .utf8)
        #expect(cache.contains("\"accel\":\"tcg\""))
        #expect(cache.contains("guest-panicked"))

        // The second run takes the cached verdict: the same line, no second check.
        try FileManager.default.removeItem(at: build.appendingPathComponent("run/accelcheck"))
        let again = try OSHRun.run(args, environment: ["OSH_KVM_DEVICE": "/dev/null"])
        #expect(again.status == 0)
        #expect(again.stderr.split(separator: "\n").filter { $0.hasPrefix("osh: accel: ") } == accelLines)
        #expect(!FileManager.default.fileExists(atPath: build.appendingPathComponent("run/accelcheck").path))
    }

    @Test func accelCheckCommandShowsWhatFailed() throws {
        try installCheckGuest()
        let run = try OSHRun.run(["accel", "--check", "--accel", "kvm", "--build-dir", build.path, "--qemu", try fakeKVM()],
                                 environment: ["OSH_KVM_DEVICE": "/dev/null"])
        #expect(run.status == 1)
        #expect(run.stdout.contains("accel check under kvm: FAILED in "))
        #expect(run.stdout.contains("the guest panicked"))
    }
}
