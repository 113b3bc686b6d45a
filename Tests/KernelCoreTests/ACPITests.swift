import Foundation
import Testing
@testable import KernelCore

/// Physical memory made of the segments a dump holds; everything else is unreadable. Where a grown
/// segment overlaps the next, the one starting last at or below the address is read.
struct FakeACPIMemory: ACPIMemory {
    /// Sorted by address, highest first.
    var segments: [(address: UInt64, bytes: [UInt8])] = [] {
        didSet { if !zip(segments, segments.dropFirst()).allSatisfy({ $0.address >= $1.address }) { segments.sort { $0.address > $1.address } } }
    }

    func read(_ address: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0 else { return nil }
        for s in segments where address >= s.address && address - s.address <= UInt64(s.bytes.count) {
            let offset = Int(address - s.address)
            guard count <= s.bytes.count - offset else { continue }
            return Array(s.bytes[offset..<(offset + count)])
        }
        return nil
    }

    /// The segment starting at `address` (a table), to corrupt in place.
    mutating func modify(at address: UInt64, _ change: (inout [UInt8]) -> Void) {
        let i = segments.firstIndex { $0.address == address }!
        change(&segments[i].bytes)
    }
}

/// A dump made by scripts/acpi-testdata.sh from a real QEMU boot: the RSDP the kernel started from and
/// the memory it read.
struct ACPIDumpFile {
    var name: String
    var rsdp: (address: UInt64, bytes: [UInt8])
    var memory: FakeACPIMemory

    static let names = ["q35-smp1", "q35-smp4", "pc-smp1", "pc-smp4", "q35-smp2-grub", "pc-smp2-uefi", "q35-smp4-uefi"]

    init(_ name: String) throws {
        self.name = name
        let url = try #require(Bundle.module.url(forResource: "Resources/ACPI/\(name)", withExtension: "acpi"))
        var rsdp: (UInt64, [UInt8])?
        memory = FakeACPIMemory()
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            let words = line.split(separator: " ")
            try #require(words.count == 3, "bad line in \(name): \(line)")
            let address = try #require(UInt64(words[1].dropFirst(2), radix: 16))
            let bytes = try ACPIDumpFile.hex(words[2])
            if words[0] == "rsdp" { rsdp = (address, bytes) } else { memory.segments.append((address, bytes)) }
        }
        self.rsdp = try #require(rsdp, "no rsdp line in \(name)")
    }

    static func hex(_ text: Substring) throws -> [UInt8] {
        let chars = Array(text.utf8)
        try #require(chars.count % 2 == 0)
        return try stride(from: 0, to: chars.count, by: 2).map { i in
            try #require(UInt8(String(decoding: chars[i..<(i + 2)], as: UTF8.self), radix: 16))
        }
    }

    /// Boots from a BIOS (`-kernel`) dump found the RSDP by the scan; GRUB and OVMF boots had a tag's copy.
    var rsdpCopy: [UInt8]? { rsdp.address == 0 ? rsdp.bytes : nil }

    func parse() -> ACPIInfo { ACPI.parse(rsdpCopy: rsdpCopy, memory: memory) }

    var machineIsQ35: Bool { name.hasPrefix("q35") }
    var cpus: Int { Int(name.split(separator: "-")[1].dropFirst(3))! }

    /// The address of the first table with this signature, from the parse of the unmodified dump.
    func address(of signature: ACPISignature) -> UInt64 {
        parse().tables.first { $0.signature == signature }!.address
    }
}

/// Sets byte 9 (the checksum) so the table sums to zero again.
func fixChecksum(_ bytes: inout [UInt8]) {
    bytes[9] = 0
    bytes[9] = 0 &- bytes.reduce(0, &+)
}

func sig(_ s: String) -> ACPISignature {
    let b = Array(s.utf8)
    return ACPISignature(b[0], b[1], b[2], b[3])
}

@Suite struct ACPITests {
    // MARK: Real tables

