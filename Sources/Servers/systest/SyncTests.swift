// Notifications, futexes and the SPSC ring over shared memory.

func testNotify() throws(SysError) {
    let n = try notifyCreate()
    defer { closeAll(n) }
    check(try notifyPoll(n) == 0, "poll with nothing signalled is not 0")
    try notifyNotify(n, bits: 1)
    try notifyNotify(n, bits: 4)
    try notifyNotify(n, bits: 1)
    check(try notifyPoll(n) == 5, "poll after notify 1, 4, 1 is not 5")
    check(try notifyPoll(n) == 0, "poll did not clear the word")
    try notifyNotify(n, bits: 0x8000_0000_0000_0002)
    check(try notifyWait(n) == 0x8000_0000_0000_0002, "wait with bits pending")
    check(try notifyPoll(n) == 0, "wait did not clear the word")

    step("wait blocks until another thread notifies")
    let waiter = try spawnWatched { () -> UInt64 in outcome { () throws(SysError) -> UInt64 in try notifyWait(n) } }
    check(waitBlocked(waiter), "notify_wait returned with nothing signalled")
    try notifyNotify(n, bits: 0x30)
    check(finish(waiter, "notify waiter") == 0x30, "the waiter did not get 0x30")
    check(try notifyPoll(n) == 0, "bits left after the waiter took them")

    step("two waiters, two notifies")
    let w1 = try spawnWatched { () -> UInt64 in outcome { () throws(SysError) -> UInt64 in try notifyWait(n) } }
    let w2 = try spawnWatched { () -> UInt64 in outcome { () throws(SysError) -> UInt64 in try notifyWait(n) } }
    check(waitBlocked(w1) && waitBlocked(w2), "notify_wait returned with nothing signalled")
    try notifyNotify(n, bits: 1)
    check(kernelBlocked(w1) != kernelBlocked(w2), "one notify did not wake exactly one waiter")
    try notifyNotify(n, bits: 2)
    let r1 = finish(w1, "waiter 1") ?? 0
    let r2 = finish(w2, "waiter 2") ?? 0
    check(r1 | r2 == 3 && r1 != r2, "the waiters got \(hex(r1)) and \(hex(r2))")

    step("notify from another process")
    let waiter2 = try spawnWatched { () -> UInt64 in outcome { () throws(SysError) -> UInt64 in try notifyWait(n) } }
    check(waitBlocked(waiter2), "notify_wait returned with nothing signalled")
    var child = try Child.create(code: Code.notify(bits: 0x140))
    defer { child.close() }
    let given = try processGive(child.process, try handleDuplicate(n, rights: [.signal, .transfer]))
    try child.spawn(argument: UInt64(given.raw))
    check(try processWait(child.process) == 0, "the child's notify_notify failed")
    check(finish(waiter2, "waiter woken by a child") == 0x140, "the waiter did not get the child's bits")

    step("rights")
    let signalOnly = try handleDuplicate(n, rights: [.signal])
    let waitOnly = try handleDuplicate(n, rights: [.wait])
    defer { closeAll(signalOnly, waitOnly) }
    expectError(.accessDenied, "notify_wait without .wait") { () throws(SysError) in try notifyWait(signalOnly) }
    expectError(.accessDenied, "notify_poll without .wait") { () throws(SysError) in try notifyPoll(signalOnly) }
    expectError(.accessDenied, "notify_notify without .signal") { () throws(SysError) in try notifyNotify(waitOnly, bits: 1) }
    try notifyNotify(signalOnly, bits: 8)
    check(try notifyPoll(waitOnly) == 8, "bits through duplicates")
    let r = try receiverCreate()
    defer { closeAll(r) }
    expectError(.wrongType, "notify_wait on a receiver") { () throws(SysError) in try notifyWait(r) }
}

/// A page of root for futex words.
struct FutexPage {
    let frame: Handle
    let address: UInt64
    static func make() throws(SysError) -> FutexPage {
        let frame = try frameCreate(size: pageSize)
        let address = Scratch.take(pages: 1)
        try vmemMap(Runtime.vmem, frame: frame, address: address, length: pageSize, flags: [.read, .write])
        pointer(address).initializeMemory(as: UInt8.self, repeating: 0, count: Int(pageSize))
        return FutexPage(frame: frame, address: address)
    }
    func word(_ i: Int) -> UnsafeMutablePointer<UInt32> {
        pointer(address + UInt64(i * 64)).assumingMemoryBound(to: UInt32.self)
    }
    func release() {
        _ = try? vmemUnmap(Runtime.vmem, address: address, length: pageSize)
        closeAll(frame)
    }
}

