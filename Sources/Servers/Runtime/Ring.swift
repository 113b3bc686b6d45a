// A single-producer single-consumer ring of fixed-size slots over a memory region that both sides map
// (a Frame mapped in two processes, or twice in one). No kernel call on the fast path: the producer
// fills the slot at `tail` and publishes it by advancing `tail`, the consumer reads the slot at `head`
// and frees it by advancing `head`.
//
// Memory layout (little-endian UInt32 words; the two indices on separate 64-byte lines):
//   [0]  head             next slot the consumer reads (written by the consumer only)
//   [4]  consumerWaiting  1 while the consumer is going to sleep on `dataReady`
//   [64] tail             next slot the producer writes (written by the producer only)
//   [68] producerWaiting  1 while the producer is going to sleep on `spaceReady`
//   [128...] slotCount slots of slotSize bytes (slotCount a power of two; indices run freely, mod 2^32)
//
// Ordering: the producer's slot writes happen before its release store of `tail`, which the consumer
// reads with acquire before it reads the slot; symmetrically for `head` and slot reuse. (On x86_64, TSO
// makes these plain moves; the builtins in runtime.h also stop the compiler from reordering.)
//
// Sleeping without lost wake-ups: a side that finds the ring empty (full) raises its waiting flag, issues
// a full fence and looks again before waiting on its Notify; the other side advances its index, issues a
// full fence and then reads the flag — of the two, at least one sees the other's store (Dekker). A Notify
// keeps its bits until taken, so a notification sent before the sleeper reaches notify_wait is not lost.
// Without Notify handles the waiting side yields instead.

public struct Ring {
    public static let headerSize = 128

    public let base: UnsafeMutableRawPointer
    public let slotSize: Int
    public let slotCount: Int
    /// Signalled by the producer when the consumer may be asleep waiting for data (.invalid: none).
    public let dataReady: Handle
    /// Signalled by the consumer when the producer may be asleep waiting for room (.invalid: none).
    public let spaceReady: Handle

    /// A ring over `size` bytes at `memory` (8-aligned): slots of `slotSize` bytes (rounded up to 8), as
    /// many as a power of two that fits. Both sides must use the same size and slot size.
    public init(memory: UnsafeMutableRawPointer, size: Int, slotSize: Int, dataReady: Handle = .invalid,
                spaceReady: Handle = .invalid) {
        precondition(UInt(bitPattern: memory) & 7 == 0, "ring memory must be 8-aligned")
        let slot = (max(slotSize, 1) + 7) & ~7
        var count = 1
        while Ring.headerSize + 2 * count * slot <= size { count *= 2 }
        precondition(count >= 2 && Ring.headerSize + count * slot <= size, "ring memory too small")
        self.base = memory
        self.slotSize = slot
        self.slotCount = count
        self.dataReady = dataReady
        self.spaceReady = spaceReady
    }

    /// Bytes a ring of `slotCount` slots (a power of two) of `slotSize` bytes needs.
    public static func bytesNeeded(slotSize: Int, slotCount: Int) -> Int {
        headerSize + slotCount * ((max(slotSize, 1) + 7) & ~7)
    }

    /// Empties the ring; one side does this before the other starts using it (fresh Frames are zero).
    public func reset() {
        atomic_store_seq_cst_u32(word(0), 0)
        atomic_store_seq_cst_u32(word(4), 0)
        atomic_store_seq_cst_u32(word(64), 0)
        atomic_store_seq_cst_u32(word(68), 0)
    }

    private func word(_ offset: Int) -> UnsafeMutablePointer<UInt32> {
        (base + offset).assumingMemoryBound(to: UInt32.self)
    }
    private var head: UnsafeMutablePointer<UInt32> { word(0) }
    private var consumerWaiting: UnsafeMutablePointer<UInt32> { word(4) }
    private var tail: UnsafeMutablePointer<UInt32> { word(64) }
    private var producerWaiting: UnsafeMutablePointer<UInt32> { word(68) }

    private func slot(_ index: UInt32) -> UnsafeMutableRawPointer {
        base + Ring.headerSize + Int(index & UInt32(slotCount - 1)) * slotSize
    }

