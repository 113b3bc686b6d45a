// Signal names and numbers (Linux's, x86_64) for the `kill` utility and the shell: `kill -9`, `kill
// -KILL`, `kill -SIGKILL`, `kill -s TERM`, `kill -l`. Pure, host-tested in
// Tests/FormatsTests/UtilitiesSignalsTests.swift.

public enum SignalNames {
    /// Names without the SIG prefix, index = number - 1 (1 through 31).
    public static let names = ["HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
                               "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN",
                               "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"]
    /// The highest signal number (real-time signals 32-64 have numbers only).
    public static let max = 64
    /// `kill`'s signal when none is named: SIGTERM.
    public static let defaultSignal = 15

    /// A signal given as a number (0-64), a name or SIG + a name (any case); nil when it is none.
    public static func number(_ text: String) -> Int? {
        if let n = Int(text) { return n >= 0 && n <= max ? n : nil }
        var bytes = text.utf8.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }      // ASCII upper case
        if bytes.starts(with: [83, 73, 71]) { bytes.removeFirst(3) }          // SIG
        let name = String(decoding: bytes, as: UTF8.self)
        return names.firstIndex(of: name).map { $0 + 1 }
    }

    /// The name of signal `n` without SIG (its number as text when it has none).
    public static func name(_ n: Int) -> String { n >= 1 && n <= names.count ? names[n - 1] : String(n) }

    /// `kill`'s operands: the signal (`-N`, `-NAME`, `-s NAME`; default SIGTERM) and the process ids as
    /// written; `--` ends the options. nil with a message for a signal that is none.
    public static func killArguments(_ arguments: [String]) -> (signal: Int, operands: [String])? {
        var words = arguments[...]
        var signal = defaultSignal
        if words.first == "-s" || words.first == "-n" {
            guard words.count >= 2, let n = number(words[words.startIndex + 1]) else { return nil }
            signal = n
            words = words.dropFirst(2)
        } else if let f = words.first, f.hasPrefix("-"), f != "-", f != "--" {
            guard let n = number(String(f.dropFirst())) else { return nil }
            signal = n
            words = words.dropFirst()
        }
        if words.first == "--" { words = words.dropFirst() }
        return (signal, Array(words))
    }
}
