// IPC: synchronous calls, receives and replies, Reply objects, notifications, futexes.

/// A call and its answer between two threads of root: words travel both ways, the badge arrives.
func testIPCCallReply() throws(SysError) {
    let receiver = try receiverCreate()
    defer { try? handleClose(receiver) }
    let sender = try senderCreate(receiver, badge: 0xb4d6e)
    defer { try? handleClose(sender) }
    let server = try spawnThread { () -> UInt64 in
        do throws(SysError) {
            var message = try receiverRecv(receiver)
            var served: UInt64 = 0
            while true {
                guard message.tag.label != 0xff else { break }
                served += 1
                let w = message.words
                let answer = IPCMessage(tag: IPCTag(words: 4, label: message.tag.label),
                                        words: (w.0 &+ 1, w.1 &+ 1, w.2 &+ 1, message.badge))
                message = try receiverReplyRecv(receiver, answer)
            }
            try receiverReply(IPCMessage(tag: IPCTag()))
            return served
        } catch {
            return 1000 + error.rawValue
        }
    }
    for i in 0..<20 as Range<UInt64> {
        let answer = try senderCall(sender, IPCMessage(label: 7, i, 2 * i, 3 * i))
        check(answer.tag.words == 4 && answer.tag.label == 7, "answer tag \(hex(answer.tag.raw))")
        check(answer.words.0 == i + 1 && answer.words.1 == 2 * i + 1 && answer.words.2 == 3 * i + 1,
              "call \(i): answer words wrong")
        check(answer.words.3 == 0xb4d6e, "badge \(hex(answer.words.3)) did not reach the server")
    }
    _ = try senderCall(sender, IPCMessage(tag: IPCTag(label: 0xff)))
    let served = try server.join()
    check(served == 20, "server answered \(served) calls, expected 20")
}

/// 0...4 register words through three Senders with different badges into one Receiver: the words the
/// tag names arrive, the others arrive as 0 (whatever the registers held), labels and badges arrive.
func testIPCWordsLabelsBadges() throws(SysError) {
    let receiver = try receiverCreate()
    let badges: [UInt64] = [0x1111, 0xfeed_0000_0000_2222, 0]
    var senders: [Handle] = []
    defer { for s in senders { closeAll(s) }; closeAll(receiver) }
    for b in badges { senders.append(try senderCreate(receiver, badge: b)) }
    let junk: UInt64 = 0xbad0_bad0_bad0_bad0
    let calls = badges.count * 5 + 1
    let server = try spawnServer(receiver, calls: calls) { (m: IPCMessage) -> IPCMessage in
        let n = m.tag.words
        let w = [m.words.0, m.words.1, m.words.2, m.words.3]
        for i in 0..<4 {
            let expected: UInt64 = i < n ? UInt64(10 * (i + 1)) : 0
            check(w[i] == expected, "server: word \(i) of a \(n)-word message is \(hex(w[i]))")
        }
        if m.tag.label != UInt32.max {
            let si = Int(m.tag.label >> 4)
            check(si < badges.count && m.badge == badges[si], "server: badge \(hex(m.badge)) for sender \(si)")
            check(m.tag.bytes == 0 && m.tag.handles == 0, "server: tag \(hex(m.tag.raw))")
        }
        // Answer with as many words, the unused registers full of junk.
        return IPCMessage(tag: IPCTag(words: n, label: m.tag.label &+ 1),
                          words: (n > 0 ? w[0] + 1 : junk, n > 1 ? w[1] + 1 : junk, n > 2 ? w[2] + 1 : junk, n > 3 ? w[3] + 1 : junk))
    }
    for (si, sender) in senders.enumerated() {
        for n in 0...4 {
            let words = (n > 0 ? 10 : junk, n > 1 ? 20 : junk, n > 2 ? 30 : junk, n > 3 ? 40 : junk) as (UInt64, UInt64, UInt64, UInt64)
            let answer = try senderCall(sender, IPCMessage(tag: IPCTag(words: n, label: UInt32(si * 16 + n)), words: words))
            check(answer.tag.words == n && answer.tag.label == UInt32(si * 16 + n + 1), "answer tag \(hex(answer.tag.raw))")
            let a = [answer.words.0, answer.words.1, answer.words.2, answer.words.3]
            for i in 0..<4 {
                let expected: UInt64 = i < n ? UInt64(10 * (i + 1) + 1) : 0
                check(a[i] == expected, "answer word \(i) of \(n) is \(hex(a[i])), expected \(hex(expected))")
            }
        }
    }
    // The largest label.
    let last = try senderCall(senders[0], IPCMessage(tag: IPCTag(words: 1, label: UInt32.max), words: (10, 0, 0, 0)))
    check(last.tag.label == 0 && last.words.0 == 11, "label 0xffffffff: answer \(hex(last.tag.raw))")
    let served = finish(server, "server")
    check(served == UInt64(calls), "the server served \(served.map { hex($0) } ?? "?") calls")
}