func testFutex() throws(SysError) {
    let page = try FutexPage.make()
    defer { page.release() }
    let a = page.word(0)
    let b = page.word(1)
    a.pointee = 5
    expectError(.wouldBlock, "futex_wait with another value") { () throws(SysError) in try futexWait(a, expected: 4) }
    check(try futexWake(a, count: 10) == 0, "futex_wake with no waiters")

    step("errors")
    expectError(.misaligned, "futex_wait on a misaligned address") { () throws(SysError) in
        try futexWait(UnsafePointer(bitPattern: UInt(page.address + 2))!, expected: 0)
    }
    expectError(.misaligned, "futex_wake on a misaligned address") { () throws(SysError) in
        try futexWake(UnsafePointer(bitPattern: UInt(page.address + 1))!, count: 1)
    }
    expectError(.badAddress, "futex_wait on an unmapped address") { () throws(SysError) in
        try futexWait(UnsafePointer(bitPattern: UInt(unmappedUserAddress))!, expected: 0)
    }
    expectError(.badAddress, "futex_wake on an unmapped address") { () throws(SysError) in
        try futexWake(UnsafePointer(bitPattern: UInt(unmappedUserAddress))!, count: 1)
    }
    expectError(.badAddress, "futex_wait on a kernel address") { () throws(SysError) in
        try futexWait(UnsafePointer(bitPattern: UInt(kernelAddress))!, expected: 0)
    }
    expectError(.badAddress, "futex_requeue to an unmapped address") { () throws(SysError) in
        try futexRequeue(a, wake: 0, to: UnsafePointer(bitPattern: UInt(unmappedUserAddress))!, requeue: 1)
    }

    step("wait and wake between threads")
    a.pointee = 0
    func waiter(_ p: UnsafeMutablePointer<UInt32>) throws(SysError) -> Watched {
        try spawnWatched { () -> UInt64 in
            outcome { () throws(SysError) -> UInt64 in
                while p.pointee == 0 {
                    do throws(SysError) { try futexWait(p, expected: 0) } catch { if error != .wouldBlock { throw error } }
                }
                return UInt64(p.pointee)
            }
        }
    }
    // Waiters may run on other CPUs (smp=threads): each is waited for until the kernel says it blocks.
    let one = try waiter(a)
    check(waitBlocked(one), "the futex waiter did not block")
    check(isBlocked(one), "futex_wait returned while the value was unchanged")
    a.pointee = 9
    check(try futexWake(a, count: 1) == 1, "futex_wake did not report one thread woken")
    check(finish(one, "futex waiter") == 9, "the futex waiter did not see 9")

    step("wake count")
    a.pointee = 0
    // Waiters that wait exactly once (a wake is what ends them).
    func onceWaiter(_ p: UnsafeMutablePointer<UInt32>) throws(SysError) -> Watched {
        try spawnWatched { () -> UInt64 in outcome { () throws(SysError) -> UInt64 in try futexWait(p, expected: 0); return 1 } }
    }
    let ws = [try onceWaiter(a), try onceWaiter(a), try onceWaiter(a)]
    for w in ws { check(waitBlocked(w), "a futex waiter did not block") }
    check(try futexWake(a, count: 2) == 2, "wake 2 of 3 did not report 2")
    // The kernel has made the woken ones ready before futex_wake returns: exactly one is still blocked.
    check(ws.filter { kernelBlocked($0) }.count == 1, "wake 2 of 3 left \(ws.filter { kernelBlocked($0) }.count) blocked")
    check(try futexWake(a, count: 1) == 1, "wake 1 of 1 did not report 1")
    check(try futexWake(a, count: 1) == 0, "wake with none left did not report 0")
    for w in ws { check(finish(w, "futex waiter") == 1, "a woken futex waiter failed") }

    step("requeue")
    let rs = [try onceWaiter(a), try onceWaiter(a), try onceWaiter(a)]
    for w in rs { check(waitBlocked(w), "a futex waiter did not block") }
    check(try futexRequeue(a, wake: 1, to: b, requeue: 2) == 1, "requeue did not wake 1")
    check(rs.filter { kernelBlocked($0) }.count == 2, "requeue left \(rs.filter { kernelBlocked($0) }.count) blocked")
    check(try futexWake(a, count: 10) == 0, "waiters left on the first address after requeue")
    check(try futexWake(b, count: 10) == 2, "the two requeued waiters are not on the second address")
    for w in rs { check(finish(w, "requeued waiter") == 1, "a requeued waiter failed") }

    step("futex across processes")
    // The same frame mapped in a child: its futex_wake on its own address wakes root's waiter.
    let forChild = try handleDuplicate(page.frame, rights: [.read, .write, .map])
    defer { closeAll(forChild) }
    var child = try Child.create(code: Code.futexWake(count: 1))
    defer { child.close() }
    let childAddress: UInt64 = 0x50_0000
    try vmemMap(child.vmem, frame: forChild, address: childAddress, length: pageSize, flags: [.read, .write])
    let c = page.word(2)
    c.pointee = 0
    let crossWaiter = try onceWaiter(c)
    check(waitBlocked(crossWaiter), "the futex waiter did not block")
    try child.spawn(argument: childAddress + 2 * 64)
    check(try processWait(child.process) == 1, "the child's futex_wake did not wake one thread")
    check(finish(crossWaiter, "waiter woken from another process") == 1, "the cross-process futex waiter failed")
}

