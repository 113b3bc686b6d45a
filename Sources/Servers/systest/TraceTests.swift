// trace_set (syscall 72): every documented error, and switching a child's trace on and off. The
// records themselves are read by osh (Tests/IntegrationTests/SyscallTraceTests.swift).

func testTraceSet() throws(SysError) {
    step("errors")
    expectError(.invalidHandle, "trace_set of handle 0") { () throws(SysError) in try traceSet(.invalid, on: true) }
    let notify = try notifyCreate()
    defer { _ = try? handleClose(notify) }
    expectError(.wrongType, "trace_set of a notify") { () throws(SysError) in try traceSet(notify, on: true) }
    var child = try Child.create(code: Code.exit(0))
    defer { child.close() }
    let readOnly = try handleDuplicate(child.process, rights: [.read])
    defer { _ = try? handleClose(readOnly) }
    expectError(.accessDenied, "trace_set without .manage") { () throws(SysError) in try traceSet(readOnly, on: true) }
    expectError(.invalidArgument, "trace_set with on = 2") { () throws(SysError) in
        _ = try syscall(.traceSet, child.process.word, 2)
    }
    step("on, then off, then the child runs and ends")
    try traceSet(child.process, on: true)
    try traceSet(child.process, on: false)
    try child.spawn()
    let code = try processWait(child.process)
    check(code == 0, "the child exited with \(hex(code))")
    expectError(.badState, "trace_set of an ended process") { () throws(SysError) in try traceSet(child.process, on: true) }
}
