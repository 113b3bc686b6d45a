// The random-number protocol: what rngd (Sources/Servers/rngd) serves as the service `random`. rngd keys
// a ChaCha20 generator (RFC 8439's block function, fast key erasure) from RDSEED or RDRAND when the CPU
// has them and from timing jitter, and reseeds it as it serves. The Runtime's `getrandom` and
// `arc4random_buf` use it in programs that import `random`. Compiled into the kernel too (no String).
//
// Requests are IPC calls through a Sender to rngd's Receiver; the label is a RandomLabel, the reply's label
// 0 or a RandomError raw value. An unknown label, too few words, bytes, or handles are `.badMessage`
// (handles are closed).
//
// Requests (w0..w3 = the message's register words; → the reply's words):
//   read       → w0..w3: 32 random bytes (little-endian words); needs no IPC buffer
//   readBytes  w0 count (1...IPCBuffer.maxBytes) → w0 count, the bytes in the reply's bytes
//   info       → w0 RandomSources rngd keys from, w1 reseeds so far, w2 bytes served so far

/// The labels of random requests.
public enum RandomLabel: UInt32, CaseIterable, Sendable {
    case read = 1
    case readBytes = 2
    case info = 3

    /// Register words the request needs at least.
    public var minimumWords: Int { self == .readBytes ? 1 : 0 }
}

/// Errors in random replies (the reply's label).
public enum RandomError: UInt32, Error, CaseIterable, Sendable {
    case badMessage = 1
    /// A count of 0 or more than IPCBuffer.maxBytes.
    case invalid = 2

    public var name: StaticString {
        switch self {
        case .badMessage: return "badMessage"
        case .invalid: return "invalid"
        }
    }
}

/// The entropy sources rngd found (info's w0).
public struct RandomSources: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// RDRAND (CPUID.1:ECX[30]) answered.
    public static let rdrand = RandomSources(rawValue: 1 << 0)
    /// RDSEED (CPUID.7.0:EBX[18]) answered.
    public static let rdseed = RandomSources(rawValue: 1 << 1)
    /// Timing jitter of the TSC (always used).
    public static let jitter = RandomSources(rawValue: 1 << 2)
}
