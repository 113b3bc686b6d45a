import Foundation
import Testing
import Symbolizer

/// The shell driving a real VM: `boot` in the background, then `x`, `bt`, `qmp`, `hmp`, `info` and a
/// `reset` after which the session (and the VM, despite -no-reboot) goes on, in one scripted session
/// (`osh shell --batch`, as a user's script would drive it).
@Suite(.serialized) struct ShellVMTests {
    @Test func bootInspectAndResetFromTheShell() throws {
        let kernelID = try #require(try ELFSymbolizer.readBuildID(Repo.kernel.path))
        let script = """
            boot --accel tcg
            wait "/ $ " 120
            status
            x 0xffffffff80100000 2
            x -p 0x100000 2
            bt
            qmp query-status
            hmp info cpus
            info
            reset
            status
            wait "/ $ " 120
            use
            x -p 0x100000 1
            quit

            """
        let result = try run(Repo.osh.path, ["shell", "--batch"], stdin: Data(script.utf8), cwd: Repo.root)
        let out = result.stdout + result.stderr
        #expect(result.status == 0, "\(out)")
        let lines = out.split(separator: "\n").map(String.init)
        let booted = try #require(lines.first { $0.hasPrefix("booted run ") }, "\(out)")
        #expect(booted.contains("in the background"))
        // x: the kernel image, through the page tables and physically at 1 MiB, is the same memory.
        let virtual = try #require(lines.first { $0.hasPrefix("0xffffffff80100000: ") }, "\(out)")
        let physical = try #require(lines.first { $0.hasPrefix("0x0000000000100000: ") }, "\(out)")
        #expect(virtual.dropFirst(20) == physical.dropFirst(20))
        #expect(virtual.split(separator: " ").count == 3)
        // bt: the idle kernel's frames, symbolized with the run's kernel ELF, ending at a finite depth.
        let frames = lines.filter { $0.hasPrefix("#") }
        #expect(frames.count >= 2 && frames.count <= 64, "\(out)")
        #expect(frames.first?.hasPrefix("#0") == true && frames.first?.contains(" 0xffffffff8") == true, "\(frames)")  // #0 or #0.1 (inlined)
        #expect(frames.contains { $0.hasPrefix("#1 0xffffffff8") }, "\(frames)")
        #expect(frames.contains { $0.contains("Sources/Kernel/") && $0.contains(" in ") }, "\(frames)")
        #expect(!frames.contains { $0.contains("(raw") }, "\(frames)")
        // qmp / hmp pass-through.
        #expect(lines.contains { $0.hasPrefix("{") && $0.contains("\"status\":\"running\"") }, "\(out)")
        #expect(lines.contains { $0.contains("CPU #0") }, "\(out)")
        // info.
        #expect(lines.contains { $0.hasPrefix("accel    tcg") }, "\(out)")
        #expect(lines.contains { $0.contains("kernel") && $0.contains("build ID \(kernelID)") }, "\(out)")
        #expect(lines.contains { $0.contains("root") && $0.contains("build ID ") && $0.hasSuffix("root.elf") }, "\(out)")
        // reset: the VM is still there and boots again (its banner twice in serial.log).
        #expect(lines.contains("reset (the kernel booted again; -no-reboot is back in force)"), "\(out)")
        #expect(lines.filter { $0 == "VM running (running)" }.count == 2, "\(out)")
        #expect(lines.filter { $0 == "seen: / $ " }.count == 2, "\(out)")
        let use = try #require(lines.first { $0.hasPrefix("using ") }, "\(out)")
        let runDir = String(use.split(separator: ": ", maxSplits: 1).last ?? "")
        let serial = try String(contentsOfFile: runDir + "/serial.log", encoding: .utf8)
        #expect(serial.components(separatedBy: "Swift microkernel for x86_64, build ").count == 3, "two boots in \(runDir)")
        #expect(lines.contains("stopped the VM of this shell's `boot`"), "\(out)")
        #expect(!out.contains("osh: error:"), "\(out)")
    }

