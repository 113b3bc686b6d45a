// pm's signals (pm/Signals.swift): kill's optional signal word is recorded and a wait answers it in w3
// beside ExitCode.stopped; without the word it is SIGKILL; a signal out of 1-64 is `.invalid` and ends
// nothing.

let pmSignalTests: [GuestTest] = [
    ("pm.kill_signal", testKillSignal),
]

func testKillSignal(_ c: Context) throws(ServiceError) {
    let a = try c.pm.spawn(child, arguments: ["block"])
    try c.pm.kill(a, signal: 15)
    let (_, status, signal) = try c.pm.waitWithFault(a)
    check(status == ExitCode.stopped && signal == 15, "SIGTERM recorded: \(status) \(signal)")
    let b = try c.pm.spawn(child, arguments: ["block"])
    for bad: UInt64 in [0, 65, UInt64.max] {
        expectError(.invalid, "signal \(bad)") { () throws(ServiceError) in
            _ = try ServiceCall.request(c.pm.sender, IPCMessage(label: ProcessOp.kill.rawValue, UInt64(b), bad))
        }
    }
    check(try c.pm.list().first { $0.id == b }?.state == .running, "a refused kill ends nothing")
    _ = try ServiceCall.request(c.pm.sender, IPCMessage(label: ProcessOp.kill.rawValue, UInt64(b)))
    let (_, _, old) = try c.pm.waitWithFault(b)
    check(old == 9, "a kill without a signal word is SIGKILL: \(old)")
}
