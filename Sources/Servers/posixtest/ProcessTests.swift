// Processes, time and the environment through the POSIX layer: posix_spawn with file actions,
// waitpid, getpid/getppid, kill, clock_gettime, nanosleep, getenv/setenv/unsetenv, arguments.

let processTests: [(String, () -> Void)] = [
    ("posix.spawn_waitpid", testSpawnWait),
    ("posix.arguments_environment", testArgumentsEnvironment),
    ("posix.file_actions", testFileActions),
    ("posix.getpid_kill", testPidKill),
    ("posix.clock_nanosleep", testClock),
    ("posix.getenv_setenv", testEnvironment),
]

func testSpawnWait() {
    var pid: Int32 = 0
    check(posix_spawn(&pid, child, nil, [child, "exit", "7"]) == 0 && pid > 0, "spawn: pid \(pid)")
    var status: Int32 = 0
    check(waitpid(pid, &status) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7, "exit 7: status \(status)")
    checkErrno(Int(waitpid(pid, &status)), ECHILD, "a second wait")
    check(posix_spawnp(&pid, "posixchild", nil, ["posixchild", "fault"]) == 0, "spawnp through PATH")
    check(waitpid(-1, &status) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "a fault is SIGSEGV: \(status)")
    check(posix_spawnp(&pid, "nosuchprogram", nil, ["nosuchprogram"]) == ENOENT, "spawnp of a missing program")
    check(posix_spawn(&pid, "initfs:///etc/init.conf", nil, ["x"]) == ENOEXEC, "spawn of a file that is not ELF")
    check(posix_spawn(&pid, "initfs:///etc", nil, ["x"]) == ENOEXEC, "spawn of a directory")
    check(posix_spawnp(&pid, "posixchild", nil, ["posixchild", "block"]) == 0, "spawn block")
    check(waitpid(pid, &status, WNOHANG) == 0, "WNOHANG on a running child")
    _ = kill(pid, SIGKILL)
    check(waitpid(pid, &status) == pid, "reap it")
}

func testArgumentsEnvironment() {
    let r = capture([child, "args", "a b", "", "100%", "handle=1", "tab\tx"])
    check(r.out == "[a b]\n[]\n[100%]\n[handle=1]\n[tab\tx]\n", "arguments arrive whole: \(r.out)")
    let e = capture([child, "env", "COLOR"], env: ["COLOR=blue", "PATH=initfs:///bin"])
    check(e.out == "blue\n", "the given environment: \(e.out)")
    _ = setenv("SHADE", "dark", 1)
    let inherited = capture([child, "env", "SHADE"])
    check(inherited.out == "dark\n", "the parent's environment by default: \(inherited.out)")
    _ = unsetenv("SHADE")
    check(capture([child, "env", "SHADE"]).out == "unset\n", "unset is not passed on")
}

func testFileActions() {
    // Standard input from a file of initfsd, which cannot `share`: opened afresh for the child.
    var actions = PosixSpawnFileActions()
    actions.addOpen(0, conf, O_RDONLY)
    let cat = capture([child, "cat"], actions: actions)
    let fd = open(conf, O_RDONLY)
    let expected = text(readAll(fd))
    _ = close(fd)
    check(cat.status == 0 && cat.out == expected, "cat < init.conf: \(cat.out.utf8.count) of \(expected.utf8.count) bytes, \(cat.err)")
    // The child gets the parent's open file at its position.
    let mine = open(conf, O_RDONLY)
    _ = lseek(mine, 10, SEEK_SET)
    var fromHere = PosixSpawnFileActions()
    fromHere.addDup2(mine, 0)
    let rest = capture([child, "cat"], actions: fromHere)
    _ = close(mine)
    check(rest.out == String(decoding: Array(expected.utf8).dropFirst(10), as: UTF8.self), "cat from offset 10: \(rest.out.utf8.count) bytes")
    // 2>&1 and closing.
    var merge = PosixSpawnFileActions()
    merge.addDup2(1, 2)
    let m = capture([child, "stderr", "to", "out"], actions: merge)
    check(m.out == "to out\n" && m.err.isEmpty, "2>&1: out \(m.out) err \(m.err)")
    var closing = PosixSpawnFileActions()
    closing.addClose(2)
    check(capture([child, "fds"], actions: closing).out == "-1---\n", "descriptors: only 1 (0 was never open here)")
    var bad = PosixSpawnFileActions()
    bad.addOpen(0, "initfs:///nosuch", O_RDONLY)
    var pid: Int32 = 0
    check(posix_spawn(&pid, child, bad, [child, "cat"]) == ENOENT, "an open action that fails")
    var badDup = PosixSpawnFileActions()
    badDup.addDup2(40, 0)
    check(posix_spawn(&pid, child, badDup, [child, "cat"]) == EBADF, "a dup2 action of a closed descriptor")
}

