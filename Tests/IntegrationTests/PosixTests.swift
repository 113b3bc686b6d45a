import Foundation
import Testing

/// The POSIX layer, pm's pipes and sh in the guest: under `posixtest` init starts bin/posixtest through pm
/// (pm is a boot server), which calls each POSIX function, runs posixchild and sh scripts with their
/// output read back through pipes, and ends the run with its verdict.
@Suite(.serialized) struct PosixTests {
    static let names = ["posix.open_read_lseek_stat", "posix.file_errors", "posix.directories", "posix.paths_and_cwd",
                        "posix.dup_dup2", "posix.pipe", "posix.pipe_blocks_and_ends", "posix.spawn_waitpid",
                        "posix.arguments_environment", "posix.file_actions", "posix.getpid_kill", "posix.clock_nanosleep",
                        "posix.getenv_setenv", "sh.echo_quoting_variables", "sh.status_and_or", "sh.pipelines",
                        "sh.redirections", "sh.builtins", "sh.not_found_and_errors", "sh.script_file"]

    @Test func posixLayerPipesAndShellPassTheirGuestTest() throws {
        let b = try BootTests.boot(["--cmdline", "posixtest"])
        #expect(b.result.status == 0, "posixtest run: \(b.result.stderr)")
        let summary = try #require(b.serial.firstMatch(of: /posixtest: (\d+) passed, (\d+) failed, (\d+) skipped/),
                                   "no summary in serial.log: \(b.serial.suffix(3000))")
        #expect(summary.2 == "0", "failures:\n\(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "\n"))")
        for name in Self.names { #expect(b.serial.contains("ok   \(name)"), "\(name) did not pass") }
        // pm is a boot server and init started posixtest through it.
        #expect(b.serial.contains("root: started sbin/pm (pm: imports vfs,initfs,time,services?; exports pm)"))
        #expect(b.serial.contains("init: started posixtest (initfs:///bin/posixtest)"))
        #expect(b.serial.contains("init: no shell (`posixtest` on the command line)"))
        // The faulting child's report still prints; its parent saw SIGSEGV (posix.spawn_waitpid).
        #expect(b.serial.contains(/USER FAULT: process \d+ "posixchild"/))
    }
}
