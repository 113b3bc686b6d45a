import Testing
@testable import KernelCore

/// A queued element for the run queue tests (Waiter is the wait queue tests' element).
final class Task: IntrusiveQueueElement, CustomStringConvertible {
    let id: Int
    var nextWaiting: Task? = nil
    var previousWaiting: Unmanaged<Task>? = nil
    var waitingIn: ObjectIdentifier? = nil
    init(_ id: Int) { self.id = id }
    var description: String { "\(id)" }
}

@Suite struct RunQueueTests {
    @Test func highestPriorityFirst() {
        var q = RunQueue<Task>()
        #expect(q.dequeue() == nil && q.highestPriority == nil && q.isEmpty)
        let low = Task(0), top = Task(31), mid = Task(16)
        q.enqueue(low, priority: 0)
        q.enqueue(top, priority: 31)
        q.enqueue(mid, priority: 16)
        #expect(q.count == 3 && q.highestPriority == 31)
        #expect(q.bitmap == 1 << 31 | 1 << 16 | 1)
        #expect(q.dequeue().map { "\($0.0)@\($0.1)" } == "31@31")
        #expect(q.dequeue().map { "\($0.0)@\($0.1)" } == "16@16")
        #expect(q.highestPriority == 0)
        #expect(q.dequeue().map { "\($0.0)@\($0.1)" } == "0@0")
        #expect(q.dequeue() == nil && q.count == 0 && q.bitmap == 0)
    }

    @Test func fifoWithinPriority() {
        var q = RunQueue<Task>()
        for i in 0..<10 { q.enqueue(Task(i), priority: 5) }
        // Round robin: a dequeued element goes to the back.
        var order: [Int] = []
        for _ in 0..<25 {
            let (e, p) = q.dequeue()!
            order.append(e.id)
            q.enqueue(e, priority: p)
        }
        #expect(order == Array(0..<10) + Array(0..<10) + Array(0..<5))
        #expect(q.count == 10)
    }

    @Test func removeGivenElement() {
        var q = RunQueue<Task>()
        let t = (0..<6).map(Task.init)
        for x in t { q.enqueue(x, priority: x.id % 2 == 0 ? 3 : 7) }
        let first = q.remove(t[1], priority: 7)
        let twice = q.remove(t[1], priority: 7)
        let wrongPriority = q.remove(t[4], priority: 7)
        let right = q.remove(t[4], priority: 3)
        #expect(first && right)
        #expect(!twice, "removing twice reports absence")
        #expect(!wrongPriority, "not queued at that priority")
        #expect(q.count == 4)
        let three = q.remove(t[3], priority: 7), five = q.remove(t[5], priority: 7)
        #expect(three && five)
        // Priority 7 emptied: its bit is gone.
        #expect(q.highestPriority == 3 && q.bitmap == 1 << 3)
        #expect(q.dequeue()?.0 === t[0])
        #expect(q.dequeue()?.0 === t[2])
        #expect(q.dequeue() == nil)
    }

    /// Moving an element to another priority (thread_set_priority on a ready thread) is remove + enqueue.
    @Test func moveToAnotherPriority() {
        var q = RunQueue<Task>()
        let low = Task(1), mid = Task(2)
        q.enqueue(low, priority: 0)
        q.enqueue(mid, priority: 16)
        let removed = q.remove(low, priority: 0)
        #expect(removed)
        q.enqueue(low, priority: 31)
        #expect(q.contains(low, priority: 31) && !q.contains(low, priority: 0))
        #expect(q.dequeue()?.0 === low)
        #expect(q.dequeue()?.0 === mid)
    }

    @Test func matchesModelUnderRandomOperations() {
        var q = RunQueue<Task>()
        var model: [[Int]] = Array(repeating: [], count: 32)
        let pool = (0..<64).map(Task.init)
        var priorityOf = [Int](repeating: -1, count: pool.count)
        var rng = SplitMix(seed: 42)
        for _ in 0..<20000 {
            let t = pool[Int(rng.next() % UInt64(pool.count))]
            switch rng.next() % 7 {
            case 0, 1, 2:
                guard priorityOf[t.id] < 0 else { break }
                let p = Int(rng.next() % 32)
                q.enqueue(t, priority: p)
                model[p].append(t.id)
                priorityOf[t.id] = p
            case 3, 4:
                let expected = model.indices.reversed().first { !model[$0].isEmpty }
                let got = q.dequeue()
                #expect(got?.1 == expected)
                if let p = expected {
                    let id = model[p].removeFirst()
                    #expect(got?.0.id == id)
                    priorityOf[id] = -1
                }
            default:
                // Remove something (sometimes absent, sometimes asked at the wrong priority).
                let asked = rng.next() % 4 == 0 ? Int(rng.next() % 32) : priorityOf[t.id]
                let removed = q.remove(t, priority: asked)
                let present = priorityOf[t.id] >= 0 && priorityOf[t.id] == asked
                #expect(removed == present)
                if present {
                    model[asked].removeAll { $0 == t.id }
                    priorityOf[t.id] = -1
                }
            }
            var bits: UInt32 = 0
            for p in model.indices where !model[p].isEmpty { bits |= 1 << UInt32(p) }
            #expect(q.bitmap == bits)
            #expect(q.count == model.reduce(0) { $0 + $1.count })
            #expect(q.highestPriority == model.indices.reversed().first { !model[$0].isEmpty })
        }
    }
}

@Suite struct RunQueueStealTests {
    @Test func takesTheHighestAllowed() {
        var q = RunQueue<Task>()
        let a = Task(1), b = Task(2), c = Task(3), d = Task(4)
        q.enqueue(a, priority: 20)
        q.enqueue(b, priority: 20)
        q.enqueue(c, priority: 5)
        q.enqueue(d, priority: 31)
        // Thread 4 (priority 31) and 1 are refused: 2 is the oldest allowed of the highest priority left.
        let taken = q.dequeue(where: { $0.id != 4 && $0.id != 1 })
        #expect(taken.map { "\($0.0)@\($0.1)" } == "2@20")
        #expect(q.count == 3 && q.contains(a, priority: 20) && !q.contains(b, priority: 20))
        #expect(q.dequeue(where: { $0.id == 3 }).map { "\($0.0)@\($0.1)" } == "3@5")
        #expect(q.bitmap == 1 << 31 | 1 << 20)
        #expect(q.dequeue(where: { _ in false }) == nil && q.count == 2)
    }
}

extension RunQueueStealTests {
    @Test func containsWhere() {
        var q = RunQueue<Task>()
        #expect(!q.contains(where: { _ in true }))
        q.enqueue(Task(7), priority: 3)
        q.enqueue(Task(8), priority: 9)
        #expect(q.contains(where: { $0.id == 7 }) && !q.contains(where: { $0.id == 9 }))
    }
}
