// A seeded stream of random and malformed messages to vfs and to pm (any label, word count, words,
// bytes and sometimes a handle); every one must get an answer (label 0, a known error word or success),
// and afterwards each server must still do its work correctly.

let malformedTests: [GuestTest] = [
    ("vfs.malformed_stream", testVFSMalformedStream),
    ("pm.malformed_stream", testPMMalformedStream),
]

let malformedSeed: UInt64 = 11
let malformedCount = 400

/// One random message through `to`; whether its answer is well-formed. Handles the answer moves back
/// (connect's Sender) are closed.
func randomCall(_ to: Handle, _ random: inout SplitMix64, labels: UInt64, page: MessagePage) -> Bool {
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
    let bytes = Int(random.next(below: 3) == 0 ? random.next(below: UInt64(IPCBuffer.maxBytes)) : 0)
    for i in 0..<bytes { page.bytes[i] = UInt8(truncatingIfNeeded: random.next()) }
    var handles = 0
    if random.next(below: 4) == 0, let f = try? frameCreate(size: pageSize * (1 + random.next(below: 2))) {
        page.setHandle(0, f)
        handles = 1
    }
    let message = IPCMessage(tag: IPCTag(words: words, bytes: bytes, handles: handles, label: label), words: w)
    guard let answer = try? senderCall(to, message) else { return false }
    if answer.tag.handles > 0 { page.closeReceived(answer.tag.handles) }
    return answer.tag.label == 0 && (answer.words.0 == 0 || ServiceError(rawValue: answer.words.0) != nil)
}

func testVFSMalformedStream(_ c: Context) throws(ServiceError) {
    var random = SplitMix64(seed: malformedSeed)
    try c.fs.writeFile("/canary", Array("still here".utf8))
    var bad = 0
    for i in 0..<malformedCount {
        let to = i % 3 == 0 ? c.vfsAdmin : c.fs.sender
        if !randomCall(to, &random, labels: UInt64(VFSOp.allCases.count), page: c.page) { bad += 1 }
    }
    check(bad == 0, "\(bad) of \(malformedCount) messages got no well-formed answer")
    // Still correct: a fresh connection makes, lists and reads files.
    let fresh = try VFSClient(connectingTo: c.vfsAdmin, page: c.page)
    defer { fresh.close() }
    try fresh.writeFile("/after-fuzz", Array("ok".utf8))
    check(try fresh.readFile("/after-fuzz") == Array("ok".utf8), "vfs reads and writes after the stream")
    check(try fresh.readdir("/").contains { $0.name == "after-fuzz" }, "vfs lists after the stream")
    try fresh.unlink("/after-fuzz")
}

func testPMMalformedStream(_ c: Context) throws(ServiceError) {
    var random = SplitMix64(seed: malformedSeed + 1)
    check(!(try c.pm.list().contains { $0.parent == 0 && $0.state == .running }), "no child of the test runs before the stream")
    var bad = 0
    for _ in 0..<malformedCount {
        if !randomCall(c.pm.sender, &random, labels: UInt64(ProcessOp.allCases.count), page: c.page) { bad += 1 }
    }
    check(bad == 0, "\(bad) of \(malformedCount) messages got no well-formed answer")
    let id = try c.pm.spawn(child, arguments: ["exit", "5"])
    check(try c.pm.wait(id) == (id, 5), "pm spawns and waits after the stream")
    check(try c.pm.list().allSatisfy { $0.parent != 0 || $0.state != .running }, "pm lists after the stream")
}