    /// `console` on a terminal (a pty from script(1)): attached, keys to the VM, Ctrl-A x detaches and the
    /// prompt reads what follows.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func consoleAttachesAndDetaches() throws {
        let history = FileManager.default.temporaryDirectory.appendingPathComponent("osh-history-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: history) }
        let keys = "boot --accel tcg\nconsole\nabc\u{01}xstatus\nquit\n"
        let result = try run("/usr/bin/env", ["OSH_HISTORY=" + history.path, "/usr/bin/script", "-qfec", Repo.osh.path, "/dev/null"],
                             stdin: Data(keys.utf8), cwd: Repo.root)
        let out = result.stdout.replacingOccurrences(of: "\r", with: "")
        #expect(result.status == 0, "\(out)")
        let attached = try #require(out.range(of: "console attached (Ctrl-A x detaches; the VM goes on)"), "\(out)")
        let detached = try #require(out.range(of: "console detached"), "\(out)")
        #expect(attached.upperBound <= detached.lowerBound)
        #expect(out[detached.upperBound...].contains("VM running (running)"), "status after the console: \(out)")
        #expect(out.contains("stopped the VM of this shell's `boot`"), "\(out)")
    }

    /// Inside tmux, `boot` puts the VM's console in a new pane and `console` selects it.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux")))
    func bootInATmuxPane() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-tmux-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("in"), out = dir.appendingPathComponent("out")
        try "boot --accel tcg\nwait \"services running; idle\" 120\nconsole\nstatus\nquit\n".write(to: script, atomically: true, encoding: .utf8)
        let server = "osh-test-\(getpid())"
        let command = "'\(Repo.osh.path)' shell --batch < '\(script.path)' > '\(out.path)' 2>&1; tmux -L \(server) wait-for -S done"
        try run("/usr/bin/tmux", ["-L", server, "new-session", "-d", "-x", "200", "-y", "50", "-c", Repo.root.path, command])
        defer { _ = try? run("/usr/bin/tmux", ["-L", server, "kill-server"]) }
        try run("/usr/bin/tmux", ["-L", server, "wait-for", "done"])
        let text = try String(contentsOf: out, encoding: .utf8)
        let pane = try #require(text.firstMatch(of: /in the background \(console in tmux pane (%[0-9]+)\)/), "\(text)")
        #expect(text.contains("console: tmux pane \(pane.1)"), "\(text)")
        #expect(text.contains("VM running (running)"), "\(text)")
        #expect(text.contains("stopped the VM of this shell's `boot`"), "\(text)")
    }

    @Test func errorsStartTheSameWay() throws {
        let shell = try run(Repo.osh.path, ["shell", "--batch", "--run", "/nonexistent-run"],
                            stdin: Data("status\nfrobnicate\nx\n".utf8), cwd: Repo.root)
        #expect(shell.status == 1)
        let lines = (shell.stdout + shell.stderr).split(separator: "\n")
        #expect(lines.count == 3 && lines.allSatisfy { $0.hasPrefix("osh: error: ") }, "\(lines)")
        for args in [["boot", "--frobnicate"], ["trace", "/nonexistent.log"], ["attach", "--run", "/nonexistent-run"],
                     ["syscalls", "--run", "/nonexistent-run"], ["symbolize", "--elf", "/nonexistent.elf", "0x1"], ["nope"]] {
            let r = try run(Repo.osh.path, args)
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.hasPrefix("osh: error: "), "\(args): \(r.stderr)")
        }
        let version = try run(Repo.osh.path, ["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("osh ") && version.stdout.split(separator: "\n").count == 1)
        let help = try run(Repo.osh.path, ["--help"])
        #expect(help.stdout.contains("`osh` alone (no subcommand) opens the interactive shell"))
        let boot = try run(Repo.osh.path, ["boot", "--help"])
        for word in ["test", "usertest", "bench", "panic_test", "fault_test", "syscalls", "panic=halt", "log=LEVEL"] {
            #expect(boot.stdout.contains("\n  \(word) "), "\(word) missing from osh boot --help")
        }
    }
}
