// ACPI table discovery and parsing: the RSDP (from a multiboot2 tag's copy, or found by the BIOS area
// scan), the XSDT or RSDT, and the tables the kernel needs: MADT (CPUs, IOAPICs, interrupt overrides,
// NMIs), HPET, MCFG (PCI ECAM) and FADT (PM timer, century, boot flags, reset register).
//
// The tables come from firmware, so nothing in them is trusted: every read goes through an `ACPIMemory`
// that refuses what it cannot read, every length is checked against what holds it, every checksum is
// verified, and whatever fails is skipped and recorded as an `ACPIProblem` (the kernel logs one line per
// problem). No input makes the parser trap. The logic touches no hardware, so the host tests feed it real
// tables dumped from QEMU and corrupted copies of them, and the kernel feeds it the direct map.

/// Physical memory as the ACPI parser reads it.
public protocol ACPIMemory {
    /// The `count` bytes at physical `address`, or nil when any of them cannot be read.
    func read(_ address: UInt64, count: Int) -> [UInt8]?
}

/// A four-character table signature, stored as its little-endian bytes ("APIC" is 0x43495041).
public struct ACPISignature: Equatable, Hashable, Sendable {
    public var raw: UInt32

    public init(raw: UInt32) { self.raw = raw }

    /// The signature of four ASCII characters.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        raw = UInt32(a) | UInt32(b) << 8 | UInt32(c) << 16 | UInt32(d) << 24
    }

    /// The four characters, as bytes.
    public var bytes: [UInt8] { [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: raw >> UInt32($0)) } }

    public static let rsdt = ACPISignature(82, 83, 68, 84)   // RSDT
    public static let xsdt = ACPISignature(88, 83, 68, 84)   // XSDT
    public static let madt = ACPISignature(65, 80, 73, 67)   // APIC
    public static let hpet = ACPISignature(72, 80, 69, 84)   // HPET
    public static let mcfg = ACPISignature(77, 67, 70, 71)   // MCFG
    public static let fadt = ACPISignature(70, 65, 67, 80)   // FACP
}

/// Why part of the tables was skipped. Each is one log line; none stops the rest of the parse.
public enum ACPIProblem: Equatable, Sendable {
    /// No RSDP in the multiboot tags nor in the BIOS areas.
    case noRSDP
    /// An RSDP whose 20-byte checksum is wrong (address 0: the multiboot tag's copy).
    case rsdpChecksum(address: UInt64)
    /// A revision 2 RSDP whose extended checksum, or length, is wrong; its RSDT is used.
    case rsdpExtended(address: UInt64)
    /// A table (or the RSDP) at an address that cannot be read, whole or in part.
    case unreadable(address: UInt64)
    /// A table whose length is shorter than its header or its type needs, or implausibly long.
    case badLength(signature: ACPISignature, address: UInt64, length: UInt32)
    /// A table whose bytes do not sum to zero.
    case badChecksum(signature: ACPISignature, address: UInt64)
    /// The RSDT or XSDT address holds another signature.
    case wrongSignature(expected: ACPISignature, found: ACPISignature, address: UInt64)
    /// A second table of a kind only one is used of; the first is kept.
    case duplicate(signature: ACPISignature, address: UInt64)
    /// More root entries than `ACPI.maxTables`; the rest are ignored.
    case tooManyTables(count: Int)
    /// A MADT entry whose length is too small for its type or runs past the table; the rest are skipped.
    case badEntry(type: UInt8, offset: Int, length: UInt8)
    /// A MADT entry of a type this parser does not know; skipped.
    case unknownEntry(type: UInt8, offset: Int)
}

/// The RSDP as found.
public struct RSDP: Equatable, Sendable {
    /// Its physical address (0 for the copy in a multiboot2 tag).
    public var address: UInt64
    /// 0 for ACPI 1.0 (RSDT only), 2 and above for XSDT-capable firmware.
    public var revision: UInt8
    public var oemID: [UInt8]
    public var rsdtAddress: UInt32
    /// 0 when absent or when the extended part failed its checks.
    public var xsdtAddress: UInt64
}

/// A table header as read from the root table.
public struct ACPITable: Equatable, Sendable {
    public var signature: ACPISignature
    public var address: UInt64
    public var length: UInt32
    public var revision: UInt8
    public var oemID: [UInt8]
    public var oemTableID: [UInt8]
    public var oemRevision: UInt32
}

