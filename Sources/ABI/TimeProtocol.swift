// The time protocol: what timed (Sources/Servers/timed) serves as the service `time`. timed reads the CMOS
// real-time clock once at start and keeps the wall clock with the kernel's monotonic clock (Clock.now());
// it serves sleeps and alarms for any number of clients with one kernel timeout (its own receive's).
// Compiled into the kernel too (no String here).
//
// Requests are IPC calls through a Sender to timed's Receiver; the label is a TimeLabel, the reply's label
// 0 or a TimeError raw value. An unknown label, too few words, bytes, or handles the request does not
// take are `.badMessage` (handles it does not take are closed).
//
// Requests (w0..w3 = the message's register words; → the reply's words):
//   now     → w0 wall-clock time in ns since 1970-01-01 00:00:00 UTC, w1 the monotonic clock (ns since
//             boot) it was taken at, w2 the RTC's reading at timed's start (seconds since 1970, UTC)
//   sleep   w0 ns to sleep (≤ TimeProtocol.maxDelay) → nothing, answered once that time has passed
//   alarm   w0 the monotonic deadline (ns since boot), w1 the Notify bits (not 0); handles: exactly 1, a
//           Notify (needs .signal), moved → w0 alarm id. At the deadline timed signals the bits and
//           closes its handle to the Notify. A deadline already passed fires at once.
//   cancel  w0 alarm id → nothing; `.notFound` when it fired, was cancelled, or is another badge's
//   info    → w0 timers pending (sleeps and alarms), w1 timers fired since start, w2 kernel timeouts
//             timed waited for (receives that timed out), w3 the RTC's register B at start
// timed holds at most TimeProtocol.maxTimers timers (`.tooMany`).

/// The labels of time requests.
public enum TimeLabel: UInt32, CaseIterable, Sendable {
    case now = 1
    case sleep = 2
    case alarm = 3
    case cancel = 4
    case info = 5

    /// Register words the request needs at least.
    public var minimumWords: Int {
        switch self {
        case .now, .info: return 0
        case .sleep, .cancel: return 1
        case .alarm: return 2
        }
    }
}

/// Errors in time replies (the reply's label).
public enum TimeError: UInt32, Error, CaseIterable, Sendable {
    case badMessage = 1
    /// A delay too long, bits of 0, a handle that is not a Notify.
    case invalid = 2
    /// timed holds as many timers as it takes.
    case tooMany = 3
    /// No such alarm of this badge.
    case notFound = 4
    /// timed is out of memory.
    case noMemory = 5
    /// timed has no wall-clock time (the RTC could not be read).
    case noClock = 6

    public var name: StaticString {
        switch self {
        case .badMessage: return "badMessage"
        case .invalid: return "invalid"
        case .tooMany: return "tooMany"
        case .notFound: return "notFound"
        case .noMemory: return "noMemory"
        case .noClock: return "noClock"
        }
    }
}

/// The protocol's limits.
public enum TimeProtocol {
    /// Timers (sleeps and alarms) timed holds at once.
    public static let maxTimers = 1024
    /// The longest sleep: one year.
    public static let maxDelay: UInt64 = 365 * 86_400 * 1_000_000_000
}
