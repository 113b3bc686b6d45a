// The kernel command-line words for `osh boot --help`, printed from the one list the kernel parses
// (KernelWord in Sources/ABI), so the help cannot drift from the kernel.

import ABI

/// "Kernel command-line words (--cmdline): …", one word a line with its meaning.
let kernelWordsHelp: String = {
    func text(_ s: StaticString) -> String { s.description }
    let entries = KernelWord.allCases.map { word -> (String, String) in
        (text(word.name) + (word.value.map { "=" + text($0) } ?? ""), text(word.help))
    }
    let width = entries.map(\.0.count).max() ?? 0
    let lines = entries.map { "  " + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
    return "Kernel command-line words (--cmdline; the kernel warns about any other word):\n" + lines.joined(separator: "\n")
}()
