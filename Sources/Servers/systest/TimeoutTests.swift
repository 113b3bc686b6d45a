// thread_sleep and the timeouts of blocking calls (receiver_recv, sender_call_timed, notify_wait,
// futex_wait, process_wait, thread_wait): each wakes on time with .timedOut, leaves no stale entry in
// the queue it waited in, and a wake racing with the deadline gives exactly one result.

let millisecond: UInt64 = 1_000_000

/// Runs `body`; the milliseconds it took on the kernel's clock (the time page), rounded down.
func millisecondsTaken(_ body: () throws(SysError) -> Void) throws(SysError) -> UInt64 {
    let start = Clock.now()
    try body()
    return (Clock.now() - start) / millisecond
}

/// Checks that `body` (a wait of about `least` ms) ends no sooner than `least` and within `most` ms of
/// the kernel's clock, run pinned to this CPU (the wait and its wake are this CPU's). Every attempt must
/// not end early; an attempt that ends late is repeated, up to 3 in all, because a vCPU that the host
/// did not run for a while (several vCPUs on a loaded host) ends one late through no fault of the
/// kernel's. A kernel that wakes late does so in every attempt, and fails.
func checkTimed(_ what: StaticString, least: UInt64, most: UInt64, _ body: () throws(SysError) -> Void) throws(SysError) {
    var takes: [UInt64] = []
    try onThisCPU { (_) throws(SysError) in
        for _ in 0..<3 {
            let taken = try millisecondsTaken(body)
            takes.append(taken)
            check(taken >= least, "\(text(what)) ended after \(taken) ms")
            if taken <= most { return }
        }
    }
    if let last = takes.last, last > most {
        fail("\(text(what)) took \(takes.map { String($0) }.joined(separator: ", ")) ms (at most \(most) expected)")
    }
}

let timeoutTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("timeouts.sleep_on_time", testSleepOnTime),
    ("timeouts.sleepers_wake_in_order", testSleepersWakeInOrder),
    ("timeouts.killed_sleeper", testKilledSleeper),
    ("timeouts.sleep_ended_by_process_exit", testSleepEndedByProcessExit),
    ("timeouts.recv", testRecvTimeout),
    ("timeouts.call_unanswered", testCallTimeout),
    ("timeouts.call_answer_races_deadline", testCallAnswerRacesDeadline),
    ("timeouts.notify_wait", testNotifyWaitTimeout),
    ("timeouts.futex_wait", testFutexWaitTimeout),
    ("timeouts.process_and_thread_wait", testExitWaitTimeouts),
    ("timeouts.no_leak", testTimeoutsNoLeak),
]

func testSleepOnTime() throws(SysError) {
    for _ in 0..<3 {
        try checkTimed("a 50 ms sleep", least: 50, most: 80) { () throws(SysError) in threadSleep(nanoseconds: 50 * millisecond) }
    }
    step("sleep 0 yields")
    try checkTimed("thread_sleep(0)", least: 0, most: 10) { () throws(SysError) in threadSleep(nanoseconds: 0) }
    step("a short sleep")
    try checkTimed("a 1 ns sleep", least: 0, most: 20) { () throws(SysError) in threadSleep(nanoseconds: 1) }
}

