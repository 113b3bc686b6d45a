// Which blocks of a disk a disk file server serves for a `root=` value (RootDevice.swift): pure logic
// over a BlockDevice and its partition table, host-tested (RootDeviceTests).

public enum VolumeChoice {
    /// The blocks (start, count) of the volume to serve on disk number `disk` of `device`, for `root`
    /// (nil: no `root=`). `.notFound` when root names another disk, a partition that is not there or a
    /// label nobody has; `.io`/`.corrupt` when the table cannot be read.
    public static func choose<D: BlockDevice>(_ device: D, disk: Int, root: RootDevice?) throws(DiskError) -> (start: UInt64, count: UInt64) {
        let table: PartitionTable
        do throws(PartitionError) { table = try PartitionTable.read(device) } catch {
            throw error == .io ? .io : .corrupt
        }
        let whole = (start: UInt64(0), count: device.blockCount)
        switch root {
        case .none, .some(.virtio(_, nil)):
            if case .virtio(let d, _) = root, d != disk { throw .notFound }
            if let p = table.partitions.first(where: { $0.mayHoldFAT }) ?? table.partitions.first { return (p.start, p.count) }
            return whole
        case .some(.virtio(let d, let number?)):
            guard d == disk, let p = table.partitions.first(where: { $0.number == number }) else { throw .notFound }
            return (p.start, p.count)
        case .some(.label(let name)):
            let candidates = table.partitions.isEmpty ? [whole] : table.partitions.map { (start: $0.start, count: $0.count) }
            for (i, c) in candidates.enumerated() {
                if !table.partitions.isEmpty, !table.partitions[i].name.isEmpty, RootDevice.labelsMatch(table.partitions[i].name, name) {
                    return c
                }
                if let label = fatLabel(device, at: c.start), RootDevice.labelsMatch(label, name) { return c }
            }
            throw .notFound
        }
    }

    /// The volume label of a FAT32 boot sector at block `start` (extended boot signature 0x29, bytes
    /// 71-81), or nil.
    public static func fatLabel<D: BlockDevice>(_ device: D, at start: UInt64) -> [UInt8]? {
        guard start < device.blockCount, device.blockSize >= 512 else { return nil }
        var b = [UInt8](repeating: 0, count: device.blockSize)
        do throws(DiskError) {
            try withMutableBytes(&b) { (p) throws(DiskError) in try device.readBlocks(start, 1, into: p) }
        } catch { return nil }
        guard b[510] == 0x55, b[511] == 0xAA, b[66] == 0x29, Array(b[82..<87]) == Array("FAT32".utf8) else { return nil }
        return Array(b[71..<82])
    }
}
