// In-kernel tests of closed-client notices (receiver_set_notices): a Sender going away leaves its
// badge on its endpoint only while notices are on and the endpoint is open, once per Sender object
// (however many references it had), and turning notices off or closing the endpoint drops them.

#if !KERNEL
import ABI
#endif

extension KernelTests {
    static let noticeTests: [KernelTest] = [
        KernelTest(name: "ipc.sender_gone_leaves_a_notice", body: senderGoneLeavesNotice),
        KernelTest(name: "ipc.sender_gone_without_notices_is_silent", body: senderGoneSilent),
        KernelTest(name: "ipc.notices_dropped_when_off_or_closed", body: noticesDropped),
    ]

    /// Senders the tests hold (a global, so they live on the heap as real Senders do: a Sender kept in a
    /// local may be promoted to the stack, where its deinit does not run).
    static var heldSenders: [Sender] = []

    /// Makes a Sender with `badge` on `r`, holds it twice, and drops both references; whether no notice
    /// came while one was left.
    @inline(never) static func makeAndDropSender(_ r: Receiver, badge: UInt64) -> Bool {
        heldSenders.append(Sender(receiver: r, badge: badge))
        heldSenders.append(heldSenders[0])
        heldSenders.removeLast()
        let noneYet = r.endpoint.notices.isEmpty
        heldSenders.removeAll()
        return noneYet
    }

    static func senderGoneLeavesNotice() -> Bool {
        let r = Receiver()
        r.endpoint.noticesWanted = true
        guard check(makeAndDropSender(r, badge: 7), "a notice came while a reference was left") else { return false }
        _ = makeAndDropSender(r, badge: 9)
        return check(r.endpoint.notices.count == 2, "not one notice per gone Sender")
            && check(r.endpoint.takeNotice() == 7, "the first notice is not the first Sender's badge")
            && check(r.endpoint.takeNotice() == 9, "the second notice is not the second Sender's badge")
            && check(r.endpoint.takeNotice() == nil, "a notice left after taking both")
    }

    static func senderGoneSilent() -> Bool {
        let r = Receiver()
        _ = makeAndDropSender(r, badge: 3)
        return check(r.endpoint.notices.isEmpty, "a notice without receiver_set_notices")
    }

    static func noticesDropped() -> Bool {
        let r = Receiver()
        r.endpoint.noticesWanted = true
        _ = makeAndDropSender(r, badge: 1)
        r.endpoint.close()
        guard check(r.endpoint.notices.isEmpty, "closing the endpoint kept its notices") else { return false }
        _ = makeAndDropSender(r, badge: 2)
        return check(r.endpoint.notices.isEmpty, "a closed endpoint took a notice")
    }
}
