// A scheduler run queue: 32 priorities (31 highest), round robin within a priority.
//
// One intrusive FIFO per priority plus a bitmap of the non-empty ones, so finding the highest ready
// priority is one leading-zero count, and taking a given element out (a thread stopped while ready, or
// moved to another priority) is O(1): the element carries its links. The queue holds no locks and no
// per-CPU state: with SMP each CPU owns one (guarded by that CPU's scheduler lock).

public struct RunQueue<Element: IntrusiveQueueElement> {
    public static var priorityCount: Int { 32 }

    /// Bit p set when priority p has queued elements.
    public private(set) var bitmap: UInt32 = 0
    let queues: [IntrusiveQueue<Element>]
    public private(set) var count = 0

    public init() {
        var queues: [IntrusiveQueue<Element>] = []
        queues.reserveCapacity(RunQueue.priorityCount)
        for _ in 0..<RunQueue.priorityCount { queues.append(IntrusiveQueue()) }
        self.queues = queues
    }

    public var isEmpty: Bool { count == 0 }

    /// The highest priority with something queued.
    public var highestPriority: Int? {
        bitmap == 0 ? nil : 31 - bitmap.leadingZeroBitCount
    }

    /// Queues at the back of its priority. The priority must be in 0..31.
    public mutating func enqueue(_ element: Element, priority: Int) {
        precondition(priority >= 0 && priority < RunQueue.priorityCount)
        queues[priority].append(element)
        bitmap |= 1 << UInt32(priority)
        count += 1
    }

    /// The oldest element of the highest non-empty priority, and that priority.
    public mutating func dequeue() -> (Element, Int)? {
        guard let priority = highestPriority, let element = queues[priority].removeFirst() else { return nil }
        settle(priority)
        return (element, priority)
    }

    /// Takes `element` out if it is queued at `priority` (O(1)); returns whether it was.
    @discardableResult
    public mutating func remove(_ element: Element, priority: Int) -> Bool {
        guard priority >= 0 && priority < RunQueue.priorityCount, queues[priority].remove(element) else { return false }
        settle(priority)
        return true
    }

    /// Takes out the oldest element of the highest priority that `allowed` accepts (a CPU stealing work
    /// from another's queue takes only threads it may run), and that priority; nil when none is accepted.
    /// Visits queued elements from the highest priority down.
    public mutating func dequeue(where allowed: (Element) -> Bool) -> (Element, Int)? {
        var bits = bitmap
        while bits != 0 {
            let priority = 31 - bits.leadingZeroBitCount
            var e = queues[priority].head
            while let candidate = e {
                if allowed(candidate) {
                    _ = remove(candidate, priority: priority)
                    return (candidate, priority)
                }
                e = candidate.nextWaiting
            }
            bits &= ~(1 << UInt32(priority))
        }
        return nil
    }

    /// Whether some queued element satisfies `accepted`.
    public func contains(where accepted: (Element) -> Bool) -> Bool {
        for q in queues where !q.isEmpty {
            var e = q.head
            while let candidate = e {
                if accepted(candidate) { return true }
                e = candidate.nextWaiting
            }
        }
        return false
    }

    /// Whether `element` is queued at `priority`.
    public func contains(_ element: Element, priority: Int) -> Bool {
        priority >= 0 && priority < RunQueue.priorityCount && queues[priority].contains(element)
    }

    /// Bookkeeping after one element left `priority`.
    mutating func settle(_ priority: Int) {
        count -= 1
        if queues[priority].isEmpty { bitmap &= ~(1 << UInt32(priority)) }
    }
}
