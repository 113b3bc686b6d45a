// Parsing of the boot information handed over by multiboot2 loaders (GRUB) and multiboot1 loaders
// (QEMU's -kernel) into one BootInfo.
//
// The input comes from outside the kernel, so every read is bounds-checked and a malformed structure is
// reported as a BootInfoError, never a trap. Multiboot2 information is one self-contained block of tags;
// multiboot1 information points elsewhere in physical memory, read through a caller-given translation.

/// Why the boot information could not be parsed.
public enum BootInfoError: Error, Equatable, Sendable {
    /// EAX did not hold a known multiboot magic value.
    case unknownMagic
    /// The multiboot2 total size is implausible (under 16 bytes or over 1 MiB).
    case badTotalSize
    /// A structure runs past the end of the data that holds it.
    case truncated
    /// A multiboot2 tag is too small for its type.
    case badTag
    /// The multiboot2 tags end without an end tag.
    case missingEndTag
    /// The memory map is malformed (entry size too small, length implausible).
    case badMemoryMap
    /// The module list is malformed (too many modules, a module ending before it starts).
    case badModules
    /// A string is longer than `BootInfo.maxStringLength` bytes.
    case stringTooLong
    /// A physical address could not be read (the translation refused it).
    case unreadable(UInt64)
}

/// A module the loader placed in memory, with its command-line string.
public struct BootModule: Equatable, Sendable {
    public var start: UInt64
    /// One past the module's last byte.
    public var end: UInt64
    public var string: [UInt8]

    public init(start: UInt64, end: UInt64, string: [UInt8]) {
        self.start = start
        self.end = end
        self.string = string
    }
}

/// The linear framebuffer the loader set up.
public struct Framebuffer: Equatable, Sendable {
    public static let typeIndexed: UInt8 = 0
    public static let typeRGB: UInt8 = 1
    public static let typeEGAText: UInt8 = 2

    public var address: UInt64
    public var pitch: UInt32
    public var width: UInt32
    public var height: UInt32
    public var bpp: UInt8
    public var type: UInt8

    public init(address: UInt64, pitch: UInt32, width: UInt32, height: UInt32, bpp: UInt8, type: UInt8) {
        self.address = address
        self.pitch = pitch
        self.width = width
        self.height = height
        self.bpp = bpp
        self.type = type
    }
}

/// What the boot loader told the kernel, whichever multiboot version it spoke.
public struct BootInfo: Equatable, Sendable {
    /// EAX at entry from a multiboot2 loader.
    public static let multiboot2Magic: UInt32 = 0x36d7_6289
    /// EAX at entry from a multiboot1 loader.
    public static let multiboot1Magic: UInt32 = 0x2bad_b002
    /// Longest string accepted (command lines, loader name, module strings), NUL excluded.
    public static let maxStringLength = 4096
    /// Largest multiboot2 information block accepted.
    public static let maxMultiboot2Size: UInt32 = 0x10_0000
    /// Most multiboot1 modules accepted.
    public static let maxModules: UInt32 = 256
    /// Largest multiboot1 memory map accepted, in bytes.
    public static let maxMemoryMapBytes: UInt32 = 0x1_0000

    /// 1 or 2.
    public var protocolVersion: Int
    public var commandLine: [UInt8] = []
    public var bootloaderName: [UInt8] = []
    public var memoryMap: [MemoryRegion] = []
    public var modules: [BootModule] = []
    public var framebuffer: Framebuffer? = nil
    /// The copy of the ACPI RSDP from a multiboot2 ACPI tag (the new, type 15, when both are given).
    public var acpiRSDP: [UInt8]? = nil
    /// The tag `acpiRSDP` came from: 14 (old, ACPI 1.0 RSDP) or 15 (new, ACPI 2.0+ RSDP); 0 for none.
    public var acpiTagType: UInt32 = 0
    /// The basic memory information in KiB (below 1 MiB, above 1 MiB), when given.
    public var memoryLowerKiB: UInt32? = nil
    public var memoryUpperKiB: UInt32? = nil
    /// The information structure itself, to keep out of the frame allocator.
    public var infoRange: PhysicalRange
    /// Other memory the information points into (multiboot1: memory map, module list, strings).
    public var reservedRanges: [PhysicalRange] = []