/// Eight threads sleep for different times, started in another order: they wake earliest first. Each
/// sleeps until its own point after one common start (20 ms after the threads are made), not for its
/// time from whenever it first runs: a vCPU the host stops while the sleepers are being started (tens of
/// ms on a loaded host) would otherwise start a short sleep after a longer one has begun.
func testSleepersWakeInOrder() throws(SysError) { try onThisCPU { (cpu) throws(SysError) in
    let sleeps: [UInt64] = [70, 10, 150, 50, 30, 130, 90, 110]
    let order = Counter()
    var woken = [UInt64](repeating: 0, count: sleeps.count)
    var threads: [Watched] = []
    let slots = UnsafeMutablePointer<UInt64>.allocate(capacity: sleeps.count)
    defer { slots.deallocate() }
    let start = Clock.now() + 20 * millisecond
    for ms in sleeps {
        threads.append(try spawnWatched(start: false) { () -> UInt64 in
            let now = Clock.now()
            let until = start + ms * millisecond
            threadSleep(nanoseconds: until > now ? until - now : 1)
            slots[Int(order.value)] = ms
            order.value += 1
            return 0
        })
    }
    // All on one CPU: sleepers woken in one tick run in their wake order there.
    for t in threads { try threadSetAffinity(t.handle, cpu) }
    for t in threads { try threadStart(t.handle) }
    for t in threads { _ = finish(t, "sleeper", within: 2_000) }
    for i in 0..<sleeps.count { woken[i] = slots[i] }
    check(woken == sleeps.sorted(), "sleepers woke in the order \(woken.map { String($0) }.joined(separator: " "))")
} }

/// A thread sleeping for ever (and one for 10 s) is stopped: it ends at once.
func testKilledSleeper() throws(SysError) { try onThisCPU { (cpu) throws(SysError) in
    for duration in [UInt64.max, 10_000 * millisecond] {
        let sleeper = try spawnWatched(start: false) { () -> UInt64 in threadSleep(nanoseconds: duration); return 1 }
        try threadSetAffinity(sleeper.handle, cpu)      // stopped and ended on this CPU: the time is the kernel's
        try threadStart(sleeper.handle)
        check(waitBlocked(sleeper), "the sleeper did not sleep")
        let taken = try millisecondsTaken { () throws(SysError) in
            try threadStop(sleeper.handle)
            check(try threadWait(sleeper.handle, timeout: 1_000 * millisecond) == ExitCode.stopped, "the stopped sleeper's exit code")
        }
        check(taken <= 20, "a stopped sleeper took \(taken) ms to end")
        _ = try? sleeper.thread.join()
    }
} }

enum SleepCode {
    /// thread_sleep(10 s) (movabs $10e9, %rdi; mov $51, %eax; syscall), then jmp . — at offset 0.
    static let sleep: [UInt8] = [0x48, 0xbf] + (0..<8).map { UInt8(truncatingIfNeeded: UInt64(10_000_000_000) >> (8 * $0)) }
        + [0xb8, 0x33, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xfe]
    static let exitOffset: UInt64 = 64
    /// The sleeper, then at exitOffset process_exit(7).
    static var code: [UInt8] { sleep + [UInt8](repeating: 0xcc, count: Int(exitOffset) - sleep.count) + Code.exit(7) }
}

/// A child whose first thread sleeps 10 s and whose second calls process_exit: the child ends at once.
/// Both of the child's threads run on this CPU: the time measured is the kernel's, not another vCPU's.
func testSleepEndedByProcessExit() throws(SysError) { try onThisCPU { (cpu) throws(SysError) in
    var child = try Child.create(code: SleepCode.code)
    defer { child.close() }
    try child.spawn(start: false)
    try threadSetAffinity(child.thread, cpu)
    try threadStart(child.thread)
    check(waitBlocked(handle: child.thread), "the child's first thread did not sleep")
    step("the exiting thread")
    let exiter = try threadCreate(process: child.process, entry: Code.base + SleepCode.exitOffset, stack: Code.stackTop, argument: 0)
    defer { closeAll(exiter) }
    try threadSetAffinity(exiter, cpu)
    var code: UInt64 = 0
    let taken = try millisecondsTaken { () throws(SysError) in
        try threadStart(exiter)
        code = try processWait(child.process, timeout: 2_000 * millisecond)
    }
    check(code == 7, "the child ended with \(hex(code))")
    check(taken <= 30, "the sleeping child took \(taken) ms to end")
    expectSuccess("thread_wait on the sleeping thread") { () throws(SysError) in try threadWait(child.thread, timeout: 100 * millisecond) }
} }

