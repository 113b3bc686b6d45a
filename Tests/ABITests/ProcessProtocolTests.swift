// The process protocol's byte layouts: spawn's name table and argument escaping.

import Testing
@testable import ABI

@Suite("process protocol: spawn names and arguments")
struct ProcessProtocolTests {
    @Test("name tables round-trip; bad ones are refused")
    func names() {
        let entries: [(name: [UInt8], value: UInt64)] = [(Array("fd:0".utf8), 7), ([], 0), (Array("grant:x".utf8), UInt64.max)]
        let bytes = SpawnNames.encode(entries)
        #expect(bytes.count == (4 + 1 + 8) + (0 + 1 + 8) + (7 + 1 + 8))
        let back = SpawnNames.decode(bytes[...])
        #expect(back?.map { $0.name } == entries.map { $0.name })
        #expect(back?.map { $0.value } == entries.map { $0.value })
        #expect(SpawnNames.decode([][...])?.isEmpty == true)
        for cut in 1..<bytes.count where cut != 13 && cut != 22 {
            #expect(SpawnNames.decode(bytes[0..<cut]) == nil, "cut at \(cut)")
        }
        #expect(SpawnNames.decode(Array(repeating: 65, count: 80)[...]) == nil)
    }

    @Test("arguments survive the command line")
    func arguments() {
        for a in ["plain", "a b", "", "100%", "tab\there", "line\nbreak", "handle=3", "handles", "%-", "x%20y"] {
            let word = SpawnArguments.escape(a)
            #expect(!word.isEmpty && !word.contains(" ") && !word.hasPrefix("handle="), "\(a) → \(word)")
            #expect(SpawnArguments.unescape(Substring(word)) == a, "\(a) → \(word)")
        }
        #expect(SpawnArguments.escape("plain") == "plain")
        #expect(SpawnArguments.unescape("50%") == "50%")
        #expect(SpawnArguments.unescape("%4") == "%4")
        #expect(ProcessBadge.caller(ProcessBadge.child(42)) == 42)
        #expect(ProcessBadge.caller(0) == 0 && ProcessBadge.caller(5) == 0 && ProcessBadge.caller(1 << 32 | 7) == 0)
    }
}
