// Run directories and live VMs: pruning never removes a run whose QEMU is alive, commands that need a
// live VM take the newest live run when `latest` has ended, and `--boot iso --kernel X` boots X.

import Foundation
import Testing
@testable import OSH

@Suite("osh boot: live runs", .serialized)
final class RunDirectoryLiveTests {
    let build: URL
    var root: URL { RunDirectory.runRoot(buildDir: build) }

    init() throws {
        build = try BootFixture.temporaryDirectory()
        try FileManager.default.createDirectory(at: RunDirectory.runRoot(buildDir: build), withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: build) }

    /// A run directory `seconds` after 2020-09-13 with a manifest in `state`, naming `qemuPID`.
    @discardableResult
    func makeRun(_ seconds: Double, state: String, qemuPID: Int32?) throws -> RunDirectory {
        let id = RunDirectory.makeID(date: Date(timeIntervalSince1970: 1_600_000_000 + seconds), pid: 1)
        let dir = RunDirectory(id: id, url: root.appendingPathComponent(id))
        try FileManager.default.createDirectory(at: dir.url, withIntermediateDirectories: false)
        var m = RunManifest(runID: id, startTime: "", oshPID: 999_999, bootMode: "direct", uefi: false, accel: "tcg",
                            cmdline: "", files: [])
        m.state = state
        m.qemuPID = qemuPID
        try dir.writeManifest(m)
        return dir
    }

    /// A pid that is certainly not running (a child that exited and was reaped).
    func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    @Test func pruningKeepsLiveRuns() throws {
        let dead = try deadPID()
        let live = try makeRun(0, state: "running", qemuPID: getpid())  // the oldest run, but alive
        let crashed = try makeRun(1, state: "running", qemuPID: dead)   // osh was killed, QEMU gone
        for i in 2..<26 { try makeRun(Double(i), state: "exited", qemuPID: dead) }
        #expect(live.isLive)
        #expect(!crashed.isLive)
        let newest = try RunDirectory.create(buildDir: build)
        let ids = RunDirectory.runIDs(runRoot: root)
        #expect(ids.contains(live.id))
        #expect(!ids.contains(crashed.id))
        #expect(ids.contains(newest.id))
        #expect(ids.count == RunDirectory.keep + 1)  // twenty, plus the live one beyond the limit
        #expect(RunDirectory.latest(buildDir: build)?.id == newest.id)
    }

    @Test func commandsTakeTheNewestLiveRunWhenLatestHasEnded() throws {
        let dead = try deadPID()
        try makeRun(0, state: "running", qemuPID: getpid())
        let live = try makeRun(1, state: "running", qemuPID: getpid())
        let ended = try makeRun(2, state: "exited", qemuPID: dead)
        try RunDirectory.updateLatest(runRoot: root, id: ended.id)
        #expect(RunDirectory.newestLive(runRoot: root)?.id == live.id)
        let resolved = try VMRun.resolve(nil, buildDirectory: build)
        #expect(resolved.url.lastPathComponent == live.id)
        // An explicit run is taken as given.
        #expect(try VMRun.resolve(ended.id, buildDirectory: build).url.lastPathComponent == ended.id)
        // And latest itself when it is alive.
        try RunDirectory.updateLatest(runRoot: root, id: live.id)
        #expect(try VMRun.resolve(nil, buildDirectory: build).url.lastPathComponent == live.id)
    }

    @Test func perRunISOForAnExplicitKernel() {
        #expect(BootPlanning.needsPerRunISO(mode: .iso, cmdline: "", explicitKernel: true))
        #expect(!BootPlanning.needsPerRunISO(mode: .iso, cmdline: "", explicitKernel: false))
        #expect(!BootPlanning.needsPerRunISO(mode: .direct, cmdline: "", explicitKernel: true))
    }

    @Test(.enabled(if: BootFixture.toolsAvailable && findExecutable("grub-mkrescue") != nil))
    func isoBootWithKernelBootsThatKernel() throws {
        // BUILD/os.iso exists but holds another kernel: --kernel X must boot X, through a per-run ISO.
        let other = try BootFixture.kernel(in: build, message: "the default ISO\\n")
        let tree = build.appendingPathComponent("isotree")
        try FileManager.default.createDirectory(at: tree.appendingPathComponent("boot/grub"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: other, to: tree.appendingPathComponent("boot/kernel.elf"))
        try BootPlanning.grubConfig(cmdline: "").write(to: tree.appendingPathComponent("boot/grub/grub.cfg"), atomically: true, encoding: .utf8)
        try BootFixture.run(findExecutable("grub-mkrescue")!, ["-o", build.appendingPathComponent("os.iso").path, tree.path])
        let mine = try BootFixture.kernel(in: build, message: "kernel X\\n")
        let run = try OSHRun.run(["boot", "--build-dir", build.path, "--boot", "iso", "--kernel", mine.path,
                                  "--accel", "tcg", "--timeout", "120"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("kernel X"))
        #expect(!run.stdout.contains("the default ISO"))
        let dir = try #require(RunDirectory.latest(buildDir: build))
        let m = try dir.readManifest()
        #expect(m.bootMode == "iso")
        #expect(m.image == "os.iso")
        #expect(m.files.first?.role == "kernel")
        #expect(m.files.first?.source == mine.path)
        #expect(m.qemuArgv.contains(dir.file("os.iso")))
    }
}
