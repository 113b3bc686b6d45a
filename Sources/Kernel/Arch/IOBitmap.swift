// The TSS's I/O permission bitmap: which ports the running process may use with in/out in user mode
// (IOPL stays 0, so every other port is a #GP that ends the process). Each process keeps its own bitmap
// (Process.ioPorts, Core/IOPermissionBitmap.swift, built from its IOPort handles); a switch to another
// process copies it into the TSS when it has ports, and otherwise points the TSS's map base past the
// segment limit, which denies every port without touching the 8 KiB. One CPU: one TSS, one copy.

#if !KERNEL
import ABI
#endif

enum IOBitmap {
    /// The bitmap's offset in the TSS (right after the 104-byte TSS proper).
    static let mapOffset = 104
    /// The TSS segment limit: the last byte is the bitmap's terminating 0xFF byte.
    static let tssLimit = mapOffset + IOPermissionBitmap.tssBytes - 1
    /// A map base past the limit: no bitmap, every port faults in user mode.
    static let noMap = UInt16(0xffff)

    /// The process whose bitmap the TSS holds (0: none) and that bitmap's version.
    static var loadedProcess: UInt64 = 0
    static var loadedVersion: UInt64 = 0

    private static var tss: UnsafeMutablePointer<UInt8> { symbol_tss_storage()! }

    /// Every port denied, the terminating byte set; called while the TSS is built.
    static func initialize() {
        for i in 0..<IOPermissionBitmap.tssBytes { tss[mapOffset + i] = 0xff }
        setMapBase(noMap)
        loadedProcess = 0
    }

    private static func setMapBase(_ base: UInt16) {
        UnsafeMutableRawPointer(tss + 102).storeBytes(of: base, as: UInt16.self)
    }

    /// Makes `p`'s ports the usable ones (at a switch to a thread of `p`, or when `p`'s grants change
    /// while it runs). Copies 8 KiB only when the TSS holds another process's bitmap or an older one.
    static func load(_ p: Process) {
        guard p.ioPorts.allowsAny else { return setMapBase(noMap) }
        if loadedProcess != p.id || loadedVersion != p.ioPorts.version {
            p.ioPorts.bytes.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
                UnsafeMutableRawPointer(tss + mapOffset).copyMemory(from: b.baseAddress!, byteCount: b.count)
            }
            loadedProcess = p.id
            loadedVersion = p.ioPorts.version
        }
        setMapBase(UInt16(mapOffset))
    }

    /// `p`'s grants changed: the TSS follows at once when `p` is the running process.
    static func changed(_ p: Process) {
        if Scheduler.current?.process === p { load(p) }
    }
}
