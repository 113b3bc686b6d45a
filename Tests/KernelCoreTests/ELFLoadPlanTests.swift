import ABI
import Foundation
import Testing
@testable import KernelCore

@Suite struct ELFLoadPlanTests {
    static let source = """
        const unsigned long magic = 0x1122334455667788UL;
        unsigned long counter = 5;
        unsigned long zeroed[1024];
        unsigned long _start(void) { zeroed[3] = counter; return magic + zeroed[3]; }

        """

    /// Compiles `source` and links it with ld.lld and `linkArgs`.
    static func link(_ linkArgs: [String]) throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loadplan-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("a.c"), obj = dir.appendingPathComponent("a.o")
        let out = dir.appendingPathComponent("a.elf")
        try source.write(to: src, atomically: true, encoding: .utf8)
        try run(["clang", "-target", "x86_64-unknown-none-elf", "-fpie", "-O1", "-c", "-o", obj.path, src.path])
        try run(["ld.lld"] + linkArgs + ["-o", out.path, obj.path])
        return Array(try Data(contentsOf: out))
    }

    static func run(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(args.joined(separator: " ")) failed")
    }

    static let executable: [UInt8] = (try? link(["-static"])) ?? []

    static func plan(_ bytes: [UInt8]) throws -> (entry: UInt64, segments: [LoadSegment]) {
        try bytes.withUnsafeBytes { raw in
            let elf: ELFFile
            do { elf = try ELFFile(raw) } catch { throw SysError.badELF }
            return try ELFLoadPlan.plan(elf)
        }
    }

    // Patching program headers of a copy.
    static func read64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * $1) } }
    static func write64(_ b: inout [UInt8], _ at: Int, _ v: UInt64) { for i in 0..<8 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
    static func write16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) { b[at] = UInt8(v & 0xff); b[at + 1] = UInt8(v >> 8) }

    /// Byte offsets of the PT_LOAD program headers, in file order.
    static func loadHeaders(_ b: [UInt8]) -> [Int] {
        let phoff = Int(read64(b, 32)), phentsize = Int(b[54]) | Int(b[55]) << 8, phnum = Int(b[56]) | Int(b[57]) << 8
        return (0..<phnum).map { phoff + $0 * phentsize }.filter { b[$0] == 1 && b[$0 + 1] == 0 }
    }

    @Test func plansStaticExecutable() throws {
        let bytes = Self.executable
        try #require(!bytes.isEmpty)
        let (entry, segments) = try Self.plan(bytes)
        let elfEntry = Self.read64(bytes, 24)
        #expect(entry == elfEntry)
        #expect(segments.count >= 3)
        for (i, s) in segments.enumerated() {
            #expect(s.vaddr % pageSize == 0 && s.memorySize % pageSize == 0 && s.memorySize > 0)
            #expect(s.vaddr >= pageSize && s.end <= userAddressLimit)
            #expect(s.offsetInPage < pageSize && s.offsetInPage == s.fileOffset % pageSize)
            #expect(s.fileOffset + s.fileSize <= UInt64(bytes.count))
            #expect(s.offsetInPage + s.fileSize <= s.memorySize)
            if i > 0 { #expect(segments[i - 1].end <= s.vaddr) }
        }
        // Text is executable and holds the entry; data is writable and not executable; bss has no file bytes.
        let text = try #require(segments.first { $0.flags.contains(.exec) })
        #expect(text.flags == [.read, .exec])
        #expect(text.vaddr <= entry && entry < text.end)
        let data = try #require(segments.first { $0.flags.contains(.write) })
        #expect(data.flags == [.read, .write])
        #expect(data.memorySize >= data.offsetInPage + data.fileSize + 1024 * 8)
        #expect(segments.contains { $0.flags == .read })
        // Loading per the plan puts the read-only constant at some address of a read-only segment.
        let rodata = try #require(segments.first { $0.flags == .read })
        let image = Array(bytes[Int(rodata.fileOffset)..<Int(rodata.fileOffset + rodata.fileSize)])
        let found = (0..<(image.count - 7)).contains { Self.read64(image, $0) == 0x1122_3344_5566_7788 }
        #expect(found)
    }

    @Test func dynamicObjects() throws {
        // A PIE linked at 0 would need relocating: refused.
        let pie = try Self.link(["-pie"])
        #expect(pie[16] == 3)
        #expect(throws: SysError.badELF) { try Self.plan(pie) }
        // One linked at a fixed address is loaded there.
        let fixed = try Self.link(["-pie", "--image-base=0x400000"])
        #expect(fixed[16] == 3)
        let (entry, segments) = try Self.plan(fixed)
        #expect(segments.first!.vaddr == 0x40_0000)
        #expect(entry > 0x40_0000)
    }

    @Test func rejectsBadHeaders() throws {
        let good = Self.executable
        try #require(!good.isEmpty)
        func expectBad(_ comment: Comment, _ change: (inout [UInt8]) -> Void) {
            var copy = good
            change(&copy)
            #expect(throws: SysError.badELF, comment) { try Self.plan(copy) }
        }
        let loads = Self.loadHeaders(good)
        try #require(loads.count >= 3)
        let (entry, segments) = try Self.plan(good)
        let dataSegment = segments.first { $0.flags.contains(.write) }!

        expectBad("machine") { Self.write16(&$0, 18, 3) }
        expectBad("relocatable") { Self.write16(&$0, 16, 1) }
        expectBad("core") { Self.write16(&$0, 16, 4) }
        expectBad("entry in data") { Self.write64(&$0, 24, dataSegment.vaddr + dataSegment.offsetInPage) }
        expectBad("entry nowhere") { Self.write64(&$0, 24, 0x7000_0000_0000) }
        expectBad("entry past its segment") { b in
            let text = segments.first { $0.flags.contains(.exec) }!
            Self.write64(&b, 24, text.end + 0x10_0000)
        }
        expectBad("no PT_LOAD") { b in for h in loads { b[h] = 0 } }
        expectBad("program headers outside the file") { Self.write64(&$0, 32, UInt64(good.count) - 8) }
        for h in loads {
            let vaddr = Self.read64(good, h + 16), offset = Self.read64(good, h + 8)
            let memsz = Self.read64(good, h + 40)
            expectBad("vaddr 0") { Self.write64(&$0, h + 16, vaddr % pageSize) }
            expectBad("kernel half") { Self.write64(&$0, h + 16, 0xffff_8000_0000_0000 + vaddr % pageSize) }
            expectBad("heap window") { Self.write64(&$0, h + 16, userAddressLimit + vaddr % pageSize) }
            expectBad("runs past the user half") { b in
                Self.write64(&b, h + 16, userAddressLimit - pageSize + vaddr % pageSize)
                Self.write64(&b, h + 40, pageSize + 1)
            }
            expectBad("huge memsz") { Self.write64(&$0, h + 40, UInt64.max - 4) }
            expectBad("misaligned against offset") { Self.write64(&$0, h + 16, vaddr + 8) }
            expectBad("filesz > memsz") { Self.write64(&$0, h + 32, memsz + 1) }
            expectBad("offset past the file") { Self.write64(&$0, h + 8, UInt64(good.count) + offset % pageSize) }
            expectBad("file range past the file") { b in
                Self.write64(&b, h + 32, UInt64(good.count) - offset + 1)
                Self.write64(&b, h + 40, UInt64(good.count) - offset + 0x1000)
            }
            expectBad("offset + filesz overflows") { b in
                Self.write64(&b, h + 8, UInt64.max - pageSize + 1 + vaddr % pageSize)
                Self.write64(&b, h + 32, 0x2000)
                Self.write64(&b, h + 40, max(memsz, 0x2000))
            }
        }
        // Two segments sharing a page after rounding.
        expectBad("overlap") { b in
            let first = Self.read64(good, loads[0] + 16)
            let second = Self.read64(good, loads[1] + 16)
            Self.write64(&b, loads[1] + 16, first - first % pageSize + second % pageSize)
        }
        _ = entry
    }

    @Test func handMadeSegments() throws {
        // A minimal image written by hand: header, one RX segment, one RW segment.
        typealias Header = (vaddr: UInt64, offset: UInt64, filesz: UInt64, memsz: UInt64, flags: UInt32)
        func image(_ loads: [Header], entry: UInt64, types: [UInt32] = []) -> [UInt8] {
            var b = [UInt8](repeating: 0, count: 0x3000)
            b[0] = 0x7f; b[1] = 0x45; b[2] = 0x4c; b[3] = 0x46; b[4] = 2; b[5] = 1; b[6] = 1
            Self.write16(&b, 16, 2)
            Self.write16(&b, 18, 62)
            Self.write64(&b, 24, entry)
            Self.write64(&b, 32, 64)
            Self.write16(&b, 54, 56)
            Self.write16(&b, 56, UInt16(loads.count))
            for (i, header) in loads.enumerated() {
                let l = (type: i < types.count ? types[i] : 1, vaddr: header.vaddr, offset: header.offset, filesz: header.filesz, memsz: header.memsz, flags: header.flags)
                let h = 64 + 56 * i
                b[h] = UInt8(l.type)
                b[h + 4] = UInt8(l.flags)
                Self.write64(&b, h + 8, l.offset)
                Self.write64(&b, h + 16, l.vaddr)
                Self.write64(&b, h + 32, l.filesz)
                Self.write64(&b, h + 40, l.memsz)
            }
            return b
        }
        let rx: UInt32 = 5, rw: UInt32 = 6
        let ok = image([(0x40_1010, 0x1010, 0x100, 0x100, rx), (0x40_2f00, 0x1f00, 0x200, 0x3000, rw)], entry: 0x40_1010)
        let (entry, segments) = try Self.plan(ok)
        #expect(entry == 0x40_1010)
        #expect(segments == [
            LoadSegment(vaddr: 0x40_1000, memorySize: 0x1000, fileOffset: 0x1010, fileSize: 0x100, offsetInPage: 0x10, flags: [.read, .exec]),
            LoadSegment(vaddr: 0x40_2000, memorySize: 0x4000, fileOffset: 0x1f00, fileSize: 0x200, offsetInPage: 0xf00, flags: [.read, .write]),
        ])
        // Out of order in the file: sorted in the plan.
        let swapped = image([(0x40_2f00, 0x1f00, 0x200, 0x3000, rw), (0x40_1010, 0x1010, 0x100, 0x100, rx)], entry: 0x40_1010)
        #expect(try Self.plan(swapped).segments == segments)
        // Empty PT_LOADs are ignored.
        let withEmpty = image([(0x40_1010, 0x1010, 0x100, 0x100, rx), (0, 0, 0, 0, 0)], entry: 0x40_1010)
        #expect(try Self.plan(withEmpty).segments.count == 1)
        // Ending exactly at the end of the file and at the end of the user half is fine.
        let edge = image([(userAddressLimit - 0x1000, 0x2000, 0x1000, 0x1000, rx)], entry: userAddressLimit - 1)
        #expect(try Self.plan(edge).segments.first?.end == userAddressLimit)
        // Entry one past the segment's bytes (though inside its rounded page) is refused.
        let past = image([(0x40_1010, 0x1010, 0x100, 0x100, rx)], entry: 0x40_1110)
        #expect(throws: SysError.badELF) { try Self.plan(past) }
        // Sharing a page after rounding.
        let shared = image([(0x40_1010, 0x1010, 0x100, 0x100, rx), (0x40_1f00, 0x1f00, 0x10, 0x10, rw)], entry: 0x40_1010)
        #expect(throws: SysError.badELF) { try Self.plan(shared) }
        // Too many segments.
        var many: [Header] = []
        for i in 0..<65 { many.append((0x40_0000 + UInt64(i) * 0x1000, 0, 0, 0x10, rx)) }
        #expect(throws: SysError.badELF) { try Self.plan(image(many, entry: 0x40_0000)) }
        #expect(try Self.plan(image(Array(many.prefix(64)), entry: 0x40_0000)).segments.count == 64)
        // Other program headers are ignored, but an interpreter request is refused.
        let noted = image([(0x40_1010, 0x1010, 0x100, 0x100, rx), (0, 0x1000, 0x10, 0x10, 4)], entry: 0x40_1010, types: [1, 4])
        #expect(try Self.plan(noted).segments.count == 1)
        let interp = image([(0x40_1010, 0x1010, 0x100, 0x100, rx), (0, 0x1000, 0x10, 0x10, 4)], entry: 0x40_1010, types: [1, 3])
        #expect(throws: SysError.badELF) { try Self.plan(interp) }
        // Too many program headers, even if none is a PT_LOAD beyond the first.
        var crowded = image([(0x40_1010, 0x1010, 0x100, 0x100, rx)], entry: 0x40_1010)
        Self.write16(&crowded, 56, 257)
        #expect(throws: SysError.badELF) { try Self.plan(crowded) }
    }
}
