// The server side of the input protocol (Sources/ABI/InputProtocol.swift), shared by kbd and moused:
// subscriptions (a Notify, the bits, a queue of events, the badge that subscribed), `publish` to queue an
// event for every subscriber and signal it, and `answer` for a client's request. One thread uses it (the
// driver's request loop); the driver's interrupt thread hands its bytes to that loop by IPC.

public final class InputPublisher {
    struct Subscription {
        let id: UInt64
        let badge: UInt64
        let notify: Handle
        let bits: UInt64
        var queue: [InputEvent] = []
        var dropped: UInt64 = 0
    }

    let kind: InputDeviceKind
    let page: IPCBufferPage
    var subscriptions: [Subscription] = []
    var nextID: UInt64 = 1
    public private(set) var published: UInt64 = 0
    /// Whether the device answered its initialisation (info's w3).
    public var deviceReady = false

    /// A publisher whose thread has `page` installed as its IPC buffer.
    public init(kind: InputDeviceKind, page: IPCBufferPage) {
        self.kind = kind
        self.page = page
    }

    /// Queues `event` for every subscription (dropping its oldest when full) and signals each.
    public func publish(_ event: InputEvent) {
        published += 1
        for i in subscriptions.indices {
            if subscriptions[i].queue.count >= InputProtocol.queueLength {
                subscriptions[i].queue.removeFirst()
                subscriptions[i].dropped += 1
            }
            subscriptions[i].queue.append(event)
            _ = try? notifyNotify(subscriptions[i].notify, bits: subscriptions[i].bits)
        }
    }

    /// The reply to a client's request (never traps on what the client sent).
    public func answer(_ m: IPCMessage) -> IPCMessage {
        let label = InputLabel(rawValue: m.tag.label)
        var notify: Handle? = nil
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) {
            let h = page.handle(i)
            if label == .subscribe && m.tag.handles == 1 { notify = h } else { _ = try? handleClose(h) }
        }
        do throws(InputError) {
            guard let label, m.tag.words >= label.minimumWords, m.tag.bytes == 0 else { throw .badMessage }
            guard (label == .subscribe) == (m.tag.handles == 1), m.tag.handles <= 1 else { throw .badMessage }
            switch label {
            case .info:
                return IPCMessage(label: 0, kind.rawValue, published, UInt64(subscriptions.count), deviceReady ? 1 : 0)
            case .subscribe:
                let id = try subscribe(m, notify: notify!)
                notify = nil
                return IPCMessage(label: 0, id)
            case .read: return try read(m)
            case .unsubscribe:
                let i = try index(m.words.0, m.badge)
                _ = try? handleClose(subscriptions[i].notify)
                subscriptions.remove(at: i)
                return IPCMessage(tag: IPCTag(label: 0))
            }
        } catch {
            if let notify { _ = try? handleClose(notify) }
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    func subscribe(_ m: IPCMessage, notify: Handle) throws(InputError) -> UInt64 {
        guard let (type, rights) = try? handleIdentify(notify), type == .notify, rights.contains(.signal),
              m.words.0 != 0 else { throw .invalid }
        guard subscriptions.count < InputProtocol.maxSubscriptions else { throw .tooMany }
        let id = nextID
        nextID += 1
        subscriptions.append(Subscription(id: id, badge: m.badge, notify: notify, bits: m.words.0))
        return id
    }

    func index(_ id: UInt64, _ badge: UInt64) throws(InputError) -> Int {
        guard let i = subscriptions.firstIndex(where: { $0.id == id && $0.badge == badge }) else { throw .badSubscription }
        return i
    }

    func read(_ m: IPCMessage) throws(InputError) -> IPCMessage {
        let i = try index(m.words.0, m.badge)
        guard m.words.1 >= 1 && m.words.1 <= UInt64(InputProtocol.maxEventsPerRead) else { throw .invalid }
        let n = min(Int(m.words.1), subscriptions[i].queue.count)
        let bytes = page.bytes.baseAddress!
        for k in 0..<n { subscriptions[i].queue[k].store(to: bytes + k * InputEvent.size) }
        subscriptions[i].queue.removeFirst(n)
        let dropped = subscriptions[i].dropped
        subscriptions[i].dropped = 0
        return IPCMessage(tag: IPCTag(words: 2, bytes: n * InputEvent.size, label: 0), words: (UInt64(n), dropped, 0, 0))
    }
}
