import Testing
@testable import ABI

@Suite struct DebugExitTests {
    @Test func qemuStatusRoundTrips() {
        for status in GuestStatus.allCases {
            #expect(GuestStatus.fromQEMUExitStatus(status.qemuExitStatus) == status.rawValue)
        }
        #expect(GuestStatus.success.qemuExitStatus == 1)
        #expect(GuestStatus.testsFailed.qemuExitStatus == 3)
    }

    @Test func evenOrZeroStatusIsNotFromTheGuest() {
        #expect(GuestStatus.fromQEMUExitStatus(0) == nil)
        #expect(GuestStatus.fromQEMUExitStatus(2) == nil)
        #expect(GuestStatus.fromQEMUExitStatus(-1) == nil)
    }

    @Test func logLevelsParse() {
        #expect(LogLevel(utf8: Array("debug".utf8)) == .debug)
        #expect(LogLevel(utf8: Array("error".utf8)) == .error)
        #expect(LogLevel(utf8: Array("loud".utf8)) == nil)
        #expect(LogLevel(utf8: Array("".utf8)) == nil)
    }
}
