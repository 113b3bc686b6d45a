// Watching a running VM for every way it can stop, so `osh boot` ends at once in front of a dead VM.
//
// osh keeps its own QMP connection (RUN/osh-qmp.sock, a second `-qmp` monitor: qmp.sock stays free for
// `osh syscalls`, the shell and users). QEMU runs with `-action shutdown=pause` next to `-no-reboot`,
// so a triple fault (a reset turned into a shutdown) pauses the VM instead of ending QEMU, and the
// registers can still be read. The loop in BootSession polls the watcher's descriptor; each STOP or
// SHUTDOWN event is classified by `VMStopClassifier` (pure, unit-tested). qemu.log is also scanned for
// "KVM internal error" in case the event is missed.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a VM stopped for good while QEMU still runs.
public enum VMStopCause: Equatable, Sendable {
    /// QEMU's run state `internal-error` (e.g. "KVM internal error ... emulation failure"); the detail
    /// is QEMU's line from qemu.log when there is one.
    case internalError(detail: String?)
    /// The run state `guest-panicked` (a pvpanic device or a hypervisor-reported crash).
    case guestPanicked
    /// A reset under `-no-reboot`: a triple fault, or the guest asking for a reset.
    case guestReset
    /// The guest powered the machine off (ACPI) without a debug-exit status.
    case guestPoweredOff

    /// One phrase for the user.
    public var description: String {
        switch self {
        case .internalError(let detail):
            "the VM stopped with an internal error" + (detail.map { " (\($0))" } ?? " (QMP query-status: internal-error)")
        case .guestPanicked: "the guest panicked (QMP query-status: guest-panicked)"
        case .guestReset: "the guest reset or triple-faulted (-no-reboot)"
        case .guestPoweredOff: "the guest powered off without a guest status"
        }
    }

    /// The manifest's reason word.
    public var reason: String {
        switch self {
        case .internalError: "internal-error"
        case .guestPanicked: "guest-panicked"
        case .guestReset: "guest-reset"
        case .guestPoweredOff: "guest-poweroff"
        }
    }
}

/// Pure decisions of the watcher.
public enum VMStopClassifier {
    /// The cause behind a QMP `query-status` status word, nil for states that are not an end
    /// (running, paused by a user or debugger, prelaunch...).
    public static func cause(status: String, shutdownReason: String?) -> VMStopCause? {
        switch status {
        case "internal-error": return .internalError(detail: nil)
        case "guest-panicked": return .guestPanicked
        case "shutdown": return cause(shutdownReason: shutdownReason ?? "guest-reset")
        default: return nil
        }
    }

    /// The cause behind a SHUTDOWN event's reason (guest-initiated ones only: a host quit is osh's own).
    public static func cause(shutdownReason: String) -> VMStopCause? {
        switch shutdownReason {
        case "guest-reset": return .guestReset
        case "guest-shutdown": return .guestPoweredOff
        case "guest-panic": return .guestPanicked
        default: return nil
        }
    }