    @Test(arguments: ACPIDumpFile.names) func realTablesParseWithoutProblems(name: String) throws {
        let dump = try ACPIDumpFile(name)
        let info = dump.parse()
        #expect(info.problems.isEmpty, "\(info.problems)")
        let madt = try #require(info.madt)
        #expect(madt.enabledProcessorCount == dump.cpus)
        #expect(madt.processors.map(\.apicID) == (0..<dump.cpus).map(UInt32.init))
        #expect(madt.localAPICAddress == 0xFEE0_0000)
        #expect(madt.hasLegacyPICs)
        #expect(madt.ioAPICs == [IOAPIC(id: 0, address: 0xFEC0_0000, gsiBase: 0)])
        // QEMU routes ISA IRQ 0 to GSI 2 and makes the PCI interrupt lines level-triggered.
        #expect(madt.overrides.first == InterruptOverride(bus: 0, source: 0, gsi: 2, flags: 0))
        #expect(madt.overrides.contains { $0.source == 9 && $0.gsi == 9 && $0.levelTriggered && !$0.activeLow })
        #expect(madt.localNMIs.contains { $0.allProcessors && $0.lint == 1 })
        let hpet = try #require(info.hpet)
        #expect(hpet.address == GenericAddress(addressSpace: 0, bitWidth: 0, bitOffset: 0, accessSize: 0, address: 0xFED0_0000))
        #expect(hpet.vendorID == 0x8086 && hpet.comparatorCount == 3 && hpet.counterIs64Bit)
        let fadt = try #require(info.fadt)
        #expect(fadt.century == 0x32)
        #expect(fadt.pmTimer?.addressSpace == GenericAddress.systemIO)
        // SeaBIOS puts the PM block at 0x600 on both machines; OVMF moves the PIIX4's to 0xB000.
        #expect(fadt.pmTimer?.address == (dump.name == "pc-smp2-uefi" ? 0xB008 : 0x608))
        #expect(fadt.has8042)
        if dump.machineIsQ35 {
            #expect(info.mcfg == [MCFGEntry(base: 0xB000_0000, segment: 0, startBus: 0, endBus: 255)])
            #expect(fadt.resetRegister?.address == 0xCF9 && fadt.resetValue == 0x0F)
        } else {
            #expect(!info.hasMCFG && info.mcfg.isEmpty)
        }
        let signatures = Set(info.tables.map(\.signature))
        #expect(signatures.isSuperset(of: [sig("FACP"), sig("APIC"), sig("HPET")]))
        #expect(info.tables.filter { $0.signature == .madt || $0.signature == .fadt }.allSatisfy { $0.oemID == Array("BOCHS ".utf8) })
    }

    @Test func biosBootsFoundTheRSDPByTheScanAndUseTheRSDT() throws {
        for name in ["q35-smp1", "q35-smp4", "pc-smp1", "pc-smp4"] {
            let dump = try ACPIDumpFile(name)
            #expect(dump.rsdpCopy == nil)
            var problems: [ACPIProblem] = []
            #expect(ACPI.scanForRSDP(dump.memory, problems: &problems) == dump.rsdp.address)
            #expect(problems.isEmpty)
            let info = dump.parse()
            #expect(info.rsdp?.revision == 0 && !info.usedXSDT)
            #expect(info == ACPI.parse(rsdpAt: dump.rsdp.address, memory: dump.memory))
        }
    }

    @Test func grubAndOVMFBootsHandOverTheRSDPInATag() throws {
        let grub = try ACPIDumpFile("q35-smp2-grub").parse()
        #expect(grub.rsdp?.revision == 0 && grub.rsdp?.address == 0 && !grub.usedXSDT)
        let uefi = try ACPIDumpFile("pc-smp2-uefi").parse()
        #expect(uefi.rsdp?.revision == 2 && uefi.usedXSDT)
        #expect(uefi.tables.first?.signature == .xsdt)
        // OVMF's pc FADT is the 116-byte ACPI 1.0 form: no boot flags, legacy devices assumed.
        #expect(uefi.fadt?.bootFlags == nil && uefi.fadt?.hasLegacyDevices == true)
    }

