import Testing
@testable import KernelCore

/// Little-endian byte building for synthetic boot information.
struct ByteBuilder {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { for i in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt16(i)))) } }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
    mutating func cString(_ s: String) { bytes += Array(s.utf8) + [0] }
    mutating func pad8() { while bytes.count % 8 != 0 { bytes.append(0) } }
    mutating func put32(_ v: UInt32, at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }
}

/// A multiboot2 tag with the given payload (after type and size).
func mb2Tag(_ b: inout ByteBuilder, type: UInt32, _ payload: (inout ByteBuilder) -> Void) {
    let start = b.bytes.count
    b.u32(type)
    b.u32(0)
    payload(&b)
    b.put32(UInt32(b.bytes.count - start), at: start + 4)
    b.pad8()
}

let sampleMap: [MemoryRegion] = [
    MemoryRegion(start: 0, length: 0x9fc00, kind: .usable),
    MemoryRegion(start: 0x9fc00, length: 0x400, kind: .reserved),
    MemoryRegion(start: 0x100000, length: 0x7ee0000, kind: .usable),
    MemoryRegion(start: 0x7fe0000, length: 0x20000, kind: .acpiReclaimable),
    MemoryRegion(start: 0xfeffc000, length: 0x4000, kind: .acpiNVS),
    MemoryRegion(start: 0xfffc0000, length: 0x40000, kind: .bad),
]

func multibootType(_ kind: MemoryKind) -> UInt32 {
    switch kind {
    case .usable: 1
    case .reserved: 2
    case .acpiReclaimable: 3
    case .acpiNVS: 4
    case .bad: 5
    }
}

/// GRUB-like multiboot2 information with every tag the parser knows plus an unknown one.
func sampleMultiboot2() -> [UInt8] {
    var b = ByteBuilder()
    b.u32(0)  // total size, patched below
    b.u32(0)
    mb2Tag(&b, type: 1) { $0.cString("test log=debug") }
    mb2Tag(&b, type: 2) { $0.cString("GRUB 2.12") }
    mb2Tag(&b, type: 3) { $0.u32(0x200000); $0.u32(0x212345); $0.cString("/boot/init arg") }
    mb2Tag(&b, type: 3) { $0.u32(0x300000); $0.u32(0x301000); $0.cString("") }
    mb2Tag(&b, type: 4) { $0.u32(639); $0.u32(130_944) }
    mb2Tag(&b, type: 21) { $0.u32(0x100000) }  // image load base: not parsed
    mb2Tag(&b, type: 6) { t in
        t.u32(24)
        t.u32(0)
        for r in sampleMap { t.u64(r.start); t.u64(r.length); t.u32(multibootType(r.kind)); t.u32(0) }
    }
    mb2Tag(&b, type: 8) { t in
        t.u64(0xfd00_0000); t.u32(4096); t.u32(1024); t.u32(768); t.u8(32); t.u8(1); t.u16(0)
        for v: UInt8 in [16, 8, 8, 8, 0, 8] { t.u8(v) }  // RGB field positions and sizes
    }
    mb2Tag(&b, type: 0) { _ in }
    b.put32(UInt32(b.bytes.count), at: 0)
    return b.bytes
}

func parse2(_ bytes: [UInt8]) throws(BootInfoError) -> BootInfo {
    // Copy into 8-aligned, zero-filled storage as large as the claimed total size (up to the 1 MiB the
    // parser accepts), as the kernel maps it, so a lying size cannot make the parser read outside it.
    let claimed = bytes.count >= 4 ? Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24 : 0
    let size = max(bytes.count, min(claimed, 0x10_0000)) + 64
    let storage = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
    defer { storage.deallocate() }
    storage.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    storage.copyMemory(from: bytes, byteCount: bytes.count)
    return try BootInfo.parseMultiboot2(info: UnsafeRawPointer(storage), physicalAddress: 0x10000)
}

