// restarttest: root's restart of boot servers that end (Sources/Servers/root/Supervisor.swift), seen from
// both sides. Tests/IntegrationTests/ServerRestartTests.swift copies this ELF into a test initfs as two
// boot servers with made-up manifests: `restartsvc` (exports `restartsvc`) and `restartcli` (imports it).
//
// With `export:restartsvc` it is the server: `ping` (label 1) answers the instance's start time (each
// start a new one) and the requests served; `exit` (label 2) answers, then ends the process with code 3.
// With `import:restartsvc` it is the client: ping, ask the server to exit, ping again through the same
// Sender (root restarted the server with the same Receiver: the call waits for the new instance), and
// so on until root's restart limit; after it root closes its Receiver and a ping fails with .peerClosed.

let programName: StaticString = "restarttest"

enum RestartLabel: UInt32 {
    case ping = 1
    case exit = 2
}

func programMain(_ startup: Startup) -> Int32 {
    if let receiver = startup.exported("restartsvc") { return serve(receiver, irq: startup.granted("irq")) }
    if let sender = startup.imported("restartsvc") { return check(sender) }
    print("restarttest: neither export:restartsvc nor import:restartsvc; exiting")
    return 1
}

/// The server: answers until asked to exit. A device grant `grant:irq` (ServerRestartTests adds one to
/// devices.conf) is bound to a Notify, to show that root made it again for the new instance (the
/// kernel has one IRQ object per line: the ended instance's must be gone).
func serve(_ receiver: Handle, irq: Handle?) -> Int32 {
    let started = (try? clockGet()) ?? 0
    var served: UInt64 = 0
    var irqNote = "no IRQ"
    if let irq {
        do throws(SysError) {
            try irqBind(irq, notify: try notifyCreate(), bits: 1)
            irqNote = "its IRQ bound"
        } catch {
            irqNote = "its IRQ not bound: \(error.name)"
        }
    }
    print("restarttest: server instance \(started) serving (\(irqNote))")
    while true {
        guard let m = try? receiverRecv(receiver) else { return 1 }
        served += 1
        switch RestartLabel(rawValue: m.tag.label) {
        case .ping: _ = try? receiverReply(IPCMessage.ok(started, served))
        case .exit:
            _ = try? receiverReply(IPCMessage.ok())
            print("restarttest: server instance \(started) exits on request")
            return 3
        case nil: _ = try? receiverReply(IPCMessage(tag: IPCTag(label: UInt32(ServiceError.badMessage.rawValue))))
        }
    }
}

/// The client: the same Sender reaches each new instance, until root gives up.
func check(_ sender: Handle) -> Int32 {
    var failed = 0
    var instances: [UInt64] = []
    func ping() -> IPCMessage? { try? senderCall(sender, IPCMessage(label: RestartLabel.ping.rawValue), timeout: 60_000_000_000) }
    for round in 0..<4 {
        guard let r = ping(), r.tag.label == 0 else {
            print("restarttest: FAIL: ping \(round) not answered")
            return 1
        }
        if instances.contains(r.words.0) {
            print("restarttest: FAIL: ping \(round) answered by an old instance \(r.words.0)")
            failed += 1
        }
        instances.append(r.words.0)
        print("restarttest: ping \(round) answered by instance \(r.words.0) (request \(r.words.1) there)")
        guard let e = try? senderCall(sender, IPCMessage(label: RestartLabel.exit.rawValue), timeout: 60_000_000_000), e.tag.label == 0 else {
            print("restarttest: FAIL: exit request \(round) not answered")
            return 1
        }
    }
    // Four ends in a row: root restarted three times, then gave up and closed its Receiver.
    do throws(SysError) {
        _ = try senderCall(sender, IPCMessage(label: RestartLabel.ping.rawValue), timeout: 60_000_000_000)
        print("restarttest: FAIL: a ping after the restart limit was answered")
        failed += 1
    } catch {
        print("restarttest: a ping after the restart limit: \(error.name)")
        if error != .peerClosed { failed += 1 }
    }
    print("restarttest: \(instances.count) instances answered, \(failed) failed")
    return failed == 0 ? 0 : 1
}
