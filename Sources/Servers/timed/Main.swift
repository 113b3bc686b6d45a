// timed: wall-clock time, sleeps and alarms (Sources/ABI/TimeProtocol.swift, the service `time`). Root
// starts it as a boot server with its Receiver (export:time) and, from initfs:///etc/devices.conf, an
// IOPort over the CMOS RTC's index and data ports 0x70-0x71 (grant:rtc). At start it reads the RTC at the
// edge of a second (so the wall clock is right to a few milliseconds, not to a second) and from then on
// keeps time with the kernel's monotonic clock (Clock.now()). Sleeps and alarms of all clients sit in one
// list ordered by deadline (Sources/Formats/DeviceGrants.swift, DeadlineList); timed's own receive waits
// with the soonest deadline as its timeout, so the kernel holds one timeout for all of them.

let programName: StaticString = "timed"

/// What a timer does when it fires.
enum Timer {
    /// A sleeping caller, bound to this Reply object.
    case sleep(reply: Handle)
    /// An alarm: the bits to signal on the Notify, and the badge that set it (for cancel).
    case alarm(notify: Handle, bits: UInt64, badge: UInt64)
}

final class TimeServer {
    let receiver: Handle
    let page: IPCBufferPage
    /// Seconds since 1970 the RTC said at `monotonicAtRead`, and its register B (nil: no RTC).
    let rtc: (seconds: UInt64, monotonic: UInt64, statusB: UInt8)?
    var timers = DeadlineList<Timer>()
    var nextID: UInt64 = 1
    var fired: UInt64 = 0
    var kernelTimeouts: UInt64 = 0

    init(receiver: Handle, page: IPCBufferPage, rtc: (seconds: UInt64, monotonic: UInt64, statusB: UInt8)?) {
        self.receiver = receiver
        self.page = page
        self.rtc = rtc
    }

    /// Serves forever; each caller is bound to a Reply object (`first`, then a new one after each sleep,
    /// which keeps its own until it is due).
    func run(first: Handle) -> Int32 {
        var reply = first
        while true {
            let now = Clock.now()
            fireDue(now)
            let timeout = timers.next.map { max(1, $0 - min($0, now)) } ?? 0
            let m: IPCMessage
            do throws(SysError) { m = try receiverRecv(receiver, reply: reply, timeout: timeout) } catch {
                if error == .timedOut { kernelTimeouts += 1; continue }
                if error == .peerClosed { return 0 }
                continue
            }
            let answer = handle(m, reply: reply)
            if let answer {
                _ = try? replyReply(reply, answer)
            } else if let next = try? replyCreate() {
                reply = next        // the old one waits in `timers`
            } else {
                _ = timers.remove(id: nextID - 1)
                _ = try? replyReply(reply, IPCMessage(tag: IPCTag(label: TimeError.noMemory.rawValue)))
            }
        }
    }

    /// Fires every timer due at `now`, in deadline order.
    func fireDue(_ now: UInt64) {
        for t in timers.takeDue(now) {
            fired += 1
            switch t.value {
            case .sleep(let reply):
                _ = try? replyReply(reply, IPCMessage(tag: IPCTag(label: 0)))
                _ = try? handleClose(reply)
            case .alarm(let notify, let bits, _):
                _ = try? notifyNotify(notify, bits: bits)
                _ = try? handleClose(notify)
            }
        }
    }