/// An ACPI Generic Address Structure.
public struct GenericAddress: Equatable, Sendable {
    /// 0 system memory, 1 system I/O, 2 PCI configuration space.
    public var addressSpace: UInt8
    public var bitWidth: UInt8
    public var bitOffset: UInt8
    public var accessSize: UInt8
    public var address: UInt64

    public static let systemMemory: UInt8 = 0
    public static let systemIO: UInt8 = 1
}

/// A processor's local APIC (MADT types 0 and 9).
public struct LocalAPIC: Equatable, Sendable {
    public var processorUID: UInt32
    public var apicID: UInt32
    public var flags: UInt32
    /// From a Processor Local x2APIC entry.
    public var isX2APIC: Bool

    /// The processor can be used now.
    public var enabled: Bool { flags & 1 != 0 }
    /// The processor is disabled but can be brought online later.
    public var onlineCapable: Bool { flags & 2 != 0 }
}

/// An I/O APIC (MADT type 1).
public struct IOAPIC: Equatable, Sendable {
    public var id: UInt8
    public var address: UInt32
    /// The first global system interrupt it serves.
    public var gsiBase: UInt32
}

/// An ISA interrupt that reaches another GSI, or another polarity or trigger mode (MADT type 2).
public struct InterruptOverride: Equatable, Sendable {
    public var bus: UInt8
    /// The ISA IRQ.
    public var source: UInt8
    public var gsi: UInt32
    /// MPS INTI flags: polarity in bits 0-1 (1 high, 3 low), trigger in bits 2-3 (1 edge, 3 level).
    public var flags: UInt16

    public var activeLow: Bool { flags & 3 == 3 }
    public var levelTriggered: Bool { (flags >> 2) & 3 == 3 }
}

/// A GSI that is to be an NMI (MADT type 3).
public struct NMISource: Equatable, Sendable {
    public var flags: UInt16
    public var gsi: UInt32
}

/// A local APIC LINT pin wired to NMI (MADT types 4 and 10).
public struct LocalAPICNMI: Equatable, Sendable {
    /// The processor, or 0xFF (type 4) / 0xFFFFFFFF (type 10) for all.
    public var processorUID: UInt32
    public var flags: UInt16
    public var lint: UInt8

    public var allProcessors: Bool { processorUID == 0xFF || processorUID == 0xFFFF_FFFF }
}

/// The Multiple APIC Description Table.
public struct MADT: Equatable, Sendable {
    /// The local APIC's physical address (a type 5 override replaces the 32-bit field).
    public var localAPICAddress: UInt64
    public var flags: UInt32
    public var processors: [LocalAPIC] = []
    public var ioAPICs: [IOAPIC] = []
    public var overrides: [InterruptOverride] = []
    public var nmiSources: [NMISource] = []
    public var localNMIs: [LocalAPICNMI] = []

    /// The machine also has 8259 PICs (PCAT_COMPAT), to be masked when the APICs are used.
    public var hasLegacyPICs: Bool { flags & 1 != 0 }
    /// Processors usable now.
    public var enabledProcessorCount: Int { processors.reduce(0) { $0 + ($1.enabled ? 1 : 0) } }
}

/// The HPET description table.
public struct HPETTable: Equatable, Sendable {
    public var eventTimerBlockID: UInt32
    public var address: GenericAddress
    public var number: UInt8
    public var minimumTick: UInt16
    public var pageProtection: UInt8

    public var vendorID: UInt16 { UInt16(truncatingIfNeeded: eventTimerBlockID >> 16) }
    public var comparatorCount: Int { Int((eventTimerBlockID >> 8) & 0x1F) + 1 }
    public var counterIs64Bit: Bool { eventTimerBlockID & (1 << 13) != 0 }
}

/// One PCI segment's memory-mapped configuration space (an MCFG entry).
public struct MCFGEntry: Equatable, Sendable {
    public var base: UInt64
    public var segment: UInt16
    public var startBus: UInt8
    public var endBus: UInt8
}