struct RingMessage {
    var sequence: UInt64
    var check: UInt64
    init(_ sequence: UInt64) {
        self.sequence = sequence
        self.check = sequence &* 0x9e37_79b9_7f4a_7c15
    }
    var isValid: Bool { check == sequence &* 0x9e37_79b9_7f4a_7c15 }
}

/// A one-page Frame mapped twice in root (the producer's and the consumer's view of shared memory) and
/// the two Notifies of a ring.
struct RingSetup {
    let frame: Handle
    let second: Handle
    let producerAddress: UInt64
    let consumerAddress: UInt64
    let dataReady: Handle
    let spaceReady: Handle

    static func make() throws(SysError) -> RingSetup {
        let frame = try frameCreate(size: pageSize)
        let second = try handleDuplicate(frame, rights: [.read, .write, .map])
        let pa = Scratch.take(pages: 1)
        let ca = Scratch.take(pages: 1)
        try vmemMap(Runtime.vmem, frame: frame, address: pa, length: pageSize, flags: [.read, .write])
        try vmemMap(Runtime.vmem, frame: second, address: ca, length: pageSize, flags: [.read, .write])
        return RingSetup(frame: frame, second: second, producerAddress: pa, consumerAddress: ca,
                         dataReady: try notifyCreate(), spaceReady: try notifyCreate())
    }

    func rings(slots: Int, notify: Bool) -> (producer: Ring, consumer: Ring) {
        let size = Ring.bytesNeeded(slotSize: MemoryLayout<RingMessage>.size, slotCount: slots)
        let d = notify ? dataReady : .invalid
        let s = notify ? spaceReady : .invalid
        let p = Ring(memory: pointer(producerAddress), size: size, slotSize: MemoryLayout<RingMessage>.size, dataReady: d, spaceReady: s)
        let c = Ring(memory: pointer(consumerAddress), size: size, slotSize: MemoryLayout<RingMessage>.size, dataReady: d, spaceReady: s)
        c.reset()
        return (p, c)
    }

    func release() {
        _ = try? vmemUnmap(Runtime.vmem, address: producerAddress, length: pageSize)
        _ = try? vmemUnmap(Runtime.vmem, address: consumerAddress, length: pageSize)
        closeAll(frame, second, dataReady, spaceReady)
    }
}

/// 10,000 messages through an SPSC ring from a producer thread to a consumer thread (each through its own
/// mapping of the shared Frame), in order, none lost or corrupted; the consumer sleeps on a Notify when
/// the ring is empty, the producer on another when it is full (the consumer is slow now and then).
func testRingStream() throws(SysError) {
    let setup = try RingSetup.make()
    defer { setup.release() }
    let (producerRing, consumerRing) = setup.rings(slots: 16, notify: true)
    check(producerRing.slotCount == 16 && producerRing.slotSize == 16, "ring of \(producerRing.slotCount) × \(producerRing.slotSize)")
    let total: UInt64 = 10_000
    let producer = try spawnWatched { () -> UInt64 in
        for i in 0..<total {
            producerRing.push(RingMessage(i))
            if i % 1500 == 0 { threadYield() }
        }
        return total
    }
    let consumer = try spawnWatched { () -> UInt64 in
        var bad: UInt64 = 0
        for i in 0..<total {
            let m = consumerRing.pop(as: RingMessage.self)
            if m.sequence != i || !m.isValid { bad += 1 }
            if i % 1000 == 999 { for _ in 0..<3 { threadYield() } }     // slow: the producer fills the ring and sleeps
        }
        return bad
    }
    check(finish(producer, "ring producer", within: 300_000) == total, "the producer did not finish")
    let bad = finish(consumer, "ring consumer", within: 300_000)
    check(bad == 0, "\(bad.map { String($0) } ?? "?") messages out of order or corrupted")
    check(consumerRing.isEmpty && producerRing.isEmpty, "messages left in the ring")
}

