// posixtest: the guest test of the Runtime's POSIX layer, pm's pipes and sh. init starts it through pm
// under `posixtest` (init.conf), so it is a pm child with `import:pm`, `import:initfs` (and `import:vfs`
// when vfs runs). Each test prints `ok   NAME` or `FAIL NAME: reason` (its first failed check), then
// `posixtest: N passed, N failed, N skipped`; the exit code is 0 when none failed. Programs it starts:
// initfs:///bin/posixchild (Sources/Servers/posixchild) and initfs:///bin/sh; their output comes back
// through pipes.

let programName: StaticString = "posixtest"

enum Suite {
    static var passed = 0, failed = 0, skipped = 0
    static var failure: String? = nil
    static var skip: String? = nil
}

func check(_ condition: Bool, _ reason: @autoclosure () -> String) {
    if !condition && Suite.failure == nil { Suite.failure = reason() }
}

/// Checks that a call returned -1 with `expected` in errno.
func checkErrno(_ result: Int, _ expected: Int32, _ what: String) {
    check(result == -1 && errno == expected, "\(what): \(result), errno \(errno) (\(strerror(errno))), expected \(expected)")
}

func run(_ name: String, _ body: () -> Void) {
    Suite.failure = nil
    Suite.skip = nil
    body()
    if let reason = Suite.failure {
        Suite.failed += 1
        print("FAIL \(name): \(reason)")
    } else if let why = Suite.skip {
        Suite.skipped += 1
        print("skip \(name): \(why)")
    } else {
        Suite.passed += 1
        print("ok   \(name)")
    }
}

let child = "initfs:///bin/posixchild"
let conf = "initfs:///etc/init.conf"

func programMain(_ startup: Startup) -> Int32 {
    for (name, body) in fileTests + processTests + shellTests + shellLanguageTests { run(name, body) }
    print("posixtest: \(Suite.passed) passed, \(Suite.failed) failed, \(Suite.skipped) skipped")
    return Suite.failed == 0 ? 0 : 1
}

/// Everything readable from `fd` until its end.
func readAll(_ fd: Int32) -> [UInt8]? {
    var out: [UInt8] = []
    while true {
        guard let chunk = read(fd, count: IPCBuffer.maxBytes) else { return nil }
        if chunk.isEmpty { return out }
        out += chunk
    }
}

func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "<read failed>" }

/// Runs `argv` (its path looked up in PATH) with descriptors 1 and 2 on pipes (and `actions` after);
/// its output, error output and wait status as the shell reports it.
func capture(_ argv: [String], actions: PosixSpawnFileActions = PosixSpawnFileActions(), env: [String]? = nil)
    -> (out: String, err: String, status: Int32) {
    var out: (Int32, Int32) = (-1, -1), err: (Int32, Int32) = (-1, -1)
    guard pipe(&out) == 0, pipe(&err) == 0 else { return ("", "pipe: \(strerror(errno))", -1) }
    var all = PosixSpawnFileActions()
    // The child gets this process's descriptors 0-2 unless the actions say otherwise (no O_CLOEXEC):
    // without descriptors of its own this process's pipes take numbers 0-3, so the read ends are
    // closed in the child first (else it would hold its own pipe's read end and never see EPIPE).
    all.addClose(out.0)
    all.addClose(err.0)
    all.addDup2(out.1, 1)
    all.addDup2(err.1, 2)
    all.actions += actions.actions
    var pid: Int32 = 0
    let e = posix_spawnp(&pid, argv[0], all, argv, env)
    _ = close(out.1)
    _ = close(err.1)
    defer { _ = close(out.0); _ = close(err.0) }
    guard e == 0 else { return ("", "spawn: \(strerror(e))", -1) }
    let o = text(readAll(out.0)), r = text(readAll(err.0))
    var status: Int32 = 0
    guard waitpid(pid, &status) == pid else { return (o, r + "waitpid: \(strerror(errno))", -1) }
    return (o, r, exitStatus(status))
}

/// sh -c `command`: its output, error output and status.
func sh(_ command: String, env: [String]? = nil) -> (out: String, err: String, status: Int32) {
    capture(["initfs:///bin/sh", "-c", command], env: env)
}

/// Whether `s` holds `part` (bytes; no Foundation here).
func has(_ s: String, _ part: String) -> Bool {
    let a = Array(s.utf8), b = Array(part.utf8)
    guard b.count <= a.count else { return false }
    if b.isEmpty { return true }
    for i in 0...(a.count - b.count) where a[i] == b[0] && Array(a[i..<(i + b.count)]) == b { return true }
    return false
}