/// The FADT fields a kernel needs.
public struct FADT: Equatable, Sendable {
    public var revision: UInt8
    public var sciInterrupt: UInt16
    public var smiCommand: UInt32
    /// The ACPI PM timer (X_PM_TMR_BLK when given, else PM_TMR_BLK as an I/O port); nil when there is none.
    public var pmTimer: GenericAddress?
    /// The RTC CMOS index of the century, or 0 when the RTC has none.
    public var century: UInt8
    /// IAPC_BOOT_ARCH; nil in an ACPI 1.0 FADT (which has no such field: legacy devices are assumed).
    public var bootFlags: UInt16?
    public var flags: UInt32
    /// The reset register and the value to write, when the FADT says it is supported.
    public var resetRegister: GenericAddress?
    public var resetValue: UInt8
    public var dsdt: UInt64

    /// Bit 0 of IAPC_BOOT_ARCH: ISA devices (PS/2, RTC, ...) that need no ACPI enumeration exist.
    public var hasLegacyDevices: Bool { bootFlags.map { $0 & 1 != 0 } ?? true }
    /// Bit 1: an 8042 keyboard controller exists.
    public var has8042: Bool { bootFlags.map { $0 & 2 != 0 } ?? true }
    /// Bit 5: the CMOS RTC is absent.
    public var cmosRTCAbsent: Bool { bootFlags.map { $0 & 0x20 != 0 } ?? false }
    /// TMR_VAL_EXT: the PM timer counts 32 bits (else 24).
    public var pmTimerIs32Bit: Bool { flags & (1 << 8) != 0 }
}

/// Everything found, with what was skipped.
public struct ACPIInfo: Equatable, Sendable {
    public var rsdp: RSDP? = nil
    /// True when the tables were listed by the XSDT, false for the RSDT.
    public var usedXSDT = false
    /// Every table listed by the root table that passed its checks (the root table first).
    public var tables: [ACPITable] = []
    public var madt: MADT? = nil
    public var hpet: HPETTable? = nil
    /// Empty when there is no MCFG.
    public var mcfg: [MCFGEntry] = []
    public var hasMCFG = false
    public var fadt: FADT? = nil
    public var problems: [ACPIProblem] = []

    public init() {}
}

/// Little-endian reads within a table's bytes; out-of-range reads give nil.
struct TableBytes {
    /// A whole table (or RSDP), as read.
    let bytes: [UInt8]

    /// The byte at `at`.
    func u8(_ at: Int) -> UInt8? { at >= 0 && at < bytes.count ? bytes[at] : nil }

    /// The little-endian integer of `size` bytes (at most 8) at `at`.
    func uint(_ at: Int, _ size: Int) -> UInt64? {
        guard at >= 0, size >= 0, size <= 8, size <= bytes.count, at <= bytes.count - size else { return nil }
        var value: UInt64 = 0
        for i in (0..<size).reversed() { value = value << 8 | UInt64(bytes[at + i]) }
        return value
    }

    /// Little-endian 16, 32 and 64-bit fields.
    func u16(_ at: Int) -> UInt16? { uint(at, 2).map { UInt16(truncatingIfNeeded: $0) } }
    func u32(_ at: Int) -> UInt32? { uint(at, 4).map { UInt32(truncatingIfNeeded: $0) } }
    func u64(_ at: Int) -> UInt64? { uint(at, 8) }

    /// `count` bytes from `at`, or none when they are not all there.
    func slice(_ at: Int, _ count: Int) -> [UInt8] {
        guard at >= 0, count >= 0, count <= bytes.count, at <= bytes.count - count else { return [] }
        return Array(bytes[at..<(at + count)])
    }

    /// A Generic Address Structure (12 bytes) at `at`.
    func genericAddress(_ at: Int) -> GenericAddress? {
        guard let space = u8(at), let width = u8(at + 1), let offset = u8(at + 2), let size = u8(at + 3),
              let address = u64(at + 4) else { return nil }
        return GenericAddress(addressSpace: space, bitWidth: width, bitOffset: offset, accessSize: size, address: address)
    }

    /// True when the bytes in [from, from + count) sum to zero modulo 256.
    func sumsToZero(from: Int = 0, count: Int) -> Bool {
        guard from >= 0, count >= 0, count <= bytes.count, from <= bytes.count - count else { return false }
        var sum: UInt8 = 0
        for i in from..<(from + count) { sum &+= bytes[i] }
        return sum == 0
    }
}

