import CReadline
import Foundation

/// readline glue: prompt, history file, completion (the shell's `completions(line:word:)`: command
/// names, run ids after `use`, `osh boot` options after `boot -`; file names elsewhere, readline's
/// default).
enum ShellLineEditor {
    nonisolated(unsafe) private static var matches: [String] = []
    nonisolated(unsafe) private static var matchIndex = 0
    /// The candidates for the word being completed, set by `completer` before readline asks `generator`.
    nonisolated(unsafe) private static var candidates: [String] = []
    /// The shell whose completions are offered.
    nonisolated(unsafe) static var shell: Shell?

    private static let generator: @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafeMutablePointer<CChar>? = { text, state in
        if state == 0 {
            let prefix = text.map { String(cString: $0) } ?? ""
            matches = candidates.filter { $0.hasPrefix(prefix) }.sorted()
            matchIndex = 0
        }
        guard matchIndex < matches.count else { return nil }
        defer { matchIndex += 1 }
        return strdup(matches[matchIndex])  // readline frees it
    }

    private static let completer: @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = { text, start, _ in
        let before = osh_rl_line_buffer().map { String(decoding: Array(String(cString: $0).utf8.prefix(Int(start))), as: UTF8.self) } ?? ""
        guard let list = shell?.completions(before: before) ?? (start == 0 ? Shell.completionNames : nil) else {
            return nil  // readline's file name completion
        }
        candidates = list
        osh_rl_set_attempted_completion_over(1)
        return rl_completion_matches(text, generator)
    }

    /// Runs until EOF (Ctrl-D) or `handle` returns false.
    static func run(prompt: String, historyPath: String, handle: (String) -> Bool) {
        // Ctrl-C at the prompt does not kill the shell (readline redraws the line; Ctrl-D or quit leave).
        let oldInt = signal(SIGINT, { _ in })
        defer { signal(SIGINT, oldInt) }
        osh_rl_set_name("osh")
        osh_rl_set_completion(completer)
        using_history()
        stifle_history(1000)
        _ = read_history(historyPath)
        defer { _ = write_history(historyPath) }
        var previous: String?
        while let cline = readline(prompt) {
            let line = String(cString: cline)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty && line != previous {  // no immediate repeats in the history
                add_history(cline)
                _ = write_history(historyPath)
                previous = line
            }
            free(cline)
            if !handle(line) { return }
        }
        print("")
    }
}