/// Message bytes through IPC buffers (both ways; 1, 100 and IPCBuffer.maxBytes bytes) and the errors:
/// no IPC buffer on either side, a tag over the limits, bad addresses for thread_set_ipc_buffer.
func testIPCBufferBytes() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let mine = try IPCPage.make()
    let theirs = try IPCPage.make()
    defer { IPCPage.uninstall(); mine.release(); theirs.release(); closeAll(sender, receiver) }
    step("thread_set_ipc_buffer errors")
    let me = try threadSelf()
    defer { closeAll(me) }
    expectError(.misaligned, "thread_set_ipc_buffer at a misaligned address") { () throws(SysError) in
        try threadSetIPCBuffer(me, address: mine.address + 8)
    }
    expectError(.badAddress, "thread_set_ipc_buffer on an unmapped page") { () throws(SysError) in
        try threadSetIPCBuffer(me, address: unmappedUserAddress)
    }
    expectError(.badAddress, "thread_set_ipc_buffer on a kernel address") { () throws(SysError) in
        try threadSetIPCBuffer(me, address: kernelAddress)
    }
    let readOnly = try frameCreate(size: pageSize)
    let roAddress = Scratch.take(pages: 1)
    try vmemMap(Runtime.vmem, frame: readOnly, address: roAddress, length: pageSize, flags: [.read])
    expectError(.badAddress, "thread_set_ipc_buffer on a read-only page") { () throws(SysError) in
        try threadSetIPCBuffer(me, address: roAddress)
    }
    _ = try? vmemUnmap(Runtime.vmem, address: roAddress, length: pageSize)
    closeAll(readOnly)
    expectSuccess("thread_set_ipc_buffer(0) with none set") { () throws(SysError) in try threadSetIPCBuffer(me, address: 0) }
    // Another process's thread: the address must be mapped in that thread's address space.
    var child = try Child.create(code: Code.exit(0))
    defer { child.close() }
    try child.spawn(start: false)
    expectError(.badAddress, "thread_set_ipc_buffer of a child's thread at an address only root maps") { () throws(SysError) in
        try threadSetIPCBuffer(child.thread, address: mine.address)
    }
    let childPage = try handleDuplicate(mine.frame, rights: [.read, .write, .map])
    defer { closeAll(childPage) }
    try vmemMap(child.vmem, frame: childPage, address: 0x50_0000, length: pageSize, flags: [.read, .write])
    expectSuccess("thread_set_ipc_buffer of a child's thread at its own page") { () throws(SysError) in
        try threadSetIPCBuffer(child.thread, address: 0x50_0000)
    }
    let readOnlyThread = try handleDuplicate(child.thread, rights: [.read])
    defer { closeAll(readOnlyThread) }
    expectError(.accessDenied, "thread_set_ipc_buffer without .write on the thread") { () throws(SysError) in
        try threadSetIPCBuffer(readOnlyThread, address: 0x50_0000)
    }

    step("no IPC buffer on the caller")
    let sizes = [1, 100, IPCBuffer.maxBytes]
    let server = try spawnServer(receiver, calls: sizes.count + 2, ipcPage: theirs) { (m: IPCMessage) -> IPCMessage in
        let n = m.tag.bytes
        var ok = true
        for i in 0..<n where theirs.byte(i) != patternByte(n, i) { ok = false }
        check(ok, "server: the \(n) bytes received differ")
        for i in 0..<n { theirs.setByte(i, ~patternByte(n, i)) }
        return IPCMessage(tag: IPCTag(words: 1, bytes: n), words: (UInt64(n), 0, 0, 0))
    }
    check(waitBlocked(server), "the byte server did not reach its receive")
    expectError(.badState, "a call with bytes and no IPC buffer") { () throws(SysError) in
        try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, bytes: 4), words: (1, 0, 0, 0)))
    }
    try mine.install()
    step("tags over the limits")
    for raw: UInt64 in [UInt64(IPCBuffer.maxBytes + 1) << 8, UInt64(0xfff) << 8, UInt64(IPCBuffer.maxHandles + 1) << 20, 5, 1 << 3, 1 << 24] {
        expectError(.invalidArgument, "a call with an invalid tag") { () throws(SysError) in
            try senderCall(sender, IPCMessage(tag: IPCTag(raw: raw)))
        }
    }
    /// Sends `n` pattern bytes from this thread's buffer; the answer must bring their complement back.
    func bytesBothWays(_ n: Int, _ when: String) throws(SysError) {
        for i in 0..<n { mine.setByte(i, patternByte(n, i)) }
        let answer = try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, bytes: n), words: (7, 0, 0, 0)))
        check(answer.tag.bytes == n && answer.words.0 == UInt64(n), "answer tag \(hex(answer.tag.raw)) for \(n) bytes\(when)")
        var ok = true
        for i in 0..<n where mine.byte(i) != ~patternByte(n, i) { ok = false }
        check(ok, "the \(n) bytes of the answer differ\(when)")
    }
    step("bytes both ways")
    for n in sizes { try bytesBothWays(n, "") }
    step("another page at the IPC buffer's address")
    // The kernel keeps the buffer's page between messages only while the address space's entries stay as
    // they were: with another Frame mapped at the same address, the next message must use that one.
    try vmemUnmap(Runtime.vmem, address: mine.address, length: pageSize)
    let other = try frameCreate(size: pageSize)
    defer { closeAll(other) }
    try vmemMap(Runtime.vmem, frame: other, address: mine.address, length: pageSize, flags: [.read, .write])
    try bytesBothWays(99, " after another page was mapped at the buffer's address")
    try vmemUnmap(Runtime.vmem, address: mine.address, length: pageSize)
    try vmemMap(Runtime.vmem, frame: mine.frame, address: mine.address, length: pageSize, flags: [.read, .write])
    step("no IPC buffer on the server")
    // The last call: the server drops its buffer before answering with bytes → the answer fails, the
    // caller wakes with the error.
    for i in 0..<10 { mine.setByte(i, patternByte(10, i)) }
    let plain = try spawnServer(receiver, calls: 2) { (m: IPCMessage) -> IPCMessage in
        IPCMessage(tag: IPCTag(words: 1), words: (m.words.0 + 1, 0, 0, 0))
    }
    _ = try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, bytes: 10), words: (1, 0, 0, 0)))  // to `server`, its last
    check(finish(server, "byte server") == UInt64(sizes.count + 2), "the byte server did not serve every call")
    check(waitBlocked(plain), "the server without a buffer did not reach its receive")
    expectError(.badState, "bytes to a server without an IPC buffer") { () throws(SysError) in
        try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, bytes: 10), words: (1, 0, 0, 0)))
    }
    let a = try senderCall(sender, IPCMessage(label: 0, 41))
    check(a.words.0 == 42, "the server without a buffer answered \(hex(a.words.0)) after the failed call")
    let b = try senderCall(sender, IPCMessage(label: 0, 1))
    check(b.words.0 == 2, "second answer \(hex(b.words.0))")
    finish(plain, "plain server")
}

