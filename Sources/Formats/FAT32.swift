// FAT32 on a block device: the volume (boot sector and BPB checked at mount, FSInfo), the file
// allocation table and cluster chains, and the two caches (FAT sectors and data clusters, write-back,
// written out by `sync`). Directories and long names are in FAT32Directory.swift, file data and the
// operations by name in FAT32Files.swift, the formatter in FAT32Format.swift.
//
// Facts from Microsoft's "FAT: General Overview of On-Disk Format" (1.03): the BPB's fields and offsets,
// FAT32 entries are 28 bits (the top 4 are kept on a write), 0 = free, 0x0FFFFFF7 = bad,
// ≥ 0x0FFFFFF8 = end of chain; clusters are numbered from 2; FSInfo (signatures 0x41615252,
// 0x61417272, 0xAA550000) holds the free count and a hint of the next free cluster.
//
// Robustness: every cluster number read from the disk is checked against the volume before use; a
// chain walk stops after as many steps as the volume has clusters (a loop is `.corrupt`); every sector
// address is checked against the volume's size and then again by the device window (BlockRange), so a
// damaged image gives errors, never a hang, a trap or a write outside the partition.

/// Seconds since 1970 (UTC), from whatever clock the caller has.
public typealias FATClock = () -> UInt64

/// A fixed-capacity write-back cache of equal units (a FAT sector, a data cluster), looked up linearly
/// by key; the least recently used clean-or-written-back unit is replaced.
final class UnitCache {
    let unitBytes: Int
    let capacity: Int
    let storage: UnsafeMutableRawPointer
    var keys: [UInt64]
    var dirty: [Bool]
    var stamps: [UInt64]
    var clock: UInt64 = 0
    static let empty = UInt64.max

    init(unitBytes: Int, capacity: Int) {
        self.unitBytes = unitBytes
        self.capacity = capacity
        storage = .allocate(byteCount: unitBytes * capacity, alignment: 16)
        keys = [UInt64](repeating: UnitCache.empty, count: capacity)
        dirty = [Bool](repeating: false, count: capacity)
        stamps = [UInt64](repeating: 0, count: capacity)
    }

    deinit { storage.deallocate() }

    func slot(of key: UInt64) -> Int? {
        for i in 0..<capacity where keys[i] == key {
            clock += 1
            stamps[i] = clock
            return i
        }
        return nil
    }

    func pointer(_ slot: Int) -> UnsafeMutableRawPointer { storage + slot * unitBytes }

    /// The slot to reuse: an empty one, else the least recently used.
    func victim() -> Int {
        var best = 0
        for i in 0..<capacity {
            if keys[i] == UnitCache.empty { return i }
            if stamps[i] < stamps[best] { best = i }
        }
        return best
    }

    func forget(_ key: UInt64) {
        for i in 0..<capacity where keys[i] == key {
            keys[i] = UnitCache.empty
            dirty[i] = false
        }
    }
}

/// A mounted FAT32 volume on `Device` (a whole disk or a partition's BlockRange).
public final class FAT32Volume<Device: BlockDevice> {
    public let device: Device
    public let bytesPerSector: Int
    public let sectorsPerCluster: Int
    public let clusterBytes: Int
    let reservedSectors: UInt64
    let fatCount: Int
    let fatSectors: UInt64
    let totalSectors: UInt64
    public let rootCluster: UInt32
    let fsInfoSector: UInt64?
    let dataStart: UInt64
    /// Data clusters: numbers 2 ..< 2 + clusterCount.
    public let clusterCount: UInt32
    /// Device blocks per sector.
    let blocksPerSector: Int
    /// Free clusters (counted from the FAT at mount, kept since) and where the next search starts.
    public private(set) var freeCount: UInt32
    var nextFree: UInt32
    var fsInfoDirty = false
    public let label: [UInt8]
    let clock: FATClock
    let fatCache: UnitCache
    let dataCache: UnitCache
    /// Recently walked chains by first cluster (kept right by every chain change).
    var chains: [(first: UInt32, clusters: [UInt32])] = []

    static var endOfChain: UInt32 { 0x0FFF_FFFF }

