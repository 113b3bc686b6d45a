// PageShares: how many Frames hold each physical page, for copy on write. A Frame's page tree holds a
// page's physical address; after frame_clone two (or more) trees hold the same address and the page is
// shared: no mapping may write it, and the first writer copies it (Frame.writablePage). The count is kept
// per physical page as "holders beyond the first" in one UInt16 per page frame (2 bytes per 4 KiB), so
// the common, unshared page costs nothing and every query is O(1). The table's memory comes from the
// caller (the kernel: PMM pages at boot; host tests: an allocation).

#if !KERNEL
import ABI
#endif

public struct PageShares {
    /// One counter per page frame below `pageLimit`: holders beyond the first.
    let extra: UnsafeMutablePointer<UInt16>
    /// Page frames covered (physical addresses below pageLimit * pageSize).
    public let pageLimit: UInt64

    /// The most holders beyond the first one page can have.
    public static var maximumExtra: UInt16 { UInt16.max }

    /// Bytes of table needed to cover physical addresses below `highestAddress`.
    public static func bytes(highestAddress: UInt64) -> Int { Int((highestAddress + pageSize - 1) / pageSize) * 2 }

    /// A table over zeroed memory of at least `bytes(highestAddress:)` bytes.
    public init(table: UnsafeMutableRawPointer, highestAddress: UInt64) {
        pageLimit = (highestAddress + pageSize - 1) / pageSize
        extra = table.bindMemory(to: UInt16.self, capacity: Int(pageLimit))
    }

    func slot(_ physical: UInt64) -> Int? {
        let index = physical / pageSize
        return index < pageLimit ? Int(index) : nil
    }

    /// Whether more than one Frame holds the page.
    public func isShared(_ physical: UInt64) -> Bool {
        guard let i = slot(physical) else { return false }
        return extra[i] > 0
    }

    /// Holders of the page (1 for a page held once).
    public func holders(_ physical: UInt64) -> Int {
        guard let i = slot(physical) else { return 1 }
        return Int(extra[i]) + 1
    }

    /// Whether one more holder can be added (false past the table or at the counter's limit).
    public func canShare(_ physical: UInt64) -> Bool {
        guard let i = slot(physical) else { return false }
        return extra[i] < PageShares.maximumExtra
    }

    /// Adds a holder; the caller checked canShare.
    public mutating func share(_ physical: UInt64) {
        guard let i = slot(physical), extra[i] < PageShares.maximumExtra else { return }
        extra[i] += 1
    }

    /// Drops a holder; true when it was the last one (the caller frees the page).
    public mutating func release(_ physical: UInt64) -> Bool {
        guard let i = slot(physical), extra[i] > 0 else { return true }
        extra[i] -= 1
        return false
    }
}
