import Foundation

/// Text as QMP `send-key` chords on a US keyboard: each character becomes the qcodes pressed together
/// (shift and the key for a capital or a shifted symbol). Used by the shell's `type TEXT`, and by the
/// integration tests that type into the guest through kbd or usbd.
public enum KeyTyping {
    static let plain: [Character: String] = [" ": "spc", "-": "minus", "=": "equal", "[": "bracket_left", "]": "bracket_right",
                                             "\\": "backslash", ";": "semicolon", "'": "apostrophe", "`": "grave_accent",
                                             ",": "comma", ".": "dot", "/": "slash", "\n": "ret", "\t": "tab"]
    static let shifted: [Character: String] = ["!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8",
                                               "(": "9", ")": "0", "_": "minus", "+": "equal", "{": "bracket_left",
                                               "}": "bracket_right", "|": "backslash", ":": "semicolon", "\"": "apostrophe",
                                               "~": "grave_accent", "<": "comma", ">": "dot", "?": "slash"]

    /// The qcodes for one character, nil for one a US keyboard cannot type.
    public static func qcodes(_ c: Character) -> [String]? {
        if c.isASCII && c.isLetter { return c.isUppercase ? ["shift", c.lowercased()] : [String(c)] }
        if c.isASCII && c.isNumber { return [String(c)] }
        if let k = plain[c] { return [k] }
        if let k = shifted[c] { return ["shift", k] }
        return nil
    }

    /// Every character's chord; throws naming the first character that has none. `\n` in the text (the
    /// two characters) is Enter.
    public static func chords(_ text: String) throws -> [[String]] {
        try text.replacingOccurrences(of: "\\n", with: "\n").map { c in
            guard let q = qcodes(c) else { throw Shell.UsageError(description: "type: no US key for \(String(reflecting: String(c)))") }
            return q
        }
    }

    /// The QMP arguments of `send-key` for one chord.
    public static func sendKeyArguments(_ chord: [String]) -> JSON {
        .object(["keys": .array(chord.map { .object(["type": .string("qcode"), "data": .string($0)]) })])
    }
}