/// Handles moved with a message: gone from the sender, present (new values, same rights) at the receiver,
/// usable; a handle without TRANSFER, an invalid one or a duplicate in the list fails the send and moves
/// nothing — both when the server already waits and when the caller is queued first.
func testIPCHandleTransfer() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver, badge: 5)
    let mine = try IPCPage.make()
    let theirs = try IPCPage.make()
    let helperPage = try IPCPage.make()
    defer { IPCPage.uninstall(); mine.release(); theirs.release(); helperPage.release(); closeAll(sender, receiver) }
    try mine.install()
    let go = Counter()
    let received = Counter()   // messages the server took
    let lastValues = HandleList()   // the handle values of the last message, as the server found them
    // The server waits for `go`, then answers each message: word 0 = handle count, words 1... = the handle
    // values it got (it checks each is a frame of (i + 1) pages with the rights named in word 0 of the call).
    // Label 2: answer with a fresh frame moved back to the caller.
    let server = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            try theirs.install()
            _ = waitUntil { go.value != 0 }
            var served: UInt64 = 0
            while true {
                for i in 0..<IPCBuffer.maxHandles { theirs.setHandle(i, 0xaaaa_aaaa) }
                let m = try receiverRecv(receiver)
                received.value += 1
                if m.tag.label == 0xff { try receiverReply(IPCMessage(tag: IPCTag())); return served }
                served += 1
                if m.tag.label == 2 {
                    let f = try frameCreate(size: 5 * pageSize)
                    theirs.setHandle(0, f.raw)
                    try receiverReply(IPCMessage(tag: IPCTag(words: 1, handles: 1), words: (UInt64(f.raw), 0, 0, 0)))
                    continue
                }
                let n = m.tag.handles
                var values: [UInt64] = [UInt64(n), 0, 0, 0]
                lastValues.values = (0..<n).map { theirs.handle($0) }
                for i in 0..<IPCBuffer.maxHandles {
                    let v = theirs.handle(i)
                    if i >= n { check(v == 0, "server: handle slot \(i) beyond the \(n) sent holds \(hex(UInt64(v)))"); continue }
                    if i < 3 { values[i + 1] = UInt64(v) }
                    let h = Handle(raw: v)
                    if let id = expectSuccess("server: identify a received handle", { () throws(SysError) in try handleIdentify(h) }) {
                        check(id.type == .frame && id.rights.rawValue == UInt32(truncatingIfNeeded: m.words.0),
                              "server: received handle \(i) is \(text(id.type.name)) with rights \(hex(UInt64(id.rights.rawValue)))")
                        let size = (try? frameGetSize(h)) ?? 0
                        check(size == UInt64(i + 1) * pageSize, "server: received frame \(i) has size \(hex(size))")
                    }
                }
                try receiverReply(IPCMessage(tag: IPCTag(words: 4), words: (values[0], values[1], values[2], values[3])))
            }
        }
    }
    let rights: Rights = [.read, .write, .transfer, .duplicate]
    func frames(_ count: Int) throws(SysError) -> [Handle] {
        var hs: [Handle] = []
        for i in 0..<count {
            let f = try frameCreate(size: UInt64(i + 1) * pageSize)
            hs.append(try handleDuplicate(f, rights: rights))
            closeAll(f)
        }
        return hs
    }
    func send(_ hs: [UInt32], label: UInt32 = 1, page: IPCPage) throws(SysError) -> IPCMessage {
        for (i, h) in hs.enumerated() { page.setHandle(i, h) }
        return try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, handles: hs.count, label: label),
                                                 words: (UInt64(rights.rawValue), 0, 0, 0)))
    }
    func intact(_ hs: [Handle], _ what: StaticString) {
        for h in hs {
            let id = try? handleIdentify(h)
            check(id?.type == .frame && id?.rights == rights, "\(text(what)): the sender lost a handle")
        }
    }

    step("failed sends while queued")
    let keep = try frames(2)
    let noTransfer = try handleDuplicate(keep[0], rights: [.read, .duplicate])
    defer { closeAll(noTransfer) }
    let queued = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            try helperPage.install()
            do throws(SysError) { _ = try send([keep[1].raw, noTransfer.raw], page: helperPage) } catch { return errorCode(error) }
            return 0
        }
    }
    check(waitBlocked(queued), "the queued caller did not block")
    check(received.value == 0, "the server received before go")
    go.value = 1
    check(finish(queued, "queued caller") == errorCode(.accessDenied), "a queued send of a handle without TRANSFER did not fail with accessDenied")
    intact(keep, "queued accessDenied")
    check(waitBlocked(server), "the handle server did not reach its receive")
    check(received.value == 0, "the server took a message that failed")

    step("failed sends to a waiting server")
    expectError(.accessDenied, "a handle without TRANSFER") { () throws(SysError) in try send([keep[0].raw, noTransfer.raw], page: mine) }
    intact(keep, "accessDenied")
    expectError(.invalidHandle, "an invalid handle in the list") { () throws(SysError) in try send([keep[0].raw, keep[1].raw, 0x00ff_fff0], page: mine) }
    intact(keep, "invalidHandle")
    expectError(.invalidArgument, "the same handle twice") { () throws(SysError) in try send([keep[0].raw, keep[1].raw, keep[0].raw], page: mine) }
    intact(keep, "duplicate")
    expectError(.invalidHandle, "handle 0 in the list") { () throws(SysError) in try send([0], page: mine) }
    check(received.value == 0, "the server took a message that failed")
    closeAll(keep[0], keep[1])

    step("moving one handle")
    let one = try frames(1)
    let a1 = try send([one[0].raw], page: mine)
    check(a1.words.0 == 1, "the server got \(a1.words.0) handles, expected 1")
    expectError(.invalidHandle, "a moved handle is gone from the sender") { () throws(SysError) in try handleIdentify(one[0]) }
    let got = Handle(a1.words.1)
    check(got != one[0], "the moved handle kept its value")
    check(try frameGetSize(got) == pageSize, "the moved frame is not usable at the receiver")
    closeAll(got)

    step("moving several handles")
    let several = try frames(IPCBuffer.maxHandles)
    let a2 = try send(several.map { $0.raw }, page: mine)
    check(a2.words.0 == UInt64(IPCBuffer.maxHandles), "the server got \(a2.words.0) handles")
    for h in several {
        expectError(.invalidHandle, "each moved handle is gone") { () throws(SysError) in try handleIdentify(h) }
    }
    check(try frameGetSize(Handle(a2.words.3)) == 3 * pageSize, "the third moved frame at the receiver")
    // The server's copies are root's handles too (same process): close what it got.
    check(lastValues.values.count == IPCBuffer.maxHandles, "the server recorded \(lastValues.values.count) handles")
    for v in lastValues.values { closeAll(Handle(raw: v)) }

    step("a handle in the answer")
    for i in 0..<IPCBuffer.maxHandles { mine.setHandle(i, 0x5555_5555) }
    let a3 = try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, label: 2), words: (0, 0, 0, 0)))
    check(a3.tag.handles == 1, "the answer's tag \(hex(a3.tag.raw)) has no handle")
    let back = Handle(raw: mine.handle(0))
    check(back.raw != UInt32(truncatingIfNeeded: a3.words.0), "the answered handle kept its value")
    check(mine.handle(1) == 0, "slot 1 of the caller's buffer not cleared")
    check((try? frameGetSize(back)) == 5 * pageSize, "the frame moved in the answer is not usable")
    expectError(.invalidHandle, "the server's handle is gone after the answer") { () throws(SysError) in
        try handleIdentify(Handle(a3.words.0))
    }
    closeAll(back)
    _ = try senderCall(sender, IPCMessage(tag: IPCTag(label: 0xff)))
    check(finish(server, "handle server") == 3, "the handle server did not serve 3 messages")
}