    /// Mounts the FAT32 volume on `device`: checks the boot sector and BPB and counts the free clusters.
    /// A bad BPB is `.corrupt`; a volume larger than the device (a truncated disk) is `.io`.
    public init(_ device: Device, clock: @escaping FATClock, fatCacheSectors: Int = 64,
                dataCacheClusters: Int = 64) throws(DiskError) {
        self.device = device
        self.clock = clock
        let bs = device.blockSize
        guard bs >= 512, bs <= 4096, bs & (bs - 1) == 0, device.blockCount > 0 else { throw .io }
        var boot = [UInt8](repeating: 0, count: bs)
        try withMutableBytes(&boot) { (b) throws(DiskError) in try device.readBlocks(0, 1, into: b) }
        let bpb = try BPB(boot)
        guard bpb.bytesPerSector >= bs, bpb.bytesPerSector % bs == 0 else { throw .corrupt }
        bytesPerSector = bpb.bytesPerSector
        sectorsPerCluster = bpb.sectorsPerCluster
        clusterBytes = bpb.bytesPerSector * bpb.sectorsPerCluster
        reservedSectors = bpb.reservedSectors
        fatCount = bpb.fatCount
        fatSectors = bpb.fatSectors
        totalSectors = bpb.totalSectors
        rootCluster = bpb.rootCluster
        dataStart = bpb.dataStart
        clusterCount = bpb.clusterCount
        label = bpb.label
        blocksPerSector = bpb.bytesPerSector / bs
        guard totalSectors <= device.blockCount / UInt64(blocksPerSector) else { throw .io }
        fsInfoSector = bpb.fsInfoSector > 0 && bpb.fsInfoSector < bpb.reservedSectors ? bpb.fsInfoSector : nil
        fatCache = UnitCache(unitBytes: bytesPerSector, capacity: max(fatCacheSectors, 4))
        dataCache = UnitCache(unitBytes: clusterBytes, capacity: max(dataCacheClusters, 4))
        freeCount = 0
        nextFree = 2
        guard isCluster(rootCluster) else { throw .corrupt }
        try countFree()
    }

    // MARK: Sectors

    /// Reads `count` sectors from `sector` into `buffer`, checked against the volume.
    func readSectors(_ sector: UInt64, _ count: Int, into buffer: UnsafeMutableRawPointer) throws(DiskError) {
        guard sector <= totalSectors, UInt64(count) <= totalSectors - sector else { throw .io }
        try device.readBlocks(sector * UInt64(blocksPerSector), count * blocksPerSector, into: buffer)
    }

    func writeSectors(_ sector: UInt64, _ count: Int, from buffer: UnsafeRawPointer) throws(DiskError) {
        guard sector <= totalSectors, UInt64(count) <= totalSectors - sector else { throw .io }
        try device.writeBlocks(sector * UInt64(blocksPerSector), count * blocksPerSector, from: buffer)
    }

    /// The first sector of a data cluster.
    func sector(of cluster: UInt32) -> UInt64 { dataStart + UInt64(cluster - 2) * UInt64(sectorsPerCluster) }

    /// True for a data cluster number of this volume.
    @inline(__always) func isCluster(_ c: UInt32) -> Bool { c >= 2 && c - 2 < clusterCount }

    // MARK: The FAT

    /// The cache slot holding FAT sector `index` (relative to the first FAT), read if needed.
    func fatSlot(_ index: UInt64) throws(DiskError) -> Int {
        if let s = fatCache.slot(of: index) { return s }
        let s = fatCache.victim()
        try writeBackFAT(s)
        fatCache.keys[s] = UnitCache.empty
        try readSectors(reservedSectors + index, 1, into: fatCache.pointer(s))
        fatCache.keys[s] = index
        fatCache.dirty[s] = false
        fatCache.clock += 1
        fatCache.stamps[s] = fatCache.clock
        return s
    }

    /// Writes a dirty FAT sector to every copy of the FAT.
    func writeBackFAT(_ s: Int) throws(DiskError) {
        guard fatCache.keys[s] != UnitCache.empty, fatCache.dirty[s] else { return }
        for copy in 0..<fatCount {
            try writeSectors(reservedSectors + UInt64(copy) * fatSectors + fatCache.keys[s], 1, from: fatCache.pointer(s))
        }
        fatCache.dirty[s] = false
    }

    /// The FAT entry of cluster `c` (28 bits).
    func fat(_ c: UInt32) throws(DiskError) -> UInt32 {
        let byte = UInt64(c) * 4
        let s = try fatSlot(byte / UInt64(bytesPerSector))
        return le32(fatCache.pointer(s), Int(byte % UInt64(bytesPerSector))) & 0x0FFF_FFFF
    }

    /// Sets the FAT entry of cluster `c`, keeping the entry's top 4 bits.
    func setFAT(_ c: UInt32, _ value: UInt32) throws(DiskError) {
        let byte = UInt64(c) * 4
        let s = try fatSlot(byte / UInt64(bytesPerSector))
        let at = Int(byte % UInt64(bytesPerSector))
        let old = le32(fatCache.pointer(s), at)
        put32(fatCache.pointer(s), at, (old & 0xF000_0000) | (value & 0x0FFF_FFFF))
        fatCache.dirty[s] = true
    }

