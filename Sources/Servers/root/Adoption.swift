// Root's processes in pm's list. pm lists what it starts; root starts the boot servers and init itself,
// so root hands pm a handle to each of them and to itself (ProcessOp.adopt: read and wait rights only, so
// pm can show them but not end them), with the badge of each one's own Sender to pm: what init spawns is
// then init's child in `ps`. init is adopted before its thread starts. A restarted boot server is adopted
// again; when pm itself is restarted (it knows nothing then) root adopts everything again.
//
// One ProcessClient, made by root's main thread before init starts (its message page is an object that
// systest's counts must already see), is used by that thread while the system starts and afterwards
// only by the supervisor's loop thread.

enum Adoption {
    static var client: ProcessClient? = nil
    /// Root's id in pm's list (the parent of the boot servers and init).
    static var rootID: UInt32 = 0

    /// Root itself and every running boot server; nothing when pm is not running.
    static func adoptServers() {
        if client == nil {
            guard Boot.servers.contains(where: { $0.manifest.exports.contains("pm") && $0.process != nil }),
                  case let (sender, badge)? = Boot.badgedSender(for: "pm") else { return }
            guard let c = try? ProcessClient(sender) else {
                print("root: no message page for pm; `ps` lists pm's children only")
                _ = try? handleClose(sender)
                return
            }
            client = c
            rootBadge = badge
        }
        rootSelf()
        for i in Boot.servers.indices { adoptServer(i) }
    }

    /// The badge of root's own Sender to pm (the client's).
    static var rootBadge: UInt64 = 0

    static func rootSelf() {
        guard let me = try? processSelf() else { return }
        defer { _ = try? handleClose(me) }
        rootID = adopt(me, name: "root", parent: 0, badge: rootBadge) ?? 0
    }

    /// Boot server `i`, when it runs.
    static func adoptServer(_ i: Int) {
        guard let p = Boot.servers[i].process else { return }
        _ = adopt(p.process, name: Boot.servers[i].manifest.name, parent: rootID, badge: Boot.servers[i].pmBadge)
    }

    static func adoptInit() {
        guard let p = Boot.initProcess else { return }
        _ = adopt(p.process, name: "init", parent: rootID, badge: Boot.initPMBadge)
    }

    /// Boot server `i` was started again (Supervisor): it is adopted; a new pm gets everything again.
    static func restarted(_ i: Int) {
        guard client != nil else { return }
        if Boot.servers[i].manifest.exports.contains("pm") {
            adoptServers()
            adoptInit()
        } else {
            adoptServer(i)
        }
    }

    /// Hands pm a duplicate of `process` with the read and wait rights (and transfer, to move it); its id, or nil (one line) when pm refused.
    static func adopt(_ process: Handle, name: String, parent: UInt32, badge: UInt64) -> UInt32? {
        guard let client else { return nil }
        do throws(ServiceError) {
            let copy = try ServiceCall.sys { () throws(SysError) in try handleDuplicate(process, rights: [.read, .wait, .transfer]) }
            return try client.adopt(copy, name: name, parent: parent, badge: badge)
        } catch {
            print("root: pm did not adopt \(name): \(error.name)")
            return nil
        }
    }
}
