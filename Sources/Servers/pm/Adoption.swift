// Processes pm did not start: root hands pm a handle to itself, to every boot server it started and to
// init (ProcessOp.adopt), so that pm's list (and `ps`) shows the whole system, not only pm's children.
//
// pm only watches an adopted process through its handle (read and wait rights from root): no watcher
// thread waits for it, nobody waits for its status, and `list` forgets it once it has no thread left.
// Its requests to pm (through the Sender root gave it, whose badge the adoption names) act as that
// process: what it spawns is its child and `identify` answers with its id; it stays an administrator.

extension ProcessServer {
    /// The process id a request acts as: the child's for a child's badge, the adopted process's for its
    /// badge, else 0 (an administrator not adopted).
    func callerID(_ badge: UInt64) -> UInt32 {
        let child = ProcessBadge.caller(badge)
        return child != 0 ? child : adoptedBadges[badge] ?? 0
    }

    func adopt(_ m: IPCMessage, admin: Bool) -> Answer {
        guard m.tag.handles == 1 else {
            page.closeReceived(m.tag.handles)
            return .error(.badMessage)
        }
        let process = page.handle(0)
        var keep = false
        defer { if !keep { _ = try? handleClose(process) } }
        guard admin else { return .error(.notPermitted) }
        let (nameLength, parentWord, badge) = (m.words.0, m.words.1, m.words.2)
        guard nameLength == UInt64(m.tag.bytes), nameLength <= UInt64(ProcessRecord.nameBytes),
              parentWord <= UInt64(UInt32.max), ProcessBadge.caller(badge) == 0 else { return .error(.badMessage) }
        guard let info = try? handleIdentify(process), info.type == .process,
              info.rights.contains(.read), info.rights.contains(.wait) else { return .error(.invalid) }
        guard children.count < ProcessServer.maxProcesses else { return .error(.noMemory) }
        let name = Array(page.received(m.tag.bytes))
        let id = nextID
        nextID += 1
        let child = Child(id: id, parent: UInt32(parentWord), name: name, adopted: process, badge: badge)
        children[id] = child
        if badge != 0 { adoptedBadges[badge] = id }
        keep = true
        return .ok(UInt64(id))
    }

    /// Adopted processes with no thread left are forgotten (their children pass to no parent, 0).
    func forgetEndedAdoptions() {
        for c in children.values where c.adopted {
            guard let threads = try? processGetUsage(c.process, .threads), threads == 0 else { continue }
            for other in children.values where other.parent == c.id { other.parent = 0 }
            reap(c)
        }
    }
}
