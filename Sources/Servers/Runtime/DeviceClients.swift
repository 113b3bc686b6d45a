// Typed clients of the device servers: InputClient (kbd's `input`, moused's `mouse`;
// Sources/ABI/InputProtocol.swift) and TimeClient (timed's `time`; TimeProtocol.swift). RandomProtocol's
// client is Random (RandomBytes.swift). Each throws the protocol's error words; a transport failure becomes
// the protocol's `.badMessage`-free error through `SysError` (see each function).

/// A subscription to an input driver: a Notify of this process's that the driver signals, and the reads.
public struct InputClient {
    public let sender: Handle
    public let page: IPCBufferPage
    public let notify: Handle
    public let id: UInt64
    static let bits: UInt64 = 1

    /// Subscribes through `sender`; `page` is the calling thread's installed IPC buffer.
    public init(_ sender: Handle, page: IPCBufferPage) throws(SysError) {
        self.sender = sender
        self.page = page
        notify = try notifyCreate()
        let given = try handleDuplicate(notify, rights: [.signal, .transfer])
        page.setHandle(0, given)
        let r = try senderCall(sender, IPCMessage(tag: IPCTag(words: 1, handles: 1, label: InputLabel.subscribe.rawValue),
                                                 words: (InputClient.bits, 0, 0, 0)))
        guard r.tag.label == 0 else { throw .badState }
        id = r.words.0
    }

    /// info's words: kind, events published, subscriptions, device ready.
    public static func info(_ sender: Handle) throws(SysError) -> (kind: UInt64, published: UInt64, subscribers: UInt64, ready: Bool) {
        let r = try senderCall(sender, IPCMessage(tag: IPCTag(label: InputLabel.info.rawValue)))
        guard r.tag.label == 0 else { throw .badState }
        return (r.words.0, r.words.1, r.words.2, r.words.3 & 1 != 0)
    }

    /// The events queued now (at most `max`), and how many were dropped since the last read.
    public func read(max: Int = InputProtocol.maxEventsPerRead) throws(SysError) -> (events: [InputEvent], dropped: UInt64) {
        let r = try senderCall(sender, IPCMessage(label: InputLabel.read.rawValue, id, UInt64(max)))
        guard r.tag.label == 0, r.tag.bytes == Int(r.words.0) * InputEvent.size else { throw .badState }
        var events: [InputEvent] = []
        let base = page.bytes.baseAddress!
        for k in 0..<Int(r.words.0) {
            if let e = InputEvent(loading: base + k * InputEvent.size) { events.append(e) }
        }
        return (events, r.words.1)
    }

    /// Waits until the driver signals new events (at most `timeout` ns; 0: no limit), then reads them.
    public func next(timeout: UInt64 = 0) throws(SysError) -> [InputEvent] {
        var (events, _) = try read()
        if !events.isEmpty { return events }
        _ = try notifyWait(notify, timeout: timeout)
        (events, _) = try read()
        return events
    }
}

/// timed's client.
public struct TimeClient {
    public let sender: Handle

    public init(_ sender: Handle) { self.sender = sender }

    /// Wall-clock ns since 1970 (UTC) and the monotonic ns it was taken at.
    public func now() throws(SysError) -> (wall: UInt64, monotonic: UInt64, rtcAtStart: UInt64) {
        let r = try senderCall(sender, IPCMessage(tag: IPCTag(label: TimeLabel.now.rawValue)))
        guard r.tag.label == 0 else { throw .badState }
        return (r.words.0, r.words.1, r.words.2)
    }

    /// Sleeps `nanoseconds` through timed.
    public func sleep(_ nanoseconds: UInt64) throws(SysError) {
        let r = try senderCall(sender, IPCMessage(label: TimeLabel.sleep.rawValue, nanoseconds))
        guard r.tag.label == 0 else { throw .badState }
    }

    /// An alarm at the monotonic `deadline` signalling `bits` on `notify` (a duplicate is moved); its id.
    public func alarm(at deadline: UInt64, notify: Handle, bits: UInt64, page: IPCBufferPage) throws(SysError) -> UInt64 {
        page.setHandle(0, try handleDuplicate(notify, rights: [.signal, .transfer]))
        let r = try senderCall(sender, IPCMessage(tag: IPCTag(words: 2, handles: 1, label: TimeLabel.alarm.rawValue),
                                                 words: (deadline, bits, 0, 0)))
        guard r.tag.label == 0 else { throw .badState }
        return r.words.0
    }

    /// Cancels an alarm; false when timed did not know it.
    public func cancel(_ id: UInt64) throws(SysError) -> Bool {
        let r = try senderCall(sender, IPCMessage(label: TimeLabel.cancel.rawValue, id))
        return r.tag.label == 0
    }
}
