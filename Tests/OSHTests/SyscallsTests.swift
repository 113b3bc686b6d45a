import ABI
import Foundation
import Testing
@testable import OSH

@Suite("osh syscalls: tracker table decoding and output")
struct SyscallsTests {
    /// A table as the kernel lays it out.
    static func table(syscalls: [Int: UInt64] = [:], objects: [Int: UInt64] = [:], unknown: UInt64 = 0,
                      magic: UInt64 = TrackerLayout.magic, version: UInt64 = TrackerLayout.version,
                      slots: UInt64 = UInt64(TrackerLayout.syscallSlots)) -> [UInt8] {
        var words = [UInt64](repeating: 0, count: TrackerLayout.totalWords)
        words[0] = magic
        words[1] = version
        words[2] = slots
        words[3] = UInt64(TrackerLayout.objectSlots)
        for (n, c) in syscalls { words[TrackerLayout.headerWords + n] = c }
        for (t, c) in objects { words[TrackerLayout.headerWords + TrackerLayout.syscallSlots + t] = c }
        words[TrackerLayout.totalWords - 1] = unknown
        return words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    }

    @Test func decodesAndSortsByCount() throws {
        let s = try TrackerSnapshot.parse(Self.table(syscalls: [0: 7, 25: 3, 26: 3, 63: 1], objects: [4: 6], unknown: 2))
        #expect(s.syscallRows().map(\.name) == ["debug_log", "frame_create", "frame_get_size", "#63"])
        #expect(s.objectRows().map(\.name) == ["frame"])
        #expect(s.unknown == 2)
        #expect(s.total == 16)
        let text = s.format()
        #expect(text.hasPrefix("syscall "))
        #expect(text.contains("\ndebug_log                          7\n"))
        #expect(text.contains("\nframe                              6\n"))
        #expect(text.contains("unknown syscall numbers            2"))
    }

    @Test func ratesAgainstAPreviousReading() throws {
        let a = try TrackerSnapshot.parse(Self.table(syscalls: [0: 10]))
        let b = try TrackerSnapshot.parse(Self.table(syscalls: [0: 30]))
        #expect(b.syscallRows(previous: a, seconds: 2).first?.rate == 10)
        #expect(a.syscallRows(previous: b, seconds: 2).first?.rate == 0, "counts that went down (a reset) give 0")
        #expect(b.format(previous: a, seconds: 2).contains("per second"))
        let json = b.json(run: "r", previous: a, seconds: 2)
        #expect(json["rates"]?["debug_log"] == .double(10))
    }

    @Test func jsonListsEveryNamedCall() throws {
        let s = try TrackerSnapshot.parse(Self.table(syscalls: [0: 7, 25: 3], objects: [4: 3]))
        let json = s.json(run: "r1")
        #expect(json["syscalls"]?["debug_log"]?.int == 7)
        #expect(json["syscalls"]?["frame_create"]?.int == 3)
        #expect(json["syscalls"]?["vmem_map"]?.int == 0)
        #expect(json["objects"]?["frame"]?.int == 3)
        #expect(json["unknown"]?.int == 0)
        #expect(json["run"]?.string == "r1")
        #expect(try JSON.parse(Array(json.serialized().utf8)) == json)
    }

    @Test func sumsThePerCPUTables() throws {
        let three = Self.table(syscalls: [0: 7, 25: 1], objects: [4: 2], unknown: 1)
            + Self.table(syscalls: [0: 3, 63: 5], objects: [4: 1])
            + Self.table(syscalls: [25: 4], unknown: 2)
        let s = try TrackerSnapshot.parse(three)
        #expect(s.syscalls[0] == 10 && s.syscalls[25] == 5 && s.syscalls[63] == 5)
        #expect(s.objects[4] == 3 && s.unknown == 3)
        #expect(s.total == 23)
        #expect(TrackerSnapshot.byteCount == TrackerLayout.tables * TrackerLayout.totalWords * 8)
        #expect(throws: TrackerSnapshot.FormatError.self) {
            try TrackerSnapshot.parse(Self.table() + Self.table(magic: 0))
        }
    }

    @Test func rejectsWhatIsNotATrackerTable() {
        #expect(throws: TrackerSnapshot.FormatError.self) { try TrackerSnapshot.parse(Self.table(magic: 0)) }
        #expect(throws: TrackerSnapshot.FormatError.self) { try TrackerSnapshot.parse(Self.table(version: TrackerLayout.version + 1)) }
        #expect(throws: TrackerSnapshot.FormatError.self) { try TrackerSnapshot.parse(Self.table(slots: 32)) }
        #expect(throws: TrackerSnapshot.FormatError.self) { try TrackerSnapshot.parse(Array(Self.table().prefix(100))) }
        do {
            _ = try TrackerSnapshot.parse(Self.table(magic: 0))
        } catch {
            #expect(error.description.hasPrefix("not a tracker table ("))
        }
    }

    @Test func errorsForRunsAreOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-sys-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A manifest naming a kernel without the symbol.
        try Data("not an elf".utf8).write(to: dir.appendingPathComponent("kernel.elf"))
        try Data(#"{"runID":"x","files":[{"role":"kernel","path":"kernel.elf"}]}"#.utf8)
            .write(to: dir.appendingPathComponent("manifest.json"))
        let run = try VMRun.resolve(dir.path)
        #expect(throws: SyscallsError.self) { _ = try TrackerReader(run: run) }
        let noKernel = VMRun(url: dir, manifest: VMRunManifest(files: []))
        #expect(throws: SyscallsError.self) { _ = try TrackerReader(run: noKernel) }
    }

    @Test func isASubcommandOfOSH() throws {
        let parsed = try OSH.parseAsRoot(["syscalls", "--run", "x", "--watch", "--interval", "0.5", "--json"])
        let cmd = try #require(parsed as? SyscallsCommand)
        #expect(cmd.runSpec == "x" && cmd.watch && cmd.json && cmd.interval == 0.5)
    }
}
