// Making an empty FAT32 volume (what mkfs.fat -F 32 does): boot sector and its backup (sector 6),
// FSInfo and its backup (1 and 7), 32 reserved sectors, two FATs sized by the spec's formula, and the
// root directory in cluster 2. Used by guest tests for RAM disks and by the host tests, which check the
// result with fsck.fat.

public enum FAT32Format {
    /// The sectors per cluster the spec's table gives for a volume of `sectors` 512-byte sectors.
    public static func defaultSectorsPerCluster(_ sectors: UInt64) -> Int {
        switch sectors {
        case ..<532_480: return 1          // up to 260 MiB: 512-byte clusters
        case ..<16_777_216: return 8       // up to 8 GiB: 4 KiB
        case ..<33_554_432: return 16
        case ..<67_108_864: return 32
        default: return 64
        }
    }

    /// Formats all of `device`. `hiddenSectors` is the partition's first sector on its disk (0 for a
    /// whole disk). Fewer than 65,525 clusters is `.invalid` (not FAT32 by the spec's rule) unless
    /// `allowFewClusters`.
    public static func format<D: BlockDevice>(_ device: D, label: [UInt8] = Array("NO NAME".utf8),
                                              sectorsPerCluster: Int? = nil, volumeID: UInt32 = 0x5357_4654,
                                              hiddenSectors: UInt32 = 0, time: UInt64 = 0,
                                              allowFewClusters: Bool = false) throws(DiskError) {
        let bps = device.blockSize
        guard bps >= 512, bps <= 4096, bps & (bps - 1) == 0 else { throw .invalid }
        let total = min(device.blockCount, 0xFFFF_FFFF)
        let spc = sectorsPerCluster ?? defaultSectorsPerCluster(total * UInt64(bps) / 512)
        guard spc > 0, spc <= 128, spc & (spc - 1) == 0, spc * bps <= 64 * 1024 else { throw .invalid }
        let reserved: UInt64 = 32, fats: UInt64 = 2
        guard total > reserved + 2 * fats + UInt64(spc) else { throw .invalid }
        // The spec's FAT size: TmpVal2 = (256 × SecPerClus + NumFATs) / 2 for FAT32, scaled to the sector size.
        let perFATSector = UInt64(bps / 4)
        let tmp1 = total - reserved
        let tmp2 = (perFATSector * UInt64(spc) + fats)
        let fatSectors = (tmp1 + tmp2 - 1) / tmp2
        let dataStart = reserved + fats * fatSectors
        guard dataStart < total else { throw .invalid }
        let clusters = (total - dataStart) / UInt64(spc)
        guard clusters >= 1, clusters <= 0x0FFF_FFF5 - 2, fatSectors * perFATSector >= clusters + 2 else { throw .invalid }
        guard clusters >= 65525 || allowFewClusters else { throw .invalid }

        var name = [UInt8](repeating: 0x20, count: 11)
        for (i, b) in label.prefix(11).enumerated() { name[i] = asciiUpper(b) }
        var boot = [UInt8](repeating: 0, count: bps)
        boot[0] = 0xEB; boot[1] = 0x58; boot[2] = 0x90
        for (i, b) in "MSWIN4.1".utf8.enumerated() { boot[3 + i] = b }
        boot.put16(11, UInt16(bps))
        boot[13] = UInt8(spc)
        boot.put16(14, UInt16(reserved))
        boot[16] = UInt8(fats)
        boot[21] = 0xF8
        boot.put16(24, 32)
        boot.put16(26, 64)
        boot.put32(28, hiddenSectors)
        boot.put32(32, UInt32(total))
        boot.put32(36, UInt32(fatSectors))
        boot.put32(44, 2)
        boot.put16(48, 1)
        boot.put16(50, 6)
        boot[64] = 0x80
        boot[66] = 0x29
        boot.put32(67, volumeID)
        for i in 0..<11 { boot[71 + i] = name[i] }
        for (i, b) in "FAT32   ".utf8.enumerated() { boot[82 + i] = b }
        boot[90] = 0xF4; boot[91] = 0xEB; boot[92] = 0xFD   // hlt; jmp back: not a bootable volume
        boot[510] = 0x55; boot[511] = 0xAA

        var info = [UInt8](repeating: 0, count: bps)
        info.put32(0, 0x4161_5252)
        info.put32(484, 0x6141_7272)
        info.put32(488, UInt32(clusters - 1))
        info.put32(492, 3)
        info.put32(508, 0xAA55_0000)

        let zeros = [UInt8](repeating: 0, count: bps * 64)
        func put(_ sector: UInt64, _ bytes: [UInt8]) throws(DiskError) {
            try withBytes(bytes) { (b) throws(DiskError) in try device.writeBlocks(sector, bytes.count / bps, from: b) }
        }
        // Reserved sectors, both FATs and the root cluster start out zero.
        var s: UInt64 = 0
        let end = dataStart + UInt64(spc)
        while s < end {
            let n = Int(min(64, end - s))
            try withBytes(zeros) { (b) throws(DiskError) in try device.writeBlocks(s, n, from: b) }
            s += UInt64(n)
        }
        try put(0, boot)
        try put(6, boot)
        try put(1, info)
        try put(7, info)
        var fat = [UInt8](repeating: 0, count: bps)
        fat.put32(0, 0x0FFF_FFF8)
        fat.put32(4, 0x0FFF_FFFF)
        fat.put32(8, 0x0FFF_FFFF)    // the root directory: one cluster, end of chain
        for copy in 0..<fats { try put(reserved + copy * fatSectors, fat) }
        if name != Array("NO NAME    ".utf8) {
            var root = [UInt8](repeating: 0, count: bps)
            for i in 0..<11 { root[i] = name[i] }
            root[11] = FATAttribute.volumeID
            let t = fatDateTime(time)
            root.put16(22, t.time)
            root.put16(24, t.date)
            try put(dataStart, root)
        }
        try device.flush()
    }
}
