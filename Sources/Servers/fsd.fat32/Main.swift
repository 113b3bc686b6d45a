// fsd.fat32: serves a FAT32 file system over the file-service protocol (Sources/ABI/FileProtocol.swift),
// reading and writing its disk through the block-device protocol (Sources/ABI/BlockProtocol.swift) with
// the Formats FAT32 core.
//
// Startup: `import:block` is a Sender to the disk's driver, `export:fat32` the Receiver it serves. The
// command line may say `partition=N` (the Nth entry of the disk's MBR or GPT; default: the first
// partition that may hold FAT, or the whole disk when there is no table), `scheme=NAME` (the URI scheme
// it answers to besides bare paths; default `fat32`) and `epoch=SECONDS` (the wall-clock time at boot:
// file times are that plus the uptime; without it they count from 2026-01-01, as there is no RTC
// reader yet).

let programName: StaticString = "fsd.fat32"

func programMain(_ startup: Startup) -> Int32 {
    guard let blockSender = startup.imported("block"), let receiver = startup.exported("fat32") else {
        print("fsd.fat32: needs import:block and export:fat32; exiting")
        return 1
    }
    let disk: BlockClient
    do throws(SysError) { disk = try BlockClient(blockSender) } catch {
        print("fsd.fat32: the block device does not answer: \(error.name)")
        return 1
    }
    let epoch = startup.value(ofKey: "epoch").flatMap { UInt64($0) } ?? 1_767_225_600
    let clock: FATClock = { epoch + Clock.now() / 1_000_000_000 }
    let partitionNumber = startup.value(ofKey: "partition").flatMap { Int($0) }
    let volume: FAT32Volume<BlockRange<BlockClient>>
    do throws(DiskError) {
        let (start, count) = try choosePartition(disk, number: partitionNumber)
        volume = try FAT32Volume(try BlockRange(disk, start: start, count: count), clock: clock)
    } catch {
        print("fsd.fat32: no FAT32 volume on the disk (\(describe(error)))")
        return 1
    }
    let scheme = Array((startup.value(ofKey: "scheme") ?? "fat32").utf8)
    print("fsd.fat32: serving \(String(decoding: scheme, as: UTF8.self)):// (\(volume.totalBytes / 1024) KiB, \(volume.freeBytes / 1024) KiB free, \(volume.clusterBytes)-byte clusters)")
    let server = FATServer(volume: volume, scheme: scheme, readOnly: disk.flags.contains(.readOnly))
    return server.run(receiver)
}

/// The blocks of the volume: partition `number`, else the first that may hold FAT, else the whole disk.
func choosePartition(_ disk: BlockClient, number: Int?) throws(DiskError) -> (UInt64, UInt64) {
    let table: PartitionTable
    do throws(PartitionError) { table = try PartitionTable.read(disk) } catch {
        throw error == .io ? .io : .corrupt
    }
    if let number {
        guard let p = table.partitions.first(where: { $0.number == number }) else { throw .notFound }
        return (p.start, p.count)
    }
    if let p = table.partitions.first(where: { $0.mayHoldFAT }) ?? table.partitions.first { return (p.start, p.count) }
    return (0, disk.blockCount)
}

func describe(_ e: DiskError) -> String {
    switch e {
    case .io: return "I/O error"
    case .corrupt: return "damaged or not FAT32"
    case .notFound: return "no such partition"
    default: return "error"
    }
}