final class HandleList {
    var values: [UInt32] = []
}

/// Reply objects: callers captured and answered later, out of order, from another thread; reply_reply on
/// an unbound Reply; recv into a bound Reply; a Reply closed unanswered wakes its caller with .peerClosed.
func testIPCReplyObjects() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let ra = try replyCreate()
    let rb = try replyCreate()
    let rc = try replyCreate()
    defer { closeAll(ra, rb, rc, sender, receiver) }
    expectError(.badState, "reply_reply on a Reply with no caller") { () throws(SysError) in try replyReply(ra, IPCMessage(label: 0, 1)) }
    let c1 = try spawnCaller(sender, id: 1)
    let c2 = try spawnCaller(sender, id: 2)
    check(waitBlocked(c1) && waitBlocked(c2), "the callers did not block")
    let m1 = try receiverRecv(receiver, reply: ra)
    expectError(.badState, "recv into a Reply that holds a caller") { () throws(SysError) in try receiverRecv(receiver, reply: ra) }
    let m2 = try receiverRecv(receiver, reply: rb)
    check(min(m1.words.0, m2.words.0) == 1 && max(m1.words.0, m2.words.0) == 2, "received \(m1.words.0) and \(m2.words.0)")
    expectError(.badState, "receiver_reply with only Reply-bound callers") { () throws(SysError) in try receiverReply(IPCMessage(tag: IPCTag())) }
    // Answer the second first.
    try replyReply(rb, IPCMessage(label: 0, 100 + m2.words.0))
    let secondFirst = m2.words.0 == 1 ? c1 : c2
    let firstStill = m2.words.0 == 1 ? c2 : c1
    check(!kernelBlocked(secondFirst), "the caller answered through the second Reply did not wake")
    check(kernelBlocked(firstStill), "the caller held by the first Reply woke early")
    try replyReply(ra, IPCMessage(label: 0, 100 + m1.words.0))
    check(finish(c1, "caller 1") == 101, "caller 1 got the wrong answer")
    check(finish(c2, "caller 2") == 102, "caller 2 got the wrong answer")
    expectError(.badState, "reply_reply twice") { () throws(SysError) in try replyReply(ra, IPCMessage(label: 0, 1)) }

    step("answered from another thread")
    let c3 = try spawnCaller(sender, id: 3)
    let m3 = try receiverRecv(receiver, reply: rc)
    let answerer = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in try replyReply(rc, IPCMessage(label: 0, 100 + m3.words.0)); return 0 }
    }
    check(finish(answerer, "answering thread") == 0, "reply_reply from another thread failed")
    check(finish(c3, "caller 3") == 103, "caller 3 got the wrong answer")

    step("a Reply closed unanswered")
    let rd = try replyCreate()
    let c4 = try spawnCaller(sender, id: 4)
    _ = try receiverRecv(receiver, reply: rd)
    check(kernelBlocked(c4), "the captured caller woke before its Reply was closed")
    try handleClose(rd)
    check(finish(c4, "caller of a dropped Reply") == errorCode(.peerClosed), "the caller of a dropped Reply did not get peerClosed")
}

