// An intrusive FIFO of objects that carry their own links (the kernel's blocked threads: exit waiters,
// endpoint callers and receivers, notification and futex waiters; and, one queue per priority, the ready
// threads). Appending, removing the first and removing a given element are O(1) and never allocate,
// which the IPC fast path and the teardown of processes with many threads rely on.

/// An element of an IntrusiveQueue: it can be in at most one queue at a time.
public protocol IntrusiveQueueElement: AnyObject {
    /// The element after this one (the queue owns its elements through these links).
    var nextWaiting: Self? { get set }
    /// The element before this one, without a count: the next links (and the queue's head) already own
    /// every element, so walking back or relinking takes no retain and no release.
    var previousWaiting: Unmanaged<Self>? { get set }
    /// The queue this element is in, nil when in none.
    var waitingIn: ObjectIdentifier? { get set }
}

public final class IntrusiveQueue<Element: IntrusiveQueueElement> {
    public private(set) var head: Element? = nil
    /// Without a count: the last element is owned by the link before it (or `head`), so appending and
    /// unlinking take none for it (issue 17: the IPC fast path queues a receiver on every round trip).
    private var tail: Unmanaged<Element>? = nil
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { head == nil }

    public func append(_ e: Element) {
        // An element in no queue has no successor (unlink takes it): no store, no release, in the common case.
        if e.nextWaiting != nil { e.nextWaiting = nil }
        e.previousWaiting = tail
        e.waitingIn = ObjectIdentifier(self)
        if let last = tail { last._withUnsafeGuaranteedRef { $0.nextWaiting = e } } else { head = e }
        tail = Unmanaged.passUnretained(e)
        count += 1
    }

    public func removeFirst() -> Element? {
        guard let first = head else { return nil }
        unlink(first)
        return first
    }

    /// The first element without a count taken on it (valid while the queue or another owner keeps it).
    @inline(__always) public var firstUnretained: Unmanaged<Element>? {
        guard let first = head else { return nil }
        return Unmanaged.passUnretained(first)
    }

    /// Takes the first element out (when there is one) without handing it back: the queue's reference
    /// to it goes, so another owner must keep it alive.
    public func dropFirst() {
        guard let first = firstUnretained else { return }
        first._withUnsafeGuaranteedRef { unlink($0) }
    }

    /// Puts an element back at the front (e.g. a receiver whose caller's message could not be delivered).
    public func prepend(_ e: Element) {
        e.nextWaiting = head
        e.previousWaiting = nil
        e.waitingIn = ObjectIdentifier(self)
        head?.previousWaiting = Unmanaged.passUnretained(e)
        head = e
        if tail == nil { tail = Unmanaged.passUnretained(e) }
        count += 1
    }

    /// Removes `e` if it is queued here (O(1)); returns whether it was.
    @discardableResult
    public func remove(_ e: Element) -> Bool {
        guard contains(e) else { return false }
        unlink(e)
        return true
    }

    /// Whether `e` is in this queue (O(1): an element knows its queue).
    public func contains(_ e: Element) -> Bool { e.waitingIn == ObjectIdentifier(self) }

    /// Takes a queued element out, closing the gap around it. The reference `e` held to its successor
    /// moves into the link that pointed at `e` (no count taken or dropped for it).
    private func unlink(_ e: Element) {
        let next = e.nextWaiting.take()
        let previous = e.previousWaiting
        if let n = next { n.previousWaiting = previous } else { tail = previous }
        if let p = previous { p._withUnsafeGuaranteedRef { $0.nextWaiting = next } } else { head = next }
        e.previousWaiting = nil
        e.waitingIn = nil
        count -= 1
    }
}

/// The word of a notification object: signals OR bits in; a wait or poll takes the whole word.
public struct NotificationWord: Equatable, Sendable {
    public private(set) var word: UInt64 = 0
    public init() {}
    public mutating func signal(_ bits: UInt64) { word |= bits }
    /// Takes and clears the word (0 when nothing was signalled).
    public mutating func take() -> UInt64 {
        let w = word
        word = 0
        return w
    }
}