func testRecvTimeout() throws(SysError) {
    let r = try receiverCreate()
    let s = try senderCreate(r, badge: 3)
    let reply = try replyCreate()
    defer { closeAll(s, r, reply) }
    try checkTimed("a 30 ms receive", least: 30, most: 60) { () throws(SysError) in
        expectError(.timedOut, "receiver_recv on an empty receiver") { () throws(SysError) in try receiverRecv(r, timeout: 30 * millisecond) }
    }
    expectError(.timedOut, "receiver_recv into a Reply") { () throws(SysError) in try receiverRecv(r, reply: reply, timeout: 20 * millisecond) }

    step("no receiver is left queued")
    // A receiver left in the endpoint's queue would take this call; it must time out instead.
    expectError(.timedOut, "a call with no receiver") { () throws(SysError) in
        try senderCall(s, IPCMessage(label: 1, 5), timeout: 20 * millisecond)
    }
    step("the Reply is free again and a real receive works")
    let caller = try spawnCaller(s, id: 9)
    let m = try receiverRecv(r, reply: reply, timeout: 1_000 * millisecond)
    check(m.words.0 == 9 && m.badge == 3, "the receive after timeouts got word \(m.words.0), badge \(m.badge)")
    try replyReply(reply, IPCMessage(label: 0, 90))
    check(finish(caller, "caller") == 90, "the caller did not get the answer")

    step("receiver_reply_recv_timed")
    let caller2 = try spawnCaller(s, id: 4)
    let m2 = try receiverRecv(r, timeout: 1_000 * millisecond)
    check(m2.words.0 == 4, "the second receive got \(m2.words.0)")
    expectError(.timedOut, "reply_recv with a timeout and no next caller") { () throws(SysError) in
        try receiverReplyRecv(r, IPCMessage(label: 0, 40), timeout: 20 * millisecond)
    }
    check(finish(caller2, "caller answered by reply_recv_timed") == 40, "reply_recv_timed did not answer")
    expectError(.invalidArgument, "reply_recv_timed with 4 words") { () throws(SysError) in
        try receiverReplyRecv(r, IPCMessage(label: 0, 1, 2, 3, 4), timeout: millisecond)
    }
}

func testCallTimeout() throws(SysError) {
    let r = try receiverCreate()
    let s = try senderCreate(r, badge: 0)
    let never = try notifyCreate()
    defer { closeAll(s, r, never) }
    expectError(.invalidArgument, "sender_call_timed with 4 words") { () throws(SysError) in
        try senderCall(s, IPCMessage(label: 0, 1, 2, 3, 4), timeout: millisecond)
    }

    step("queued, never received")
    try checkTimed("a 30 ms call", least: 30, most: 60) { () throws(SysError) in
        expectError(.timedOut, "a call nobody receives") { () throws(SysError) in try senderCall(s, IPCMessage(label: 0, 1), timeout: 30 * millisecond) }
    }
    expectError(.timedOut, "a receive after the call left") { () throws(SysError) in try receiverRecv(r, timeout: 10 * millisecond) }

    for useReply in [false, true] {
        step(useReply ? "received into a Reply, never answered" : "received, never answered")
        let reply = useReply ? try replyCreate() : Handle.invalid
        defer { closeAll(reply) }
        let answered = Counter()
        // The server receives the call, then waits (holding it) until told to answer.
        let server = try spawnWatched { () -> UInt64 in
            outcome { () throws(SysError) -> UInt64 in
                _ = try receiverRecv(r, reply: useReply ? reply : nil)
                _ = try notifyWait(never)
                do throws(SysError) {
                    if useReply { try replyReply(reply, IPCMessage(label: 0, 2)) } else { try receiverReply(IPCMessage(label: 0, 2)) }
                } catch { answered.value = 1000 + error.rawValue; return 0 }
                answered.value = 1
                return 0
            }
        }
        check(waitBlocked(server), "the server did not reach its receive")
        expectError(.timedOut, "a call the server holds") { () throws(SysError) in try senderCall(s, IPCMessage(label: 0, 1), timeout: 30 * millisecond) }
        try notifyNotify(never, bits: 1)
        check(finish(server, "server") == 0, "the server failed")
        check(answered.value == errorCode(.badState), "answering a timed-out caller gave \(answered.value), not .badState")
    }
}

