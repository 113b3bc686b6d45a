// An intrusive FIFO of objects that carry their own link (the kernel's blocked threads: exit waiters,
// endpoint callers and receivers, notification and futex waiters). Appending, removing the first and
// removing a given element never allocate, which the IPC fast path relies on.

/// An element of an IntrusiveQueue: it can be in at most one queue at a time.
public protocol IntrusiveQueueElement: AnyObject {
    var nextWaiting: Self? { get set }
}

public final class IntrusiveQueue<Element: IntrusiveQueueElement> {
    public private(set) var head: Element? = nil
    private var tail: Element? = nil
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { head == nil }

    public func append(_ e: Element) {
        e.nextWaiting = nil
        if let last = tail { last.nextWaiting = e } else { head = e }
        tail = e
        count += 1
    }

    public func removeFirst() -> Element? {
        guard let first = head else { return nil }
        head = first.nextWaiting
        if head == nil { tail = nil }
        first.nextWaiting = nil
        count -= 1
        return first
    }

    /// Puts an element back at the front (e.g. a receiver whose caller's message could not be delivered).
    public func prepend(_ e: Element) {
        e.nextWaiting = head
        head = e
        if tail == nil { tail = e }
        count += 1
    }

    /// Removes `e` if it is queued here; returns whether it was.
    @discardableResult
    public func remove(_ e: Element) -> Bool {
        var previous: Element? = nil
        var node = head
        while let n = node {
            if n === e {
                if let p = previous { p.nextWaiting = n.nextWaiting } else { head = n.nextWaiting }
                if tail === n { tail = previous }
                n.nextWaiting = nil
                count -= 1
                return true
            }
            previous = n
            node = n.nextWaiting
        }
        return false
    }

    public func contains(_ e: Element) -> Bool {
        var node = head
        while let n = node {
            if n === e { return true }
            node = n.nextWaiting
        }
        return false
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
