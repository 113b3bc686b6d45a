import Testing
@testable import KernelCore

@Suite struct RunQueueTests {
    @Test func highestPriorityFirst() {
        var q = RunQueue<String>()
        #expect(q.dequeue() == nil && q.highestPriority == nil && q.isEmpty)
        q.enqueue("low", priority: 0)
        q.enqueue("top", priority: 31)
        q.enqueue("mid", priority: 16)
        #expect(q.count == 3 && q.highestPriority == 31)
        #expect(q.bitmap == 1 << 31 | 1 << 16 | 1)
        #expect(q.dequeue().map { "\($0.0)@\($0.1)" } == "top@31")
        #expect(q.dequeue().map { "\($0.0)@\($0.1)" } == "mid@16")
        #expect(q.highestPriority == 0)
        #expect(q.dequeue().map { "\($0.0)@\($0.1)" } == "low@0")
        #expect(q.dequeue() == nil && q.count == 0 && q.bitmap == 0)
    }

    @Test func fifoWithinPriority() {
        var q = RunQueue<Int>()
        for i in 0..<10 { q.enqueue(i, priority: 5) }
        // Round robin: a dequeued element goes to the back.
        var order: [Int] = []
        for _ in 0..<25 {
            let (e, p) = q.dequeue()!
            order.append(e)
            q.enqueue(e, priority: p)
        }
        #expect(order == Array(0..<10) + Array(0..<10) + Array(0..<5))
        #expect(q.count == 10)
    }

    @Test func removeWhere() {
        var q = RunQueue<Int>()
        for i in 0..<6 { q.enqueue(i, priority: i % 2 == 0 ? 3 : 7) }
        // Highest priority first, oldest first.
        #expect(q.remove { $0 >= 0 } == 1)
        #expect(q.remove { $0 == 4 } == 4)
        #expect(q.remove { $0 == 42 } == nil)
        #expect(q.count == 4)
        #expect(q.remove { $0 == 3 } == 3)
        #expect(q.remove { $0 == 5 } == 5)
        // Priority 7 emptied: its bit is gone.
        #expect(q.highestPriority == 3 && q.bitmap == 1 << 3)
        #expect(q.dequeue()! == (0, 3))
        #expect(q.dequeue()! == (2, 3))
        #expect(q.dequeue() == nil)
    }

    @Test func ringWrapsAndGrows() {
        var fifo = FIFO<Int>()
        var model: [Int] = []
        var next = 0
        var rng = SplitMix(seed: 7)
        for _ in 0..<5000 {
            switch rng.next() % 5 {
            case 0, 1:
                fifo.append(next)
                model.append(next)
                next += 1
            case 2, 3:
                #expect(fifo.removeFirst() == (model.isEmpty ? nil : model.removeFirst()))
            default:
                let target = model.isEmpty ? -1 : model[Int(rng.next() % UInt64(model.count))]
                #expect(fifo.remove { $0 == target } == (target >= 0 ? target : nil))
                if let i = model.firstIndex(of: target) { model.remove(at: i) }
            }
            #expect(fifo.count == model.count)
        }
        while let e = fifo.removeFirst() { #expect(e == model.removeFirst()) }
        #expect(model.isEmpty)
    }

    @Test func matchesModelUnderRandomOperations() {
        var q = RunQueue<Int>()
        var model: [[Int]] = Array(repeating: [], count: 32)
        var rng = SplitMix(seed: 42)
        var next = 0
        for _ in 0..<20000 {
            switch rng.next() % 7 {
            case 0, 1, 2:
                let p = Int(rng.next() % 32)
                q.enqueue(next, priority: p)
                model[p].append(next)
                next += 1
            case 3, 4:
                let expected = model.indices.reversed().first { !model[$0].isEmpty }
                let got = q.dequeue()
                #expect(got?.1 == expected)
                if let p = expected { #expect(got?.0 == model[p].removeFirst()) }
            default:
                // Remove something random (sometimes absent).
                let target = Int(rng.next() % UInt64(max(next, 1)))
                let removed = q.remove { $0 == target }
                var expected: Int? = nil
                for p in model.indices.reversed() {
                    if let i = model[p].firstIndex(of: target) {
                        expected = model[p].remove(at: i)
                        break
                    }
                }
                #expect(removed == expected)
            }
            var bits: UInt32 = 0
            for p in model.indices where !model[p].isEmpty { bits |= 1 << UInt32(p) }
            #expect(q.bitmap == bits)
            #expect(q.count == model.reduce(0) { $0 + $1.count })
            #expect(q.highestPriority == model.indices.reversed().first { !model[$0].isEmpty })
        }
    }
}
