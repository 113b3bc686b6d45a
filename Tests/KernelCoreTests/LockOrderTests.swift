import Testing
@testable import KernelCore

@Suite struct LockOrderTests {
    @Test func increasingRanksNestAndUnwindInnermostFirst() {
        var h = HeldLocks()
        #expect(h.innermost == nil && h.count == 0)
        #expect(h.acquire(10) == nil)
        #expect(h.acquire(50) == nil)
        #expect(h.acquire(90) == nil)
        #expect(h.count == 3 && h.innermost == 90 && h.rank(at: 0) == 10 && h.rank(at: 1) == 50)
        #expect(h.release(90) == nil && h.release(50) == nil && h.release(10) == nil)
        #expect(h == HeldLocks())
    }

    @Test func lowerOrEqualRankWhileHoldingIsAViolation() {
        var h = HeldLocks()
        _ = h.acquire(50)
        #expect(h.acquire(40) == .order(held: 50))
        #expect(h.acquire(50) == .order(held: 50))
        #expect(h.count == 1, "a refused take records nothing")
        #expect(h.acquire(51) == nil)
        #expect(h.acquire(10) == .order(held: 51))
    }

    @Test func releasingOtherThanTheInnermostIsAViolation() {
        var h = HeldLocks()
        #expect(h.release(5) == .notInnermost(innermost: nil))
        _ = h.acquire(5)
        _ = h.acquire(6)
        #expect(h.release(5) == .notInnermost(innermost: 6))
        #expect(h.count == 2)
    }

    @Test func sixteenDeepThenTooDeep() {
        var h = HeldLocks()
        for r in 1...16 { #expect(h.acquire(UInt8(r * 10)) == nil) }
        #expect(h.acquire(200) == .tooDeep)
        for r in 1...16 { #expect(h.rank(at: r - 1) == UInt8(r * 10)) }
        #expect(HeldLocks(words: h.words) == h, "the per-CPU words round-trip")
        for r in (1...16).reversed() { #expect(h.release(UInt8(r * 10)) == nil) }
        #expect(h.count == 0)
    }
}
