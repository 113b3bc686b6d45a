import Foundation
import Testing

/// `ps` shows the whole system: root adopts itself, the boot servers and init into pm (read and wait
/// rights only), with the badges of their Senders to pm, so init's children and sh's are listed under
/// them. pm cannot end what root adopted. A restarted boot server is adopted again.
@Suite(.serialized) struct ProcessListTests {
    struct Row {
        let pid: Int, ppid: Int, state: String, threads: Int, name: String
    }

    /// ps's lines (`  PID  PPID S THR    MEM NAME`) in `text`.
    static func rows(_ text: String) -> [Row] {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 6, let pid = Int(f[0]), let ppid = Int(f[1]), let threads = Int(f[3]) else { return nil }
            return Row(pid: pid, ppid: ppid, state: String(f[2]), threads: threads, name: String(f[5]))
        }
    }

    @Test func psListsRootTheBootServersInitAndTheShell() throws {
        let r = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "600",
                                        "--exec", "ps; kill 1; echo kill-status $?"])
        let rows = Self.rows(r.stdout)
        func one(_ name: String) -> Row? {
            let found = rows.filter { $0.name == name }
            #expect(found.count == 1, "one \(name) expected: \(r.stdout)")
            return found.first
        }
        let root = try #require(one("root"), "\(r.stdout) \(r.stderr)")
        #expect(root.ppid == 0 && root.pid == 1, "root is adopted first, with no parent: \(r.stdout)")
        for server in ["initfsd", "vfs", "pm", "console", "kbd", "timed"] {
            let s = try #require(one(server), "\(server): \(r.stdout)")
            #expect(s.ppid == root.pid && s.state == "R" && s.threads >= 1, "\(server) is root's, running: \(r.stdout)")
        }
        let initRow = try #require(one("init"))
        #expect(initRow.ppid == root.pid, "\(r.stdout)")
        let sh = try #require(one("sh"))
        #expect(sh.ppid == initRow.pid, "sh is init's child: \(r.stdout)")
        let ps = try #require(one("ps"))
        #expect(ps.ppid == sh.pid, "ps is the shell's child: \(r.stdout)")
        // pm holds root's adopted handles without the manage right: it cannot end root.
        #expect(r.stdout.contains("operation not permitted"), "\(r.stdout)")
        #expect(r.stdout.contains("kill-status 1"), "\(r.stdout)")
    }

    /// `killtest=timed`: root ends timed 25 s after init started and starts it again; pm lists the new
    /// instance once (the old one, with no thread left, is forgotten).
    @Test func aRestartedServerIsAdoptedAgain() throws {
        let r = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "600", "--cmdline", "killtest=timed",
                                        "--exec", "sleep 32; ps; dmesg | grep -c 'killtest: ending sbin/timed'"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let rows = Self.rows(r.stdout)
        let timed = rows.filter { $0.name == "timed" }
        #expect(timed.count == 1, "one timed: \(r.stdout)")
        let root = try #require(rows.first { $0.name == "root" }, "\(r.stdout)")
        let initRow = try #require(rows.first { $0.name == "init" }, "\(r.stdout)")
        if let t = timed.first {
            #expect(t.ppid == root.pid && t.pid > initRow.pid, "the restarted timed, adopted after init: \(r.stdout)")
        }
        // The kernel log (dmesg) has root's line: the kill happened before ps ran.
        #expect(r.stdout.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last == "1", "\(r.stdout)")
    }
}
