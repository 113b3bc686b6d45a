// A timer queue: elements (the kernel's blocked threads) ordered by deadline, as a binary min-heap whose
// elements know their own slot. Inserting is O(log n), the earliest element is O(1), and taking out the
// earliest or any given element (a thread woken early, or killed) is O(log n). Equal deadlines leave in
// the order they were inserted (a sequence number breaks ties). Removing never allocates, so the timer
// interrupt (which only removes) never does; inserting may grow the array, in a syscall. The queue holds
// no locks: its owner says what guards it.

/// An element of a TimerQueue: in at most one queue at a time.
public protocol TimerQueueElement: AnyObject {
    /// Its index in the queue's heap, -1 when in none. Only the queue writes it.
    var timerSlot: Int { get set }
}

public final class TimerQueue<Element: TimerQueueElement> {
    /// One heap entry: the deadline, the insertion sequence (for ties) and the element.
    struct Entry {
        let deadline: UInt64
        let sequence: UInt64
        let element: Element

        /// Whether this entry is due before `other`.
        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private var heap: [Entry] = []
    private var nextSequence: UInt64 = 0

    public init() {}

    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }

    /// The earliest deadline, nil when empty.
    public var nextDeadline: UInt64? { heap.first?.deadline }

    /// The element with the earliest deadline, nil when empty.
    public var first: Element? { heap.first?.element }

    /// Whether `e` is queued here.
    public func contains(_ e: Element) -> Bool {
        e.timerSlot >= 0 && e.timerSlot < heap.count && heap[e.timerSlot].element === e
    }

    /// The deadline `e` is queued with, nil when it is not queued here.
    public func deadline(of e: Element) -> UInt64? {
        contains(e) ? heap[e.timerSlot].deadline : nil
    }

    /// Queues `e` (not queued anywhere) to be due at `deadline`.
    public func insert(_ e: Element, deadline: UInt64) {
        precondition(e.timerSlot < 0, "an element is in one timer queue at a time")
        heap.append(Entry(deadline: deadline, sequence: nextSequence, element: e))
        nextSequence &+= 1
        e.timerSlot = heap.count - 1
        siftUp(heap.count - 1)
    }

    /// Takes out the element with the earliest deadline.
    public func removeFirst() -> Element? {
        guard let top = heap.first?.element else { return nil }
        take(0)
        return top
    }

    /// Takes `e` out if it is queued here; returns whether it was.
    @discardableResult
    public func remove(_ e: Element) -> Bool {
        guard contains(e) else { return false }
        take(e.timerSlot)
        return true
    }

    /// Makes room for `capacity` elements, so that inserting up to that many does not allocate.
    public func reserveCapacity(_ capacity: Int) { heap.reserveCapacity(capacity) }

    /// Removes the entry at `slot`: the last entry fills the gap and moves up or down to its place.
    private func take(_ slot: Int) {
        heap[slot].element.timerSlot = -1
        let last = heap.count - 1
        if slot != last {
            heap.swapAt(slot, last)
            heap[slot].element.timerSlot = slot
        }
        heap.removeLast()
        guard slot < heap.count else { return }
        if slot > 0 && heap[slot].precedes(heap[(slot - 1) / 2]) { siftUp(slot) } else { siftDown(slot) }
    }

    private func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].precedes(heap[parent]) else { break }
            exchange(i, parent)
            i = parent
        }
    }

    private func siftDown(_ start: Int) {
        var i = start
        while true {
            let left = 2 * i + 1
            guard left < heap.count else { break }
            var child = left
            if left + 1 < heap.count && heap[left + 1].precedes(heap[left]) { child = left + 1 }
            guard heap[child].precedes(heap[i]) else { break }
            exchange(i, child)
            i = child
        }
    }

    /// Swaps two entries and tells their elements.
    private func exchange(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].element.timerSlot = a
        heap[b].element.timerSlot = b
    }
}