/// receiver_reply with nothing received; a second recv without answering drops the held caller.
func testIPCReplyState() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    defer { closeAll(sender, receiver) }
    expectError(.badState, "receiver_reply with nothing received") { () throws(SysError) in try receiverReply(IPCMessage(tag: IPCTag())) }
    let a = try spawnCaller(sender, id: 1)
    let first = try receiverRecv(receiver)
    check(first.words.0 == 1, "received \(first.words.0)")
    let b = try spawnCaller(sender, id: 2)
    let second = try receiverRecv(receiver)     // drops caller 1 unanswered
    check(second.words.0 == 2, "received \(second.words.0)")
    check(finish(a, "dropped caller") == errorCode(.peerClosed), "the dropped caller did not wake with peerClosed")
    try receiverReply(IPCMessage(label: 0, 20))
    check(finish(b, "second caller") == 20, "the second caller got the wrong answer")
    expectError(.badState, "receiver_reply twice") { () throws(SysError) in try receiverReply(IPCMessage(tag: IPCTag())) }
}

/// 6 callers × 50 calls against 3 server threads on one Receiver: every call gets exactly its own
/// answer, the servers together serve exactly 300 calls.
func testIPCManyCallers() throws(SysError) {
    let callers = 6, callsEach = 50, servers = 3
    let receiver = try receiverCreate()
    var senders: [Handle] = []
    defer { for s in senders { closeAll(s) }; closeAll(receiver) }
    for i in 0..<callers { senders.append(try senderCreate(receiver, badge: UInt64(i + 1) << 40)) }
    func f(_ id: UInt64, _ seq: UInt64, _ badge: UInt64) -> UInt64 { (id &* 1_000_003 &+ seq &* 7919) ^ badge }
    var serverThreads: [Watched] = []
    for _ in 0..<servers {
        serverThreads.append(try spawnWatched { () -> UInt64 in
            outcome { () throws(SysError) -> UInt64 in
                var served: UInt64 = 0
                var m = try receiverRecv(receiver)
                while m.tag.label != 0xff {
                    served += 1
                    m = try receiverReplyRecv(receiver, IPCMessage(tag: IPCTag(words: 3, label: m.tag.label),
                        words: (f(m.words.0, m.words.1, m.badge), m.words.0, m.words.1, 0)))
                }
                try receiverReply(IPCMessage(tag: IPCTag()))
                return served
            }
        })
    }
    var callerThreads: [Watched] = []
    for i in 0..<callers {
        let s = senders[i]
        let id = UInt64(i)
        callerThreads.append(try spawnWatched { () -> UInt64 in
            var good: UInt64 = 0
            for seq in 0..<UInt64(callsEach) {
                guard let a = try? senderCall(s, IPCMessage(label: 7, id, seq)) else { continue }
                if a.tag.label == 7 && a.words.1 == id && a.words.2 == seq && a.words.0 == f(id, seq, (id + 1) << 40) { good += 1 }
                if seq % 7 == 0 { threadYield() }
            }
            return good
        })
    }
    for (i, c) in callerThreads.enumerated() {
        let good = finish(c, "caller", within: 120_000)
        check(good == UInt64(callsEach), "caller \(i): \(good.map { String($0) } ?? "?") of \(callsEach) answers right")
    }
    let stopper = try senderCreate(receiver)
    defer { closeAll(stopper) }
    var total: UInt64 = 0
    for _ in 0..<servers {
        let w = try spawnWatched { () -> UInt64 in outcome { () throws(SysError) -> UInt64 in _ = try senderCall(stopper, IPCMessage(tag: IPCTag(label: 0xff))); return 0 } }
        check(finish(w, "stop call") == 0, "a stop call failed")
    }
    var perServer: [UInt64] = []
    for s in serverThreads {
        let n = finish(s, "server") ?? 0
        perServer.append(n)
        total += n < 1000 ? n : 0
    }
    check(total == UInt64(callers * callsEach), "the servers served \(total) calls (\(perServer)), expected \(callers * callsEach)")
}