    /// Messages in the ring (a snapshot). Head is read first: it never passes the tail, so a tail read after
    /// it is at least as far on and the difference is never negative, whoever asks.
    public var count: Int {
        let h = atomic_load_acquire_u32(head)
        let t = atomic_load_acquire_u32(tail)
        return Int(t &- h)
    }
    public var isEmpty: Bool { count == 0 }
    public var isFull: Bool { count >= slotCount }

    // MARK: producer

    /// Copies `bytes` (at most slotSize; the rest of the slot is zeroed) into the next slot; false when full.
    public func tryPush(_ bytes: UnsafeRawBufferPointer) -> Bool {
        precondition(bytes.count <= slotSize, "message larger than a ring slot")
        let t = atomic_load_relaxed_u32(tail)
        let h = atomic_load_acquire_u32(head)
        if t &- h >= UInt32(slotCount) { return false }
        let s = slot(t)
        if let source = bytes.baseAddress, bytes.count > 0 { s.copyMemory(from: source, byteCount: bytes.count) }
        if bytes.count < slotSize {
            (s + bytes.count).initializeMemory(as: UInt8.self, repeating: 0, count: slotSize - bytes.count)
        }
        atomic_store_release_u32(tail, t &+ 1)
        wakePeer(consumerWaiting, dataReady)
        return true
    }

    /// tryPush, sleeping (on spaceReady, else yielding) while the ring is full.
    public func push(_ bytes: UnsafeRawBufferPointer) {
        while !tryPush(bytes) { sleep(producerWaiting, spaceReady) { !self.isFull } }
    }

    public func tryPush<T>(_ value: T) -> Bool {
        withUnsafeBytes(of: value) { tryPush($0) }
    }

    public func push<T>(_ value: T) {
        withUnsafeBytes(of: value) { push($0) }
    }

    // MARK: consumer

    /// Copies the oldest message (up to buffer.count bytes of its slot) out and frees its slot; false when empty.
    public func tryPop(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let h = atomic_load_relaxed_u32(head)
        let t = atomic_load_acquire_u32(tail)
        if h == t { return false }
        if let target = buffer.baseAddress {
            target.copyMemory(from: slot(h), byteCount: min(buffer.count, slotSize))
        }
        atomic_store_release_u32(head, h &+ 1)
        wakePeer(producerWaiting, spaceReady)
        return true
    }

    /// tryPop, sleeping (on dataReady, else yielding) while the ring is empty.
    public func pop(into buffer: UnsafeMutableRawBufferPointer) {
        while !tryPop(into: buffer) { sleep(consumerWaiting, dataReady) { !self.isEmpty } }
    }

    /// The oldest message as a value of a trivial type no larger than a slot.
    public func tryPop<T>(as type: T.Type) -> T? {
        precondition(MemoryLayout<T>.size <= slotSize, "value larger than a ring slot")
        let h = atomic_load_relaxed_u32(head)
        let t = atomic_load_acquire_u32(tail)
        if h == t { return nil }
        let value = slot(h).load(as: T.self)
        atomic_store_release_u32(head, h &+ 1)
        wakePeer(producerWaiting, spaceReady)
        return value
    }

    public func pop<T>(as type: T.Type) -> T {
        while true {
            if let value = tryPop(as: type) { return value }
            sleep(consumerWaiting, dataReady) { !self.isEmpty }
        }
    }

    // MARK: sleeping

    /// After advancing an index: wakes the other side if it said it is going to sleep.
    private func wakePeer(_ flag: UnsafeMutablePointer<UInt32>, _ notify: Handle) {
        atomic_fence_seq_cst()
        guard atomic_load_relaxed_u32(flag) != 0, atomic_exchange_u32(flag, 0) != 0 else { return }
        if notify != .invalid { _ = try? notifyNotify(notify, bits: 1) }
    }

    /// Returns once `ready()` holds: raises the flag, looks again, then waits for the peer's notification.
    private func sleep(_ flag: UnsafeMutablePointer<UInt32>, _ notify: Handle, until ready: () -> Bool) {
        while !ready() {
            atomic_store_seq_cst_u32(flag, 1)
            atomic_fence_seq_cst()
            if ready() { break }
            if notify == .invalid {
                threadYield()
            } else {
                do { _ = try notifyWait(notify) } catch { threadYield() }
            }
        }
        atomic_store_release_u32(flag, 0)
    }
}