/// A full ring refuses more (tryPush false) until the consumer frees a slot; a blocking push waits on the
/// Notify while the ring is full and goes on as slots free up; nothing is overwritten.
func testRingBackpressure() throws(SysError) {
    let setup = try RingSetup.make()
    defer { setup.release() }
    let (producerRing, consumerRing) = setup.rings(slots: 8, notify: true)
    check(producerRing.slotCount == 8, "ring of \(producerRing.slotCount) slots")
    check(consumerRing.tryPop(as: RingMessage.self) == nil, "an empty ring gave a message")
    for i in 0..<8 as Range<UInt64> { check(producerRing.tryPush(RingMessage(i)), "push \(i) into a ring with room failed") }
    check(producerRing.isFull && consumerRing.count == 8, "the ring is not full after 8 pushes")
    check(!producerRing.tryPush(RingMessage(99)), "a push into a full ring succeeded")
    check(consumerRing.tryPop(as: RingMessage.self)?.sequence == 0, "the first message is not 0")
    check(producerRing.tryPush(RingMessage(8)), "a push after a pop failed")
    check(!producerRing.tryPush(RingMessage(99)), "a push into the full ring succeeded")
    // A producer that blocks: 8 more messages (9...16) into the full ring.
    let producer = try spawnWatched { () -> UInt64 in
        for i in 9...16 as ClosedRange<UInt64> { producerRing.push(RingMessage(i)) }
        return 1
    }
    // The producer may run on another CPU (smp=threads): waited for until the kernel says it blocks.
    check(waitBlocked(producer), "a push into a full ring did not wait")
    check(producerRing.count == 8, "the ring holds \(producerRing.count) while full")
    var next: UInt64 = 1
    var bad = 0
    for _ in 0..<3 {
        if let m = consumerRing.tryPop(as: RingMessage.self) { if m.sequence != next || !m.isValid { bad += 1 }; next += 1 }
    }
    waitUntil(ms: 10_000) { producerRing.isFull }
    waitBlocked(producer)
    check(isBlocked(producer) && producerRing.isFull, "the producer did not refill the freed slots and wait again")
    while next <= 16 {
        guard waitUntil({ !consumerRing.isEmpty }) else { break }
        if let m = consumerRing.tryPop(as: RingMessage.self) { if m.sequence != next || !m.isValid { bad += 1 }; next += 1 }
    }
    check(next == 17, "the consumer got messages up to \(next - 1), expected 16")
    check(bad == 0, "\(bad) messages out of order or overwritten")
    check(finish(producer, "blocked producer") == 1, "the producer did not finish")
    check(consumerRing.isEmpty, "messages left")
    // Without Notifies (yielding instead) the same stream works.
    let (p2, c2) = setup.rings(slots: 4, notify: false)
    let yielder = try spawnWatched { () -> UInt64 in
        for i in 0..<500 as Range<UInt64> { p2.push(RingMessage(i)) }
        return 1
    }
    var got: UInt64 = 0
    var wrong = 0
    while got < 500 {
        guard waitUntil({ !c2.isEmpty }) else { break }
        if let m = c2.tryPop(as: RingMessage.self) { if m.sequence != got { wrong += 1 }; got += 1 }
    }
    check(got == 500 && wrong == 0, "a ring without Notifies passed \(got) messages, \(wrong) wrong")
    finish(yielder, "yielding producer")
}