    /// The answer to a request, or nil when the caller sleeps (bound to `reply`).
    func handle(_ m: IPCMessage, reply: Handle) -> IPCMessage? {
        let label = TimeLabel(rawValue: m.tag.label)
        var notify: Handle? = nil
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) {
            let h = page.handle(i)
            if label == .alarm && m.tag.handles == 1 { notify = h } else { _ = try? handleClose(h) }
        }
        do throws(TimeError) {
            guard let label, m.tag.words >= label.minimumWords, m.tag.bytes == 0,
                  (label == .alarm) == (m.tag.handles == 1), m.tag.handles <= 1 else { throw .badMessage }
            switch label {
            case .now:
                guard let rtc else { throw .noClock }
                let monotonic = Clock.now()
                let wall = rtc.seconds &* 1_000_000_000 &+ (monotonic - rtc.monotonic)
                return IPCMessage(label: 0, wall, monotonic, rtc.seconds)
            case .sleep:
                guard m.words.0 <= TimeProtocol.maxDelay else { throw .invalid }
                guard timers.count < TimeProtocol.maxTimers else { throw .tooMany }
                timers.insert(deadline: Clock.now() + m.words.0, id: nextID, value: .sleep(reply: reply))
                nextID += 1
                return nil
            case .alarm:
                guard let n = notify, let (type, rights) = try? handleIdentify(n), type == .notify, rights.contains(.signal),
                      m.words.1 != 0 else { throw .invalid }
                guard timers.count < TimeProtocol.maxTimers else { throw .tooMany }
                let id = nextID
                nextID += 1
                timers.insert(deadline: m.words.0, id: id, value: .alarm(notify: n, bits: m.words.1, badge: m.badge))
                notify = nil
                return IPCMessage(label: 0, id)
            case .cancel:
                let removed = timers.remove(id: m.words.0) { t in
                    if case .alarm(_, _, let badge) = t { return badge == m.badge }
                    return false
                }
                guard case .alarm(let n, _, _)? = removed else { throw .notFound }
                _ = try? handleClose(n)
                return IPCMessage(tag: IPCTag(label: 0))
            case .info:
                return IPCMessage(label: 0, UInt64(timers.count), fired, kernelTimeouts, UInt64(rtc?.statusB ?? 0))
            }
        } catch {
            if let notify { _ = try? handleClose(notify) }
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }
}

/// CMOS register `r` (NMI stays enabled: bit 7 of the index clear).
func cmos(_ r: UInt8) -> UInt8 {
    port_out8(0x70, r)
    return port_in8(0x71)
}

/// The RTC's time registers, read while no update is in progress, twice alike.
func readRTC() -> RTCRegisters? {
    func once() -> RTCRegisters? {
        let start = Clock.now()
        while cmos(0x0a) & 0x80 != 0 {
            if Clock.now() - start > 100_000_000 { return nil }
        }
        return RTCRegisters(second: cmos(0x00), minute: cmos(0x02), hour: cmos(0x04), day: cmos(0x07),
                            month: cmos(0x08), year: cmos(0x09), century: cmos(0x32), statusB: cmos(0x0b))
    }
    for _ in 0..<10 {
        guard let a = once(), let b = once() else { return nil }
        if a == b { return a }
    }
    return nil
}

/// The RTC's time at the edge of a second (waits up to 1.5 s for the seconds register to change), with
/// the monotonic time of that edge.
func readRTCAtEdge() -> (RTCRegisters, UInt64)? {
    guard let first = readRTC() else { return nil }
    let start = Clock.now()
    while Clock.now() - start < 1_500_000_000 {
        guard let r = readRTC() else { return nil }
        if r.second != first.second { return (r, Clock.now()) }
        threadSleep(nanoseconds: 1_000_000)     // poll each millisecond: the CPU idles meanwhile
    }
    return (first, start)
}

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("time") else {
        print("timed: no Receiver for `time`; exiting")
        return 1
    }
    // Everything timed needs is made before the RTC read, which may take a second: an idle timed holds
    // a fixed set of objects from then on (systest's leak checks count every object in the system).
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil, let reply = try? replyCreate() else {
        print("timed: no IPC buffer page or Reply object; exiting")
        return 1
    }
    var rtc: (seconds: UInt64, monotonic: UInt64, statusB: UInt8)? = nil
    if startup.granted("rtc") == nil {
        print("timed: no IOPort over the RTC (grant:rtc); serving sleeps and alarms, no wall clock")
    } else if let (r, at) = readRTCAtEdge(), let t = r.dateTime, t.unixSeconds >= 0 {
        rtc = (UInt64(t.unixSeconds), at, r.statusB)
        let two = { (v: Int64) in v < 10 ? "0\(v)" : "\(v)" }
        print("timed: RTC says \(t.year)-\(two(t.month))-\(two(t.day)) \(two(t.hour)):\(two(t.minute)):\(two(t.second)) UTC "
              + "(\(t.unixSeconds) s since 1970, \(r.binary ? "binary" : "BCD"), \(r.twentyFourHour ? "24" : "12")-hour)")
    } else {
        print("timed: the RTC gave no valid time; serving sleeps and alarms, no wall clock")
    }
    return TimeServer(receiver: receiver, page: page, rtc: rtc).run(first: reply)
}