func testPidKill() {
    let me = getpid()
    check(me > 0, "getpid: \(me)")
    // init spawned posixtest; root had pm adopt init, so init's id is its parent's.
    let initID = (try? ProcessList.all())?.first { $0.name == Array("init".utf8) }?.id
    check(initID != nil && getppid() == Int32(initID ?? 0), "posixtest's parent is init (\(initID ?? 0) in pm's list): \(getppid())")
    let r = capture([child, "pid"])
    let parts = r.out.split(separator: " ").map { Int32($0.split(separator: "\n")[0]) ?? -1 }
    check(parts.count == 2 && parts[0] > me && parts[1] == me, "the child's pid and ppid: \(r.out)")
    var pid: Int32 = 0
    check(posix_spawn(&pid, child, nil, [child, "block"]) == 0, "spawn block")
    check(kill(pid, 0) == 0, "kill 0 finds it")
    check(kill(pid, SIGTERM) == 0, "kill")
    var status: Int32 = 0
    // The signal pm recorded is the one waitpid reports (no process catches it: every one ends it).
    check(waitpid(pid, &status) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "killed by SIGTERM: \(status)")
    check(exitStatus(status) == 143, "the shell's view: \(exitStatus(status))")
    check(posix_spawn(&pid, child, nil, [child, "block"]) == 0, "spawn block again")
    check(kill(pid, SIGINT) == 0 && kill(pid, SIGKILL) == 0, "kill twice")
    check(waitpid(pid, &status) == pid && WTERMSIG(status) == SIGINT, "the first kill's signal counts: \(status)")
    checkErrno(Int(kill(pid, 65)), EINVAL, "signal 65")
    checkErrno(Int(kill(pid, SIGKILL)), ESRCH, "kill a process that is gone")
    checkErrno(Int(kill(999_999, 0)), ESRCH, "kill 0 of no process")
    checkErrno(Int(kill(-1, SIGKILL)), EINVAL, "kill -1")
}

func testClock() {
    var a = timespec(), b = timespec()
    check(clock_gettime(CLOCK_MONOTONIC, &a) == 0, "monotonic")
    check(nanosleep(timespec(tv_sec: 0, tv_nsec: 20_000_000)) == 0, "nanosleep 20 ms")
    _ = clock_gettime(CLOCK_MONOTONIC, &b)
    let elapsed = (b.tv_sec - a.tv_sec) * 1_000_000_000 + (b.tv_nsec - a.tv_nsec)
    check(elapsed >= 20_000_000, "20 ms passed: \(elapsed) ns")
    checkErrno(Int(nanosleep(timespec(tv_sec: 0, tv_nsec: 1_000_000_000))), EINVAL, "nanosleep with 10^9 ns")
    checkErrno(Int(nanosleep(timespec(tv_sec: -1))), EINVAL, "nanosleep of a negative time")
    checkErrno(Int(clock_gettime(7, &a)), EINVAL, "an unknown clock")
    var wall = timespec()
    if Posix.time != nil {
        check(clock_gettime(CLOCK_REALTIME, &wall) == 0 && wall.tv_sec > 1_600_000_000, "wall time: \(wall.tv_sec)")
    } else {
        checkErrno(Int(clock_gettime(CLOCK_REALTIME, &wall)), EINVAL, "no wall time without timed")
    }
}

func testEnvironment() {
    check(setenv("ONE", "1", 1) == 0 && getenv("ONE") == "1", "setenv")
    check(setenv("ONE", "2", 0) == 0 && getenv("ONE") == "1", "no overwrite")
    check(setenv("ONE", "3", 1) == 0 && getenv("ONE") == "3", "overwrite")
    check(environ.filter { $0.hasPrefix("ONE=") }.count == 1, "one entry")
    check(searchPath("initfs:///bin:/bin::x") == ["initfs:///bin", "/bin", "", "x"], "PATH keeps a URI's scheme whole: \(searchPath("initfs:///bin:/bin::x"))")
    check(unsetenv("ONE") == 0 && getenv("ONE") == nil, "unsetenv")
    checkErrno(Int(setenv("A=B", "x", 1)), EINVAL, "a name with =")
    checkErrno(Int(setenv("", "x", 1)), EINVAL, "an empty name")
    check(getenv("PATH") == nil || getenv("PATH")!.contains("/"), "PATH")
}
