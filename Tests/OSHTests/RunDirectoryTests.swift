import Foundation
import Testing
@testable import OSH

@Suite("osh boot: run directories and manifest")
struct RunDirectoryTests {
    @Test func runIDsSortByTime() {
        let a = RunDirectory.makeID(date: Date(timeIntervalSince1970: 1_700_000_000.5), pid: 99999)
        let b = RunDirectory.makeID(date: Date(timeIntervalSince1970: 1_700_000_001.25), pid: 7)
        #expect(a == "20231114T221320.500Z-99999")
        #expect(a < b)
        #expect(RunDirectory.isRunID(a))
        #expect(!RunDirectory.isRunID("latest"))
        #expect(!RunDirectory.isRunID("accel.json"))
    }

    @Test func createMakesLatestLinkAndPrunesToTwenty() throws {
        let build = try BootFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: build) }
        let root = RunDirectory.runRoot(buildDir: build)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for i in 0..<25 {
            let id = RunDirectory.makeID(date: Date(timeIntervalSince1970: 1_600_000_000 + Double(i)), pid: 1)
            try FileManager.default.createDirectory(at: root.appendingPathComponent(id), withIntermediateDirectories: false)
        }
        try Data("keep".utf8).write(to: root.appendingPathComponent("accel.json"))
        let dir = try RunDirectory.create(buildDir: build)
        let ids = RunDirectory.runIDs(runRoot: root)
        #expect(ids.count == RunDirectory.keep)
        #expect(ids.last == dir.id)
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("accel.json").path))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root.appendingPathComponent("latest").path) == dir.id)
        #expect(RunDirectory.latest(buildDir: build)?.id == dir.id)
    }

    @Test func manifestRoundTripsWithRelativePaths() throws {
        let build = try BootFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: build) }
        let dir = try RunDirectory.create(buildDir: build)
        var m = RunManifest(runID: dir.id, startTime: RunDirectory.timestamp(Date()), oshPID: 10, bootMode: "direct",
                            uefi: false, accel: "tcg", cmdline: "test",
                            files: [.init(role: "kernel", path: "kernel.elf", source: "/b/kernel.elf", buildID: "ab")])
        m.qemuPID = 11
        m.qemuArgv = ["qemu", "-kernel", "x"]
        try dir.writeManifest(m)
        #expect(try dir.readManifest() == m)
        let json = try String(contentsOf: dir.url.appendingPathComponent("manifest.json"), encoding: .utf8)
        #expect(json.contains("\"qmpSocket\" : \"qmp.sock\""))
        #expect(json.contains("\"gdbSocket\" : \"gdb.sock\""))
        #expect(json.contains("\"path\" : \"kernel.elf\""))
    }

    @Test
    func kernelCopyCarriesBuildID() throws {
        let build = try BootFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: build) }
        let kernel = try BootFixture.kernel(in: build)
        let dir = try RunDirectory.create(buildDir: build)
        let file = try dir.addELF(source: kernel, role: "kernel", name: "kernel.elf")
        #expect(file == .init(role: "kernel", path: "kernel.elf", source: kernel.path, buildID: BootFixture.buildID))
        #expect(FileManager.default.contentsEqual(atPath: kernel.path, andPath: dir.file("kernel.elf")))
    }
}
