// Mounting fsd.fat32's volume, at the first request that needs it: connect to the disk driver (Runtime
// BlockClient: info and a data window), pick the partition (Sources/Formats/RootDevice.swift: the
// kernel's `root=`, else `partition=N`, else the first FAT partition or the whole disk) and open the
// FAT32 volume on it. Its disk is number `disk` (`disk=N`, default 0: the first virtio disk), the one
// the `block` import reaches.
// A failed mount is logged once and answers every later request with its error: `.noServer` (ENXIO)
// when there is no disk or no such partition or label, `.io` for a damaged volume or an I/O error.

final class VolumeMount {
    let blockSender: Handle
    let disk: Int
    let root: RootDevice?
    let partition: Int?
    let clock: FATClock
    var failure: FileError? = nil

    init(blockSender: Handle, disk: Int, root: RootDevice?, partition: Int?, clock: @escaping FATClock) {
        self.blockSender = blockSender
        self.disk = disk
        self.root = root
        self.partition = partition
        self.clock = clock
    }

    /// The mounted volume and whether the device is read-only.
    func volume() throws(FileError) -> (volume: FAT32Volume<BlockRange<BlockClient>>, readOnly: Bool) {
        if let failure { throw failure }
        do throws(FileError) {
            let device: BlockClient
            do throws(SysError) { device = try BlockClient(blockSender) } catch {
                print("fsd.fat32: no disk (the block driver answers \(error.name))")
                throw FileError.noServer
            }
            let choice = partition.map { RootDevice.virtio(disk: self.disk, partition: $0) } ?? root
            let volume: FAT32Volume<BlockRange<BlockClient>>
            do throws(DiskError) {
                let (start, count) = try VolumeChoice.choose(device, disk: disk, root: choice)
                volume = try FAT32Volume(try BlockRange(device, start: start, count: count), clock: clock)
                let label = String(decoding: volume.label.filter { $0 != 0x20 }, as: UTF8.self)
                print("fsd.fat32: mounted \(label.isEmpty ? "a volume" : label) at block \(start) (\(volume.totalBytes / 1024) KiB, "
                      + "\(volume.freeBytes / 1024) KiB free, \(volume.clusterBytes)-byte clusters)")
            } catch {
                print("fsd.fat32: no FAT32 volume to serve (\(describe(error)))")
                throw error == .notFound ? FileError.noServer : FileError.io
            }
            return (volume, device.flags.contains(.readOnly))
        } catch {
            failure = error
            throw error
        }
    }
}

func describe(_ e: DiskError) -> String {
    switch e {
    case .io: return "I/O error"
    case .corrupt: return "damaged or not FAT32"
    case .notFound: return "no such disk, partition or label"
    default: return "error"
    }
}