/// Finding the RSDP and reading checked tables.
public enum ACPI {
    /// Longest table read (the tables parsed here are a few KiB at most; the DSDT is not read).
    public static let maxTableLength: UInt32 = 0x10_0000
    /// Most tables taken from the root table.
    public static let maxTables = 256
    /// Length of an ACPI table header.
    public static let headerLength = 36
    /// "RSD PTR " as a little-endian 64-bit word.
    static let rsdpSignature: UInt64 = 0x2052_5450_2044_5352

    /// Whether the kernel may read [address, address + count) for ACPI: all of it below `limit` (the
    /// direct map's size), and each byte either in the legacy BIOS area (below 1 MiB) or in a region of
    /// the boot memory map (of any kind), so that a bad table pointer never reaches device registers.
    public static func mayRead(_ address: UInt64, _ count: Int, limit: UInt64, regions: [MemoryRegion]) -> Bool {
        guard count >= 0, address < limit, UInt64(count) <= limit - address else { return false }
        let end = address + UInt64(count)
        var at = address
        while at < end {
            if at < FrameAllocator.lowMemoryLimit { at = FrameAllocator.lowMemoryLimit; continue }
            guard let r = regions.first(where: { $0.start <= at && at - $0.start < $0.length }) else { return false }
            at = r.start &+ r.length < r.start ? end : r.start + r.length
        }
        return true
    }

    // MARK: Finding the RSDP

    /// The BIOS area scan for firmware that hands over no RSDP: the first KiB of the EBDA (its segment
    /// is the word at 0x40E), then 0xE0000-0xFFFFF, on 16-byte boundaries. A candidate whose checksum
    /// fails is recorded and the scan goes on. Nil when none is found.
    public static func scanForRSDP<M: ACPIMemory>(_ memory: M, problems: inout [ACPIProblem]) -> UInt64? {
        if let word = memory.read(0x40E, count: 2).flatMap({ TableBytes(bytes: $0).u16(0) }), word != 0 {
            let ebda = UInt64(word) << 4
            if let found = scan(memory, from: ebda, to: ebda + 1024, &problems) { return found }
        }
        return scan(memory, from: 0xE_0000, to: 0x10_0000, &problems)
    }

    /// The first RSDP with a good 20-byte checksum in [from, to) on 16-byte boundaries.
    static func scan<M: ACPIMemory>(_ memory: M, from: UInt64, to: UInt64, _ problems: inout [ACPIProblem]) -> UInt64? {
        var at = from
        while at + 20 <= to {
            if let word = memory.read(at, count: 8).flatMap({ TableBytes(bytes: $0).u64(0) }), word == rsdpSignature {
                if let bytes = memory.read(at, count: 20), TableBytes(bytes: bytes).sumsToZero(count: 20) { return at }
                problems.append(.rsdpChecksum(address: at))
            }
            at += 16
        }
        return nil
    }

    /// Decodes an RSDP from its bytes (the 20-byte ACPI 1.0 part, and the 36-byte extension when the
    /// revision says there is one). A bad extension keeps the RSDT; a bad 20-byte part gives nil.
    public static func decodeRSDP(_ bytes: [UInt8], address: UInt64, problems: inout [ACPIProblem]) -> RSDP? {
        let b = TableBytes(bytes: bytes)
        guard b.u64(0) == rsdpSignature, b.sumsToZero(count: 20), let revision = b.u8(15),
              let rsdt = b.u32(16) else {
            problems.append(.rsdpChecksum(address: address))
            return nil
        }
        var rsdp = RSDP(address: address, revision: revision, oemID: b.slice(9, 6), rsdtAddress: rsdt, xsdtAddress: 0)
        if revision >= 2 {
            if let length = b.u32(20), length >= 36, length <= UInt32(bytes.count), b.sumsToZero(count: Int(length)),
               let xsdt = b.u64(24) {
                rsdp.xsdtAddress = xsdt
            } else {
                problems.append(.rsdpExtended(address: address))
            }
        }
        return rsdp
    }

    /// Reads the RSDP at a physical address (36 bytes when readable, else the 20-byte ACPI 1.0 form).
    static func readRSDP<M: ACPIMemory>(at address: UInt64, _ memory: M, _ problems: inout [ACPIProblem]) -> RSDP? {
        guard let bytes = memory.read(address, count: 36) ?? memory.read(address, count: 20) else {
            problems.append(.unreadable(address: address))
            return nil
        }
        return decodeRSDP(bytes, address: address, problems: &problems)
    }