/// The Receiver's last handle closed while callers wait: they wake with .peerClosed; new calls fail.
func testIPCReceiverClosed() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    defer { closeAll(sender) }
    var waiting: [Watched] = []
    for i in 0..<3 as Range<UInt64> {
        waiting.append(try spawnWatched { () -> UInt64 in
            outcome { () throws(SysError) -> UInt64 in try senderCall(sender, IPCMessage(label: 0, i)).words.0 }
        })
    }
    for w in waiting { check(waitBlocked(w), "a caller returned with no receiver") }
    try handleClose(receiver)
    for w in waiting {
        check(finish(w, "caller of a closed receiver") == errorCode(.peerClosed), "a waiting caller did not wake with peerClosed")
    }
    expectError(.peerClosed, "a call after the receiver closed") { () throws(SysError) in try senderCall(sender, IPCMessage(label: 0, 1)) }
    expectError(.peerClosed, "a call with bytes after the receiver closed") { () throws(SysError) in
        try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, bytes: 8)))
    }
}

/// A server thread stopped while it holds an unanswered caller: the caller wakes with .peerClosed. A caller
/// stopped while waiting (queued, held by recv, held by a Reply): the server goes on; its answer to the
/// dead caller fails with .peerClosed (.badState through a Reply, which lets go of the caller at once).
func testIPCKilledPeers() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let never = try notifyCreate()
    defer { closeAll(never, sender, receiver) }
    step("server stopped holding a caller")
    let got = Counter()
    let server = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            let m = try receiverRecv(receiver)
            got.value = m.words.0
            return try notifyWait(never)     // blocks, holding the caller
        }
    }
    let c1 = try spawnCaller(sender, id: 11)
    check(waitUntil { got.value == 11 }, "the server did not receive")
    check(kernelBlocked(c1), "the caller returned while held")
    check(waitBlocked(server), "the server did not block holding the caller")
    stopAndJoin(server, "stopped server")
    check(finish(c1, "caller of a stopped server") == errorCode(.peerClosed), "the caller of a stopped server did not get peerClosed")

    step("server stopped in recv")
    let idle = try spawnWatched { () -> UInt64 in outcome { () throws(SysError) -> UInt64 in try receiverRecv(receiver).words.0 } }
    check(waitBlocked(idle), "the receiver did not block")
    stopAndJoin(idle, "stopped receiver")
    // The stopped receiver is off the endpoint: a call now waits for a live one.
    let c2 = try spawnCaller(sender, id: 12)
    check(waitBlocked(c2), "a call was taken by a stopped receiver")
    let m2 = try receiverRecv(receiver)
    check(m2.words.0 == 12, "received \(m2.words.0)")
    try receiverReply(IPCMessage(label: 0, 112))
    check(finish(c2, "caller 12") == 112, "caller 12 got the wrong answer")

    step("caller stopped while queued")
    let c3 = try spawnCaller(sender, id: 13)
    check(waitBlocked(c3), "caller 13 did not block")
    stopAndJoin(c3, "stopped queued caller")
    let c4 = try spawnCaller(sender, id: 14)
    check(waitBlocked(c4), "caller 14 did not block")
    let m4 = try receiverRecv(receiver)
    check(m4.words.0 == 14, "a stopped caller's message was received (\(m4.words.0))")
    try receiverReply(IPCMessage(label: 0, 114))
    check(finish(c4, "caller 14") == 114, "caller 14 got the wrong answer")

    step("caller stopped while held")
    let c5 = try spawnCaller(sender, id: 15)
    let m5 = try receiverRecv(receiver)
    check(m5.words.0 == 15, "received \(m5.words.0)")
    stopAndJoin(c5, "stopped held caller")
    expectError(.peerClosed, "receiver_reply to a stopped caller") { () throws(SysError) in try receiverReply(IPCMessage(label: 0, 1)) }
    // reply_recv to a stopped caller goes on to the next caller.
    let c6 = try spawnCaller(sender, id: 16)
    let m6 = try receiverRecv(receiver)
    let c7 = try spawnCaller(sender, id: 17)
    check(waitBlocked(c7), "caller 17 did not block")
    stopAndJoin(c6, "stopped caller 16")
    let m7 = try receiverReplyRecv(receiver, IPCMessage(label: 0, 1))
    check(m6.words.0 == 16 && m7.words.0 == 17, "reply_recv past a stopped caller received \(m7.words.0)")
    try receiverReply(IPCMessage(label: 0, 117))
    check(finish(c7, "caller 17") == 117, "caller 17 got the wrong answer")

    step("caller stopped while held by a Reply")
    let reply = try replyCreate()
    defer { closeAll(reply) }
    let c8 = try spawnCaller(sender, id: 18)
    _ = try receiverRecv(receiver, reply: reply)
    stopAndJoin(c8, "stopped caller 18")
    // The Reply let go of its stopped caller: it is free again, with nobody to answer.
    expectError(.badState, "reply_reply after its caller was stopped") { () throws(SysError) in try replyReply(reply, IPCMessage(label: 0, 1)) }
    let c9 = try spawnCaller(sender, id: 19)
    _ = try receiverRecv(receiver, reply: reply)
    try replyReply(reply, IPCMessage(label: 0, 119))
    check(finish(c9, "caller 19") == 119, "caller 19 got the wrong answer")
}

