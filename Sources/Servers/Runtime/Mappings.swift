// Room in this process's address space for mappings the runtime makes on a program's behalf (IPC buffer
// pages, file data windows), and IPC buffer pages themselves.

/// Addresses from 0x30_0000_0000 up to 0x40_0000_0000 (64 GiB), handed out a guard page apart; returned
/// ranges are reused first fit for the same or a smaller page count.
public enum MappingSpace {
    public static let base: UInt64 = 0x30_0000_0000
    public static let limit: UInt64 = 0x40_0000_0000
    static let lockIndex: Int32 = 2
    static var next: UInt64 = base
    static var returned: [(address: UInt64, pages: UInt64)] = []

    static func lock() { while runtime_lock_try(lockIndex) == 0 { threadYield() } }
    static func unlock() { runtime_lock_release(lockIndex) }

    /// A free range of `pages` pages (not mapped yet), or nil when the space is used up.
    public static func take(pages: UInt64) -> UInt64? {
        guard pages > 0, pages <= (limit - base) / pageSize else { return nil }
        lock()
        defer { unlock() }
        if let i = returned.firstIndex(where: { $0.pages == pages }) {
            return returned.remove(at: i).address
        }
        guard next + (pages + 1) * pageSize <= limit else { return nil }
        let address = next
        next += (pages + 1) * pageSize
        return address
    }

    /// Gives a range back (after it was unmapped).
    public static func give(_ address: UInt64, pages: UInt64) {
        lock()
        returned.append((address, pages))
        unlock()
    }

    /// Maps `frame` (of `length` bytes, a page multiple) at a fresh address (read-write unless `flags`
    /// says otherwise); its address.
    public static func map(_ frame: Handle, length: UInt64, flags: MapFlags = [.read, .write]) throws(SysError) -> UInt64 {
        let pages = (length + pageSize - 1) / pageSize
        guard let address = take(pages: pages) else { throw .outOfVirtualMemory }
        do throws(SysError) {
            try vmemMap(Runtime.vmem, frame: frame, address: address, length: pages * pageSize, flags: flags)
        } catch {
            give(address, pages: pages)
            throw error
        }
        return address
    }

    /// Undoes map.
    public static func unmap(_ address: UInt64, length: UInt64) {
        let pages = (length + pageSize - 1) / pageSize
        if (try? vmemUnmap(Runtime.vmem, address: address, length: pages * pageSize)) != nil {
            give(address, pages: pages)
        }
    }
}

/// A page used as a thread's IPC buffer (Sources/ABI/Syscalls.swift, IPCBuffer): handle values at its
/// start, message bytes from IPCBuffer.bytesOffset.
public struct IPCBufferPage {
    public let frame: Handle
    public let address: UInt64

    /// A fresh page, mapped read-write (not installed on any thread yet).
    public static func make() throws(SysError) -> IPCBufferPage {
        let frame = try frameCreate(size: pageSize)
        do throws(SysError) {
            return IPCBufferPage(frame: frame, address: try MappingSpace.map(frame, length: pageSize))
        } catch {
            _ = try? handleClose(frame)
            throw error
        }
    }

    /// Makes this page the calling thread's IPC buffer.
    public func install() throws(SysError) { try IPCBufferTracker.set(address) }

    /// Unmaps and closes the page (no thread may use it any more).
    public func release() {
        MappingSpace.unmap(address, length: pageSize)
        _ = try? handleClose(frame)
    }

    @inline(__always) var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(address))! }

    /// The message bytes area.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: raw + IPCBuffer.bytesOffset, count: IPCBuffer.maxBytes)
    }

    /// Transferred handle `i` (as it arrived, or as it will be sent).
    public func handle(_ i: Int) -> Handle { Handle(raw: raw.load(fromByteOffset: i * 4, as: UInt32.self)) }
    public func setHandle(_ i: Int, _ h: Handle) { raw.storeBytes(of: h.raw, toByteOffset: i * 4, as: UInt32.self) }

    /// Copies `source` into the message bytes at `offset`; false when it does not fit.
    @discardableResult
    public func put(_ source: UnsafeRawBufferPointer, at offset: Int = 0) -> Bool {
        guard offset >= 0, source.count <= IPCBuffer.maxBytes - offset else { return false }
        if source.count > 0 { (raw + IPCBuffer.bytesOffset + offset).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        return true
    }

    /// The first `count` message bytes.
    public func take(_ count: Int, from offset: Int = 0) -> [UInt8] {
        let n = max(0, min(count, IPCBuffer.maxBytes - offset))
        return Array(UnsafeRawBufferPointer(start: raw + IPCBuffer.bytesOffset + offset, count: n))
    }
}
