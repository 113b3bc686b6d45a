// A scheduler run queue: 32 priorities (31 highest), round robin within a priority.
//
// One FIFO per priority plus a bitmap of the non-empty ones, so finding the highest ready priority is
// one leading-zero count. The queue holds no locks and no per-CPU state: with SMP each CPU owns one
// (guarded by that CPU's scheduler lock).

public struct RunQueue<Element> {
    public static var priorityCount: Int { 32 }

    /// Bit p set when priority p has queued elements.
    public private(set) var bitmap: UInt32 = 0
    var queues: [FIFO<Element>]
    public private(set) var count = 0

    public init() {
        queues = []
        queues.reserveCapacity(RunQueue.priorityCount)
        for _ in 0..<RunQueue.priorityCount { queues.append(FIFO()) }
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

    /// Takes out the first element (highest priority first, oldest first) that matches, e.g. a thread
    /// being stopped while ready.
    public mutating func remove(where matches: (Element) -> Bool) -> Element? {
        var pending = bitmap
        while pending != 0 {
            let priority = 31 - pending.leadingZeroBitCount
            pending &= ~(1 << UInt32(priority))
            if let element = queues[priority].remove(where: matches) {
                settle(priority)
                return element
            }
        }
        return nil
    }

    /// Bookkeeping after one element left `priority`.
    mutating func settle(_ priority: Int) {
        count -= 1
        if queues[priority].isEmpty { bitmap &= ~(1 << UInt32(priority)) }
    }
}

/// A growable ring buffer, first in first out.
struct FIFO<Element> {
    var storage: [Element?] = []
    var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = element
        count += 1
    }

    mutating func removeFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    /// Removes the oldest matching element, keeping the order of the others.
    mutating func remove(where matches: (Element) -> Bool) -> Element? {
        for i in 0..<count {
            let slot = (head + i) % storage.count
            guard let element = storage[slot], matches(element) else { continue }
            // Close the gap by moving the later elements one slot forward.
            for j in i..<(count - 1) {
                storage[(head + j) % storage.count] = storage[(head + j + 1) % storage.count]
            }
            storage[(head + count - 1) % storage.count] = nil
            count -= 1
            return element
        }
        return nil
    }

    /// Doubles the storage, unrolling the ring so the oldest element is at 0.
    mutating func grow() {
        var bigger: [Element?] = []
        bigger.reserveCapacity(max(4, storage.count * 2))
        for i in 0..<count { bigger.append(storage[(head + i) % storage.count]) }
        while bigger.count < max(4, storage.count * 2) { bigger.append(nil) }
        storage = bigger
        head = 0
    }
}