    // MARK: Parsing

    /// Parses everything from an RSDP: `rsdpCopy` (the bytes of a multiboot2 ACPI tag) when given and
    /// valid, else the RSDP found by the BIOS area scan.
    public static func parse<M: ACPIMemory>(rsdpCopy: [UInt8]?, memory: M) -> ACPIInfo {
        var info = ACPIInfo()
        if let copy = rsdpCopy {
            info.rsdp = decodeRSDP(copy, address: 0, problems: &info.problems)
        }
        if info.rsdp != nil {
        } else if let address = scanForRSDP(memory, problems: &info.problems) {
            info.rsdp = readRSDP(at: address, memory, &info.problems)
        } else {
            info.problems.append(.noRSDP)
        }
        if let rsdp = info.rsdp { info.readRoot(rsdp, memory) }
        return info
    }

    /// Parses everything from the RSDP at a known physical address.
    public static func parse<M: ACPIMemory>(rsdpAt address: UInt64, memory: M) -> ACPIInfo {
        var info = ACPIInfo()
        info.rsdp = readRSDP(at: address, memory, &info.problems)
        if let rsdp = info.rsdp { info.readRoot(rsdp, memory) }
        return info
    }

    /// The whole table at `address` after checking its length (header to `maxTableLength`) and its
    /// checksum; nil, with the problem recorded, otherwise.
    static func readTable<M: ACPIMemory>(at address: UInt64, _ memory: M, _ problems: inout [ACPIProblem]) -> [UInt8]? {
        guard let header = memory.read(address, count: headerLength) else {
            problems.append(.unreadable(address: address))
            return nil
        }
        let h = TableBytes(bytes: header)
        let signature = ACPISignature(raw: h.u32(0) ?? 0), length = h.u32(4) ?? 0
        guard length >= UInt32(headerLength), length <= maxTableLength else {
            problems.append(.badLength(signature: signature, address: address, length: length))
            return nil
        }
        guard let bytes = memory.read(address, count: Int(length)) else {
            problems.append(.unreadable(address: address))
            return nil
        }
        guard TableBytes(bytes: bytes).sumsToZero(count: bytes.count) else {
            problems.append(.badChecksum(signature: signature, address: address))
            return nil
        }
        return bytes
    }

    /// The header fields of a checked table.
    static func header(_ bytes: [UInt8], at address: UInt64) -> ACPITable {
        let b = TableBytes(bytes: bytes)
        return ACPITable(signature: ACPISignature(raw: b.u32(0) ?? 0), address: address, length: b.u32(4) ?? 0,
                         revision: b.u8(8) ?? 0, oemID: b.slice(10, 6), oemTableID: b.slice(16, 8),
                         oemRevision: b.u32(24) ?? 0)
    }
}

extension ACPIInfo {
    /// The XSDT when the RSDP gives one and it passes its checks, else the RSDT; then every table it lists.
    mutating func readRoot<M: ACPIMemory>(_ rsdp: RSDP, _ memory: M) {
        if rsdp.xsdtAddress != 0, let xsdt = rootTable(.xsdt, at: rsdp.xsdtAddress, memory) {
            usedXSDT = true
            readEntries(xsdt, entrySize: 8, memory)
        } else if let rsdt = rootTable(.rsdt, at: UInt64(rsdp.rsdtAddress), memory) {
            readEntries(rsdt, entrySize: 4, memory)
        }
    }

    /// A checked root table with the expected signature, recorded in `tables`.
    mutating func rootTable<M: ACPIMemory>(_ expected: ACPISignature, at address: UInt64, _ memory: M) -> [UInt8]? {
        guard let bytes = ACPI.readTable(at: address, memory, &problems) else { return nil }
        let table = ACPI.header(bytes, at: address)
        guard table.signature == expected else {
            problems.append(.wrongSignature(expected: expected, found: table.signature, address: address))
            return nil
        }
        tables.append(table)
        return bytes
    }

