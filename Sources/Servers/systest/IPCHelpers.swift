// Helpers for the IPC tests: threads whose end is awaited with a bound (a kernel bug that leaves a thread
// blocked becomes a failure, not a hung suite), IPC buffer pages, and small machine-code children that
// make one IPC-related syscall.

/// A thread of root that raises `done` just before it ends.
struct Watched {
    let thread: SpawnedThread
    let done: Counter
    var handle: Handle { thread.handle }
}

func spawnWatched(start: Bool = true, _ body: @escaping () -> UInt64) throws(SysError) -> Watched {
    let done = Counter()
    let thread = try spawnThread(start: start) { () -> UInt64 in
        let result = body()
        done.value = 1
        return result
    }
    return Watched(thread: thread, done: done)
}

/// Yields (and after the first 10 ms sleeps 1 ms at a time) until `condition` holds, for at most `ms`
/// milliseconds of the kernel clock; whether it held. A bound in time, not in yields: a thread on another
/// CPU, whose vCPU the host may not run for a while, makes no progress while this one yields.
@discardableResult
func waitUntil(ms: UInt64 = 10_000, _ condition: () -> Bool) -> Bool {
    let start = Clock.now()
    while !condition() {
        let waited = Clock.now() - start
        if waited > ms * 1_000_000 { return false }
        if waited < 10_000_000 { threadYield() } else { threadSleep(nanoseconds: 1_000_000) }
    }
    return true
}

/// Whether the kernel says `thread` is blocked now (waiting in IPC, a notification, a futex, a sleep or
/// an exit), whichever CPU it was on.
func kernelBlocked(_ thread: Handle) -> Bool { (try? threadGetState(thread)) == .blocked }
func kernelBlocked(_ w: Watched) -> Bool { kernelBlocked(w.handle) }

/// Waits (up to 10 s) until the kernel says `w` is blocked, on any CPU; false at once when `w` ends
/// instead. The wait for a thread to reach its blocking call (the tests' bodies block nowhere else).
@discardableResult
func waitBlocked(_ w: Watched) -> Bool {
    waitUntil { w.done.value != 0 || kernelBlocked(w) }
    return w.done.value == 0 && kernelBlocked(w)
}

/// Waits (up to 10 s) until the kernel says `thread` (another process's, or one not watched) is blocked;
/// whether it is.
@discardableResult
func waitBlocked(handle thread: Handle) -> Bool {
    waitUntil { (try? threadGetState(thread)).map { $0 == .blocked || $0 == .dead } ?? true }
    return kernelBlocked(thread)
}

/// Runs `body` with this thread pinned to the CPU it runs on, passing that CPU's mask (for the threads
/// the body pins there too), and restores its affinity after: tests of one CPU's scheduling (priorities,
/// wake order) mean the same under `smp=threads`, where other threads would run on other CPUs.
func onThisCPU(_ body: (UInt64) throws(SysError) -> Void) throws(SysError) {
    let me = try threadSelf()
    defer {
        _ = try? threadSetAffinity(me, UInt64.max)
        closeAll(me)
    }
    let mask = UInt64(1) << (try systemInfo(.currentCPU))
    try threadSetAffinity(me, mask)
    try body(mask)
}

/// The exit code of a watched thread that ends within `ms` milliseconds (a timed thread_wait, whichever
/// CPU it runs on); nil, after recording a failure and stopping it, otherwise.
@discardableResult
func finish(_ w: Watched, _ what: StaticString, within ms: UInt64 = 30_000) -> UInt64? {
    do throws(SysError) {
        _ = try threadWait(w.handle, timeout: ms * 1_000_000)
    } catch {
        fail("\(text(what)): not ended after \(ms) ms (\(text(error)))")
        _ = try? threadStop(w.handle)
        _ = try? w.thread.join()
        return nil
    }
    return try? w.thread.join()
}

/// Stops a watched thread and waits (bounded, through a joining thread) until it has ended; whether it did.
/// A stopped thread never raises `done`: it ends on its way back to user mode.
@discardableResult
func stopAndJoin(_ w: Watched, _ what: StaticString) -> Bool {
    do { try threadStop(w.handle) } catch {
        fail("\(text(what)): thread_stop failed with \(text(error))")
        return false
    }
    let handle = w.handle
    guard let joiner = try? spawnWatched({ () -> UInt64 in (try? threadWait(handle)) ?? 0 }) else { return false }
    guard let code = finish(joiner, what) else { return false }
    check(code == UInt64.max, "\(text(what)): a stopped thread ended with \(hex(code))")
    _ = try? w.thread.join()
    return true
}

/// Whether a watched thread is still running or blocked (it has not raised `done`).
func isBlocked(_ w: Watched) -> Bool { w.done.value == 0 }

/// A thread that calls `sender` once with word `id` and exits with the answer's first word (or the error).
func spawnCaller(_ sender: Handle, id: UInt64) throws(SysError) -> Watched {
    try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in try senderCall(sender, IPCMessage(label: 0, id)).words.0 }
    }
}

