// The console's byte-level logic: the escape-key state machine for input, and the filter stage for
// output. Pure; unit-tested.

/// Decodes the keyboard stream: Ctrl-A starts an escape sequence (as in QEMU's own mux).
///   Ctrl-A x        quit (terminate QEMU)
///   Ctrl-A h or ?   list the keys
///   Ctrl-A Ctrl-A   send one Ctrl-A to the guest
/// Any other key after Ctrl-A is ignored.
public struct EscapeKeyDecoder: Sendable {
    public enum Action: Equatable, Sendable {
        /// Bytes for the guest's serial port.
        case send([UInt8])
        case quit
        case help
    }

    public static let escapeByte: UInt8 = 0x01

    public static let helpText = """
        osh console keys:
          Ctrl-A x       quit (terminate QEMU)
          Ctrl-A h       this help
          Ctrl-A Ctrl-A  send Ctrl-A to the guest

        """

    /// True after Ctrl-A, waiting for the command key.
    public private(set) var pendingEscape = false

    public init() {}

    /// Feeds input bytes; returns the actions in order, consecutive guest bytes merged into one `send`.
    public mutating func feed<S: Sequence>(_ bytes: S) -> [Action] where S.Element == UInt8 {
        var actions: [Action] = []
        var pending: [UInt8] = []
        func flush() {
            if !pending.isEmpty { actions.append(.send(pending)); pending = [] }
        }
        for byte in bytes {
            if pendingEscape {
                pendingEscape = false
                switch byte {
                case EscapeKeyDecoder.escapeByte: pending.append(byte)
                case UInt8(ascii: "x"), UInt8(ascii: "X"): flush(); actions.append(.quit)
                case UInt8(ascii: "h"), UInt8(ascii: "H"), UInt8(ascii: "?"): flush(); actions.append(.help)
                default: break
                }
            } else if byte == EscapeKeyDecoder.escapeByte {
                pendingEscape = true
            } else {
                pending.append(byte)
            }
        }
        flush()
        return actions
    }
}

/// The stage between the serial port and the terminal. serial.log always gets the raw bytes; what a
/// filter returns is what the user sees. This is the hook for inline panic symbolization: a filter
/// may hold back a partial line and rewrite complete ones.
public protocol SerialConsoleFilter {
    /// Called with each chunk as it arrives; returns the bytes to print now.
    mutating func process(_ chunk: [UInt8]) -> [UInt8]
    /// Called once when the run ends; returns anything still held back.
    mutating func finish() -> [UInt8]
}

/// Prints the serial output unchanged.
public struct PassthroughSerialFilter: SerialConsoleFilter {
    public init() {}
    public mutating func process(_ chunk: [UInt8]) -> [UInt8] { chunk }
    public mutating func finish() -> [UInt8] { [] }
}

/// Splits a byte stream into lines (without the terminator; a trailing `\r` is dropped).
public struct SerialLineSplitter: Sendable {
    var partial: [UInt8] = []
    /// Cap so a guest that never prints a newline cannot grow memory without bound.
    public static let maxLine = 4096

    public init() {}

    public mutating func feed(_ chunk: [UInt8]) -> [String] {
        var lines: [String] = []
        for byte in chunk {
            if byte == UInt8(ascii: "\n") || partial.count >= SerialLineSplitter.maxLine {
                lines.append(SerialLineSplitter.text(partial))
                partial.removeAll(keepingCapacity: true)
                if byte != UInt8(ascii: "\n") { partial.append(byte) }
            } else {
                partial.append(byte)
            }
        }
        return lines
    }

    /// The unterminated last line, if any.
    public mutating func finish() -> String? {
        defer { partial = [] }
        return partial.isEmpty ? nil : SerialLineSplitter.text(partial)
    }

    static func text(_ bytes: [UInt8]) -> String {
        var bytes = bytes[...]
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Finds the in-kernel test summary line, `N passed, N failed`.
public enum TestResultLine {
    public struct Counts: Equatable, Sendable {
        public var passed: Int
        public var failed: Int
    }

    /// The counts when `line` contains `<digits> passed, <digits> failed`; the text around is ignored
    /// (log prefixes, colour codes).
    public static func parse(_ line: String) -> Counts? {
        guard let match = line.firstMatch(of: /([0-9]+) passed, ([0-9]+) failed/),
              let passed = Int(match.1), let failed = Int(match.2) else { return nil }
        return Counts(passed: passed, failed: failed)
    }
}