    /// Counts the free clusters (the FSInfo count is only a hint; it is rewritten right at the next sync).
    func countFree() throws(DiskError) {
        var free: UInt32 = 0
        var first: UInt32 = 0
        let perSector = UInt32(bytesPerSector / 4)
        var buffer = [UInt8](repeating: 0, count: bytesPerSector * 16)
        var c: UInt32 = 0
        let end = clusterCount + 2
        var sector: UInt64 = 0
        while c < end {
            let n = Int(min(16, fatSectors - sector))
            try withMutableBytes(&buffer) { (b) throws(DiskError) in try readSectors(reservedSectors + sector, n, into: b) }
            buffer.withUnsafeBytes { b in
                var i = 0
                while i < n * Int(perSector) && c < end {
                    if c >= 2 && le32(b.baseAddress!, i * 4) & 0x0FFF_FFFF == 0 {
                        free += 1
                        if first == 0 { first = c }
                    }
                    i += 1
                    c += 1
                }
            }
            sector += UInt64(n)
        }
        freeCount = free
        nextFree = first == 0 ? 2 : first
        if let info = fsInfoSector {
            var s = [UInt8](repeating: 0, count: bytesPerSector)
            try withMutableBytes(&s) { (b) throws(DiskError) in try readSectors(info, 1, into: b) }
            if s.le32(0) == 0x4161_5252 && s.le32(484) == 0x6141_7272 && s.le32(488) != freeCount { fsInfoDirty = true }
        }
    }

    /// The clusters of the chain starting at `first` (none for 0). A chain that leaves the volume, meets a
    /// free or bad cluster or loops is `.corrupt`.
    public func chain(_ first: UInt32) throws(DiskError) -> [UInt32] {
        if first == 0 { return [] }
        if let i = chains.firstIndex(where: { $0.first == first }) { return chains[i].clusters }
        var result: [UInt32] = []
        var c = first
        while true {
            guard isCluster(c), UInt32(result.count) < clusterCount else { throw .corrupt }
            result.append(c)
            let next = try fat(c)
            if next >= 0x0FFF_FFF8 { break }
            c = next
        }
        remember(first, result)
        return result
    }

    func remember(_ first: UInt32, _ clusters: [UInt32]) {
        chains.removeAll { $0.first == first }
        if first == 0 { return }
        if chains.count >= 8 { chains.removeFirst() }
        chains.append((first, clusters))
    }

    /// Takes one free cluster (marked end of chain), searching from the hint.
    func allocateCluster() throws(DiskError) -> UInt32 {
        guard freeCount > 0 else { throw .noSpace }
        var c = isCluster(nextFree) ? nextFree : 2
        for _ in 0..<clusterCount {
            if try fat(c) == 0 {
                try setFAT(c, FAT32Volume.endOfChain)
                freeCount -= 1
                fsInfoDirty = true
                nextFree = c + 1
                return c
            }
            c = c + 1 - 2 < clusterCount ? c + 1 : 2
        }
        freeCount = 0   // the count was wrong: the FAT is full
        throw .noSpace
    }

    /// Makes `first`'s chain `count` clusters long: grows it (new clusters zeroed when `zero`) or frees its
    /// tail. Returns the (possibly new) first cluster (0 for an empty chain). Space runs out before
    /// anything changes (`.noSpace`).
    func resizeChain(_ first: UInt32, to count: Int, zero: Bool) throws(DiskError) -> UInt32 {
        var clusters = try chain(first)
        if count == clusters.count { return first }
        if count < clusters.count {
            try free(Array(clusters[count...]))
            if count == 0 { remember(first, []); return 0 }
            try setFAT(clusters[count - 1], FAT32Volume.endOfChain)
            clusters.removeLast(clusters.count - count)
            remember(first, clusters)
            return first
        }
        guard UInt64(count - clusters.count) <= UInt64(freeCount) else { throw .noSpace }
        while clusters.count < count {
            let c = try allocateCluster()
            if zero { try zeroCluster(c) }
            if let last = clusters.last { try setFAT(last, c) }
            clusters.append(c)
        }
        remember(clusters[0], clusters)
        return clusters[0]
    }

    /// Marks clusters free.
    func free(_ clusters: [UInt32]) throws(DiskError) {
        for c in clusters {
            guard try fat(c) != 0 else { continue }   // a cross-linked cluster is freed once
            try setFAT(c, 0)
            freeCount += 1
            if c < nextFree { nextFree = c }
        }
        fsInfoDirty = true
        for c in clusters { dataCache.forget(UInt64(c)) }
    }

    /// Frees a whole chain (a deleted file's).
    func freeChain(_ first: UInt32) throws(DiskError) {
        if first == 0 { return }
        try free(try chain(first))
        remember(first, [])
    }

    // MARK: Data clusters

