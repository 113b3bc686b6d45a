// The kernel command line: words separated by blanks, each either a flag (`test`, `panic_test`) or a
// `key=value` setting (`log=debug`, `panic=halt`), from the one list in Sources/ABI (KernelWord).
// Lookups do not allocate.

#if !KERNEL
import ABI
#endif

public struct KernelCommandLine: Sendable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
            || byte == UInt8(ascii: "\r") || byte == 0
    }

    /// The range of the word starting at or after `from`, or nil when no word is left.
    func word(from: Int) -> Range<Int>? {
        var start = from
        while start < bytes.count && KernelCommandLine.isBlank(bytes[start]) { start += 1 }
        guard start < bytes.count else { return nil }
        var end = start
        while end < bytes.count && !KernelCommandLine.isBlank(bytes[end]) { end += 1 }
        return start..<end
    }

    /// True when the bytes at `at` (within `limit`) begin with `text`.
    func matches(_ text: StaticString, at: Int, limit: Int) -> Bool {
        let count = text.utf8CodeUnitCount
        guard count <= limit - at else { return false }
        let start = text.utf8Start
        for i in 0..<count where bytes[at + i] != start[i] { return false }
        return true
    }

    /// True when `flag` appears as a whole word.
    public func has(_ flag: StaticString) -> Bool {
        var at = 0
        while let range = word(from: at) {
            if range.count == flag.utf8CodeUnitCount && matches(flag, at: range.lowerBound, limit: range.upperBound) {
                return true
            }
            at = range.upperBound
        }
        return false
    }

    /// The value of the last `key=value` word for `key` (possibly empty), or nil when there is none.
    public func value(of key: StaticString) -> ArraySlice<UInt8>? {
        var found: ArraySlice<UInt8>? = nil
        var at = 0
        while let range = word(from: at) {
            let equals = range.lowerBound + key.utf8CodeUnitCount
            if equals < range.upperBound && bytes[equals] == UInt8(ascii: "=")
                && matches(key, at: range.lowerBound, limit: equals) {
                found = bytes[(equals + 1)..<range.upperBound]
            }
            at = range.upperBound
        }
        return found
    }

    /// True when `key=value` is set to exactly `expected`.
    public func value(of key: StaticString, is expected: StaticString) -> Bool {
        guard let value = value(of: key), value.count == expected.utf8CodeUnitCount else { return false }
        let start = expected.utf8Start
        for (i, byte) in value.enumerated() where byte != start[i] { return false }
        return true
    }

    /// True when the flag `word` appears as a whole word.
    public func has(_ word: KernelWord) -> Bool { has(word.name) }

    /// The value of the last `key=value` word for the setting `word`, or nil when there is none.
    public func value(of word: KernelWord) -> ArraySlice<UInt8>? { value(of: word.name) }

    /// True when the word at `range` is one of KernelWord: a flag exactly, a setting as `key=…`.
    func isKnown(_ range: Range<Int>) -> Bool {
        for word in KernelWord.allCases {
            let count = word.name.utf8CodeUnitCount
            if word.isSetting {
                if range.count > count && bytes[range.lowerBound + count] == UInt8(ascii: "=")
                    && matches(word.name, at: range.lowerBound, limit: range.upperBound) { return true }
            } else if range.count == count && matches(word.name, at: range.lowerBound, limit: range.upperBound) {
                return true
            }
        }
        return false
    }

    /// Calls `body` with each word that is not in KernelWord (a typo, or a flag given a value), in order.
    /// A first word naming a file (with a `/` or ending in `.elf`) is the kernel's own path, which
    /// QEMU's and GRUB's multiboot loaders put in front of the command line, and is not reported.
    public func forEachUnknownWord(_ body: (ArraySlice<UInt8>) -> Void) {
        var at = 0
        var first = true
        while let range = word(from: at) {
            let isPath = first && (bytes[range].contains(UInt8(ascii: "/"))
                || (range.count > 4 && matches(".elf", at: range.upperBound - 4, limit: range.upperBound)))
            if !isPath && !isKnown(range) { body(bytes[range]) }
            first = false
            at = range.upperBound
        }
    }

    /// The level named by `log=`, or nil when it is absent or names no level.
    public var logLevel: LogLevel? {
        guard let name = value(of: "log") else { return nil }
        return LogLevel(utf8: name)
    }
}
