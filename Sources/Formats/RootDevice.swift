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
