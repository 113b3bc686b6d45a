// Closed-client notices (receiver_set_notices): a server learns that a client's Sender is gone. The
// notice comes when the last handle goes (a duplicate keeps it), when the process holding it ends, wakes
// a receiver that waits, queues behind callers, follows an answered call on the fast path, and is never
// sent without receiver_set_notices. A caller cannot forge one, and bad arguments are errors.

let noticeTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("notices.last_handle_closed", testNoticeLastHandleClosed),
    ("notices.off_by_default_and_when_turned_off", testNoticeOffByDefault),
    ("notices.wake_a_waiting_receiver", testNoticeWakesReceiver),
    ("notices.holder_process_ended", testNoticeHolderProcessEnded),
    ("notices.after_queued_calls_and_reply_recv", testNoticeAfterCalls),
    ("notices.cannot_be_forged", testNoticeCannotBeForged),
    ("notices.errors", testNoticeErrors),
]

let noticeWait: UInt64 = 50 * millisecond

/// Receives once with a short timeout; nil when nothing came (.timedOut).
func receiveNotice(_ receiver: Handle) throws(SysError) -> IPCMessage? {
    do { return try receiverRecv(receiver, timeout: noticeWait) } catch {
        if error == .timedOut { return nil }
        throw error
    }
}

func expectNotice(_ receiver: Handle, badge: UInt64, _ what: StaticString) throws(SysError) {
    guard let m = try receiveNotice(receiver) else { return fail("\(text(what)): no notice") }
    check(m.isSenderGone, "\(text(what)): label \(hex(UInt64(m.tag.label))), words \(m.tag.words), not a notice")
    check(m.badge == badge, "\(text(what)): badge \(m.badge), expected \(badge)")
}

func expectNoNotice(_ receiver: Handle, _ what: StaticString) throws(SysError) {
    if let m = try receiveNotice(receiver) { fail("\(text(what)): got label \(hex(UInt64(m.tag.label))) badge \(m.badge)") }
}

func testNoticeLastHandleClosed() throws(SysError) {
    let receiver = try receiverCreate()
    defer { closeAll(receiver) }
    try receiverSetNotices(receiver, true)
    let sender = try senderCreate(receiver, badge: 41)
    let copy = try handleDuplicate(sender, rights: [.signal])
    step("one of two handles closed")
    try handleClose(sender)
    try expectNoNotice(receiver, "a notice while a duplicate was left")
    step("the last handle closed")
    try handleClose(copy)
    try expectNotice(receiver, badge: 41, "after the last handle closed")
    try expectNoNotice(receiver, "a second notice for one Sender")
    step("several Senders, in order")
    let a = try senderCreate(receiver, badge: 1), b = try senderCreate(receiver, badge: 2)
    try handleClose(b)
    try handleClose(a)
    try expectNotice(receiver, badge: 2, "first gone")
    try expectNotice(receiver, badge: 1, "second gone")
    expectError(.badState, "receiver_reply after a notice") { () throws(SysError) in try receiverReply(IPCMessage(tag: IPCTag())) }
}

func testNoticeOffByDefault() throws(SysError) {
    let receiver = try receiverCreate()
    defer { closeAll(receiver) }
    try handleClose(try senderCreate(receiver, badge: 5))
    try expectNoNotice(receiver, "a notice without receiver_set_notices")
    step("turned off drops the waiting ones")
    try receiverSetNotices(receiver, true)
    try handleClose(try senderCreate(receiver, badge: 6))
    try receiverSetNotices(receiver, false)
    try expectNoNotice(receiver, "a notice kept after turning notices off")
    try handleClose(try senderCreate(receiver, badge: 7))
    try expectNoNotice(receiver, "a notice while off")
}

func testNoticeWakesReceiver() throws(SysError) {
    let receiver = try receiverCreate()
    defer { closeAll(receiver) }
    try receiverSetNotices(receiver, true)
    let sender = try senderCreate(receiver, badge: 77)
    let reply = try replyCreate()
    defer { closeAll(reply) }
    let server = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            let m = try receiverRecv(receiver, reply: reply)
            return m.isSenderGone ? m.badge : 1
        }
    }
    check(waitBlocked(server), "the receiver returned before the Sender went")
    try handleClose(sender)
    check(finish(server, "receiver waiting for a notice") == 77, "the waiting receiver did not get the notice")
    expectError(.badState, "reply_reply on a Reply after a notice") { () throws(SysError) in try replyReply(reply, IPCMessage(tag: IPCTag())) }
}

