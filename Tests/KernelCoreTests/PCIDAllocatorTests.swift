import Testing
@testable import KernelCore

/// The allocator's mutating calls outside the test macros (which cannot take them).
private func take(_ a: inout PCIDAllocator) -> (tag: UInt16, mustFlush: Bool)? { a.allocate() }
private func give(_ a: inout PCIDAllocator, _ tag: UInt16) -> Bool { a.free(tag) }

@Suite struct PCIDAllocatorTests {
    @Test func firstRoundNeedsNoFlush() throws {
        var a = PCIDAllocator()
        for expected in 1...PCIDAllocator.tagCount {
            let gotTaken = take(&a)
            let got = try #require(gotTaken)
            #expect(Int(got.tag) == expected && !got.mustFlush)
        }
        #expect(a.count == 4095)
        let none1 = take(&a)
        #expect(none1 == nil, "all 4095 tags taken")
        #expect(!a.isInUse(0))
    }

    @Test func reuseIsRoundRobinAndFlushed() throws {
        var a = PCIDAllocator()
        let firstTaken = take(&a)
        let first = try #require(firstTaken)
        let secondTaken = take(&a)
        let second = try #require(secondTaken)
        let freed2 = give(&a, first.tag)
        #expect(freed2)
        // The freed tag is not the next one handed out: the search goes on past the last tag given.
        let thirdTaken = take(&a)
        let third = try #require(thirdTaken)
        #expect(third.tag == 3 && !third.mustFlush)
        for _ in 4...PCIDAllocator.tagCount { _ = a.allocate() }
        // Only tag 1 is free now: it comes back, and must be flushed.
        let reusedTaken = take(&a)
        let reused = try #require(reusedTaken)
        #expect(reused.tag == first.tag && reused.mustFlush)
        let none3 = take(&a)
        #expect(none3 == nil)
        let freed4 = give(&a, second.tag)
        #expect(freed4)
        let againTaken = take(&a)
        let again = try #require(againTaken)
        #expect(again.tag == second.tag && again.mustFlush)
    }

    @Test func badFreesChangeNothing() throws {
        var a = PCIDAllocator()
        let tTaken = take(&a)
        let t = try #require(tTaken)
        let freed5 = give(&a, 0)
        #expect(!freed5)
        let freed6 = give(&a, 4096)
        #expect(!freed6)
        let freed7 = give(&a, 77)
        #expect(!freed7, "never handed out")
        let freed8 = give(&a, t.tag)
        #expect(freed8)
        let freed9 = give(&a, t.tag)
        #expect(!freed9, "double free")
        #expect(a.count == 0)
    }

    /// Against a model: random allocate/free sequences never hand out a tag in use, and flag exactly the
    /// tags used before.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomizedAgainstModel(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var a = PCIDAllocator()
        var live: [UInt16] = [], used = Set<UInt16>()
        for _ in 0..<50_000 {
            if rng.next() % 3 != 0 || live.isEmpty {
                guard let got = take(&a) else { #expect(live.count == 4095); continue }
                #expect(got.tag >= 1 && got.tag <= 4095 && !live.contains(got.tag))
                #expect(got.mustFlush == used.contains(got.tag))
                live.append(got.tag); used.insert(got.tag)
            } else {
                let victim = live.remove(at: Int(rng.next(below: UInt64(live.count))))
                let freed10 = give(&a, victim)
                #expect(freed10)
            }
            #expect(a.count == live.count)
        }
    }
}


/// The PCID decisions, with and without INVPCID, and with PCIDs off.
@Suite struct AddressSpaceTagsTests {
    let root: UInt64 = 0x12_3000
    static let keep = AddressSpaceTags.noFlush

    @Test func offMeansTagZeroAndFlushingLoads() {
        var t = AddressSpaceTags(enabled: false, hasINVPCID: true)
        let taken = t.take()
        #expect(taken.tag == 0 && taken.flush == .none)
        let loaded = t.load(root)
        #expect(loaded == root, "every load flushes")
        let flush = t.flush(tag: 0)
        #expect(flush == .none && t.kernelPagesUnmapped() == .none)
    }

    @Test func withINVPCID() {
        var t = AddressSpaceTags(enabled: true, hasINVPCID: true)
        let a = t.take()
        #expect(a.tag == 1 && a.flush == .none)
        let loaded = t.load(root | 1)
        #expect(loaded == root | 1 | Self.keep, "a clean tag is loaded without a flush")
        let flush = t.flush(tag: 1)
        #expect(flush == .singleContext(1), "an unmap in a switched-out space flushes its tag at once")
        let again = t.load(root | 1)
        #expect(again == root | 1 | Self.keep)
        let kernel = t.load(root)
        #expect(kernel == root, "tag 0 (the kernel's tables) always flushes")
        #expect(t.kernelPagesUnmapped() == .everything(invpcid: true))
    }

    @Test func withoutINVPCIDTheNextLoadFlushes() {
        var t = AddressSpaceTags(enabled: true, hasINVPCID: false)
        let a = t.take(), b = t.take()
        #expect(a.tag == 1 && b.tag == 2)
        let flush = t.flush(tag: 2)
        #expect(flush == .none)
        let other = t.load(root | 1)
        #expect(other == root | 1 | Self.keep, "only the stale tag is flushed")
        let first = t.load(root | 2), second = t.load(root | 2)
        #expect(first == root | 2, "the stale tag's next load flushes it")
        #expect(second == root | 2 | Self.keep, "and then it is clean")
        #expect(t.kernelPagesUnmapped() == .everything(invpcid: false))
    }

    @Test(arguments: [true, false])
    func reusedTagIsFlushedAndExhaustionFallsBackToZero(invpcid: Bool) {
        var t = AddressSpaceTags(enabled: true, hasINVPCID: invpcid)
        for _ in 1...PCIDAllocator.tagCount { _ = t.take() }
        let none = t.take()
        #expect(none.tag == 0 && none.flush == .none, "with all tags taken a space gets tag 0")
        t.release(7)
        let reused = t.take()
        #expect(reused.tag == 7)
        #expect(reused.flush == (invpcid ? .singleContext(7) : .none))
        let loaded = t.load(root | 7)
        #expect(loaded == (invpcid ? root | 7 | Self.keep : root | 7), "without INVPCID the reused tag flushes at load")
    }
}