    public init(protocolVersion: Int, infoRange: PhysicalRange) {
        self.protocolVersion = protocolVersion
        self.infoRange = infoRange
    }

    /// Parses the information of whichever protocol `magic` (EAX at entry) names.
    public static func parse(magic: UInt32, info: UnsafeRawPointer, physicalAddress: UInt64,
                             translate: (UInt64, Int) -> UnsafeRawPointer?) throws(BootInfoError) -> BootInfo {
        switch magic {
        case multiboot2Magic: return try parseMultiboot2(info: info, physicalAddress: physicalAddress)
        case multiboot1Magic: return try parseMultiboot1(info: info, physicalAddress: physicalAddress, translate: translate)
        default: throw .unknownMagic
        }
    }

    /// A map made from the basic memory information, for loaders that give no memory map.
    mutating func fallBackToBasicMemory() {
        guard memoryMap.isEmpty, let lower = memoryLowerKiB, let upper = memoryUpperKiB else { return }
        memoryMap.append(MemoryRegion(start: 0, length: UInt64(lower) * 1024, kind: .usable))
        memoryMap.append(MemoryRegion(start: 0x10_0000, length: UInt64(upper) * 1024, kind: .usable))
    }
}

/// Little-endian reads within [0, count) of a block of memory; out-of-bounds reads throw.
struct BootBytes {
    let base: UnsafeRawPointer
    let count: Int

    func check(_ offset: Int, _ size: Int) throws(BootInfoError) {
        guard offset >= 0, size >= 0, offset <= count, size <= count - offset else { throw .truncated }
    }

    func u8(_ offset: Int) throws(BootInfoError) -> UInt8 {
        try check(offset, 1)
        return base.load(fromByteOffset: offset, as: UInt8.self)
    }

