import Foundation
import Testing

/// The core utilities in the guest: under `utilstest` init runs bin/utilstest, which starts bin/coreutils
/// under each utility's name with its descriptors on files of its own file server and checks what each
/// wrote and its exit status (Sources/Servers/utilstest).
@Suite(.serialized) struct UtilitiesTests {
    @Test func coreUtilitiesPassTheirGuestTests() throws {
        let b = try BootTests.boot(["--cmdline", "utilstest"])
        let failures = b.serial.split(separator: "\n").filter { $0.contains("utilstest: FAIL") }.joined(separator: "\n")
        #expect(b.result.status == 0, "utilstest run: \(b.result.stderr)\n\(failures)")
        let summary = try #require(b.serial.firstMatch(of: /utilstest: (\d+) passed, (\d+) failed/), "no summary in serial.log")
        #expect(summary.2 == "0", "failures:\n\(failures)")
        #expect(Int(summary.1) ?? 0 >= 60, "only \(summary.1) checks ran")
    }
}