/// The server answers around the caller's deadline: the caller gets the answer exactly when the answer
/// succeeded, and .timedOut exactly when it failed.
func testCallAnswerRacesDeadline() throws(SysError) {
    let r = try receiverCreate()
    let s = try senderCreate(r, badge: 0)
    defer { closeAll(s, r) }
    var mismatches = 0, answers = 0, timeouts = 0
    // Caller and server on this CPU: the race is between the server's sleep and the caller's deadline,
    // both timed by this CPU, not by when the host runs another vCPU. The server is in its receive
    // before the call (a call that timed out while queued would leave it waiting for ever).
    try onThisCPU { (cpu) throws(SysError) in for round in 0..<24 {
        let delay = UInt64(round % 6) * 5 * millisecond
        let server = try spawnWatched(start: false) { () -> UInt64 in
            outcome { () throws(SysError) -> UInt64 in
                _ = try receiverRecv(r)
                threadSleep(nanoseconds: delay)
                try receiverReply(IPCMessage(label: 0, 77))
                return 1
            }
        }
        try threadSetAffinity(server.handle, cpu)
        try threadStart(server.handle)
        check(waitBlocked(server), "the racing server did not reach its receive")
        var got: UInt64 = 0
        do throws(SysError) {
            got = try senderCall(s, IPCMessage(label: 0, 1), timeout: 15 * millisecond).words.0
        } catch { got = errorCode(error) }
        let served = finish(server, "racing server", within: 1_000) ?? 0
        if got == 77 { answers += 1 } else if got == errorCode(.timedOut) { timeouts += 1 }
        let consistent = (got == 77 && served == 1) || (got == errorCode(.timedOut) && served == errorCode(.badState))
        if !consistent { mismatches += 1 }
    } }
    check(mismatches == 0, "\(mismatches) rounds where the caller and the server disagree")
    check(answers > 0 && timeouts > 0, "the rounds did not race (\(answers) answered, \(timeouts) timed out)")
}

func testNotifyWaitTimeout() throws(SysError) {
    let n = try notifyCreate()
    let other = try notifyCreate()
    defer { closeAll(n, other) }
    try checkTimed("a 30 ms notify_wait", least: 30, most: 60) { () throws(SysError) in
        expectError(.timedOut, "notify_wait with nothing signalled") { () throws(SysError) in try notifyWait(n, timeout: 30 * millisecond) }
    }
    try notifyNotify(n, bits: 6)
    check(try notifyWait(n, timeout: 10 * millisecond) == 6, "a timed wait with bits pending")
    check(try notifyPoll(n) == 0, "bits left after the timed wait took them")

    step("a timed-out waiter leaves the queue")
    expectError(.timedOut, "notify_wait") { () throws(SysError) in try notifyWait(n, timeout: 10 * millisecond) }
    try notifyNotify(n, bits: 1)
    check(try notifyPoll(n) == 1, "the bits went to a waiter that had timed out")

    step("a waiter woken early keeps no timer")
    // Woken by a signal long before its 40 ms deadline, it then waits for ever on another Notify: a
    // deadline left armed would end that wait with .timedOut.
    let waiter = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            let first = try notifyWait(n, timeout: 40 * millisecond)
            return first * 100 + (try notifyWait(other))
        }
    }
    check(waitBlocked(waiter), "the waiter did not wait")
    try notifyNotify(n, bits: 2)
    // Once in its second, untimed wait, 100 ms (past the first wait's 40 ms deadline) must not end it.
    check(waitBlocked(waiter), "the waiter did not reach its second wait")
    threadSleep(nanoseconds: 100 * millisecond)
    check(kernelBlocked(waiter), "the waiter's second, untimed wait ended")
    try notifyNotify(other, bits: 3)
    check(finish(waiter, "waiter") == 203, "the waiter got the wrong bits")
}

