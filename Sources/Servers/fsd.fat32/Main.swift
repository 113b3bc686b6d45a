// fsd.fat32: serves a FAT32 file system over the file-service protocol (Sources/ABI/FileProtocol.swift),
// reading and writing its disk through the block-device protocol (Sources/ABI/BlockProtocol.swift) with
// the Formats FAT32 core. A boot server (initfs:///sbin/fsd.fat32): root gives it `import:block` (a
// Sender to the first disk's driver) and `export:fat32` (the Receiver it serves); it touches the disk
// only at the first request that needs the volume (Volume.swift).
//
// Which volume: the kernel command line's `root=` (root passes it on: `virtio0p1`, `virtio0`,
// `LABEL=NAME`), else `partition=N` on its own command line, else the first partition that may hold FAT
// (or the whole disk when there is no table). Also `scheme=NAME` (the URI scheme it answers to besides
// bare paths; default `fat32`) and `epoch=SECONDS` (the wall-clock time at boot: file times are that
// plus the uptime; without it they count from 2026-01-01), and `disk=N` (which disk its `block` import
// is: 0, the first, for the boot server; vfs starts an instance with `disk=1 root=virtio1p1` for an
// fstab line on the second disk).

let programName: StaticString = "fsd.fat32"

func programMain(_ startup: Startup) -> Int32 {
    guard let blockSender = startup.imported("block"), let receiver = startup.exported("fat32") else {
        print("fsd.fat32: needs import:block and export:fat32; exiting")
        return 1
    }
    let epoch = startup.value(ofKey: "epoch").flatMap { UInt64($0) } ?? 1_767_225_600
    let clock: FATClock = { epoch + Clock.now() / 1_000_000_000 }
    let rootText = startup.value(of: .root)
    let root = rootText.flatMap { RootDevice.parse($0) }
    if let rootText, root == nil { print("fsd.fat32: root=\(rootText) names no disk; serving the first FAT partition") }
    let disk = startup.value(ofKey: "disk").flatMap { Int($0) } ?? 0
    let mount = VolumeMount(blockSender: blockSender, disk: disk, root: root, partition: startup.value(ofKey: "partition").flatMap { Int($0) },
                            clock: clock)
    let scheme = Array((startup.value(ofKey: "scheme") ?? "fat32").utf8)
    print("fsd.fat32: serving \(String(decoding: scheme, as: UTF8.self)):// (" + (rootText.map { "root=\($0)" } ?? "the first FAT partition")
          + "; mounted at the first request)")
    return FATServer(mount: mount, scheme: scheme).run(receiver)
}
