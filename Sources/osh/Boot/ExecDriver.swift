// `osh boot --exec COMMAND` / `--script FILE`: types commands into the guest's shell on the serial line
// and reads their output and exit status back. Pure (bytes in, actions out); unit-tested in
// Tests/OSHTests/ExecDriverTests.swift.
//
// It waits for the shell's prompt (the serial line's unfinished last line, as a terminal shows it, ends
// with `prompt`), types the next command and Enter; after the last command it types
// `echo OSH_EXIT_STATUS=$?` on the same line (`CMD; echo …`), so the shell prints the status, which ends
// the run. A prompt that a kernel log line pushed onto a finished line (`/ $ ` then the log's line) still
// counts as the prompt. A line that is exactly sh's continuation prompt (`> `, a script's `if` line
// before its `fi`) takes the next line too. Every complete line the guest prints after the first command was typed is output, but the
// echo of a typed command and the status line; escape sequences and carriage returns are dropped.

import Foundation

public struct ExecDriver: Sendable {
    public enum Action: Equatable, Sendable {
        /// Bytes to type into the serial line.
        case send([UInt8])
        /// One line of output (without its newline).
        case output(String)
        /// The last command ended with this status.
        case finished(Int32)
    }

    public static let marker = "OSH_EXIT_STATUS="
    /// The shell's prompt for the rest of a command (`if …` typed without its `fi`): a line of its own.
    public static let continuationPrompt = "> "

    let commands: [String]
    let prompt: String
    var next = 0
    /// The unfinished line so far, as received.
    var partial: [UInt8] = []
    /// Lines that are echoes of what was typed (skipped once each).
    var typed: [String] = []
    var started = false
    /// A line that ended with the prompt went by since the last command was typed.
    var promptShown = false
    public private(set) var done = false

    /// `commands`: one line each (a script's lines); `prompt`: how the shell's prompt ends.
    public init(commands: [String], prompt: String = "$ ") {
        self.commands = commands.isEmpty ? [":"] : commands
        self.prompt = prompt
    }

    /// The text a terminal would show for a line: after its last carriage return, escape sequences and
    /// other control bytes gone.
    static func visible(_ line: [UInt8]) -> String {
        // A carriage return right before the newline ends the line; it does not blank it.
        let bytes = line.last == 13 ? Array(line.dropLast()) : line
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 13 { out = []; i += 1; continue }
            if b == 27 {
                i += 1
                if i < bytes.count, bytes[i] == 0x5b {
                    i += 1
                    while i < bytes.count, !(0x40...0x7e).contains(bytes[i]) { i += 1 }
                }
                i += 1
                continue
            }
            if b == 8 { if !out.isEmpty { out.removeLast() }; i += 1; continue }
            if b >= 32 || b == 9 { out.append(b) }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The line a cooked terminal shows for typed text (backspace and Ctrl-U applied).
    static func echoed(_ line: String) -> String {
        var out: [UInt8] = []
        for b in line.utf8 {
            switch b {
            case 0x7f, 8: if !out.isEmpty { out.removeLast() }
            case 0x15: out = []
            case 32...: out.append(b)
            default: break
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A script's commands: its lines, without empty lines and `#` comments.
    public static func scriptLines(_ text: String) -> [String] {
        text.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    public mutating func feed(_ bytes: [UInt8]) -> [Action] {
        var actions: [Action] = []
        guard !done else { return actions }
        for b in bytes {
            guard b == 10 else { partial.append(b); continue }
            let line = ExecDriver.visible(partial)
            partial = []
            // A prompt a kernel log line pushed down (the log line starts on a line of its own): the
            // shell still waits for a command.
            if line.hasSuffix(prompt) || (started && line == ExecDriver.continuationPrompt) {
                promptShown = true
                continue
            }
            guard started else { continue }
            if let i = typed.firstIndex(where: { line.hasSuffix($0) }) {
                typed.remove(at: i)
                continue
            }
            if line.hasPrefix(ExecDriver.marker) {
                done = true
                actions.append(.finished(Int32(line.dropFirst(ExecDriver.marker.count).prefix { $0.isNumber }) ?? 255))
                return actions
            }
            actions.append(.output(line))
        }
        let shown = ExecDriver.visible(partial)
        if next < commands.count, promptShown || shown.hasSuffix(prompt) || (started && shown == ExecDriver.continuationPrompt) {
            promptShown = false
            var line = commands[next]
            next += 1
            if next == commands.count { line += "; echo \(ExecDriver.marker)$?" }
            typed.append(ExecDriver.echoed(line))
            started = true
            partial = []
            actions.append(.send(Array(line.utf8) + [13]))
        }
        return actions
    }
}