    /// The cache slot of cluster `c`, read if needed (not read when `fill` is false: the caller writes it all).
    func clusterSlot(_ c: UInt32, fill: Bool = true) throws(DiskError) -> Int {
        guard isCluster(c) else { throw .corrupt }
        if let s = dataCache.slot(of: UInt64(c)) { return s }
        let s = dataCache.victim()
        try writeBackCluster(s)
        dataCache.keys[s] = UnitCache.empty
        if fill { try readSectors(sector(of: c), sectorsPerCluster, into: dataCache.pointer(s)) }
        dataCache.keys[s] = UInt64(c)
        dataCache.dirty[s] = false
        dataCache.clock += 1
        dataCache.stamps[s] = dataCache.clock
        return s
    }

    func writeBackCluster(_ s: Int) throws(DiskError) {
        guard dataCache.keys[s] != UnitCache.empty, dataCache.dirty[s] else { return }
        try writeSectors(sector(of: UInt32(dataCache.keys[s])), sectorsPerCluster, from: dataCache.pointer(s))
        dataCache.dirty[s] = false
    }

    func zeroCluster(_ c: UInt32) throws(DiskError) {
        let s = try clusterSlot(c, fill: false)
        dataCache.pointer(s).initializeMemory(as: UInt8.self, repeating: 0, count: clusterBytes)
        dataCache.dirty[s] = true
    }

    // MARK: Sync

    /// Writes every dirty FAT sector and cluster, then FSInfo, then flushes the device.
    public func sync() throws(DiskError) {
        for s in 0..<fatCache.capacity { try writeBackFAT(s) }
        for s in 0..<dataCache.capacity { try writeBackCluster(s) }
        if fsInfoDirty, let info = fsInfoSector {
            var s = [UInt8](repeating: 0, count: bytesPerSector)
            try withMutableBytes(&s) { (b) throws(DiskError) in try readSectors(info, 1, into: b) }
            if s.le32(0) == 0x4161_5252 && s.le32(484) == 0x6141_7272 {
                s.put32(488, freeCount)
                s.put32(492, isCluster(nextFree) ? nextFree : 2)
                try withBytes(s) { (b) throws(DiskError) in try writeSectors(info, 1, from: b) }
            }
            fsInfoDirty = false
        }
        try device.flush()
    }

    /// Bytes free and in total (data clusters).
    public var freeBytes: UInt64 { UInt64(freeCount) * UInt64(clusterBytes) }
    public var totalBytes: UInt64 { UInt64(clusterCount) * UInt64(clusterBytes) }
}

/// The boot sector's BIOS parameter block, checked.
struct BPB {
    var bytesPerSector = 0, sectorsPerCluster = 0, fatCount = 0
    var reservedSectors: UInt64 = 0, fatSectors: UInt64 = 0, totalSectors: UInt64 = 0, dataStart: UInt64 = 0
    var rootCluster: UInt32 = 0, clusterCount: UInt32 = 0
    var fsInfoSector: UInt64 = 0
    var label: [UInt8] = []

    /// Parses and checks a FAT32 boot sector (`.corrupt` when it is not one this code can trust).
    init(_ b: [UInt8]) throws(DiskError) {
        guard b.count >= 512, b[510] == 0x55, b[511] == 0xAA, b[0] == 0xEB || b[0] == 0xE9 else { throw .corrupt }
        bytesPerSector = Int(b.le16(11))
        sectorsPerCluster = Int(b[13])
        reservedSectors = UInt64(b.le16(14))
        fatCount = Int(b[16])
        let rootEntries = b.le16(17)
        let total16 = UInt64(b.le16(19)), fat16 = b.le16(22)
        let total32 = UInt64(b.le32(32))
        fatSectors = UInt64(b.le32(36))
        rootCluster = b.le32(44)
        fsInfoSector = UInt64(b.le16(48))
        guard [512, 1024, 2048, 4096].contains(bytesPerSector),
              sectorsPerCluster > 0, sectorsPerCluster & (sectorsPerCluster - 1) == 0,
              bytesPerSector * sectorsPerCluster <= 64 * 1024,
              reservedSectors > 0, fatCount >= 1, fatCount <= 4,
              rootEntries == 0, fat16 == 0, fatSectors > 0 else { throw .corrupt }
        totalSectors = total16 != 0 ? total16 : total32
        dataStart = reservedSectors + UInt64(fatCount) * fatSectors
        guard dataStart < totalSectors else { throw .corrupt }
        let clusters = (totalSectors - dataStart) / UInt64(sectorsPerCluster)
        // The FAT must hold an entry for every cluster (and the two reserved ones).
        let entries = min(clusters, 0x0FFF_FFF5 - 2)
        guard entries >= 1, fatSectors * UInt64(bytesPerSector) / 4 >= entries + 2 else { throw .corrupt }
        clusterCount = UInt32(entries)
        label = b[66] == 0x29 ? Array(b[71..<82]) : []
    }
}
