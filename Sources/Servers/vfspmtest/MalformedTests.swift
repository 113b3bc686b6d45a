// A seeded stream of random and malformed messages to vfs (file protocol) and to pm (any label, word
// count, words, bytes, sometimes a path that parses, sometimes a handle); every one must get a
// well-formed answer, and afterwards each server must still do its work correctly.

let malformedTests: [GuestTest] = [
    ("vfs.malformed_stream", testVFSMalformedStream),
    ("pm.malformed_stream", testPMMalformedStream),
]

let malformedSeed: UInt64 = 11
let malformedCount = 400

/// One random message through `to` (through `page`, the calling thread's IPC buffer); whether its
/// answer is well-formed: `fileLabels` > 0 means the file protocol (the reply's label is 0 or a FileError),
/// else pm's protocol (label 0, w0 0 or a ServiceError). Handles the answer moves back are closed.
func randomCall(_ to: Handle, _ random: inout SplitMix64, labels: UInt64, bytesArea: UnsafeMutableRawBufferPointer,
                setHandle: (Handle) -> Void, closeReceived: (Int) -> Void, file: Bool) -> Bool {
    let label = UInt32(random.next(below: labels + 3))
    let words = Int(random.next(below: 5))
    var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    func value() -> UInt64 {
        switch random.next(below: 4) {
        case 0: random.next(below: 16)
        case 1: random.next(below: 70_000)
        case 2: UInt64.max - random.next(below: 4)
        default: random.next()
        }
    }
    w = (value(), value(), value(), value())
    var bytes = Int(random.next(below: 3) == 0 ? random.next(below: UInt64(IPCBuffer.maxBytes)) : 0)
    for i in 0..<bytes { bytesArea[i] = UInt8(truncatingIfNeeded: random.next()) }
    if file && random.next(below: 3) == 0 {
        // A path that may parse: scheme, slashes, names (vfs gets past its first checks more often).
        let paths = ["/", "/fuzz", "fs:///fuzz/a", "initfs:///etc/init.conf", "/tmp/fuzz", "test://", "fs:///tmp", "x:///"]
        let p = Array(paths[Int(random.next(below: UInt64(paths.count)))].utf8)
        for (i, b) in p.enumerated() { bytesArea[i] = b }
        bytes = p.count
    }
    var handles = 0
    if random.next(below: 4) == 0, let f = try? frameCreate(size: pageSize * (1 + random.next(below: 2))) {
        setHandle(f)
        handles = 1
    }
    let message = IPCMessage(tag: IPCTag(words: words, bytes: bytes, handles: handles, label: label), words: w)
    guard let answer = try? senderCall(to, message) else { return false }
    if answer.tag.handles > 0 { closeReceived(answer.tag.handles) }
    if file { return answer.tag.label == 0 || FileError(rawValue: answer.tag.label) != nil }
    return answer.tag.label == 0 && (answer.words.0 == 0 || ServiceError(rawValue: answer.words.0) != nil)
}

/// vfs gets a seeded stream of random and malformed file-protocol messages through a connection and
/// through the administrative Sender; every one is answered, and vfs then still works.
func testVFSMalformedStream(_ c: Context) throws(ServiceError) {
    var random = SplitMix64(seed: malformedSeed)
    // Files kept open through the stream make fs:/// and fs:///tmp busy (the stream's unmounts fail).
    let (fs, keep, keepTmp) = try files { () throws(FileError) in
        try writeFile(c.fs, "/canary", Array("still here".utf8))
        try writeFile(c.fs, "/tmp/keep", [1])
        let keep = try c.fs.open("/canary", .read), keepTmp = try c.fs.open("/tmp/keep", .read)
        try? c.admin.adopt()
        return (try service(try c.admin.connect()), keep, keepTmp)
    }
    defer { _ = try? handleClose(fs.sender) }
    try? fs.adopt()
    var bad = 0
    for i in 0..<malformedCount {
        let to = i % 3 == 0 ? c.vfsAdmin : fs.sender
        if !randomCall(to, &random, labels: UInt64(FileLabel.allCases.count), bytesArea: fs.page.bytes,
                       setHandle: { fs.page.setHandle(0, $0) },
                       closeReceived: { n in for k in 0..<min(n, IPCBuffer.maxHandles) { _ = try? handleClose(fs.page.handle(k)) } },
                       file: true) { bad += 1 }
    }
    check(bad == 0, "\(bad) of \(malformedCount) messages got no well-formed answer")
    // Still correct: a fresh connection makes, lists and reads files; the canary is intact.
    try files { () throws(FileError) in
        try? c.admin.adopt()
        let fresh = try service(try c.admin.connect())
        try writeFile(fresh, "/after-fuzz", Array("ok".utf8))
        check(try readFile(fresh, "/after-fuzz") == Array("ok".utf8), "vfs reads and writes after the stream")
        check(try readFile(fresh, "/canary", window: 4096) == Array("still here".utf8), "the canary after the stream")
        check(try fresh.list("/").contains { $0.name == "after-fuzz" }, "vfs lists after the stream")
        check(try readFile(fresh, "initfs:///etc/init.conf").count > 100, "vfs forwards after the stream")
        try fresh.unlink("/after-fuzz")
        try fresh.unlink("/canary")
        try keep.close()
        try keepTmp.close()
        try c.fs.unlink("/tmp/keep")
        _ = try? handleClose(fresh.sender)
    }
}

func testPMMalformedStream(_ c: Context) throws(ServiceError) {
    var random = SplitMix64(seed: malformedSeed + 1)
    check(!(try c.pm.list().contains { $0.parent == 0 && $0.state == .running }), "no child of the test runs before the stream")
    var bad = 0
    for _ in 0..<malformedCount {
        let page = c.page
        _ = try? page.install()
        if !randomCall(c.pmClient.sender, &random, labels: UInt64(ProcessOp.allCases.count), bytesArea: page.bytes,
                       setHandle: { page.setHandle(0, $0) }, closeReceived: { page.closeReceived($0) }, file: false) { bad += 1 }
    }
    check(bad == 0, "\(bad) of \(malformedCount) messages got no well-formed answer")
    let id = try c.pm.spawn(child, arguments: ["exit", "5"])
    check(try c.pm.wait(id) == (id, 5), "pm spawns and waits after the stream")
    check(try c.pm.list().allSatisfy { $0.parent != 0 || $0.state != .running }, "pm lists after the stream")
}
