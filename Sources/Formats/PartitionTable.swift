// Partition tables: the MBR (four primary entries at offset 446 of block 0, signature 0x55AA; a type
// 0xEE entry is GPT's protective MBR) and GPT (UEFI 2.x, chapter 5: the header at LBA 1 with its
// CRC32, the entry array with its own CRC32, the backup header at the last LBA used when the primary is
// damaged). Every partition is checked to lie on the disk (and, for GPT, inside the usable range);
// anything else is an error, so a file system opened on a partition (BlockRange) stays on it.
// Extended (logical) MBR partitions are not followed.

/// Why a partition table could not be read.
public enum PartitionError: Error, Equatable, Sendable {
    case io
    /// The table is damaged: bad CRCs, entries off the disk, a bad header.
    case corrupt
}

/// One partition: blocks start..<start+count of the disk.
public struct Partition: Equatable, Sendable {
    /// 1-based, as `virtio0p1` counts.
    public let number: Int
    public let start: UInt64
    public let count: UInt64
    /// The MBR type byte (0 for GPT).
    public let mbrType: UInt8
    /// The GPT type GUID as stored (16 bytes; empty for MBR).
    public let typeGUID: [UInt8]
    /// The GPT partition name (UTF-8; empty for MBR).
    public let name: [UInt8]

    /// True for a FAT32 MBR type (0x0B, 0x0C) or GPT's Microsoft basic data type.
    public var mayHoldFAT: Bool {
        mbrType == 0x0B || mbrType == 0x0C || mbrType == 0x1B || mbrType == 0x1C || typeGUID == PartitionTable.basicDataGUID
    }
}

public struct PartitionTable: Equatable, Sendable {
    public enum Scheme: Equatable, Sendable { case none, mbr, gpt }
    public let scheme: Scheme
    public let partitions: [Partition]

    /// EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 as stored on disk (the first three fields little-endian).
    public static let basicDataGUID: [UInt8] = [0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44,
                                                0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99, 0xC7]
    /// The most GPT entry bytes read (128 entries of 128 bytes is the usual array: 16 KiB).
    static let maxEntryBytes = 1 << 20

    /// Reads the table of a disk: `.none` when block 0 holds no MBR (a whole-disk file system, such as
    /// a FAT boot sector, or nothing).
    public static func read<D: BlockDevice>(_ device: D) throws(PartitionError) -> PartitionTable {
        let bs = device.blockSize
        guard bs >= 512, device.blockCount > 0 else { throw .io }
        let mbr = try block(device, 0)
        guard mbr[510] == 0x55, mbr[511] == 0xAA else { return PartitionTable(scheme: .none, partitions: []) }
        // A FAT boot sector also ends in 55 AA: it starts with a jump and names its type.
        if (mbr[0] == 0xEB || mbr[0] == 0xE9) && (Array(mbr[82..<87]) == Array("FAT32".utf8) || Array(mbr[54..<57]) == Array("FAT".utf8)) {
            return PartitionTable(scheme: .none, partitions: [])
        }
        var entries: [(status: UInt8, type: UInt8, start: UInt64, count: UInt64)] = []
        for i in 0..<4 {
            let at = 446 + 16 * i
            entries.append((mbr[at], mbr[at + 4], UInt64(mbr.le32(at + 8)), UInt64(mbr.le32(at + 12))))
        }
        guard entries.allSatisfy({ $0.status == 0 || $0.status == 0x80 }) else {
            return PartitionTable(scheme: .none, partitions: [])
        }
        if entries.contains(where: { $0.type == 0xEE }) { return try readGPT(device) }
        var parts: [Partition] = []
        for (i, e) in entries.enumerated() where e.type != 0 && e.count != 0 {
            guard e.start >= 1, e.start < device.blockCount, e.count <= device.blockCount - e.start else { throw .corrupt }
            parts.append(Partition(number: i + 1, start: e.start, count: e.count, mbrType: e.type, typeGUID: [], name: []))
        }
        try checkOverlaps(parts)
        return PartitionTable(scheme: .mbr, partitions: parts)
    }

    static func block<D: BlockDevice>(_ device: D, _ n: UInt64) throws(PartitionError) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: device.blockSize)
        do throws(DiskError) {
            try withMutableBytes(&b) { (p) throws(DiskError) in try device.readBlocks(n, 1, into: p) }
        } catch { throw .io }
        return b
    }

    static func checkOverlaps(_ parts: [Partition]) throws(PartitionError) {
        for a in parts {
            for b in parts where a.number < b.number {
                if a.start < b.start + b.count && b.start < a.start + a.count { throw .corrupt }
            }
        }
    }

    /// The GPT from the primary header, or from the backup header when the primary is damaged.
    static func readGPT<D: BlockDevice>(_ device: D) throws(PartitionError) -> PartitionTable {
        do throws(PartitionError) {
            return try readGPT(device, header: 1)
        } catch {
            if error == .io { throw error }
            return try readGPT(device, header: device.blockCount - 1)
        }
    }

    static func readGPT<D: BlockDevice>(_ device: D, header lba: UInt64) throws(PartitionError) -> PartitionTable {
        let last = device.blockCount - 1
        var h = try block(device, lba)
        guard Array(h[0..<8]) == Array("EFI PART".utf8) else { throw .corrupt }
        let size = Int(h.le32(12))
        guard size >= 92, size <= device.blockSize else { throw .corrupt }
        let crc = h.le32(16)
        h.put32(16, 0)
        guard crc32(h[0..<size]) == crc, h.le64(24) == lba else { throw .corrupt }
        let firstUsable = h.le64(40), lastUsable = h.le64(48)
        let entryLBA = h.le64(72)
        let entryCount = Int(h.le32(80)), entrySize = Int(h.le32(84))
        guard firstUsable <= lastUsable, lastUsable <= last,
              entrySize >= 128, entrySize <= 4096, entrySize & (entrySize - 1) == 0,
              entryCount <= maxEntryBytes / entrySize else { throw .corrupt }
        let bytes = entryCount * entrySize
        let blocks = UInt64((bytes + device.blockSize - 1) / device.blockSize)
        guard entryLBA >= 1, entryLBA <= last, blocks <= device.blockCount - entryLBA else { throw .corrupt }
        var array: [UInt8] = []
        for k in 0..<blocks { array += try block(device, entryLBA + k) }
        guard crc32(array[0..<bytes]) == h.le32(88) else { throw .corrupt }
        var parts: [Partition] = []
        for i in 0..<entryCount {
            let at = i * entrySize
            let type = Array(array[at..<(at + 16)])
            if type.allSatisfy({ $0 == 0 }) { continue }
            let first = array.le64(at + 32), end = array.le64(at + 40)
            guard first >= firstUsable, first <= end, end <= lastUsable else { throw .corrupt }
            var units: [UInt16] = []
            for k in 0..<36 { units.append(array.le16(at + 56 + 2 * k)) }
            parts.append(Partition(number: i + 1, start: first, count: end - first + 1, mbrType: 0, typeGUID: type,
                                   name: utf8(fromUTF16: units) ?? []))
        }
        try checkOverlaps(parts)
        return PartitionTable(scheme: .gpt, partitions: parts)
    }
}

/// CRC-32 (IEEE 802.3, reflected, as GPT and zlib use it).
public func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}