/// Client and server in different processes: a child given a Sender calls root and exits with the answer;
/// a child given the only Receiver handle receives, then exits holding the caller (the caller wakes with
/// .peerClosed and the endpoint is gone); a child blocked in recv is stopped.
func testIPCCrossProcess() throws(SysError) {
    step("child calls root")
    let receiver = try receiverCreate()
    defer { closeAll(receiver) }
    var child = try Child.create(code: Code.call(tag: UInt32(IPCTag(words: 1).raw), word: 0x1234))
    defer { child.close() }
    let given = try processGive(child.process, try senderCreate(receiver, badge: 0xc41d))
    let server = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            let m = try receiverRecv(receiver)
            check(m.badge == 0xc41d && m.words.0 == 0x1234, "root received \(hex(m.words.0)) with badge \(hex(m.badge))")
            try receiverReply(IPCMessage(label: 0, m.words.0 * 2))
            return 0
        }
    }
    try child.spawn(argument: UInt64(given.raw))
    if finish(server, "root server") == nil { _ = try? threadStop(child.thread) }
    let code = try processWait(child.process)
    check(code == 0x2468, "the child exited with \(hex(code)), expected the answer 0x2468")

    step("child receives, then exits holding the caller")
    let r2 = try receiverCreate()
    let s2 = try senderCreate(r2)
    defer { closeAll(s2) }
    var server2 = try Child.create(code: Code.receive)
    defer { server2.close() }
    let r2InChild = try processGive(server2.process, r2)     // root's only Receiver handle moves
    try server2.spawn(argument: UInt64(r2InChild.raw))
    let c = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in try senderCall(s2, IPCMessage(label: 0, 0x77)).words.0 }
    }
    if finish(c, "caller of an exiting child") != errorCode(.peerClosed) {
        fail("the caller held by an exiting child did not wake with peerClosed")
        _ = try? threadStop(server2.thread)
    }
    check(try processWait(server2.process) == 0x77, "the child server did not exit with the word it received")
    expectError(.peerClosed, "a call after the receiving process ended") { () throws(SysError) in try senderCall(s2, IPCMessage(label: 0, 1)) }

    step("child stopped in recv")
    let r3 = try receiverCreate()
    let s3 = try senderCreate(r3)
    defer { closeAll(s3) }
    var server3 = try Child.create(code: Code.receive)
    defer { server3.close() }
    let r3InChild = try processGive(server3.process, r3)
    try server3.spawn(argument: UInt64(r3InChild.raw))
    check(waitBlocked(handle: server3.thread), "the child did not block in recv")
    try threadStop(server3.thread)
    check(try processWait(server3.process) == UInt64.max, "a child stopped in recv did not end with UInt64.max")
    expectError(.peerClosed, "a call after the receiving child was stopped") { () throws(SysError) in try senderCall(s3, IPCMessage(label: 0, 1)) }
}

