import ABI
import Testing
@testable import OSH

@Suite("osh boot: exit status mapping")
struct BootStatusTests {
    @Test func guestStatusesPassThrough() {
        for guest in GuestStatus.allCases {
            let v = BootStatusMapping.verdict(for: .qemuExited(status: guest.qemuExitStatus, errorLine: nil))
            #expect(v.exitCode == Int32(guest.rawValue))
            #expect(v.guestStatus == guest.rawValue)
            #expect(v.reason == "guest-exit")
            #expect(!v.isError)
        }
        #expect(BootStatusMapping.verdict(for: .qemuExited(status: (42 << 1) | 1, errorLine: nil)).exitCode == 42)
    }

    @Test func qemuStartupErrorIs125WithItsLine() {
        let line = "qemu-system-x86_64: -foo: invalid option"
        let v = BootStatusMapping.verdict(for: .qemuExited(status: 1, errorLine: line))
        #expect(v.exitCode == 125)
        #expect(v.isError)
        #expect(v.message.contains(line))
    }

    @Test func qemuExitWithoutGuestStatusIs125() {
        #expect(BootStatusMapping.verdict(for: .qemuExited(status: 0, errorLine: nil)).exitCode == 125)
        #expect(BootStatusMapping.verdict(for: .qemuExited(status: 0, errorLine: nil)).reason == "qemu-exit")
        #expect(BootStatusMapping.verdict(for: .qemuSignaled(signal: 6)).exitCode == 125)
        #expect(BootStatusMapping.verdict(for: .spawnFailed(message: "cannot start")).exitCode == 125)
    }

    @Test func timeoutQuitAndSignals() {
        let t = BootStatusMapping.verdict(for: .timedOut(seconds: 300))
        #expect(t.exitCode == 124)
        #expect(t.message.contains("300 s"))
        #expect(BootStatusMapping.verdict(for: .userQuit).exitCode == 0)
        #expect(BootStatusMapping.verdict(for: .interrupted(signal: 2)).exitCode == 130)
        #expect(BootStatusMapping.verdict(for: .interrupted(signal: 15)).exitCode == 143)
    }

    @Test func qemuErrorLineSkipsWarnings() {
        let log = """
            qemu-system-x86_64: warning: host doesn't support requested feature
            qemu-system-x86_64: -m 1X: Parameter 'size' expects a non-negative number
            """
        #expect(BootStatusMapping.qemuErrorLine(stderr: log) == "qemu-system-x86_64: -m 1X: Parameter 'size' expects a non-negative number")
        #expect(BootStatusMapping.qemuErrorLine(stderr: "qemu-system-x86_64: warning: x\n\n") == nil)
        #expect(BootStatusMapping.qemuErrorLine(stderr: "") == nil)
    }
}