    @Test func x2APICEntriesAndTheAddressOverride() throws {
        // The real MADT with entries QEMU gives only above 255 CPUs: an x2APIC, its NMI, an address override.
        var dump = try ACPIDumpFile("q35-smp1")
        let madt = dump.address(of: .madt)
        dump.memory.modify(at: madt) { t in
            var b = ByteBuilder()
            b.u8(9); b.u8(16); b.u16(0); b.u32(0x1_0000); b.u32(1); b.u32(300)       // x2APIC 65536, UID 300
            b.u8(10); b.u8(12); b.u16(5); b.u32(0xFFFF_FFFF); b.u8(1); b.u8(0); b.u16(0)  // NMI on LINT1, all
            b.u8(5); b.u8(12); b.u16(0); b.u64(0x1_FEE0_0000)                        // local APIC address override
            b.u8(3); b.u8(8); b.u16(0xD); b.u32(23)                                  // NMI source GSI 23
            t += b.bytes
            t[4] = UInt8(t.count & 0xFF); t[5] = UInt8(t.count >> 8)
            fixChecksum(&t)
        }
        let info = dump.parse()
        #expect(info.problems.isEmpty)
        let m = try #require(info.madt)
        #expect(m.processors.last == LocalAPIC(processorUID: 300, apicID: 0x1_0000, flags: 1, isX2APIC: true))
        #expect(m.enabledProcessorCount == 2)
        #expect(m.localNMIs.last == LocalAPICNMI(processorUID: 0xFFFF_FFFF, flags: 5, lint: 1))
        #expect(m.localNMIs.last?.allProcessors == true)
        #expect(m.localAPICAddress == 0x1_FEE0_0000)
        #expect(m.nmiSources == [NMISource(flags: 0xD, gsi: 23)])
    }

    // MARK: Corrupted copies

    @Test(arguments: ACPIDumpFile.names) func badTableChecksumSkipsOnlyThatTable(name: String) throws {
        var dump = try ACPIDumpFile(name)
        let address = dump.address(of: .madt)
        dump.memory.modify(at: address) { $0[50] &+= 1 }
        let info = dump.parse()
        #expect(info.problems == [.badChecksum(signature: .madt, address: address)])
        #expect(info.madt == nil)
        #expect(info.hpet != nil && info.fadt != nil)
    }

    @Test func shortAndOverlongLengthsAreSkipped() throws {
        var dump = try ACPIDumpFile("q35-smp4")
        let hpet = dump.address(of: .hpet), madt = dump.address(of: .madt), mcfg = dump.address(of: .mcfg)
        // A length under the header; one past the end of readable memory; one over the limit.
        dump.memory.modify(at: hpet) { $0[4] = 20; fixChecksum(&$0) }
        dump.memory.modify(at: madt) { $0[4] = 0; $0[5] = 0x10; fixChecksum(&$0) }
        dump.memory.modify(at: mcfg) { $0[4] = 0; $0[5] = 0; $0[6] = 0; $0[7] = 0x40; fixChecksum(&$0) }
        let info = dump.parse()
        #expect(info.problems.contains(.badLength(signature: .hpet, address: hpet, length: 20)))
        #expect(info.problems.contains(.unreadable(address: madt)))
        #expect(info.problems.contains(.badLength(signature: .mcfg, address: mcfg, length: 0x4000_0000)))
        #expect(info.problems.count == 3)
        #expect(info.hpet == nil && info.madt == nil && !info.hasMCFG && info.fadt != nil)
    }

    @Test func tableTooShortForItsTypeIsSkipped() throws {
        var dump = try ACPIDumpFile("q35-smp1")
        let hpet = dump.address(of: .hpet)
        dump.memory.modify(at: hpet) { $0[4] = 40; $0.removeLast($0.count - 40); fixChecksum(&$0) }
        let info = dump.parse()
        #expect(info.problems == [.badLength(signature: .hpet, address: hpet, length: 40)])
        #expect(info.hpet == nil)
    }