    func u16(_ offset: Int) throws(BootInfoError) -> UInt16 {
        try check(offset, 2)
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int) throws(BootInfoError) -> UInt32 {
        try check(offset, 4)
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(_ offset: Int) throws(BootInfoError) -> UInt64 {
        try check(offset, 8)
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// The bytes from `start` up to a NUL or `end`, whichever comes first.
    func string(from start: Int, to end: Int) throws(BootInfoError) -> [UInt8] {
        try check(start, end - start)
        var out: [UInt8] = []
        var at = start
        while at < end {
            let byte = base.load(fromByteOffset: at, as: UInt8.self)
            if byte == 0 { break }
            guard out.count < BootInfo.maxStringLength else { throw .stringTooLong }
            out.append(byte)
            at += 1
        }
        return out
    }
}

// MARK: - Multiboot2

extension BootInfo {
    static let mb2End: UInt32 = 0, mb2CommandLine: UInt32 = 1, mb2LoaderName: UInt32 = 2, mb2Module: UInt32 = 3
    static let mb2BasicMemory: UInt32 = 4, mb2MemoryMap: UInt32 = 6, mb2Framebuffer: UInt32 = 8
    static let mb2ACPIOld: UInt32 = 14, mb2ACPINew: UInt32 = 15
    /// Most bytes kept from an ACPI tag (the ACPI 2.0 RSDP is 36 bytes).
    static let maxRSDPCopy = 64

    /// Parses multiboot2 information at `info` (the physical address in EBX, mapped by the caller, who
    /// makes its `total_size` bytes readable; sizes over 1 MiB are refused before anything else is read).
    public static func parseMultiboot2(info: UnsafeRawPointer, physicalAddress: UInt64) throws(BootInfoError) -> BootInfo {
        let totalSize = UInt32(littleEndian: info.loadUnaligned(as: UInt32.self))
        guard totalSize >= 16, totalSize <= maxMultiboot2Size else { throw .badTotalSize }
        let bytes = BootBytes(base: info, count: Int(totalSize))
        var result = BootInfo(protocolVersion: 2, infoRange: PhysicalRange(start: physicalAddress, length: UInt64(totalSize)))
        var offset = 8
        while true {
            guard offset <= bytes.count - 8 else { throw .missingEndTag }
            let type = try bytes.u32(offset)
            let size = Int(try bytes.u32(offset + 4))
            guard size >= 8 else { throw .badTag }
            guard size <= bytes.count - offset else { throw .truncated }
            if type == mb2End { break }
            try result.readTag(type: type, BootBytes(base: info + offset, count: size))
            offset += (size + 7) & ~7
        }
        result.fallBackToBasicMemory()
        return result
    }

    /// Takes in one multiboot2 tag (`tag` covers exactly its size); unknown types are ignored.
    mutating func readTag(type: UInt32, _ tag: BootBytes) throws(BootInfoError) {
        switch type {
        case BootInfo.mb2CommandLine:
            commandLine = try tag.string(from: 8, to: tag.count)
        case BootInfo.mb2LoaderName:
            bootloaderName = try tag.string(from: 8, to: tag.count)
        case BootInfo.mb2Module:
            guard tag.count >= 16 else { throw .badTag }
            let start = UInt64(try tag.u32(8)), end = UInt64(try tag.u32(12))
            guard end >= start else { throw .badModules }
            modules.append(BootModule(start: start, end: end, string: try tag.string(from: 16, to: tag.count)))
        case BootInfo.mb2BasicMemory:
            guard tag.count >= 16 else { throw .badTag }
            memoryLowerKiB = try tag.u32(8)
            memoryUpperKiB = try tag.u32(12)
        case BootInfo.mb2MemoryMap:
            try readMultiboot2MemoryMap(tag)
        case BootInfo.mb2Framebuffer:
            guard tag.count >= 30 else { throw .badTag }
            framebuffer = Framebuffer(address: try tag.u64(8), pitch: try tag.u32(16), width: try tag.u32(20),
                                      height: try tag.u32(24), bpp: try tag.u8(28), type: try tag.u8(29))
        case BootInfo.mb2ACPIOld, BootInfo.mb2ACPINew:
            // The RSDP copy follows the 8-byte tag header; a new tag wins over an old one. The copy is
            // not judged here: the ACPI parser checks it, logs what is wrong and falls back to the scan.
            guard acpiTagType != BootInfo.mb2ACPINew else { break }
            let count = min(tag.count - 8, BootInfo.maxRSDPCopy)
            acpiRSDP = (8..<(8 + count)).map { tag.base.load(fromByteOffset: $0, as: UInt8.self) }
            acpiTagType = type
        default:
            break
        }
    }

    /// Entries of 24 bytes or more (base u64, length u64, type u32, reserved u32) after a 16-byte header.
    mutating func readMultiboot2MemoryMap(_ tag: BootBytes) throws(BootInfoError) {
        guard tag.count >= 16 else { throw .badTag }
        let entrySize = Int(try tag.u32(8))
        guard entrySize >= 24 else { throw .badMemoryMap }
        var at = 16
        while at <= tag.count - entrySize {
            memoryMap.append(MemoryRegion(start: try tag.u64(at), length: try tag.u64(at + 8),
                                          kind: MemoryKind(multibootType: try tag.u32(at + 16))))
            at += entrySize
        }
    }
}

// MARK: - Multiboot1

extension BootInfo {
    static let mb1Memory: UInt32 = 1 << 0, mb1CommandLine: UInt32 = 1 << 2, mb1Modules: UInt32 = 1 << 3
    static let mb1MemoryMap: UInt32 = 1 << 6, mb1LoaderName: UInt32 = 1 << 9, mb1Framebuffer: UInt32 = 1 << 12

    /// Parses multiboot1 information at `info` (the physical address in EBX, mapped by the caller).
    /// Addresses inside it are physical and read through `translate(address, length)`, which returns
    /// nil for memory that cannot be read.
    public static func parseMultiboot1(info: UnsafeRawPointer, physicalAddress: UInt64,
                                       translate: (UInt64, Int) -> UnsafeRawPointer?) throws(BootInfoError) -> BootInfo {
        let flags = UInt32(littleEndian: info.loadUnaligned(as: UInt32.self))
        // The structure is 116 bytes with framebuffer fields, 88 through the VBE fields otherwise.
        let size = flags & mb1Framebuffer != 0 ? 116 : 88
        let bytes = BootBytes(base: info, count: size)
        var result = BootInfo(protocolVersion: 1, infoRange: PhysicalRange(start: physicalAddress, length: UInt64(size)))
        if flags & mb1Memory != 0 {
            result.memoryLowerKiB = try bytes.u32(4)
            result.memoryUpperKiB = try bytes.u32(8)
        }
        if flags & mb1CommandLine != 0 {
            result.commandLine = try result.readPhysicalString(try bytes.u32(16), translate)
        }
        if flags & mb1Modules != 0 {
            try result.readMultiboot1Modules(count: try bytes.u32(20), at: try bytes.u32(24), translate)
        }
        if flags & mb1MemoryMap != 0 {
            try result.readMultiboot1MemoryMap(length: try bytes.u32(44), at: try bytes.u32(48), translate)
        }
        if flags & mb1LoaderName != 0 {
            result.bootloaderName = try result.readPhysicalString(try bytes.u32(64), translate)
        }
        if flags & mb1Framebuffer != 0 {
            result.framebuffer = Framebuffer(address: try bytes.u64(88), pitch: try bytes.u32(96), width: try bytes.u32(100),
                                             height: try bytes.u32(104), bpp: try bytes.u8(108), type: try bytes.u8(109))
        }
        result.fallBackToBasicMemory()
        return result
    }

    /// Maps `length` bytes at a physical address, or throws `.unreadable`.
    static func map(_ address: UInt64, _ length: Int,
                    _ translate: (UInt64, Int) -> UnsafeRawPointer?) throws(BootInfoError) -> BootBytes {
        guard let base = translate(address, length) else { throw .unreadable(address) }
        return BootBytes(base: base, count: length)
    }

    /// A NUL-terminated string at a physical address (0 means none), read byte by byte so that no byte
    /// past the NUL is touched; its bytes are recorded as reserved.
    mutating func readPhysicalString(_ address: UInt32, _ translate: (UInt64, Int) -> UnsafeRawPointer?) throws(BootInfoError) -> [UInt8] {
        guard address != 0 else { return [] }
        var out: [UInt8] = []
        var at = UInt64(address)
        while true {
            let byte = try BootInfo.map(at, 1, translate).u8(0)
            if byte == 0 { break }
            guard out.count < BootInfo.maxStringLength else { throw .stringTooLong }
            out.append(byte)
            at += 1
        }
        reservedRanges.append(PhysicalRange(start: UInt64(address), length: UInt64(out.count + 1)))
        return out
    }

    /// Module entries of 16 bytes: start u32, end u32, string u32, reserved u32.
    mutating func readMultiboot1Modules(count: UInt32, at address: UInt32,
                                        _ translate: (UInt64, Int) -> UnsafeRawPointer?) throws(BootInfoError) {
        guard count <= BootInfo.maxModules else { throw .badModules }
        guard count > 0 else { return }
        let length = Int(count) * 16
        let list = try BootInfo.map(UInt64(address), length, translate)
        reservedRanges.append(PhysicalRange(start: UInt64(address), length: UInt64(length)))
        for i in 0..<Int(count) {
            let start = UInt64(try list.u32(i * 16)), end = UInt64(try list.u32(i * 16 + 4))
            guard end >= start else { throw .badModules }
            let string = try readPhysicalString(try list.u32(i * 16 + 8), translate)
            modules.append(BootModule(start: start, end: end, string: string))
        }
    }

    /// Entries each preceded by their size (not counting the size field): base u64, length u64, type u32.
    mutating func readMultiboot1MemoryMap(length: UInt32, at address: UInt32,
                                          _ translate: (UInt64, Int) -> UnsafeRawPointer?) throws(BootInfoError) {
        guard length <= BootInfo.maxMemoryMapBytes else { throw .badMemoryMap }
        guard length > 0 else { return }
        let map = try BootInfo.map(UInt64(address), Int(length), translate)
        reservedRanges.append(PhysicalRange(start: UInt64(address), length: UInt64(length)))
        var at = 0
        while at < map.count {
            let size = Int(try map.u32(at))
            guard size >= 20, size <= map.count - at - 4 else { throw .badMemoryMap }
            memoryMap.append(MemoryRegion(start: try map.u64(at + 4), length: try map.u64(at + 12),
                                          kind: MemoryKind(multibootType: try map.u32(at + 20))))
            at += size + 4
        }
    }
}
