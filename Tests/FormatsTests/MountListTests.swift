import ABI
import Formats
import Testing

/// The entries of the file protocol's `mounts` reply (Sources/Formats/MountList.swift), `mount`'s
/// lines and df's mount lookup.
@Suite struct MountListTests {
    static let sample = [
        MountEntry(flags: [.readOnly, .running], point: "initfs:///", source: "initfsd", type: "initfs", options: "ro"),
        MountEntry(flags: [.running], point: "fs:///", source: "LABEL=OSDISK", type: "vfat", options: "defaults"),
        MountEntry(flags: [.running], point: "fs:///tmp", source: "none", type: "tmpfs", options: "defaults"),
        MountEntry(flags: [.startedOnAccess], point: "fs:///disk1", source: "virtio1", type: "vfat", options: "x-lazy"),
        MountEntry(flags: [.startedOnAccess, .running, .readOnly], point: "fs:///disk1/inner", source: "virtio2p1", type: "vfat",
                   options: "ro,x-lazy,noatime"),
        MountEntry(flags: [.running], point: "test://", source: "mount", type: "server", options: "défauts"),
    ]

    static func encode(_ entries: [MountEntry]) -> [UInt8] { entries.flatMap { $0.encoded()! } }

    @Test func entriesRoundTrip() {
        let bytes = Self.encode(Self.sample)
        #expect(MountEntry.decode(bytes, count: Self.sample.count) == Self.sample)
        #expect(MountEntry.decode([], count: 0) == [])
        // The layout: flags, then four 2-byte little-endian lengths each before its bytes.
        let one = MountEntry(flags: [.readOnly], point: "a://", source: "s", type: "t", options: "").encoded()!
        #expect(one == [1, 4, 0] + Array("a://".utf8) + [1, 0, 115, 1, 0, 116, 0, 0])
        #expect(MountEntry(flags: [], point: String(repeating: "x", count: 70_000), source: "", type: "", options: "").encoded() == nil)
    }

    @Test func malformedBytesAreRefused() {
        let bytes = Self.encode(Self.sample)
        #expect(MountEntry.decode(bytes, count: Self.sample.count + 1) == nil, "more entries than bytes")
        #expect(MountEntry.decode(bytes, count: Self.sample.count - 1) == nil, "bytes left over")
        #expect(MountEntry.decode(bytes, count: -1) == nil)
        for cut in [1, 2, 3, 10, bytes.count - 1] {
            #expect(MountEntry.decode(Array(bytes.prefix(cut)), count: Self.sample.count) == nil, "cut at \(cut)")
        }
        #expect(MountEntry.decode([0, 0xff, 0xff, 1], count: 1) == nil, "a length past the end")
        #expect(MountEntry.decode([0, 1, 0, 0xff, 0, 0, 0, 0, 0, 0], count: 1) == nil, "not UTF-8")
        // Every prefix and random bytes: never a crash.
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let n = Int(state >> 56) % 40
            var b: [UInt8] = []
            for k in 0..<n { b.append(UInt8(truncatingIfNeeded: state >> UInt64(k % 8 * 8))) }
            _ = MountEntry.decode(b, count: Int(state >> 60) % 4)
        }
    }

    @Test func linesInLinuxShape() {
        #expect(Self.sample.map(\.line) == [
            "initfsd on initfs:/// type initfs (ro)",
            "LABEL=OSDISK on fs:/// type vfat (rw)",
            "none on fs:///tmp type tmpfs (rw)",
            "virtio1 on fs:///disk1 type vfat (rw,x-lazy,not-started)",
            "virtio2p1 on fs:///disk1/inner type vfat (ro,x-lazy,noatime,started)",
            "mount on test:// type server (rw,défauts)",
        ])
    }

    @Test func dfFindsTheMountOfAPath() {
        let s = Self.sample
        #expect(MountPaths.uri("/disk1/a") == "fs:///disk1/a")
        #expect(MountPaths.uri("initfs:///bin") == "initfs:///bin")
        #expect(MountPaths.mount(of: "fs:///disk1/a/b", in: s)?.source == "virtio1")
        #expect(MountPaths.mount(of: "fs:///disk1", in: s)?.source == "virtio1")
        #expect(MountPaths.mount(of: "fs:///disk1/inner/x", in: s)?.source == "virtio2p1")
        #expect(MountPaths.mount(of: "fs:///disk10", in: s)?.source == "LABEL=OSDISK", "a component, not a prefix of one")
        #expect(MountPaths.mount(of: "fs:///", in: s)?.source == "LABEL=OSDISK")
        #expect(MountPaths.mount(of: "initfs:///etc/fstab", in: s)?.source == "initfsd")
        #expect(MountPaths.mount(of: "test://", in: s)?.type == "server")
        #expect(MountPaths.mount(of: "console:///", in: s) == nil)
        #expect(MountPaths.mount(of: "no scheme", in: s) == nil)
        #expect(MountPaths.shown("fs:///") == "/")
        #expect(MountPaths.shown("fs:///disk1") == "/disk1")
        #expect(MountPaths.shown("initfs:///") == "initfs:///")
    }
}
