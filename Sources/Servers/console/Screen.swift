// The console's second screen: outputd's text console on the framebuffer (import:output, optional).
// Everything the console writes to COM1 (program output, echo, redraws) goes there too, and so do the
// kernel's log lines, read from the kernel log ring (log_read) and interleaved by ScreenMirror
// (Sources/Formats/ScreenMirror.swift) as the kernel interleaves them on the serial line, so each
// kernel line shows once. Before each terminal write the loop takes the log bytes logged until then;
// a thread (startLogWatch) wakes the loop when the log grew while the terminal was quiet. Only the
// loop thread calls Screen (it shares the loop's IPC buffer page, whose request bytes are taken before
// any write here). outputd draws a write before it answers; one that fails or takes longer than
// `timeout` ends the mirror (one log line), and the serial terminal goes on alone.

final class Screen {
    /// Bytes per write (the IPC buffer's).
    static let piece = IPCBuffer.maxBytes
    /// How long the console waits for outputd to draw one piece.
    static let timeout: UInt64 = 20_000_000_000

    let output: Handle
    let file: UInt64
    let page: IPCBufferPage
    var mirror = ScreenMirror()
    var log = KernelLogReader()
    var broken = false

    init(output: Handle, file: UInt64, page: IPCBufferPage) {
        self.output = output
        self.file = file
        self.page = page
    }

    /// Opens outputd's screen ("/", write-only); nil (and why) when there is none.
    static func open(_ output: Handle, page: IPCBufferPage) -> (Screen?, String) {
        let path = Array("/".utf8)
        _ = path.withUnsafeBytes { page.put($0) }
        var request = IPCMessage(tag: IPCTag(words: 2, bytes: path.count, label: FileLabel.open.rawValue))
        request.words.0 = OpenFlags.write.rawValue
        guard let reply = try? senderCall(output, request, timeout: timeout) else { return (nil, "outputd does not answer") }
        if reply.tag.label == FileError.noServer.rawValue { return (nil, "outputd has no framebuffer") }
        guard reply.tag.label == 0 else { return (nil, "outputd refused the screen (label \(reply.tag.label))") }
        return (Screen(output: output, file: reply.words.0, page: page), "")
    }

    /// The log bytes not yet on the screen, as the screen shows them (to write before the terminal's
    /// next bytes, which go through `mirror.terminal`).
    func kernelLines() -> [UInt8] {
        var out: [UInt8] = []
        while let bytes = try? log.next(limit: 16384), !bytes.isEmpty { out += mirror.kernel(bytes) }
        return out
    }

    /// Draws screen bytes, in pieces; a failure ends the mirror (`broken`).
    func write(_ bytes: [UInt8]) {
        var i = 0
        while i < bytes.count && !broken {
            let n = min(Screen.piece, bytes.count - i)
            _ = bytes.withUnsafeBytes { page.put(UnsafeRawBufferPointer(rebasing: $0[i..<i + n])) }
            var m = IPCMessage(tag: IPCTag(words: 3, bytes: n, label: FileLabel.write.rawValue))
            m.words.0 = file
            m.words.1 = UInt64(n)
            let reply = try? senderCall(output, m, timeout: Screen.timeout)
            if reply == nil || reply!.tag.label != 0 {
                broken = true
                print("console: outputd's screen stopped answering (label \(reply?.tag.label ?? 0)); the terminal stays on COM1 only")
            }
            i += n
        }
    }
}

/// A thread that wakes the loop (badge `redrawBadge`, label `logLabel`) when the kernel log grew: every
/// `period` ns it compares system_info(logSequence) with the last value it saw.
func startLogWatch(receiver: Handle, period: UInt64 = 100_000_000) throws(SysError) {
    let sender = try senderCreate(receiver, badge: ConsoleServer.redrawBadge)
    _ = try spawnThread {
        var seen: UInt64 = 0
        while true {
            threadSleep(nanoseconds: period)
            guard let now = try? systemInfo(.logSequence) else { return 1 }
            if now != seen {
                seen = now
                _ = try? senderCall(sender, IPCMessage(label: ConsoleServer.logLabel))
            }
        }
    }
}
