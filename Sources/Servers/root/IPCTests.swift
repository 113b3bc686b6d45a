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
