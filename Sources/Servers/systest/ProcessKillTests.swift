// process_kill (Sources/ABI/Syscalls.swift): ending another process's threads, and each documented
// refusal. Root uses it for nothing yet; `killtest=NAME` (root's Supervisor) and pm's `kill` can.

let processKillTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("process.kill_ends_every_thread", testProcessKillEndsEveryThread),
    ("process.kill_errors", testProcessKillErrors),
]

/// A child with two spinning threads ends when killed: process_wait gives ExitCode.stopped, both threads
/// are dead, and a second kill is .badState.
func testProcessKillEndsEveryThread() throws(SysError) {
    var child = try Child.create(code: Code.spin)
    defer { child.close() }
    try child.spawn()
    let second = try threadCreate(process: child.process, entry: Code.base, stack: Code.stackTop, argument: 0)
    defer { closeAll(second) }
    try threadStart(second)
    threadSleep(nanoseconds: 2_000_000)
    expectError(.timedOut, "process_wait before the kill") { () throws(SysError) in try processWait(child.process, timeout: 1_000_000) }
    try processKill(child.process)
    let code = try processWait(child.process, timeout: 2_000_000_000)
    check(code == ExitCode.stopped, "exit code \(code) after the kill")
    check((try? threadWait(second, timeout: 1_000_000_000)) == ExitCode.stopped, "the second thread did not end as stopped")
    expectError(.badState, "process_kill of an ended process") { () throws(SysError) in try processKill(child.process) }
}

/// Its own process (.badState), a handle without .manage (.accessDenied), another type (.wrongType), a
/// closed handle (.invalidHandle).
func testProcessKillErrors() throws(SysError) {
    let me = try processSelf()
    defer { closeAll(me) }
    expectError(.badState, "process_kill of the caller's own process") { () throws(SysError) in try processKill(me) }
    var child = try Child.create(code: Code.spin)
    defer { child.close() }
    let waitOnly = try handleDuplicate(child.process, rights: [.wait])
    defer { closeAll(waitOnly) }
    expectError(.accessDenied, "process_kill without .manage") { () throws(SysError) in try processKill(waitOnly) }
    expectError(.wrongType, "process_kill of a vmem") { () throws(SysError) in try processKill(child.vmem) }
    expectError(.invalidHandle, "process_kill of handle 0") { () throws(SysError) in try processKill(Handle(raw: 0)) }
    // An unstarted process ends too (it has no thread that ran).
    try child.spawn(start: false)
    try processKill(child.process)
    check((try? processWait(child.process, timeout: 1_000_000_000)) == ExitCode.stopped, "the unstarted child did not end")
}
