// pm through its protocol: spawn by path with arguments, environment and handles; wait with exit
// status (a fault's status too); kill; list; parent and child (a child spawns and waits for its own).

let pmTests: [GuestTest] = [
    ("pm.spawn_wait", testSpawnWait),
    ("pm.arguments_environment_handles", testArgumentsEnvironmentHandles),
    ("pm.fault_status", testFaultStatus),
    ("pm.kill_and_list", testKillAndList),
    ("pm.parent_and_child", testParentAndChild),
    ("pm.errors", testPMErrors),
]

let child = "fs:///bin/pmchild"

func testSpawnWait(_ c: Context) throws(ServiceError) {
    let id = try c.pm.spawn(child, arguments: ["exit", "42"])
    check(try c.pm.wait(id) == (id, 42), "exit status 42")
    expectError(.noChild, "a second wait for the same child") { () throws(ServiceError) in try c.pm.wait(id) }
    let a = try c.pm.spawn(child, arguments: ["exit", "1"])
    let b = try c.pm.spawn("/bin/pmchild", arguments: ["exit", "2"])
    check(try c.pm.wait(b) == (b, 2), "the second child's status")
    check(try c.pm.wait(0) == (a, 1), "wait for any child gets the first")
    expectError(.noChild, "wait for any child with none left") { () throws(ServiceError) in try c.pm.wait(0) }
}

func testArgumentsEnvironmentHandles(_ c: Context) throws(ServiceError) {
    let id = try c.pm.spawn(child, arguments: ["env", "LANG=C.UTF-8"], environment: ["HOME=/", "LANG=C.UTF-8"])
    check(try c.pm.wait(id).status == 0, "the child sees its environment")
    let missing = try c.pm.spawn(child, arguments: ["env", "LANG=C.UTF-8"], environment: ["HOME=/"])
    check(try c.pm.wait(missing).status == 1, "the child does not see what was not given")
    let frame = try sys { () throws(SysError) in try frameCreate(size: pageSize) }
    defer { _ = try? handleClose(frame) }
    let theirs = try sys { () throws(SysError) in try handleDuplicate(frame, rights: [.read, .write, .duplicate, .transfer]) }
    let withFrame = try c.pm.spawn(child, arguments: ["frame"], handles: [theirs])
    check(try c.pm.wait(withFrame).status == 0, "the child got the Frame")
    let bytes = try ServiceCall.readFrame(frame, offset: 0, count: 7)
    check(bytes == Array("pmchild".utf8), "the child wrote into the given Frame")
}

func testFaultStatus(_ c: Context) throws(ServiceError) {
    let id = try c.pm.spawn(child, arguments: ["fault"])
    let (_, status, address) = try c.pm.waitWithFault(id)
    check(status == ExitCode.fault(vector: 14), "a page fault's status: \(status)")
    check(address == 0x0000_0bad_0000_0000, "a page fault's address: \(address)")
}

func testKillAndList(_ c: Context) throws(ServiceError) {
    let id = try c.pm.spawn(child, arguments: ["block"])
    let before = try c.pm.list()
    guard let r = before.first(where: { $0.id == id }) else { fail("the blocked child is not listed"); return }
    check(r.state == .running && r.parent == 0 && r.name == Array("pmchild".utf8), "list record: \(r.state.rawValue) \(r.parent)")
    check(r.threads == 1, "threads of the child: \(r.threads)")
    check(r.pages > 0, "memory of the child: \(r.pages) pages")
    try c.pm.kill(id)
    check(try c.pm.wait(id) == (id, ExitCode.stopped), "a killed child's status")
    check(!(try c.pm.list().contains { $0.id == id }), "a waited-for child leaves the list")
    expectError(.noSuchProcess, "kill a process that is gone") { () throws(ServiceError) in try c.pm.kill(id) }
}

func testParentAndChild(_ c: Context) throws(ServiceError) {
    let id = try c.pm.spawn(child, arguments: ["spawn", child])
    check(try c.pm.wait(id).status == 107, "the child spawned and waited for its own child (7)")
    check(!(try c.pm.list().contains { $0.parent == id }), "the grandchild was reaped by its parent")
}

func testPMErrors(_ c: Context) throws(ServiceError) {
    expectError(.notFound, "spawn a missing file") { () throws(ServiceError) in try c.pm.spawn("/bin/nosuch") }
    try files { () throws(FileError) in try writeFile(c.fs, "/notelf", Array("#!/bin/sh\n".utf8)) }
    expectError(.notExecutable, "spawn a file that is not ELF") { () throws(ServiceError) in try c.pm.spawn("/notelf") }
    try files { () throws(FileError) in try c.fs.unlink("/notelf") }
    expectError(.invalid, "spawn a relative path") { () throws(ServiceError) in try c.pm.spawn("bin/pmchild") }
    expectError(.noChild, "wait with no such child") { () throws(ServiceError) in try c.pm.wait(999_999) }
    expectError(.noSuchProcess, "kill a process pm never had") { () throws(ServiceError) in try c.pm.kill(999_999) }
    expectError(.badMessage, "a wrong label") { () throws(ServiceError) in
        try ServiceCall.request(c.pm.sender, IPCMessage(label: 99, 1))
    }
    expectError(.badMessage, "spawn with lengths that do not add up") { () throws(ServiceError) in
        try ServiceCall.request(c.pm.sender, IPCMessage(label: ProcessOp.spawn.rawValue, 5, 0, 0))
    }
    expectError(.badMessage, "wait with no words") { () throws(ServiceError) in
        try ServiceCall.request(c.pm.sender, IPCMessage(tag: IPCTag(label: ProcessOp.wait.rawValue)))
    }
}