/// A thread body's outcome as an exit code: the value, or 1000 + the error.
func outcome(_ body: () throws(SysError) -> UInt64) -> UInt64 {
    do { return try body() } catch { return 1000 + error.rawValue }
}

func errorCode(_ e: SysError) -> UInt64 { 1000 + e.rawValue }

/// An IPC buffer page: a fresh frame mapped read/write in root (make it on the main thread: Scratch is
/// not thread-safe), installed by the thread that uses it.
struct IPCPage {
    let frame: Handle
    let address: UInt64

    static func make() throws(SysError) -> IPCPage {
        let frame = try frameCreate(size: pageSize)
        let address = Scratch.take(pages: 1)
        do {
            try vmemMap(Runtime.vmem, frame: frame, address: address, length: pageSize, flags: [.read, .write])
        } catch {
            closeAll(frame)
            throw error
        }
        return IPCPage(frame: frame, address: address)
    }

    /// Makes this page the calling thread's IPC buffer.
    func install() throws(SysError) {
        let me = try threadSelf()
        defer { closeAll(me) }
        try threadSetIPCBuffer(me, address: address)
    }

    /// Unsets the calling thread's IPC buffer.
    static func uninstall() {
        guard let me = try? threadSelf() else { return }
        _ = try? threadSetIPCBuffer(me, address: 0)
        closeAll(me)
    }

    /// Unmaps and closes (after no thread uses it any more).
    func release() {
        _ = try? vmemUnmap(Runtime.vmem, address: address, length: pageSize)
        closeAll(frame)
    }

    func handle(_ i: Int) -> UInt32 { pointer(address + UInt64(i * 4)).load(as: UInt32.self) }
    func setHandle(_ i: Int, _ value: UInt32) { pointer(address + UInt64(i * 4)).storeBytes(of: value, as: UInt32.self) }
    func byte(_ i: Int) -> UInt8 { pointer(address + UInt64(IPCBuffer.bytesOffset + i)).load(as: UInt8.self) }
    func setByte(_ i: Int, _ value: UInt8) {
        pointer(address + UInt64(IPCBuffer.bytesOffset + i)).storeBytes(of: value, as: UInt8.self)
    }
}

/// The byte pattern of message `seed` at index i.
func patternByte(_ seed: Int, _ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 7 &+ seed &* 13 &+ 1) }

/// A server thread answering `calls` calls on a Receiver with `handler` (recv, then reply_recv, the last
/// one answered with reply); its exit code is the number served, or 1000 + an error.
func spawnServer(_ receiver: Handle, calls: Int, ipcPage: IPCPage? = nil,
                 _ handler: @escaping (IPCMessage) -> IPCMessage) throws(SysError) -> Watched {
    try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            if let ipcPage { try ipcPage.install() }
            guard calls > 0 else { return 0 }
            var message = try receiverRecv(receiver)
            var served = 0
            while true {
                served += 1
                let answer = handler(message)
                if served == calls {
                    try receiverReply(answer)
                    return UInt64(served)
                }
                message = try receiverReplyRecv(receiver, answer)
            }
        }
    }
}

extension Code {
    /// The tail of an IPC child: process_exit(rdx), or process_exit(rax) when the call failed (rax ≠ 0).
    static let exitWithResultOrError: [UInt8] = [
        0x48, 0x85, 0xc0, 0x74, 0x03,                  // test %rax, %rax; jz +3
        0x48, 0x89, 0xc2,                              // mov %rax, %rdx
        0x48, 0x89, 0xd7,                              // mov %rdx, %rdi
    ] + exitSyscall

    /// sender_call(the thread's argument, tag, w0), then process_exit(answer word 0) (or the error number).
    static func call(tag: UInt32, word: UInt32) -> [UInt8] {
        [0xbe] + imm32(tag)                            // mov $tag, %esi
            + [0xba] + imm32(word)                     // mov $word, %edx
            + [0xb8, 0x24, 0x00, 0x00, 0x00, 0x0f, 0x05]   // mov $36, %eax; syscall
            + exitWithResultOrError
    }

    /// receiver_recv(the thread's argument, 0), then process_exit(word 0 of the message) (or the error).
    static let receive: [UInt8] = [0x31, 0xf6]         // xor %esi, %esi
        + [0xb8, 0x25, 0x00, 0x00, 0x00, 0x0f, 0x05]   // mov $37, %eax; syscall
        + exitWithResultOrError

    /// notify_notify(the thread's argument, bits), then process_exit(0) (or the error number).
    static func notify(bits: UInt32) -> [UInt8] {
        [0xbe] + imm32(bits)
            + [0xb8, 0x29, 0x00, 0x00, 0x00, 0x0f, 0x05]   // mov $41, %eax; syscall
            + exitWithResultOrError
    }

    /// futex_wake(the thread's argument, count), then process_exit(threads woken) (or the error number).
    static func futexWake(count: UInt32) -> [UInt8] {
        [0xbe] + imm32(count)
            + [0xb8, 0x2d, 0x00, 0x00, 0x00, 0x0f, 0x05]   // mov $45, %eax; syscall
            + exitWithResultOrError
    }
}