func testNoticeHolderProcessEnded() throws(SysError) {
    let receiver = try receiverCreate()
    defer { closeAll(receiver) }
    try receiverSetNotices(receiver, true)
    var child = try Child.create(code: Code.exit(3))
    defer { child.close() }
    try child.spawn(start: false)
    _ = try processGive(child.process, try senderCreate(receiver, badge: 123))
    try expectNoNotice(receiver, "a notice while the child held the Sender")
    try threadStart(child.thread)
    check(try processWait(child.process) == 3, "the child did not exit with 3")
    try expectNotice(receiver, badge: 123, "after the holder process ended")
}

func testNoticeAfterCalls() throws(SysError) {
    let receiver = try receiverCreate()
    defer { closeAll(receiver) }
    try receiverSetNotices(receiver, true)
    let sender = try senderCreate(receiver, badge: 9)
    step("a caller queued, its Sender closed while it waits")
    let caller = try spawnWatched { () -> UInt64 in
        let answer = outcome { () throws(SysError) -> UInt64 in try senderCall(sender, IPCMessage(label: 0, 5)).words.0 }
        _ = try? handleClose(sender)
        return answer
    }
    check(waitBlocked(caller), "the call returned with no receiver")
    let first = try receiverRecv(receiver)
    check(!first.isSenderGone && first.words.0 == 5 && first.badge == 9, "the call did not come first")
    step("answered with reply_recv: the notice follows")
    let next = try receiverReplyRecv(receiver, IPCMessage(label: 0, 6))
    check(finish(caller, "caller") == 6, "the caller did not get the answer")
    check(next.isSenderGone && next.badge == 9, "reply_recv did not return the notice (label \(hex(UInt64(next.tag.label))))")
}

func testNoticeCannotBeForged() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver, badge: 4)
    defer { closeAll(sender, receiver) }
    let server = try spawnWatched { () -> UInt64 in
        outcome { () throws(SysError) -> UInt64 in
            let m = try receiverRecv(receiver)
            return m.tag.label == 0 ? m.badge : 1     // ends holding the caller: it wakes with .peerClosed
        }
    }
    check(waitBlocked(server), "the server did not reach its receive")
    expectError(.invalidArgument, "sender_call with the notice label (fast path)") { () throws(SysError) in
        try senderCall(sender, IPCMessage(tag: IPCTag(label: SenderGoneNotice.label)))
    }
    expectError(.invalidArgument, "sender_call with the notice label and bytes") { () throws(SysError) in
        try senderCall(sender, IPCMessage(tag: IPCTag(bytes: 8, label: SenderGoneNotice.label)))
    }
    expectError(.invalidArgument, "sender_call_timed with the notice label") { () throws(SysError) in
        try senderCall(sender, IPCMessage(tag: IPCTag(label: SenderGoneNotice.label)), timeout: noticeWait)
    }
    check(kernelBlocked(server), "a forged notice reached the receiver")
    expectError(.peerClosed, "a real call to a receiver that ends") { () throws(SysError) in try senderCall(sender, IPCMessage(label: 0)) }
    check(finish(server, "receiver after forged notices") == 4, "the receiver's first message was not the real call")
}

func testNoticeErrors() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let noWait = try handleDuplicate(receiver, rights: [.duplicate])
    defer { closeAll(noWait, sender, receiver) }
    expectError(.invalidArgument, "on = 2") { () throws(SysError) in try syscall(.receiverSetNotices, receiver.word, 2) }
    expectError(.wrongType, "a Sender handle") { () throws(SysError) in try receiverSetNotices(sender, true) }
    expectError(.accessDenied, "a Receiver handle without .wait") { () throws(SysError) in try receiverSetNotices(noWait, true) }
    expectError(.invalidHandle, "handle 0") { () throws(SysError) in try syscall(.receiverSetNotices, 0, 1) }
}