/// Simulated physical memory [0, size) for multiboot1 information, with a bounds-checked translation.
final class PhysicalSpace {
    var memory: [UInt8]
    init(size: Int) { memory = [UInt8](repeating: 0, count: size) }

    func put(_ bytes: [UInt8], at address: Int) { memory.replaceSubrange(address..<(address + bytes.count), with: bytes) }
    func put32(_ v: UInt32, at address: Int) {
        var b = ByteBuilder()
        b.u32(v)
        put(b.bytes, at: address)
    }

    func parse1(infoAt address: Int) throws(BootInfoError) -> BootInfo {
        let count = memory.count
        let result: Result<BootInfo, BootInfoError> = memory.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            do throws(BootInfoError) {
                return .success(try BootInfo.parseMultiboot1(info: base + address, physicalAddress: UInt64(address)) { pa, length in
                    guard pa <= UInt64(count), UInt64(length) <= UInt64(count) - pa else { return nil }
                    return base + Int(pa)
                })
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

let mb1Info = 0x9000, mb1Cmdline = 0x9100, mb1Name = 0x9200, mb1Mods = 0x9300, mb1ModStrings = 0x9400, mb1Mmap = 0x9500

/// QEMU-like multiboot1 information: memory, command line, two modules, memory map, name, framebuffer.
func sampleMultiboot1(flags: UInt32 = 1 | 4 | 8 | 64 | 512 | 4096) -> PhysicalSpace {
    let space = PhysicalSpace(size: 0x10000)
    var info = ByteBuilder()
    info.u32(flags)
    info.u32(639)
    info.u32(130_944)
    info.u32(0x8000_ffff)  // boot device
    info.u32(UInt32(mb1Cmdline))
    info.u32(2)
    info.u32(UInt32(mb1Mods))
    for _ in 0..<4 { info.u32(0) }  // symbols
    info.u32(UInt32(sampleMap.count * 24))
    info.u32(UInt32(mb1Mmap))
    info.u32(0); info.u32(0)  // drives
    info.u32(0)  // config table
    info.u32(UInt32(mb1Name))
    info.u32(0)  // APM
    info.u32(0); info.u32(0); info.u16(0); info.u16(0); info.u16(0); info.u16(0)  // VBE
    #expect(info.bytes.count == 88)
    info.u64(0xfd00_0000); info.u32(3200); info.u32(800); info.u32(600); info.u8(32); info.u8(1)
    for v: UInt8 in [16, 8, 8, 8, 0, 8] { info.u8(v) }
    #expect(info.bytes.count == 116)
    space.put(info.bytes, at: mb1Info)
    space.put(Array("kernel.elf test".utf8) + [0], at: mb1Cmdline)
    space.put(Array("qemu".utf8) + [0], at: mb1Name)
    var mods = ByteBuilder()
    mods.u32(0x200000); mods.u32(0x212345); mods.u32(UInt32(mb1ModStrings)); mods.u32(0)
    mods.u32(0x300000); mods.u32(0x300000); mods.u32(0); mods.u32(0)
    space.put(mods.bytes, at: mb1Mods)
    space.put(Array("init".utf8) + [0], at: mb1ModStrings)
    var mmap = ByteBuilder()
    for r in sampleMap {
        mmap.u32(20); mmap.u64(r.start); mmap.u64(r.length); mmap.u32(multibootType(r.kind))
    }
    space.put(mmap.bytes, at: mb1Mmap)
    return space
}

@Suite struct MultibootTests {
    @Test func multiboot2Everything() throws {
        let bytes = sampleMultiboot2()
        let info = try parse2(bytes)
        #expect(info.protocolVersion == 2)
        #expect(info.commandLine == Array("test log=debug".utf8))
        #expect(info.bootloaderName == Array("GRUB 2.12".utf8))
        #expect(info.modules == [
            BootModule(start: 0x200000, end: 0x212345, string: Array("/boot/init arg".utf8)),
            BootModule(start: 0x300000, end: 0x301000, string: []),
        ])
        #expect(info.memoryLowerKiB == 639)
        #expect(info.memoryUpperKiB == 130_944)
        #expect(info.memoryMap == sampleMap)
        #expect(info.framebuffer == Framebuffer(address: 0xfd00_0000, pitch: 4096, width: 1024, height: 768, bpp: 32, type: 1))
        #expect(info.infoRange == PhysicalRange(start: 0x10000, length: UInt64(bytes.count)))
        #expect(info.reservedRanges.isEmpty)
    }

    @Test func multiboot2Dispatch() throws {
        let bytes = sampleMultiboot2()
        try bytes.withUnsafeBytes { raw in
            let info = try BootInfo.parse(magic: 0x36d7_6289, info: raw.baseAddress!, physicalAddress: 0) { _, _ in nil }
            #expect(info.protocolVersion == 2)
            #expect(throws: BootInfoError.unknownMagic) {
                try BootInfo.parse(magic: 0x1234, info: raw.baseAddress!, physicalAddress: 0) { _, _ in nil }
            }
        }
    }