    /// Reads each table whose address the root table lists (4 or 8 bytes each after the header).
    mutating func readEntries<M: ACPIMemory>(_ root: [UInt8], entrySize: Int, _ memory: M) {
        let b = TableBytes(bytes: root)
        let count = (root.count - ACPI.headerLength) / entrySize
        if count > ACPI.maxTables { problems.append(.tooManyTables(count: count)) }
        for i in 0..<min(count, ACPI.maxTables) {
            guard let address = b.uint(ACPI.headerLength + i * entrySize, entrySize), address != 0 else { continue }
            guard let bytes = ACPI.readTable(at: address, memory, &problems) else { continue }
            let table = ACPI.header(bytes, at: address)
            tables.append(table)
            take(table, bytes)
        }
    }

    /// Parses a table of a kind the kernel uses; other kinds are only listed.
    mutating func take(_ table: ACPITable, _ bytes: [UInt8]) {
        let b = TableBytes(bytes: bytes)
        switch table.signature {
        case .madt:
            guard madt == nil else { return problems.append(.duplicate(signature: table.signature, address: table.address)) }
            guard let parsed = parseMADT(b) else { return tooShort(table) }
            madt = parsed
        case .hpet:
            guard hpet == nil else { return problems.append(.duplicate(signature: table.signature, address: table.address)) }
            guard let parsed = ACPIInfo.parseHPET(b) else { return tooShort(table) }
            hpet = parsed
        case .mcfg:
            guard !hasMCFG else { return problems.append(.duplicate(signature: table.signature, address: table.address)) }
            guard bytes.count >= 44 else { return tooShort(table) }
            hasMCFG = true
            mcfg = ACPIInfo.parseMCFG(b)
        case .fadt:
            guard fadt == nil else { return problems.append(.duplicate(signature: table.signature, address: table.address)) }
            guard let parsed = ACPIInfo.parseFADT(b) else { return tooShort(table) }
            fadt = parsed
        default:
            break
        }
    }

    /// Records a table too short for the fields of its type.
    mutating func tooShort(_ table: ACPITable) {
        problems.append(.badLength(signature: table.signature, address: table.address, length: table.length))
    }
}

// MARK: - The tables

extension ACPIInfo {
    /// Entry types of the MADT this parser reads.
    static let localAPICEntry: UInt8 = 0, ioAPICEntry: UInt8 = 1, overrideEntry: UInt8 = 2, nmiSourceEntry: UInt8 = 3
    static let localNMIEntry: UInt8 = 4, addressOverrideEntry: UInt8 = 5, x2APICEntry: UInt8 = 9, x2NMIEntry: UInt8 = 10

    /// The minimum length of each known MADT entry type, nil for unknown types.
    static func madtEntryLength(_ type: UInt8) -> Int? {
        switch type {
        case localAPICEntry, nmiSourceEntry: return 8
        case ioAPICEntry, addressOverrideEntry, x2NMIEntry: return 12
        case overrideEntry: return 10
        case localNMIEntry: return 6
        case x2APICEntry: return 16
        default: return nil
        }
    }

    /// The MADT: local APIC address and flags at 36 and 40, entries (type, length, ...) from 44.
    mutating func parseMADT(_ b: TableBytes) -> MADT? {
        guard let address = b.u32(36), let flags = b.u32(40) else { return nil }
        var madt = MADT(localAPICAddress: UInt64(address), flags: flags)
        var at = 44
        while at < b.bytes.count {
            let type = b.u8(at) ?? 0
            guard let length = b.u8(at + 1), length >= 2, Int(length) <= b.bytes.count - at else {
                problems.append(.badEntry(type: type, offset: at, length: b.u8(at + 1) ?? 0))
                break
            }
            let entry = TableBytes(bytes: b.slice(at, Int(length)))
            if let needed = ACPIInfo.madtEntryLength(type) {
                if Int(length) >= needed {
                    madt.take(type: type, entry)
                } else {
                    problems.append(.badEntry(type: type, offset: at, length: length))
                }
            } else {
                problems.append(.unknownEntry(type: type, offset: at))
            }
            at += Int(length)
        }
        return madt
    }

    /// HPET: the event timer block ID at 36, its base address (a GAS) at 40, number, tick, protection.
    static func parseHPET(_ b: TableBytes) -> HPETTable? {
        guard let id = b.u32(36), let address = b.genericAddress(40), let number = b.u8(52),
              let tick = b.u16(53), let protection = b.u8(55) else { return nil }
        return HPETTable(eventTimerBlockID: id, address: address, number: number, minimumTick: tick, pageProtection: protection)
    }

