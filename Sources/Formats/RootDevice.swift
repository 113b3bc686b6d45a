// Which volume a disk file server serves: the kernel command line's `root=` names it (`root=virtio0p1`:
// disk 0, partition 1; `root=virtio0`: disk 0's first FAT partition; `root=LABEL=NAME`: the partition
// whose FAT volume label or GPT partition name is NAME), and without `root=` it is the first partition
// that may hold FAT, else the first partition, else the whole disk (no table). Pure logic over a
// BlockDevice, host-tested (RootDeviceTests).

/// A parsed `root=` value.
public enum RootDevice: Equatable, Sendable {
    /// `virtioN` (partition nil) or `virtioNpM`.
    case virtio(disk: Int, partition: Int?)
    /// `LABEL=NAME`: compared with FAT volume labels (ASCII case ignored, trailing spaces dropped) and
    /// GPT partition names.
    case label([UInt8])

    /// The device a `root=` value names; nil for anything else (a `fs` or `tmpfs` root is not a disk).
    public static func parse(_ text: Substring) -> RootDevice? {
        if text.hasPrefix("LABEL=") {
            let name = Array(text.dropFirst(6).utf8)
            return name.isEmpty || name.count > 72 ? nil : .label(name)
        }
        guard text.hasPrefix("virtio") else { return nil }
        let rest = text.dropFirst(6)
        let parts = rest.split(separator: "p", maxSplits: 1, omittingEmptySubsequences: false)
        guard let diskText = parts.first, !diskText.isEmpty, diskText.count <= 3, let disk = Int(diskText) else { return nil }
        if parts.count == 1 { return .virtio(disk: disk, partition: nil) }
        guard parts[1].count <= 3, let p = Int(parts[1]), p >= 1 else { return nil }
        return .virtio(disk: disk, partition: p)
    }

    /// Whether two labels match: ASCII letters' case ignored, trailing spaces and NULs dropped.
    public static func labelsMatch(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        func norm(_ x: [UInt8]) -> [UInt8] {
            var y = x
            while let last = y.last, last == 0x20 || last == 0 { y.removeLast() }
            return y.map { $0 >= 0x61 && $0 <= 0x7a ? $0 - 0x20 : $0 }
        }
        return norm(a) == norm(b)
    }
}

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