    @Test func unknownAndMalformedMADTEntriesAreSkipped() throws {
        var dump = try ACPIDumpFile("pc-smp4")
        let madt = dump.address(of: .madt)
        let original = try #require(dump.parse().madt)
        var length = 0
        dump.memory.modify(at: madt) { t in
            t += [0x7F, 4, 0xAA, 0xBB]          // an unknown type, skipped by its length
            t += [0x01, 6, 0, 0, 0, 0]         // an IOAPIC entry too short for its type
            t += [0x00, 0]                     // a zero length: the rest is skipped
            t += [0x00, 8, 9, 9, 1, 0, 0, 0]   // never reached
            length = t.count
            t[4] = UInt8(length & 0xFF); t[5] = UInt8(length >> 8)
            fixChecksum(&t)
        }
        let start = length - 20
        let info = dump.parse()
        #expect(info.problems == [.unknownEntry(type: 0x7F, offset: start), .badEntry(type: 1, offset: start + 4, length: 6),
                                  .badEntry(type: 0, offset: start + 10, length: 0)])
        #expect(info.madt == original)
    }

    @Test func madtEntryRunningPastTheTableIsSkipped() throws {
        var dump = try ACPIDumpFile("q35-smp1")
        let madt = dump.address(of: .madt)
        dump.memory.modify(at: madt) { t in
            t += [0x09, 16, 0, 0]   // an x2APIC entry cut short by the table's end
            t[4] = UInt8(t.count & 0xFF); t[5] = UInt8(t.count >> 8)
            fixChecksum(&t)
        }
        let info = dump.parse()
        #expect(info.problems.count == 1)
        guard case .badEntry(type: 9, _, length: 16) = info.problems.first else { Issue.record("\(info.problems)"); return }
        #expect(info.madt?.processors.count == 1)
    }

    @Test func tablePointingOutsideMemoryIsSkipped() throws {
        for name in ["q35-smp4", "pc-smp2-uefi"] {
            var dump = try ACPIDumpFile(name)
            let info0 = dump.parse()
            let root = try #require(info0.tables.first)
            let entrySize = root.signature == .xsdt ? 8 : 4
            dump.memory.modify(at: root.address) { t in
                for i in 0..<entrySize { t[36 + i] = 0 }
                t[36 + 3] = 0xE0   // the first entry now points at 0xE0000000
                fixChecksum(&t)
            }
            let info = dump.parse()
            #expect(info.problems == [.unreadable(address: 0xE000_0000)])
            #expect(info.tables.count == info0.tables.count - 1)
        }
    }

    @Test func badRSDPChecksumsFallBack() throws {
        // A BIOS dump: the scan reports the bad candidate and finds nothing else.
        var bios = try ACPIDumpFile("pc-smp1")
        bios.memory.modify(at: bios.rsdp.address) { $0[8] &+= 1 }
        let info = bios.parse()
        #expect(info.problems == [.rsdpChecksum(address: bios.rsdp.address), .noRSDP])
        #expect(info.rsdp == nil && info.tables.isEmpty)
        // An ACPI 2.0 RSDP with a bad extended checksum: the RSDT is used instead of the XSDT.
        let uefi = try ACPIDumpFile("pc-smp2-uefi")
        var copy = uefi.rsdp.bytes
        copy[32] = 0x55
        let fallback = ACPI.parse(rsdpCopy: copy, memory: uefi.memory)
        #expect(fallback.problems == [.rsdpExtended(address: 0)])
        #expect(!fallback.usedXSDT)
    }

    @Test func badXSDTFallsBackToTheRSDT() throws {
        var dump = try ACPIDumpFile("pc-smp2-uefi")
        let good = dump.parse()
        let xsdt = try #require(good.tables.first)
        dump.memory.modify(at: xsdt.address) { $0[0] = UInt8(ascii: "Y"); fixChecksum(&$0) }
        let info = dump.parse()
        #expect(info.problems == [.wrongSignature(expected: .xsdt, found: sig("YSDT"), address: xsdt.address)])
        #expect(!info.usedXSDT)
        #expect(info.madt == good.madt && info.fadt == good.fadt)
    }

    @Test func noMemoryAtAllFindsNoRSDP() {
        let info = ACPI.parse(rsdpCopy: nil, memory: FakeACPIMemory())
        #expect(info.problems == [.noRSDP])
        let short = ACPI.parse(rsdpCopy: [0x52, 0x53], memory: FakeACPIMemory())
        #expect(short.problems == [.rsdpChecksum(address: 0), .noRSDP])
    }

    @Test func kernelReadsOnlyTheBIOSAreaAndMappedRegionsBelowTheLimit() {
        let map = [MemoryRegion(start: 0x10_0000, length: 0x1FE0_0000, kind: .usable),
                   MemoryRegion(start: 0x1FEE_0000, length: 0x2_0000, kind: .reserved),
                   MemoryRegion(start: 0xFFFC_0000, length: 0x4_0000, kind: .reserved)]
        let limit: UInt64 = 4 << 30
        #expect(ACPI.mayRead(0xF59E0, 36, limit: limit, regions: map), "BIOS area")
        #expect(ACPI.mayRead(0xFFFF0, 0x20, limit: limit, regions: map), "across 1 MiB into a region")
        #expect(ACPI.mayRead(0x1FEE_23E7, 56, limit: limit, regions: map), "ACPI tables in a reserved region")
        #expect(ACPI.mayRead(0x1FED_FFF0, 0x20, limit: limit, regions: map), "across two adjacent regions")
        #expect(!ACPI.mayRead(0x1FEF_FFF0, 0x20, limit: limit, regions: map), "running past the last region")
        #expect(!ACPI.mayRead(0xFEC0_0000, 4, limit: limit, regions: map), "the IOAPIC's registers")
        #expect(!ACPI.mayRead(0xFFFF_FFF0, 0x20, limit: limit, regions: map), "past the direct map")
        #expect(!ACPI.mayRead(limit, 0, limit: limit, regions: map))
        #expect(!ACPI.mayRead(0, -1, limit: limit, regions: map))
        #expect(!ACPI.mayRead(UInt64.max - 4, 8, limit: UInt64.max, regions: [MemoryRegion(start: 1 << 20, length: UInt64.max, kind: .usable)]))
    }

    // MARK: Fuzzing

    /// Random mutations of the real tables (byte flips, lengths, truncations, with and without a fixed
    /// checksum): the parser returns on every input, and what it accepts is consistent.
    @Test(arguments: ACPIDumpFile.names) func randomMutationsNeverTrap(name: String) throws {
        let dump = try ACPIDumpFile(name)
        var random = SplitMixRandom(seed: UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        for iteration in 0..<1000 {
            var memory = dump.memory
            let s = Int(random.next(below: UInt64(memory.segments.count)))
            var bytes = memory.segments[s].bytes
            for _ in 0...random.next(below: 4) {
                guard !bytes.isEmpty else { break }
                let at = Int(random.next(below: UInt64(bytes.count)))
                switch random.next(below: 4) {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next(below: 256))
                case 1: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: at)
                case 2: bytes.removeLast(bytes.count - at)
                default: if bytes.count >= 8 { bytes[4] = UInt8(truncatingIfNeeded: random.next(below: 256)); bytes[5] = 0 }
                }
            }
            if bytes.count >= 36 && random.next(below: 2) == 0 { fixChecksum(&bytes) }
            memory.segments[s].bytes = bytes
            let copy = dump.rsdpCopy.map { c in random.next(below: 8) == 0 ? Array(c.prefix(Int(random.next(below: 40)))) : c }
            // The BIOS area scan is slow in a debug build: most BIOS-dump iterations start at the RSDP.
            let info = copy == nil && iteration % 50 != 0 ? ACPI.parse(rsdpAt: dump.rsdp.address, memory: memory)
                : ACPI.parse(rsdpCopy: copy, memory: memory)
            for t in info.tables {
                let read = try #require(memory.read(t.address, count: Int(t.length)))
                #expect(read.reduce(0, &+) == 0, "an accepted table sums to zero")
            }
            if let madt = info.madt, let t = info.tables.first(where: { $0.signature == .madt }) {
                #expect(madt.processors.count <= (Int(t.length) - 44) / 8)
            }
        }
    }
}

/// splitmix64 as a stream of numbers, for reproducible fuzzing (Core/SplitMix.swift).
typealias SplitMixRandom = SplitMix64
