// The block-device abstraction the disk formats (FAT32, partition tables) read and write through: a
// numbered run of equal blocks. fsd.fat32 implements it over the block-device protocol (Runtime
// BlockClient), the host tests over an image file or a byte array. BlockRange is a window onto part of
// a device (a partition): every access is checked against the window, so nothing above it can read or
// write outside its partition.

/// Why a disk format operation failed. The file server maps these to FileError.
public enum DiskError: Error, Equatable, Sendable {
    /// The device failed, or an access fell outside it.
    case io
    /// The on-disk structures are inconsistent (a bad BPB, a chain loop, a cluster out of range, …).
    case corrupt
    case notFound
    case exists
    case notDirectory
    case isDirectory
    case notEmpty
    case noSpace
    /// A name FAT cannot hold (empty, `.`/`..`, a forbidden character, bad UTF-8).
    case invalidName
    case nameTooLong
    /// A file would grow past 4 GiB - 1 bytes, or a directory past 65,536 entries.
    case tooLarge
    /// An argument the operation does not take (moving a directory into itself, …).
    case invalid
}

/// A device of `blockCount` blocks of `blockSize` bytes each.
public protocol BlockDevice: AnyObject {
    var blockSize: Int { get }
    var blockCount: UInt64 { get }
    /// Reads blocks first..<first+count into `buffer` (count × blockSize bytes).
    func readBlocks(_ first: UInt64, _ count: Int, into buffer: UnsafeMutableRawPointer) throws(DiskError)
    /// Writes blocks first..<first+count from `buffer`.
    func writeBlocks(_ first: UInt64, _ count: Int, from buffer: UnsafeRawPointer) throws(DiskError)
    /// Returns when every write before it is on stable storage.
    func flush() throws(DiskError)
}

/// Blocks start..<start+count of another device, numbered from 0; an access past its end is `.io`.
public final class BlockRange<Base: BlockDevice>: BlockDevice {
    public let base: Base
    public let start: UInt64
    public let blockCount: UInt64
    public var blockSize: Int { base.blockSize }

    /// The window; `.io` if it does not lie inside `base`.
    public init(_ base: Base, start: UInt64, count: UInt64) throws(DiskError) {
        guard start <= base.blockCount, count <= base.blockCount - start else { throw .io }
        self.base = base
        self.start = start
        self.blockCount = count
    }

    func check(_ first: UInt64, _ count: Int) throws(DiskError) {
        guard count >= 0, first <= blockCount, UInt64(count) <= blockCount - first else { throw .io }
    }

    public func readBlocks(_ first: UInt64, _ count: Int, into buffer: UnsafeMutableRawPointer) throws(DiskError) {
        try check(first, count)
        try base.readBlocks(start + first, count, into: buffer)
    }

    public func writeBlocks(_ first: UInt64, _ count: Int, from buffer: UnsafeRawPointer) throws(DiskError) {
        try check(first, count)
        try base.writeBlocks(start + first, count, from: buffer)
    }

    public func flush() throws(DiskError) { try base.flush() }
}

/// A device held in memory (tests, RAM disks): `bytes.count / blockSize` blocks.
public final class MemoryBlockDevice: BlockDevice {
    public var bytes: [UInt8]
    public let blockSize: Int
    public var blockCount: UInt64 { UInt64(bytes.count / blockSize) }
    /// Writes done, for tests that check nothing was written.
    public private(set) var writes = 0

    public init(bytes: [UInt8], blockSize: Int = 512) {
        self.bytes = bytes
        self.blockSize = blockSize
    }

    func range(_ first: UInt64, _ count: Int) throws(DiskError) -> Int {
        guard count >= 0, first <= blockCount, UInt64(count) <= blockCount - first else { throw .io }
        return Int(first) * blockSize
    }

    public func readBlocks(_ first: UInt64, _ count: Int, into buffer: UnsafeMutableRawPointer) throws(DiskError) {
        let at = try range(first, count)
        bytes.withUnsafeBytes { b in buffer.copyMemory(from: b.baseAddress! + at, byteCount: count * blockSize) }
    }

    public func writeBlocks(_ first: UInt64, _ count: Int, from buffer: UnsafeRawPointer) throws(DiskError) {
        let at = try range(first, count)
        writes += 1
        bytes.withUnsafeMutableBytes { b in (b.baseAddress! + at).copyMemory(from: buffer, byteCount: count * blockSize) }
    }

    public func flush() throws(DiskError) {}
}

// Little-endian fields in byte arrays and raw memory (all the on-disk formats here are little-endian).
@inline(__always) func le16(_ b: UnsafeRawPointer, _ at: Int) -> UInt16 {
    UInt16(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt16.self))
}
@inline(__always) func le32(_ b: UnsafeRawPointer, _ at: Int) -> UInt32 {
    UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
}
@inline(__always) func le64(_ b: UnsafeRawPointer, _ at: Int) -> UInt64 {
    UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self))
}
@inline(__always) func put16(_ b: UnsafeMutableRawPointer, _ at: Int, _ v: UInt16) {
    b.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt16.self)
}
@inline(__always) func put32(_ b: UnsafeMutableRawPointer, _ at: Int, _ v: UInt32) {
    b.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt32.self)
}
@inline(__always) func put64(_ b: UnsafeMutableRawPointer, _ at: Int, _ v: UInt64) {
    b.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt64.self)
}

extension Array where Element == UInt8 {
    func le16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func le32(_ at: Int) -> UInt32 { UInt32(le16(at)) | UInt32(le16(at + 2)) << 16 }
    func le64(_ at: Int) -> UInt64 { UInt64(le32(at)) | UInt64(le32(at + 4)) << 32 }
    mutating func put16(_ at: Int, _ v: UInt16) {
        self[at] = UInt8(truncatingIfNeeded: v)
        self[at + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
    mutating func put32(_ at: Int, _ v: UInt32) {
        put16(at, UInt16(truncatingIfNeeded: v))
        put16(at + 2, UInt16(truncatingIfNeeded: v >> 16))
    }
    mutating func put64(_ at: Int, _ v: UInt64) {
        put32(at, UInt32(truncatingIfNeeded: v))
        put32(at + 4, UInt32(truncatingIfNeeded: v >> 32))
    }
}

/// Runs `body` on an array's storage, with the typed error passed through (the standard library's
/// withUnsafeMutableBytes rethrows untyped). The array must not be empty.
func withMutableBytes<R>(_ a: inout [UInt8], _ body: (UnsafeMutableRawPointer) throws(DiskError) -> R) throws(DiskError) -> R {
    let r: Result<R, DiskError> = a.withUnsafeMutableBytes { b in Result { () throws(DiskError) in try body(b.baseAddress!) } }
    return try r.get()
}

/// As withMutableBytes, for reading the array.
func withBytes<R>(_ a: [UInt8], _ body: (UnsafeRawPointer) throws(DiskError) -> R) throws(DiskError) -> R {
    let r: Result<R, DiskError> = a.withUnsafeBytes { b in Result { () throws(DiskError) in try body(b.baseAddress!) } }
    return try r.get()
}