/// A send whose delivery fails at the receiver's side (its IPC buffer page was unmapped after
/// thread_set_ipc_buffer) moves no handle: the sender keeps it, the server stays usable.
func testIPCTransferToBadBuffer() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let mine = try IPCPage.make()
    let theirs = try IPCPage.make()
    defer { IPCPage.uninstall(); mine.release(); closeAll(theirs.frame, sender, receiver) }
    try mine.install()
    let installed = Counter()
    let server = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            try theirs.install()
            installed.value = 1
            _ = waitUntil { installed.value == 2 }
            let m = try receiverRecv(receiver)
            try receiverReply(IPCMessage(label: 0, m.words.0 + 1))
            return UInt64(m.tag.handles)
        }
    }
    check(waitUntil { installed.value == 1 }, "the server did not install its IPC buffer")
    try vmemUnmap(Runtime.vmem, address: theirs.address, length: pageSize)
    installed.value = 2
    check(waitBlocked(server), "the server did not reach its receive")
    let f = try frameCreate(size: 2 * pageSize)
    defer { closeAll(f) }
    mine.setHandle(0, f.raw)
    expectError(.badAddress, "a handle sent to a receiver whose IPC buffer is unmapped") { () throws(SysError) in
        try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, handles: 1), words: (1, 0, 0, 0)))
    }
    check((try? frameGetSize(f)) == 2 * pageSize, "the sender lost the handle of a failed send")
    // The sender's own buffer gone: the send fails reading it, nothing moves either.
    let spare = try IPCPage.make()
    defer { IPCPage.uninstall(); spare.release() }
    try spare.install()
    spare.setHandle(0, f.raw)
    try vmemUnmap(Runtime.vmem, address: spare.address, length: pageSize)
    expectError(.badAddress, "a send from an unmapped IPC buffer") { () throws(SysError) in
        try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, bytes: 4, handles: 1), words: (1, 0, 0, 0)))
    }
    check((try? frameGetSize(f)) == 2 * pageSize, "the sender lost the handle of a send from an unmapped buffer")
    try mine.install()
    // The server is still there: a words-only message goes through.
    let a = try senderCall(sender, IPCMessage(label: 0, 5))
    check(a.words.0 == 6, "the server answered \(a.words.0)")
    check(finish(server, "server") == 0, "the server received handles")
}

/// Two threads receiving into the same Reply at once: the second receive is refused (.badState) rather
/// than letting a second caller overwrite the first one's binding (which left the first caller blocked
/// for ever, unanswerable).
func testIPCReplySharedByReceivers() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let reply = try replyCreate()
    defer { closeAll(reply, sender, receiver) }
    func receiving() throws(SysError) -> Watched {
        try spawnWatched { () -> UInt64 in
            outcome { () throws(SysError) -> UInt64 in try receiverRecv(receiver, reply: reply).words.0 }
        }
    }
    // The receivers may run on other CPUs (smp=threads): waited for until the kernel says the first
    // blocks and the second has either ended (refused) or blocked.
    let first = try receiving()
    waitBlocked(first)
    let second = try receiving()
    waitUntil(ms: 10_000) { !isBlocked(second) || (try? threadGetState(second.handle)) == .blocked }
    var callers: [Watched] = []
    if isBlocked(second) {
        fail("a second receive into a Reply that a thread is receiving into was not refused")
        // Show the consequence: two callers, one Reply.
        callers = [try spawnCaller(sender, id: 1), try spawnCaller(sender, id: 2)]
        for c in callers { waitBlocked(c) }
        if (try? replyReply(reply, IPCMessage(label: 0, 100))) == nil { fail("the Reply could not answer") }
        waitUntil(ms: 1_000) { callers.allSatisfy { !isBlocked($0) } }
        for c in callers where isBlocked(c) {
            fail("a caller whose binding was overwritten is blocked with nothing to answer it")
            stopAndJoin(c, "orphaned caller")
        }
        _ = finish(first, "first receiver")
        _ = finish(second, "second receiver")
        return
    }
    check(finish(second, "second receiver") == errorCode(.badState), "the second receive did not fail with badState")
    let c = try spawnCaller(sender, id: 7)
    check(finish(first, "first receiver") == 7, "the first receiver did not get the call")
    try replyReply(reply, IPCMessage(label: 0, 107))
    check(finish(c, "caller") == 107, "the caller got the wrong answer")
    // Free again once answered: a receive into it works.
    let again = try receiving()
    let c2 = try spawnCaller(sender, id: 8)
    check(finish(again, "receiver after the answer") == 8, "a receive into the answered Reply failed")
    try replyReply(reply, IPCMessage(label: 0, 108))
    check(finish(c2, "caller 8") == 108, "caller 8 got the wrong answer")
}

/// A receive that fails (into a Reply that already holds a caller) has no effect: the caller this thread
/// holds from its previous receive is still there to be answered.
func testIPCFailedRecvKeepsCaller() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let reply = try replyCreate()
    defer { closeAll(reply, sender, receiver) }
    let bound = try spawnCaller(sender, id: 1)
    _ = try receiverRecv(receiver, reply: reply)          // caller 1 bound to the Reply
    let held = try spawnCaller(sender, id: 2)
    _ = try receiverRecv(receiver)                        // caller 2 held by this thread
    expectError(.badState, "recv into a Reply that holds a caller") { () throws(SysError) in try receiverRecv(receiver, reply: reply) }
    expectSuccess("receiver_reply after a failed recv") { () throws(SysError) in try receiverReply(IPCMessage(label: 0, 102)) }
    check(finish(held, "held caller") == 102, "the held caller lost its answer to a failed recv")
    try replyReply(reply, IPCMessage(label: 0, 101))
    check(finish(bound, "bound caller") == 101, "the bound caller got the wrong answer")
}
