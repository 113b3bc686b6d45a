// A child's faults: pm binds a fault handler (fault_handler_set, through Spawn) to every process it
// starts, a Sender to its own Receiver whose badge marks a fault. The loop records where the child
// faulted and answers "end": the kernel then reports the fault and ends the child as an unhandled
// fault would, and a `wait` gets its status (ExitCode.fault(vector)) with that address in w3.

extension ProcessServer {
    /// The badge of child `id`'s fault Sender (its pm Sender's badge is `id` itself).
    static func faultBadge(_ id: UInt32) -> UInt64 { 1 << 32 | UInt64(id) }

    /// A fault message from a child: recorded and answered (ends the child). False for anything else.
    func answerFault(_ m: IPCMessage, reply: Handle) -> Bool {
        guard m.badge >> 32 == 1, m.badge != ProcessServer.watcherBadge else { return false }
        if m.tag.label == FaultMessage.label, m.tag.words == 4, let child = children[UInt32(truncatingIfNeeded: m.badge)] {
            child.faultAddress = FaultMessage.vector(m.words.0) == 14 ? m.words.1 : m.words.3
        }
        _ = try? replyReply(reply, IPCMessage(label: 1))   // not FaultMessage.resume: the child ends
        return true
    }
}

extension Answer {
    /// A wait's answer for an ended child: its id, status and fault address (for a killed one, the
    /// signal: Signals.swift).
    static func ended(_ child: Child) -> Answer {
        var a = Answer.ok(UInt64(child.id), child.status)
        a.fault = child.status == ExitCode.stopped ? child.signal : child.faultAddress
        return a
    }
}