extension Code {
    /// A ring producer in another process (hand-assembled): rdi = the ring's address in the child (128
    /// slots of 16 bytes after the 128-byte header, Ring's layout); the child's Notify handle value is at
    /// header offset 72. It pushes RingMessage(0..<10000) — yielding while the ring is full, waking the
    /// consumer the way Ring does (store tail; mfence; if consumerWaiting, xchg it to 0 and notify) —
    /// then exits with 0.
    static let ringProducer: [UInt8] = [
        0x49, 0x89, 0xfc,                                  // mov %rdi, %r12         ring base
        0x31, 0xdb,                                        // xor %ebx, %ebx         i = 0
        0x41, 0x8b, 0x04, 0x24,                            // 1: mov (%r12), %eax    head
        0x89, 0xda,                                        // mov %ebx, %edx
        0x29, 0xc2,                                        // sub %eax, %edx         tail - head
        0x81, 0xfa, 0x80, 0x00, 0x00, 0x00,                // cmp $128, %edx
        0x72, 0x09,                                        // jb 2f
        0xb8, 0x12, 0x00, 0x00, 0x00, 0x0f, 0x05,          // mov $18, %eax; syscall (thread_yield)
        0xeb, 0xe7,                                        // jmp 1b
        0x89, 0xd8,                                        // 2: mov %ebx, %eax
        0x83, 0xe0, 0x7f,                                  // and $127, %eax
        0xc1, 0xe0, 0x04,                                  // shl $4, %eax
        0x49, 0x8d, 0x94, 0x04, 0x80, 0x00, 0x00, 0x00,    // lea 128(%r12,%rax), %rdx   the slot
        0x48, 0x89, 0x1a,                                  // mov %rbx, (%rdx)       sequence
        0x49, 0xb8, 0x15, 0x7c, 0x4a, 0x7f, 0xb9, 0x79, 0x37, 0x9e,   // movabs $0x9e3779b97f4a7c15, %r8
        0x4c, 0x0f, 0xaf, 0xc3,                            // imul %rbx, %r8
        0x4c, 0x89, 0x42, 0x08,                            // mov %r8, 8(%rdx)       check
        0x8d, 0x43, 0x01,                                  // lea 1(%rbx), %eax
        0x41, 0x89, 0x44, 0x24, 0x40,                      // mov %eax, 64(%r12)     publish tail
        0x0f, 0xae, 0xf0,                                  // mfence
        0x41, 0x83, 0x7c, 0x24, 0x04, 0x00,                // cmpl $0, 4(%r12)       consumerWaiting?
        0x74, 0x1c,                                        // je 3f
        0x31, 0xc0,                                        // xor %eax, %eax
        0x41, 0x87, 0x44, 0x24, 0x04,                      // xchg %eax, 4(%r12)
        0x85, 0xc0,                                        // test %eax, %eax
        0x74, 0x11,                                        // je 3f
        0x41, 0x8b, 0x7c, 0x24, 0x48,                      // mov 72(%r12), %edi     the Notify
        0xbe, 0x01, 0x00, 0x00, 0x00,                      // mov $1, %esi
        0xb8, 0x29, 0x00, 0x00, 0x00, 0x0f, 0x05,          // mov $41, %eax; syscall (notify_notify)
        0xff, 0xc3,                                        // 3: inc %ebx
        0x81, 0xfb, 0x10, 0x27, 0x00, 0x00,                // cmp $10000, %ebx
        0x75, 0x89,                                        // jne 1b
    ] + exit(0)
}

/// 10,000 messages through a ring from a producer in another process (Code.ringProducer, the Frame
/// mapped in both), in order, none lost; root's consumer sleeps on the Notify the child signals.
func testRingCrossProcess() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    let forChild = try handleDuplicate(frame, rights: [.read, .write, .map])
    let dataReady = try notifyCreate()
    let address = Scratch.take(pages: 1)
    defer {
        _ = try? vmemUnmap(Runtime.vmem, address: address, length: pageSize)
        closeAll(frame, forChild, dataReady)
    }
    try vmemMap(Runtime.vmem, frame: frame, address: address, length: pageSize, flags: [.read, .write])
    let ring = Ring(memory: pointer(address), size: Ring.bytesNeeded(slotSize: 16, slotCount: 128), slotSize: 16,
                    dataReady: dataReady)
    check(ring.slotCount == 128 && ring.slotSize == 16, "ring of \(ring.slotCount) × \(ring.slotSize)")
    ring.reset()
    var child = try Child.create(code: Code.ringProducer)
    defer { child.close() }
    let childAddress: UInt64 = 0x50_0000
    try vmemMap(child.vmem, frame: forChild, address: childAddress, length: pageSize, flags: [.read, .write])
    let given = try processGive(child.process, try handleDuplicate(dataReady, rights: [.signal, .transfer]))
    pointer(address + 72).storeBytes(of: given.raw, as: UInt32.self)
    let total: UInt64 = 10_000
    let consumer = try spawnWatched { () -> UInt64 in
        var bad: UInt64 = 0
        for i in 0..<total {
            let m = ring.pop(as: RingMessage.self)
            if m.sequence != i || !m.isValid { bad += 1 }
            if i % 1000 == 999 { for _ in 0..<3 { threadYield() } }
        }
        return bad
    }
    try child.spawn(argument: childAddress)
    let bad = finish(consumer, "cross-process ring consumer", within: 300_000)
    if bad == nil { _ = try? threadStop(child.thread) }
    let code = try processWait(child.process)
    check(code == 0, "the producer child exited with \(hex(code))")
    check(bad == 0, "\(bad.map { String($0) } ?? "?") messages out of order or corrupted")
    check(ring.isEmpty, "messages left in the ring")
}
