// The request loop of a device driver with an interrupt: one thread waits on the IRQ's Notify, reads
// the device's bytes and hands them by IPC (through a Sender of the driver's own, badge
// `DriverLoop.interruptBadge`, which no client gets: root's badges count up from 1) to the loop thread,
// which alone owns the driver's state. kbd and moused use it.

public enum DriverLoop {
    public static let interruptBadge: UInt64 = 0xffff_ffff_ffff_ff00
    /// Bytes one interrupt message carries (words 1-3).
    public static let maxBytes = 24

    /// Starts the interrupt thread: binds `irq` to a new Notify, and per interrupt calls `drain` for the
    /// waiting bytes, acks the line and sends them to `receiver` (label 1, w0 count, w1-w3 the bytes).
    public static func startInterruptThread(irq: Handle, receiver: Handle, drain: @escaping () -> [UInt8]) throws(SysError) {
        let notify = try notifyCreate()
        let sender = try senderCreate(receiver, badge: interruptBadge)
        try irqBind(irq, notify: notify, bits: 1)
        _ = try spawnThread {
            while true {
                guard (try? notifyWait(notify)) != nil else { return 1 }
                var bytes = drain()
                _ = try? irqAck(irq)
                bytes += drain()   // a byte that came while the line was masked
                send(bytes, through: sender)
            }
        }
    }

    /// Hands bytes to the loop as interrupt messages (label 1, w0 count, w1-w3 the bytes) through a
    /// Sender with `interruptBadge`.
    public static func send(_ bytes: [UInt8], through sender: Handle) {
        var i = 0
        while i < bytes.count {
            let n = min(maxBytes, bytes.count - i)
            var w: (UInt64, UInt64, UInt64) = (0, 0, 0)
            for k in 0..<n {
                let v = UInt64(bytes[i + k]) << (UInt64(k % 8) * 8)
                switch k / 8 { case 0: w.0 |= v; case 1: w.1 |= v; default: w.2 |= v }
            }
            _ = try? senderCall(sender, IPCMessage(label: 1, UInt64(n), w.0, w.1, w.2))
            i += n
        }
    }

    /// The bytes of an interrupt message, or nil when `m` is not one.
    public static func bytes(_ m: IPCMessage) -> [UInt8]? {
        guard m.badge == interruptBadge, m.tag.label == 1, m.tag.words == 4, m.words.0 <= UInt64(maxBytes) else { return nil }
        let w = [m.words.1, m.words.2, m.words.3]
        return (0..<Int(m.words.0)).map { UInt8(truncatingIfNeeded: w[$0 / 8] >> (UInt64($0 % 8) * 8)) }
    }

    /// Serves `receiver` forever: interrupt messages go to `interrupt`, the rest to `answer`.
    public static func serve(_ receiver: Handle, name: String, interrupt: ([UInt8]) -> Void,
                             answer: (IPCMessage) -> IPCMessage) -> Int32 {
        serveRequests(receiver, name: name) { request in
            guard let bytes = bytes(request) else { return answer(request) }
            interrupt(bytes)
            return IPCMessage(tag: IPCTag(label: 0))
        }
    }
}