    /// MCFG: 8 reserved bytes after the header, then 16-byte entries (base, segment, start and end bus).
    static func parseMCFG(_ b: TableBytes) -> [MCFGEntry] {
        var entries: [MCFGEntry] = []
        var at = 44
        while let base = b.u64(at), let segment = b.u16(at + 8), let start = b.u8(at + 10), let end = b.u8(at + 11),
              b.u32(at + 12) != nil {
            entries.append(MCFGEntry(base: base, segment: segment, startBus: start, endBus: end))
            at += 16
        }
        return entries
    }

    /// FADT: the ACPI 1.0 part (116 bytes) is required; the reset register (ACPI 2.0) and the extended
    /// PM timer block are read when the table is long enough to hold them.
    static func parseFADT(_ b: TableBytes) -> FADT? {
        guard b.bytes.count >= 116, let revision = b.u8(8), let dsdt = b.u32(40), let sci = b.u16(46),
              let smi = b.u32(48), let pmTimerPort = b.u32(76), let pmTimerLength = b.u8(91),
              let century = b.u8(108), let flags = b.u32(112) else { return nil }
        var fadt = FADT(revision: revision, sciInterrupt: sci, smiCommand: smi, pmTimer: nil, century: century,
                        bootFlags: nil, flags: flags, resetRegister: nil, resetValue: 0, dsdt: UInt64(dsdt))
        if revision >= 2 { fadt.bootFlags = b.u16(109) }
        if flags & (1 << 10) != 0, let reset = b.genericAddress(116), let value = b.u8(128) {
            fadt.resetRegister = reset
            fadt.resetValue = value
        }
        if let xdsdt = b.u64(140), xdsdt != 0 { fadt.dsdt = xdsdt }
        if let timer = b.genericAddress(208), timer.address != 0 {
            fadt.pmTimer = timer
        } else if pmTimerPort != 0, pmTimerLength >= 4 {
            fadt.pmTimer = GenericAddress(addressSpace: GenericAddress.systemIO, bitWidth: 32, bitOffset: 0,
                                          accessSize: 0, address: UInt64(pmTimerPort))
        }
        return fadt
    }
}

extension MADT {
    /// Takes in one entry of a known type whose length was checked against `ACPIInfo.madtEntryLength`.
    mutating func take(type: UInt8, _ e: TableBytes) {
        switch type {
        case ACPIInfo.localAPICEntry:
            processors.append(LocalAPIC(processorUID: UInt32(e.u8(2) ?? 0), apicID: UInt32(e.u8(3) ?? 0),
                                        flags: e.u32(4) ?? 0, isX2APIC: false))
        case ACPIInfo.ioAPICEntry:
            ioAPICs.append(IOAPIC(id: e.u8(2) ?? 0, address: e.u32(4) ?? 0, gsiBase: e.u32(8) ?? 0))
        case ACPIInfo.overrideEntry:
            overrides.append(InterruptOverride(bus: e.u8(2) ?? 0, source: e.u8(3) ?? 0, gsi: e.u32(4) ?? 0, flags: e.u16(8) ?? 0))
        case ACPIInfo.nmiSourceEntry:
            nmiSources.append(NMISource(flags: e.u16(2) ?? 0, gsi: e.u32(4) ?? 0))
        case ACPIInfo.localNMIEntry:
            localNMIs.append(LocalAPICNMI(processorUID: UInt32(e.u8(2) ?? 0), flags: e.u16(3) ?? 0, lint: e.u8(5) ?? 0))
        case ACPIInfo.addressOverrideEntry:
            localAPICAddress = e.u64(4) ?? localAPICAddress
        case ACPIInfo.x2APICEntry:
            processors.append(LocalAPIC(processorUID: e.u32(12) ?? 0, apicID: e.u32(4) ?? 0, flags: e.u32(8) ?? 0, isX2APIC: true))
        case ACPIInfo.x2NMIEntry:
            localNMIs.append(LocalAPICNMI(processorUID: e.u32(4) ?? 0, flags: e.u16(2) ?? 0, lint: e.u8(8) ?? 0))
        default:
            break
        }
    }
}
