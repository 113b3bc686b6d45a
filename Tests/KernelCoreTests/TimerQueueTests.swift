import Testing
@testable import KernelCore

final class Sleeper: TimerQueueElement {
    let id: Int
    var timerSlot = -1
    init(_ id: Int) { self.id = id }
}

@Suite struct TimerQueueTests {
    /// Takes everything out, earliest first.
    func drain(_ q: TimerQueue<Sleeper>) -> [Int] {
        var out: [Int] = []
        while let s = q.removeFirst() { out.append(s.id) }
        return out
    }

    @Test func earliestFirst() {
        let q = TimerQueue<Sleeper>()
        let deadlines: [UInt64] = [50, 10, 40, 20, 30]
        let s = (0..<5).map(Sleeper.init)
        for (x, d) in zip(s, deadlines) { q.insert(x, deadline: d) }
        #expect(q.count == 5)
        #expect(q.nextDeadline == 10 && q.first === s[1])
        #expect(drain(q) == [1, 3, 4, 2, 0])
        #expect(q.isEmpty && q.nextDeadline == nil && q.removeFirst() == nil)
        #expect(s.allSatisfy { $0.timerSlot == -1 }, "every element knows it left")
    }

    @Test func equalDeadlinesLeaveInInsertionOrder() {
        let q = TimerQueue<Sleeper>()
        let s = (0..<8).map(Sleeper.init)
        for x in s { q.insert(x, deadline: x.id % 2 == 0 ? 100 : 200) }
        #expect(drain(q) == [0, 2, 4, 6, 1, 3, 5, 7])
    }

    @Test func removeAnyElement() {
        let q = TimerQueue<Sleeper>()
        let s = (0..<10).map(Sleeper.init)
        for x in s { q.insert(x, deadline: UInt64(100 - x.id * 10)) }   // 9 is earliest
        #expect(q.remove(s[9]))             // the earliest
        #expect(q.remove(s[0]))             // the latest
        #expect(q.remove(s[5]))             // one in the middle
        #expect(!q.remove(s[5]), "removing twice reports absence")
        #expect(!q.contains(s[5]) && s[5].timerSlot == -1)
        #expect(q.deadline(of: s[4]) == 60 && q.deadline(of: s[5]) == nil)
        #expect(drain(q) == [8, 7, 6, 4, 3, 2, 1])
    }

    @Test func anElementOfAnotherQueueIsNotRemoved() {
        let a = TimerQueue<Sleeper>(), b = TimerQueue<Sleeper>()
        let x = Sleeper(1), y = Sleeper(2)
        a.insert(x, deadline: 5)
        b.insert(y, deadline: 5)
        #expect(!a.remove(y) && !a.contains(y))   // same slot number, other queue
        #expect(a.count == 1 && b.count == 1)
    }

    @Test func reinsertAfterRemoval() {
        let q = TimerQueue<Sleeper>()
        let x = Sleeper(1)
        q.insert(x, deadline: 10)
        #expect(q.removeFirst() === x)
        q.insert(x, deadline: 3)
        #expect(q.nextDeadline == 3 && q.contains(x))
    }

    /// A random mix of inserts and removals against a sorted reference list.
    @Test func randomAgainstReference() {
        var rng = SplitMix64(seed: 42)
        let q = TimerQueue<Sleeper>()
        let pool = (0..<200).map(Sleeper.init)
        var reference: [(deadline: UInt64, order: Int, id: Int)] = []
        var order = 0
        for _ in 0..<20_000 {
            let s = pool[Int(rng.next() % 200)]
            switch rng.next() % 3 {
            case 0 where s.timerSlot < 0:
                let d = rng.next() % 1000
                q.insert(s, deadline: d)
                reference.append((d, order, s.id))
                order += 1
            case 1:
                let was = reference.contains { $0.id == s.id }
                #expect(q.remove(s) == was)
                reference.removeAll { $0.id == s.id }
            default:
                reference.sort { ($0.deadline, $0.order) < ($1.deadline, $1.order) }
                let expected = reference.first?.id
                #expect(q.removeFirst()?.id == expected)
                if !reference.isEmpty { reference.removeFirst() }
            }
            #expect(q.count == reference.count)
            #expect(q.nextDeadline == reference.map(\.deadline).min())
        }
        for (i, s) in pool.enumerated() where s.timerSlot >= 0 { #expect(q.contains(pool[i])) }
    }
}
