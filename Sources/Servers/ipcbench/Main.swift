// ipcbench: the IPC round-trip benchmark. Root starts two instances (with `bench` on the kernel command
// line): a server that loops in receiver_reply_recv and a client that loops in sender_call, in separate
// processes. The client measures each variant with the TSC; under QEMU's `-icount shift=0` the TSC
// counts guest instructions, so the figures are instructions per round trip. The client then measures
// a notification round trip between two of its own threads (measureNotify). It prints
//   bench NAME VALUE UNIT
// lines, and `bench mark NAME` lines before and after each timed loop so the host can take TCG
// wall-clock times from when those lines arrive.

let programName: StaticString = "ipcbench"

/// `rounds=N` on the kernel command line (root passes it on) overrides the number of timed round trips.
var rounds: UInt64 = 20_000
var warmup: UInt64 = 500
/// `only=NAME` (0w, 1w, 4w, 1h, notify) runs one variant; `pairs` runs the two-CPU pairs instead (Pairs.swift).
var only: Substring? = nil

/// Variants: label = what the message carries.
enum Variant: UInt32 {
    case words0 = 1, words1, words4, handle1

    var name: String {
        switch self {
        case .words0: return "0w"
        case .words1: return "1w"
        case .words4: return "4w"
        case .handle1: return "1h"
        }
    }
}

func handleArguments(_ startup: Startup) -> [Handle] {
    startup.commandLine.split(separator: " ").compactMap { word in
        guard word.hasPrefix("handle="), let v = UInt32(word.dropFirst(7)) else { return nil }
        return Handle(raw: v)
    }
}

/// The server: answers every call with a message of the same shape; handles come back to the caller.
func serve(_ receiver: Handle, ipcBuffer: UInt64) -> Int32 {
    do throws(SysError) {
        var message = try receiverRecv(receiver)
        while true {
            let variant = Variant(rawValue: message.tag.label) ?? .words0
            var answer = IPCMessage(tag: IPCTag(label: message.tag.label))
            switch variant {
            case .words0: break
            case .words1: answer = IPCMessage(tag: IPCTag(words: 1, label: message.tag.label), words: (message.words.0 &+ 1, 0, 0, 0))
            case .words4: answer = IPCMessage(tag: IPCTag(words: 4, label: message.tag.label), words: message.words)
            case .handle1:
                // The handle arrived in our IPC buffer (its new value); send it straight back.
                answer = IPCMessage(tag: IPCTag(handles: 1, label: message.tag.label))
            }
            _ = ipcBuffer
            message = try receiverReplyRecv(receiver, answer)
        }
    } catch {
        print("ipcbench server: \(error.name)")
        return 1
    }
}

func measure(_ sender: Handle, _ variant: Variant, words: (UInt64, UInt64, UInt64, UInt64), wordCount: Int, handles: Int) throws(SysError) {
    if let only, only != variant.name { return }
    let message = IPCMessage(tag: IPCTag(words: wordCount, handles: handles, label: variant.rawValue), words: words)
    for _ in 0..<warmup { _ = try senderCall(sender, message) }
    print("bench mark start \(variant.name)")
    let start = read_tsc()
    for _ in 0..<rounds { _ = try senderCall(sender, message) }
    let end = read_tsc()
    print("bench mark end \(variant.name)")
    print("bench ipc.roundtrip.\(variant.name).insn \((end - start) / rounds) insn")
}

/// The notification round trip (`ipc.notify.roundtrip.insn`): this thread signals Notify `ping` and
/// waits on `pong`; a second thread of this process waits on `ping` and signals `pong`. One round trip:
/// two notify_notify and two notify_wait calls, two thread switches (no address-space switch).
func measureNotify() throws(SysError) {
    if let only, only != "notify" { return }
    let ping = try notifyCreate(), pong = try notifyCreate()
    defer { _ = try? handleClose(ping); _ = try? handleClose(pong) }
    /// Bit 1 on `ping` ends the other thread.
    let go: UInt64 = 1, stop: UInt64 = 2
    let echo = try spawnThread { () -> UInt64 in
        while true {
            guard let bits = try? notifyWait(ping) else { return 1 }
            if bits & stop != 0 { return 0 }
            guard (try? notifyNotify(pong, bits: go)) != nil else { return 2 }
        }
    }
    func roundTrip() throws(SysError) {
        try notifyNotify(ping, bits: go)
        _ = try notifyWait(pong)
    }
    for _ in 0..<warmup { try roundTrip() }
    print("bench mark start notify")
    let start = read_tsc()
    for _ in 0..<rounds { try roundTrip() }
    let end = read_tsc()
    print("bench mark end notify")
    try notifyNotify(ping, bits: stop)
    guard try echo.join() == 0 else { throw .badState }
    print("bench ipc.notify.roundtrip.insn \((end - start) / rounds) insn")
}

func client(_ sender: Handle, ipcBuffer: UInt64) -> Int32 {
    do throws(SysError) {
        try measure(sender, .words0, words: (0, 0, 0, 0), wordCount: 0, handles: 0)
        try measure(sender, .words1, words: (1, 0, 0, 0), wordCount: 1, handles: 0)
        try measure(sender, .words4, words: (1, 2, 3, 4), wordCount: 4, handles: 0)
        // One handle moved to the server and back on every round trip: a frame, its value written in our
        // IPC buffer (the answer brings it back, possibly with a new value, written there again).
        let frame = try frameCreate(size: 4096)
        let buffer = UnsafeMutablePointer<UInt32>(bitPattern: UInt(ipcBuffer))!
        buffer[0] = frame.raw
        try measure(sender, .handle1, words: (0, 0, 0, 0), wordCount: 0, handles: 1)
        try measureNotify()
        return 0
    } catch {
        print("ipcbench client: \(error.name)")
        return 1
    }
}

func programMain(_ startup: Startup) -> Int32 {
    let handles = handleArguments(startup)
    for word in startup.commandLine.split(separator: " ") where word.hasPrefix("rounds=") {
        if let n = UInt64(word.dropFirst(7)) { rounds = n; warmup = min(warmup, n) }
    }
    for word in startup.commandLine.split(separator: " ") where word.hasPrefix("only=") { only = word.dropFirst(5) }
    guard let endpoint = handles.first else {
        print("ipcbench: started without an endpoint handle")
        return 2
    }
    // An IPC buffer page for the handle-transfer variant.
    let ipcBuffer: UInt64 = 0x20_0000_0000
    do throws(SysError) {
        let page = try frameCreate(size: 4096)
        try vmemMap(Runtime.vmem, frame: page, address: ipcBuffer, length: 4096, flags: [.read, .write])
        try threadSetIPCBuffer(try threadSelf(), address: ipcBuffer)
    } catch {
        print("ipcbench: no IPC buffer: \(error.name)")
        return 3
    }
    if startup.hasFlag("server") { return serve(endpoint, ipcBuffer: ipcBuffer) }
    if startup.hasFlag("pairs") { return runPairs() }
    return client(endpoint, ipcBuffer: ipcBuffer)
}
