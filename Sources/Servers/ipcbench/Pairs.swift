// `pairs` (root passes the word on from the kernel command line; scripts/bench-pairs.py boots it with
// two CPUs and `smp=threads`): the IPC throughput of client/server thread pairs, each pair pinned to a
// CPU of its own, first one pair on CPU 0, then one pair on CPU 0 and one on CPU 1 at once. Prints
//   bench ipc.roundtrip.pairs1.tcg_per_sec N roundtrips/s
//   bench ipc.roundtrip.pairs2.tcg_per_sec N roundtrips/s    (both pairs together)
// Both sides of a pair are threads of this process (no address-space switch per call: the kernel's own
// cost and the kernel lock's contention are what is measured), timed with the kernel clock (under
// TCG without icount the guest's TSC follows the host's time). 0-word calls, as ipc.roundtrip.0w.

/// The label that ends a pair's server.
private let stopLabel: UInt32 = 99

/// Runs the two measurements; the exit code (0: both printed).
func runPairs() -> Int32 {
    guard let mask = try? systemInfo(.cpusScheduling), mask & 3 == 3 else {
        print("ipcbench: pairs needs CPUs 0 and 1 running threads (smp=threads and two CPUs)")
        return 4
    }
    do throws(SysError) {
        let one = try pairsPerSecond(count: 1)
        let two = try pairsPerSecond(count: 2)
        print("bench ipc.roundtrip.pairs1.tcg_per_sec \(one) roundtrips/s")
        print("bench ipc.roundtrip.pairs2.tcg_per_sec \(two) roundtrips/s")
        return 0
    } catch {
        print("ipcbench pairs: \(error.name)")
        return 1
    }
}

/// `count` pairs (pair k on CPU k) each make `rounds` calls after their warm-up, all started at once;
/// the round trips of all pairs per second from the start until the last client is done.
private func pairsPerSecond(count: Int) throws(SysError) -> UInt64 {
    // Word 0: the start gate (a futex); words 1...count: pair k's client is warmed up and waits.
    guard let raw = Heap.allocate(size: 64, alignment: 64) else { throw .outOfMemory }
    defer { Heap.free(raw) }
    let words = raw.bindMemory(to: UInt32.self, capacity: 16)
    for i in 0..<16 { words[i] = 0 }
    var servers: [SpawnedThread] = [], clients: [SpawnedThread] = [], handles: [Handle] = []
    defer { for h in handles { _ = try? handleClose(h) } }
    for k in 0..<count {
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver)
        handles += [receiver, sender]
        let server = try spawnThread(start: false) { () -> UInt64 in
            guard var m = try? receiverRecv(receiver) else { return 1 }
            while m.tag.label != stopLabel {
                guard let next = try? receiverReplyRecv(receiver, IPCMessage(label: 0)) else { return 2 }
                m = next
            }
            _ = try? receiverReply(IPCMessage(label: 0))
            return 0
        }
        let ready = words + 1 + k
        let client = try spawnThread(start: false) { () -> UInt64 in
            let message = IPCMessage(label: 1)
            for _ in 0..<warmup { guard (try? senderCall(sender, message)) != nil else { return 1 } }
            atomic_store_release_u32(ready, 1)
            while atomic_load_acquire_u32(words) == 0 { try? futexWait(words, expected: 0) }
            for _ in 0..<rounds { guard (try? senderCall(sender, message)) != nil else { return 2 } }
            _ = try? senderCall(sender, IPCMessage(label: stopLabel))
            return 0
        }
        for t in [server, client] {
            try threadSetAffinity(t.handle, 1 << UInt64(k))
            try threadStart(t.handle)
        }
        servers.append(server)
        clients.append(client)
    }
    // Every client warmed up and waiting (bounded: a pair that cannot run fails the benchmark).
    var polls = 0
    while (1...count).contains(where: { atomic_load_acquire_u32(words + $0) == 0 }) {
        polls += 1
        if polls > 100_000 { throw .timedOut }
        threadSleep(nanoseconds: 100_000)
    }
    let start = Clock.now()
    atomic_store_release_u32(words, 1)
    _ = try futexWake(words, count: UInt64(count))
    var failed = false
    for c in clients where try c.join() != 0 { failed = true }
    let end = Clock.now()
    for s in servers where try s.join() != 0 { failed = true }
    if failed { throw .badState }
    return UInt64(count) * rounds * 1_000_000_000 / max(end - start, 1)
}