func testFutexWaitTimeout() throws(SysError) {
    let page = try FutexPage.make()
    defer { page.release() }
    let a = page.word(0)
    let b = page.word(1)
    a.pointee = 0
    try checkTimed("a 30 ms futex_wait", least: 30, most: 60) { () throws(SysError) in
        expectError(.timedOut, "futex_wait with nobody waking") { () throws(SysError) in try futexWait(a, expected: 0, timeout: 30 * millisecond) }
    }
    check(try futexWake(a, count: 10) == 0, "a timed-out futex waiter is still queued")
    expectError(.wouldBlock, "a timed futex_wait with another value") { () throws(SysError) in try futexWait(a, expected: 1, timeout: millisecond) }

    step("requeued, then timed out")
    let waiter = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in try futexWait(a, expected: 0, timeout: 60 * millisecond); return 1 }
    }
    check(waitBlocked(waiter), "the futex waiter did not block")
    check(try futexRequeue(a, wake: 0, to: b, requeue: 1) == 0, "requeue woke a thread")
    check(finish(waiter, "requeued waiter", within: 1_000) == errorCode(.timedOut), "the requeued waiter did not time out")
    check(try futexWake(b, count: 10) == 0, "the timed-out waiter is still on the second address")

    step("woken before the deadline")
    let early = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in try futexWait(a, expected: 0, timeout: 1_000 * millisecond); return 1 }
    }
    check(waitBlocked(early), "the futex waiter did not block")
    check(try futexWake(a, count: 1) == 1, "futex_wake did not find the timed waiter")
    check(finish(early, "futex waiter") == 1, "a waiter woken in time got an error")
}

func testExitWaitTimeouts() throws(SysError) {
    var spinner = try Child.create(code: Code.spin)
    defer { spinner.close() }
    try spinner.spawn()
    expectError(.timedOut, "process_wait on a running process") { () throws(SysError) in try processWait(spinner.process, timeout: 20 * millisecond) }
    expectError(.timedOut, "thread_wait on a running thread") { () throws(SysError) in try threadWait(spinner.thread, timeout: 20 * millisecond) }
    try threadStop(spinner.thread)
    check(try processWait(spinner.process, timeout: 1_000 * millisecond) == ExitCode.stopped, "process_wait after the stop")
}

/// Timed-out calls, receives, waits and killed sleepers leave free frames and live objects as they were.
func testTimeoutsNoLeak() throws(SysError) {
    try checkNoLeak("timed-out IPC and waits") { () throws(SysError) in
        let r = try receiverCreate()
        let s = try senderCreate(r, badge: 0)
        let n = try notifyCreate()
        defer { closeAll(s, r, n) }
        _ = try? receiverRecv(r, timeout: millisecond)
        _ = try? senderCall(s, IPCMessage(label: 0, 1), timeout: millisecond)
        _ = try? notifyWait(n, timeout: millisecond)
        let server = try spawnWatched { () -> UInt64 in (try? receiverRecv(r)).map { _ in 1 } ?? 0 }
        check(waitBlocked(server), "the server did not reach its receive")
        _ = try? senderCall(s, IPCMessage(label: 0, 1), timeout: millisecond)   // held by the server, then let go
        _ = finish(server, "server")
    }
    try checkNoLeak("killed sleepers") { () throws(SysError) in
        let sleeper = try spawnWatched { () -> UInt64 in threadSleep(nanoseconds: UInt64.max); return 0 }
        check(waitBlocked(sleeper), "the sleeper did not sleep")
        stopAndJoin(sleeper, "sleeper")
    }
}