    /// The line of QEMU's stderr that reports a KVM internal error, if any.
    public static func kvmInternalError(in log: String) -> String? {
        for line in log.split(whereSeparator: \.isNewline) where line.contains("KVM internal error") {
            return line.trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// The registers that matter most, on one line, from HMP `info registers` (e.g. "RIP=… RSP=…").
    public static func summary(registers text: String) -> String {
        var found: [String: String] = [:]
        // 64-bit names first; a CPU still in 32-bit mode (firmware, boot code) shows EIP/ESP instead.
        let wanted = ["RIP", "EIP", "RSP", "ESP", "RBP", "RAX", "CR0", "CR2", "CR3"]
        for token in text.split(whereSeparator: { $0 == " " || $0.isNewline }) {
            guard let eq = token.firstIndex(of: "=") else { continue }
            let key = String(token[..<eq])
            if wanted.contains(key), found[key] == nil { found[key] = String(token[token.index(after: eq)...]) }
        }
        // HMP prints "RSP=..." but CPL is "CPL=3" inside the segment line; keep what is there.
        if let cpl = text.range(of: "CPL=") {
            found["CPL"] = String(text[cpl.upperBound...].prefix { $0.isNumber })
        }
        return (wanted + ["CPL"]).compactMap { k in found[k].map { "\(k)=\($0)" } }.joined(separator: " ")
    }
}

/// osh's own QMP connection to one VM.
final class VMWatcher {
    let socketPath: String
    let qemuLogPath: String
    private(set) var client: QMPClient?
    private var shutdownReason: String?
    /// Where this session's part of qemu.log starts, and its size at the last look.
    private var logScanned = 0
    private var logSeen = -1
    /// Set after a host reset until the guest prints again (see restartAfterHostReset).
    private var rebootRestorePending = false
    /// Set on connecting: the VM may have stopped before, when no event could reach osh.
    private var needsStatus = false

    init(socketPath: String, qemuLogPath: String, logOffset: Int) {
        self.socketPath = socketPath
        self.qemuLogPath = qemuLogPath
        self.logScanned = logOffset
    }

    /// The descriptor to poll, -1 while not connected.
    var fileDescriptor: Int32 { client?.socket.fileDescriptor ?? -1 }

    /// Connects when the socket is there (QEMU creates it early); quietly retried by the caller.
    func connectIfReady() {
        guard client == nil, access(socketPath, F_OK) == 0 else { return }
        client = try? QMPClient(path: socketPath, timeout: 2)
        needsStatus = client != nil
    }

    /// Reads pending events; returns a cause when the VM stopped for good.
    func check() -> VMStopCause? {
        if let cause = scanLog() { return cause }
        guard let client else { return nil }
        guard let events = try? client.readPendingEvents() else {
            self.client = nil  // QEMU is going away: the loop reaps it
            return nil
        }
        var sawStop = needsStatus
        needsStatus = false
        for e in events {
            switch e["event"]?.string {
            case "SHUTDOWN": shutdownReason = e["data"]?["reason"]?.string
            case "STOP", "GUEST_PANICKED": sawStop = true
            default: break
            }
        }
        if shutdownReason == "host-qmp-system-reset" {
            restartAfterHostReset(client)
            return nil
        }
        if let reason = shutdownReason, let cause = VMStopClassifier.cause(shutdownReason: reason) { return cause }
        guard sawStop, let status = try? client.queryStatus() else { return nil }
        let cause = VMStopClassifier.cause(status: status.status, shutdownReason: shutdownReason)
        if case .internalError = cause { return .internalError(detail: internalErrorLine()) }
        return cause
    }

    /// A reset asked for through QMP (the shell's `reset`) is turned into a shutdown by -no-reboot and
    /// paused by shutdown=pause: really reset the VM and let it run. Guest resets stay allowed until
    /// the guest prints again (the firmware resets once more on a reboot), then -no-reboot is back.
    private func restartAfterHostReset(_ client: QMPClient) {
        shutdownReason = nil
        _ = try? client.execute("set-action", ["reboot": "reset"])
        _ = try? client.execute("system_reset")
        _ = try? client.execute("cont")
        rebootRestorePending = true
    }

    /// Called when the guest printed: a restart after a host reset is complete.
    func guestPrinted() {
        guard rebootRestorePending, let client else { return }
        rebootRestorePending = false
        _ = try? client.execute("set-action", ["reboot": "shutdown"])
    }

    /// QEMU's "KVM internal error" line of this session, read afresh.
    private func internalErrorLine() -> String? {
        guard let data = FileManager.default.contents(atPath: qemuLogPath) else { return nil }
        return VMStopClassifier.kvmInternalError(in: String(decoding: data.dropFirst(logScanned), as: UTF8.self))
    }

    /// A KVM internal error reported on QEMU's stderr (QEMU then waits paused).
    private func scanLog() -> VMStopCause? {
        guard let text = scanLogText(), let line = VMStopClassifier.kvmInternalError(in: text) else { return nil }
        return .internalError(detail: line)
    }

    /// This session's part of qemu.log when it grew since the last look (nil otherwise).
    private func scanLogText() -> String? {
        var st = stat()
        guard stat(qemuLogPath, &st) == 0, Int(st.st_size) > logScanned, Int(st.st_size) != logSeen else { return nil }
        logSeen = Int(st.st_size)
        guard let data = FileManager.default.contents(atPath: qemuLogPath) else { return nil }
        return String(decoding: data.dropFirst(logScanned), as: UTF8.self)
    }

    /// HMP `info registers` of CPU 0 (the full text), nil when QMP does not answer.
    func registers() -> String? {
        try? client?.humanMonitorCommand("info registers", cpu: 0)
    }

    func close() {
        client?.close()
        client = nil
    }
}
