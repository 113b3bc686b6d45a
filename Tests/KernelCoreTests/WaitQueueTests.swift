import Testing
@testable import KernelCore

final class Waiter: IntrusiveQueueElement {
    let id: Int
    var nextWaiting: Waiter? = nil
    var previousWaiting: Unmanaged<Waiter>? = nil
    var waitingIn: ObjectIdentifier? = nil
    init(_ id: Int) { self.id = id }
}

@Suite struct WaitQueueTests {
    func ids(_ q: IntrusiveQueue<Waiter>) -> [Int] {
        var out: [Int] = []
        var node = q.head
        while let n = node { out.append(n.id); node = n.nextWaiting }
        return out
    }

    @Test func fifoOrder() {
        let q = IntrusiveQueue<Waiter>()
        let w = (0..<5).map(Waiter.init)
        for x in w { q.append(x) }
        #expect(q.count == 5)
        #expect((0..<5).compactMap { _ in q.removeFirst()?.id } == [0, 1, 2, 3, 4])
        #expect(q.isEmpty && q.removeFirst() == nil && q.count == 0)
    }

    @Test func removeFromAnyPosition() {
        let q = IntrusiveQueue<Waiter>()
        let w = (0..<4).map(Waiter.init)
        for x in w { q.append(x) }
        #expect(q.remove(w[2]))
        #expect(!q.remove(w[2]), "removing twice reports absence")
        #expect(q.remove(w[3]))          // the tail: appends must still work after
        q.append(Waiter(9))
        #expect(q.remove(w[0]))          // the head
        #expect(ids(q) == [1, 9])
        #expect(q.count == 2)
    }

    /// An element knows its queue: removing it through another queue reports absence and changes nothing.
    @Test func removeThroughAnotherQueue() {
        let q = IntrusiveQueue<Waiter>(), other = IntrusiveQueue<Waiter>()
        let w = (0..<3).map(Waiter.init)
        for x in w { q.append(x) }
        other.append(Waiter(7))
        #expect(!other.remove(w[1]) && !other.contains(w[1]) && q.contains(w[1]))
        #expect(other.count == 1 && ids(q) == [0, 1, 2])
        #expect(q.remove(w[1]) && !q.contains(w[1]))
        #expect(ids(q) == [0, 2] && q.removeFirst() === w[0] && q.removeFirst() === w[2] && q.isEmpty)
    }

    /// The IPC fast path's pair: the head without a count taken, then the head taken out with the
    /// queue's reference dropped (the caller's own reference keeps it); the links stay consistent and
    /// no element is kept alive by the queue afterwards.
    @Test func firstUnretainedAndDropFirst() {
        let q = IntrusiveQueue<Waiter>()
        #expect(q.firstUnretained == nil)
        q.dropFirst()                   // nothing queued: nothing happens
        #expect(q.isEmpty && q.count == 0)
        let w = (0..<3).map(Waiter.init)
        for x in w { q.append(x) }
        #expect(q.firstUnretained?.takeUnretainedValue() === w[0])
        q.dropFirst()
        #expect(ids(q) == [1, 2] && q.count == 2 && !q.contains(w[0]))
        #expect(w[0].nextWaiting == nil && w[0].previousWaiting == nil && w[1].previousWaiting == nil)
        q.dropFirst()
        q.dropFirst()
        #expect(q.isEmpty && q.count == 0 && q.firstUnretained == nil)
        q.append(w[1])                  // the tail went too: appends start a new list
        #expect(ids(q) == [1])
        // The queue lets go of what it dropped: an element only it held is freed.
        weak var gone: Waiter? = nil
        do {
            let lone = Waiter(5)
            gone = lone
            let other = IntrusiveQueue<Waiter>()
            other.append(lone)
            other.dropFirst()
        }
        #expect(gone == nil)
    }

    @Test func prependPutsBackAtTheFront() {
        let q = IntrusiveQueue<Waiter>()
        let a = Waiter(1), b = Waiter(2)
        q.append(a)
        q.prepend(b)
        #expect(ids(q) == [2, 1])
        let empty = IntrusiveQueue<Waiter>()
        empty.prepend(a)
        empty.append(b)
        #expect(ids(empty) == [1, 2])
    }

    /// Random operations against an array model: no element lost, none served twice, FIFO kept.
    @Test(arguments: [1, 2, 3]) func randomAgainstModel(seed: UInt64) {
        var rng = seed &* 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        let pool = (0..<32).map(Waiter.init)
        var model: [Int] = []
        let q = IntrusiveQueue<Waiter>()
        for _ in 0..<5000 {
            let w = pool[Int(next() % 32)]
            switch next() % 4 {
            case 0 where !model.contains(w.id): q.append(w); model.append(w.id)
            case 1: #expect(q.removeFirst()?.id == model.first); if !model.isEmpty { model.removeFirst() }
            case 2: #expect(q.remove(w) == model.contains(w.id)); model.removeAll { $0 == w.id }
            default: #expect(q.contains(w) == model.contains(w.id))
            }
            #expect(q.count == model.count)
        }
        #expect(ids(q) == model)
    }

    @Test func notificationWordOrsAndClears() {
        var n = NotificationWord()
        #expect(n.take() == 0)
        n.signal(0b0101)
        n.signal(0b0011)
        #expect(n.take() == 0b0111)
        #expect(n.take() == 0)
    }
}