    @Test func multiboot2MinimalAndBasicMemoryFallback() throws {
        var b = ByteBuilder()
        b.u32(16); b.u32(0); b.u32(0); b.u32(8)
        let empty = try parse2(b.bytes)
        #expect(empty.memoryMap.isEmpty && empty.commandLine.isEmpty && empty.framebuffer == nil)

        var c = ByteBuilder()
        c.u32(0); c.u32(0)
        mb2Tag(&c, type: 4) { $0.u32(640); $0.u32(1024) }
        mb2Tag(&c, type: 0) { _ in }
        c.put32(UInt32(c.bytes.count), at: 0)
        #expect(try parse2(c.bytes).memoryMap == [
            MemoryRegion(start: 0, length: 640 * 1024, kind: .usable),
            MemoryRegion(start: 0x100000, length: 1024 * 1024, kind: .usable),
        ])
    }

    @Test func multiboot2Malformed() {
        var bytes = sampleMultiboot2()
        // Total size implausible.
        var small = bytes
        small[0] = 15; small[1] = 0; small[2] = 0; small[3] = 0
        #expect(throws: BootInfoError.badTotalSize) { try parse2(small) }
        var huge = bytes
        huge[2] = 0x20  // 2 MiB and more
        #expect(throws: BootInfoError.badTotalSize) { try parse2(huge) }
        // Total size cut before the end tag, mid-tag and at a tag header.
        #expect(throws: BootInfoError.missingEndTag) { try parse2(setTotal(bytes, bytes.count - 8)) }
        #expect(throws: BootInfoError.truncated) { try parse2(setTotal(bytes, 20)) }
        #expect(throws: BootInfoError.badTotalSize) { try parse2(setTotal(bytes, 12)) }
        // A tag smaller than its header.
        bytes[12] = 4; bytes[13] = 0
        #expect(throws: BootInfoError.badTag) { try parse2(bytes) }
        // A module tag too short, a memory map with tiny entries, a framebuffer tag too short.
        let cases: [(UInt32, [UInt8], BootInfoError)] = [
            (3, [UInt8](repeating: 0, count: 4), .badTag),
            (6, [8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8], .badMemoryMap),
            (8, [UInt8](repeating: 0, count: 16), .badTag),
            (3, [0, 0x10, 0, 0, 0, 0, 0, 0, 0], .badModules),
        ]
        for (type, payload, error) in cases {
            var b = ByteBuilder()
            b.u32(0); b.u32(0)
            mb2Tag(&b, type: type) { $0.bytes += payload }
            mb2Tag(&b, type: 0) { _ in }
            b.put32(UInt32(b.bytes.count), at: 0)
            #expect(throws: error) { try parse2(b.bytes) }
        }
        // A command line over the string limit.
        var long = ByteBuilder()
        long.u32(0); long.u32(0)
        mb2Tag(&long, type: 1) { $0.cString(String(repeating: "a", count: 5000)) }
        mb2Tag(&long, type: 0) { _ in }
        long.put32(UInt32(long.bytes.count), at: 0)
        #expect(throws: BootInfoError.stringTooLong) { try parse2(long.bytes) }
    }

    /// Multiboot2 information with ACPI tags of the given types, each holding `rsdp`.
    func withACPITags(_ tags: [(UInt32, [UInt8])]) -> [UInt8] {
        var b = ByteBuilder()
        b.u32(0); b.u32(0)
        for (type, rsdp) in tags { mb2Tag(&b, type: type) { $0.bytes += rsdp } }
        mb2Tag(&b, type: 0) { _ in }
        b.put32(UInt32(b.bytes.count), at: 0)
        return b.bytes
    }

    @Test func multiboot2ACPITagsKeepTheRSDPCopy() throws {
        let old = [UInt8](repeating: 1, count: 20), new = [UInt8](repeating: 2, count: 36)
        #expect(try parse2(sampleMultiboot2()).acpiRSDP == nil)
        let oldOnly = try parse2(withACPITags([(14, old)]))
        #expect(oldOnly.acpiRSDP == old && oldOnly.acpiTagType == 14)
        // The new tag wins in either order.
        let orders: [[(UInt32, [UInt8])]] = [[(14, old), (15, new)], [(15, new), (14, old)]]
        for tags in orders {
            let both = try parse2(withACPITags(tags))
            #expect(both.acpiRSDP == new && both.acpiTagType == 15)
        }
        // An empty or oversized copy is kept (at most 64 bytes) for the ACPI parser to refuse, not a boot failure.
        #expect(try parse2(withACPITags([(14, [])])).acpiRSDP == [])
        #expect(try parse2(withACPITags([(15, [UInt8](repeating: 3, count: 100))])).acpiRSDP == [UInt8](repeating: 3, count: 64))
    }

    func setTotal(_ bytes: [UInt8], _ total: Int) -> [UInt8] {
        var b = ByteBuilder(bytes: bytes)
        b.put32(UInt32(total), at: 0)
        return b.bytes
    }

    @Test func multiboot2EveryTruncationAndGarbage() {
        let bytes = sampleMultiboot2()
        // Every total size up to the real one: an error or a consistent prefix, never a crash.
        for total in 0...bytes.count {
            _ = try? parse2(setTotal(bytes, total))
        }
        var rng = SplitMix(seed: 42)
        for _ in 0..<2000 {
            var garbage = bytes
            // Flip a few random bytes of a valid structure, sometimes everything.
            let flips = rng.next() % 10 == 0 ? garbage.count : Int(rng.next() % 6) + 1
            for _ in 0..<flips { garbage[Int(rng.next() % UInt64(garbage.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            let total = Int(rng.next() % UInt64(bytes.count + 1))
            _ = try? parse2(rng.next() % 2 == 0 ? garbage : setTotal(garbage, total))
        }
    }

    @Test func multiboot1Everything() throws {
        let info = try sampleMultiboot1().parse1(infoAt: mb1Info)
        #expect(info.protocolVersion == 1)
        #expect(info.commandLine == Array("kernel.elf test".utf8))
        #expect(info.bootloaderName == Array("qemu".utf8))
        #expect(info.modules == [
            BootModule(start: 0x200000, end: 0x212345, string: Array("init".utf8)),
            BootModule(start: 0x300000, end: 0x300000, string: []),
        ])
        #expect(info.memoryLowerKiB == 639 && info.memoryUpperKiB == 130_944)
        #expect(info.memoryMap == sampleMap)
        #expect(info.framebuffer == Framebuffer(address: 0xfd00_0000, pitch: 3200, width: 800, height: 600, bpp: 32, type: 1))
        #expect(info.infoRange == PhysicalRange(start: UInt64(mb1Info), length: 116))
        let reserved = info.reservedRanges
        #expect(reserved.contains(PhysicalRange(start: UInt64(mb1Cmdline), length: 16)))
        #expect(reserved.contains(PhysicalRange(start: UInt64(mb1Name), length: 5)))
        #expect(reserved.contains(PhysicalRange(start: UInt64(mb1Mods), length: 32)))
        #expect(reserved.contains(PhysicalRange(start: UInt64(mb1ModStrings), length: 5)))
        #expect(reserved.contains(PhysicalRange(start: UInt64(mb1Mmap), length: UInt64(sampleMap.count * 24))))
    }

    @Test func multiboot1FlagsSelectFields() throws {
        // Only basic memory: no pointers followed, the map made from mem_lower/mem_upper.
        let space = sampleMultiboot1(flags: 1)
        space.put32(0xdead_0000, at: mb1Info + 16)  // bogus command line pointer, ignored
        let info = try space.parse1(infoAt: mb1Info)
        #expect(info.commandLine.isEmpty && info.modules.isEmpty && info.framebuffer == nil)
        #expect(info.infoRange.length == 88)
        #expect(info.memoryMap == [
            MemoryRegion(start: 0, length: 639 * 1024, kind: .usable),
            MemoryRegion(start: 0x100000, length: 130_944 * 1024, kind: .usable),
        ])
        let none = try sampleMultiboot1(flags: 0).parse1(infoAt: mb1Info)
        #expect(none.memoryMap.isEmpty && none.reservedRanges.isEmpty)
    }

    @Test func multiboot1Malformed() {
        func expectError(_ error: BootInfoError, _ change: (PhysicalSpace) -> Void) {
            let space = sampleMultiboot1()
            change(space)
            #expect(throws: error) { try space.parse1(infoAt: mb1Info) }
        }
        expectError(.unreadable(0x10_0000)) { $0.put32(0x10_0000, at: mb1Info + 16) }  // command line
        expectError(.unreadable(0xffff_fff0)) { $0.put32(0xffff_fff0, at: mb1Info + 64) }  // loader name
        expectError(.unreadable(0xfff0)) { $0.put32(0xfff0, at: mb1Info + 24) }  // module list past the end
        expectError(.unreadable(0xffc0)) { $0.put32(0xffc0, at: mb1Info + 48) }  // memory map past the end
        expectError(.badModules) { $0.put32(100_000, at: mb1Info + 20) }
        expectError(.badModules) { $0.put32(0x100, at: mb1Mods + 4) }  // ends before it starts
        expectError(.badMemoryMap) { $0.put32(0x2_0000, at: mb1Info + 44) }
        expectError(.badMemoryMap) { $0.put32(8, at: mb1Mmap) }  // entry too small
        expectError(.badMemoryMap) { $0.put32(20 * 24, at: mb1Mmap + 24) }  // entry past the map
        expectError(.badMemoryMap) { $0.put32(UInt32(sampleMap.count * 24 - 3), at: mb1Info + 44) }
        expectError(.stringTooLong) { $0.put([UInt8](repeating: 0x41, count: 5000), at: mb1Cmdline) }
        // A string running into the end of memory without a NUL.
        expectError(.unreadable(0x10000)) { $0.put([UInt8](repeating: 0x41, count: 16), at: 0xfff0); $0.put32(0xfff0, at: mb1Info + 64) }
    }

    @Test func multiboot1Garbage() {
        var rng = SplitMix(seed: 7)
        for round in 0..<500 {
            let space = sampleMultiboot1()
            // Scramble the info structure and the memory it points to.
            let flips = Int(rng.next() % 12) + 1
            for _ in 0..<flips {
                let at = mb1Info + Int(rng.next() % 0x600)
                space.memory[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            if round % 50 == 0 {
                for i in 0..<116 { space.memory[mb1Info + i] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            _ = try? space.parse1(infoAt: mb1Info)
        }
    }
}
