// The shell's `test` and `[` built-ins, evaluated here in pure Swift (host-tested in
// Tests/FormatsTests/ShellControlFlowTests.swift): `-n S`, `-z S`, `S`, `S1 = S2`, `S1 != S2`, `N1 -eq|-ne|
// -lt|-le|-gt|-ge N2`, `-e|-f|-d PATH` (through the caller's file check), `! EXPR`, `EXPR -a EXPR`,
// `EXPR -o EXPR` (-a binds tighter), and `( EXPR )`. Status 0 true, 1 false, 2 for a malformed
// expression (with a message).

/// What a path is, as `-e`/`-f`/`-d` ask it (nil: it does not exist).
public enum ShellFileKind: Sendable {
    case file
    case directory
}

public enum ShellTestCommand {
    /// Evaluates `arguments` (after the name; for `[` without the closing `]`): 0, 1, or 2 and a message.
    public static func evaluate(_ arguments: [String], file: @escaping (String) -> ShellFileKind?) -> (Int32, String?) {
        var p = Evaluator(words: arguments, file: file)
        if arguments.isEmpty { return (1, nil) }
        guard let value = p.or(), p.i == arguments.count else {
            return (2, p.error ?? "unexpected `\(p.i < arguments.count ? arguments[p.i] : "end")`")
        }
        return (value ? 0 : 1, nil)
    }

    struct Evaluator {
        let words: [String]
        let file: (String) -> ShellFileKind?
        var i = 0
        var error: String? = nil

        init(words: [String], file: @escaping (String) -> ShellFileKind?) {
            self.words = words
            self.file = file
        }

        var peek: String? { i < words.count ? words[i] : nil }

        mutating func or() -> Bool? {
            guard var value = and() else { return nil }
            while peek == "-o" {
                i += 1
                guard let right = and() else { return nil }
                value = value || right
            }
            return value
        }

        mutating func and() -> Bool? {
            guard var value = unary() else { return nil }
            while peek == "-a" {
                i += 1
                guard let right = unary() else { return nil }
                value = value && right
            }
            return value
        }

        mutating func unary() -> Bool? {
            guard let w = peek else {
                error = "argument expected"
                return nil
            }
            let rest = words.count - i
            // A binary operator after this word takes precedence (`[ ! = ! ]`, `[ -n = x ]`).
            if rest >= 3, Evaluator.binary.contains(words[i + 1]) { return binaryTest() }
            if w == "!" {
                i += 1
                return unary().map { !$0 }
            }
            if w == "(" && rest >= 2 {
                i += 1
                let value = or()
                guard peek == ")" else {
                    error = "missing `)`"
                    return nil
                }
                i += 1
                return value
            }
            if rest >= 2, ["-n", "-z", "-e", "-f", "-d"].contains(w) {
                let operand = words[i + 1]
                i += 2
                switch w {
                case "-n": return !operand.isEmpty
                case "-z": return operand.isEmpty
                case "-e": return file(operand) != nil
                case "-f": return file(operand) == .file
                default: return file(operand) == .directory
                }
            }
            i += 1
            return !w.isEmpty
        }

        static let binary: Set<String> = ["=", "==", "!=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge"]

        mutating func binaryTest() -> Bool? {
            let (a, op, b) = (words[i], words[i + 1], words[i + 2])
            i += 3
            switch op {
            case "=", "==": return a == b
            case "!=": return a != b
            default:
                guard let x = Int(a), let y = Int(b) else {
                    error = "integer expression expected: \(Int(a) == nil ? a : b)"
                    return nil
                }
                switch op {
                case "-eq": return x == y
                case "-ne": return x != y
                case "-lt": return x < y
                case "-le": return x <= y
                case "-gt": return x > y
                default: return x >= y
                }
            }
        }
    }
}
