// The system utilities: ps and kill (pm), uptime, free, sleep, yes, syscalls (the kernel's tracker
// through tracker_read), date (timed), lspci (pcid), dmesg. Each needs the service it asks to be among
// this program's imports (`import:pm`, `import:time`, `import:pci`) and says so when it is not.

/// The Sender to `service`, or an error line naming it.
func importedService(_ service: String) -> Handle? {
    if let h = IO.startup.imported(service) { return h }
    IO.error("no `" + service + "` service given to this program")
    return nil
}

/// ps: the processes pm knows (pm's list: id, parent, state, threads, memory, name).
func ps(_ arguments: [String]) -> Int32 {
    guard options(arguments, flags: "ef") != nil, let pm = importedService("pm") else { return 1 }
    let records: [ProcessRecord]
    do throws(ServiceError) { records = try ProcessClient(pm).list() } catch {
        IO.error("pm: list failed (error \(error.rawValue))")
        return 1
    }
    IO.line(SystemFormat.psHeader)
    for r in records { IO.line(SystemFormat.psLine(r)) }
    return 0
}

/// kill [-N | -NAME | -SIGNAME | -s SIGNAL] PID..., kill -l: asks pm to send the signal (default
/// SIGTERM) to each process. No process can catch a signal: every one but 0 ends it, and its parent's
/// wait reports that signal (a shell shows 128+N); 0 only checks that the process exists.
func kill(_ arguments: [String]) -> Int32 {
    if arguments.first == "-l" {
        for n in 1...SignalNames.names.count { IO.line(UtilityFormat.right("\(n)", 2) + ") SIG" + SignalNames.name(n)) }
        return 0
    }
    guard let (signal, words) = SignalNames.killArguments(arguments) else {
        IO.error("invalid signal specification")
        return 1
    }
    guard !words.isEmpty else { return missingOperand() }
    guard let pm = importedService("pm") else { return 1 }
    var status: Int32 = 0
    let client: ProcessClient
    do throws(ServiceError) { client = try ProcessClient(pm) } catch {
        IO.error("pm: no connection")
        return 1
    }
    for word in words {
        guard let id = UtilityFormat.count(word), id <= Int(UInt32.max) else {
            IO.error("'" + word + "': not a process id")
            status = 1
            continue
        }
        do throws(ServiceError) {
            if signal == 0 {
                guard try client.list().contains(where: { $0.id == UInt32(id) }) else { throw .noSuchProcess }
            } else {
                try client.kill(UInt32(id), signal: UInt64(signal))
            }
        } catch {
            IO.error("(\(id)): " + (error == .noSuchProcess ? "no such process" : error == .notPermitted ? "operation not permitted" : "failed (error \(error.rawValue))"))
            status = 1
        }
    }
    return status
}

/// uptime: the time (from timed when given) and how long the system has run (the monotonic clock).
func uptime(_ arguments: [String]) -> Int32 {
    guard options(arguments, flags: "") != nil else { return 1 }
    var prefix = ""
    if let time = IO.startup.imported("time"), let now = try? TimeClient(time).now() {
        let t = CivilDateTime(unixSeconds: Int64(now.wall / 1_000_000_000))
        prefix = UtilityFormat.two(t.hour) + ":" + UtilityFormat.two(t.minute) + ":" + UtilityFormat.two(t.second) + " "
    }
    IO.line(prefix + SystemFormat.uptime(nanoseconds: Clock.now()))
    return 0
}

/// free [-h]: the kernel's free memory and its heap.
func free(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "hk") else { return 1 }
    let frames = (try? systemInfo(.freeFrames)) ?? 0, heap = (try? systemInfo(.heapPages)) ?? 0
    for line in SystemFormat.free(freeFrames: frames, heapPages: heap, human: a.has("h")) { IO.line(line) }
    return 0
}

/// sleep DURATION...: the durations added (seconds, with an optional fraction and s/m/h/d).
func sleep(_ arguments: [String]) -> Int32 {
    guard !arguments.isEmpty else { return missingOperand() }
    var total: UInt64 = 0
    for word in arguments {
        guard let ns = UtilityFormat.duration(word) else {
            IO.error("invalid time interval '" + word + "'")
            return 1
        }
        total += ns
    }
    let end = Clock.now() + total
    while Clock.now() < end { threadSleep(nanoseconds: end - Clock.now()) }
    return 0
}

/// yes [WORD...]: the words (or `y`) forever, until standard output fails.
func yes(_ arguments: [String]) -> Int32 {
    let line = Array(((arguments.isEmpty ? "y" : arguments.joined(separator: " ")) + "\n").utf8)
    var block: [UInt8] = []
    while block.count < 2048 { block += line }
    while !IO.outputBroken {
        IO.out(block)
        IO.flush(STDOUT_FILENO, &IO.outBuffer)
        // Without a descriptor the kernel log is the output: a bounded amount, then stop.
        if !Posix.isOpen(STDOUT_FILENO) { return 0 }
    }
    return 1
}

/// syscalls: the kernel's syscall counts (tracker_read), the busiest first, as `osh syscalls` shows them.
func syscalls(_ arguments: [String]) -> Int32 {
    guard options(arguments, flags: "") != nil else { return 1 }
    let table: [UInt64]
    do throws(SysError) { table = try trackerRead() } catch {
        IO.error("tracker_read: " + staticText(error.name))
        return 1
    }
    guard let lines = SystemFormat.trackerLines(table) else {
        IO.error("the kernel's tracker table has an unknown layout")
        return 1
    }
    for l in lines { IO.line(l) }
    return 0
}

/// date [-u] [-I] [+%s]: timed's wall clock (UTC: there are no time zones).
func date(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "uIR") else { return 1 }
    guard let time = importedService("time") else { return 1 }
    let now: (wall: UInt64, monotonic: UInt64, rtcAtStart: UInt64)
    do throws(SysError) { now = try TimeClient(time).now() } catch {
        IO.error("timed: " + staticText(error.name))
        return 1
    }
    let seconds = Int64(now.wall / 1_000_000_000)
    if a.operands.first == "+%s" { IO.line("\(seconds)") }
    else if let f = a.operands.first { IO.error("unsupported format '" + f + "' (only +%s)"); return 1 }
    else if a.has("I") { IO.line(SystemFormat.isoDate(unixSeconds: seconds)) }
    else { IO.line(SystemFormat.date(unixSeconds: seconds)) }
    return 0
}

/// lspci [-n]: pcid's functions with their class names (-n: numbers only).
func lspci(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "nv") else { return 1 }
    guard let pci = importedService("pci") else { return 1 }
    guard let count = try? senderCall(pci, IPCMessage(label: PCILabel.count.rawValue)), count.tag.label == 0 else {
        IO.error("pcid: count failed")
        return 1
    }
    for i in 0..<count.words.0 {
        guard let f = try? senderCall(pci, IPCMessage(label: PCILabel.function.rawValue, i)), f.tag.label == 0 else {
            IO.error("pcid: function \(i) failed")
            return 1
        }
        let w0 = PCIFunctionWord0(f.words.0), w1 = PCIFunctionWord1(f.words.1)
        var line = SystemFormat.lspciLine(bus: w0.bus, device: w0.device, function: w0.function, cls: w1.classCode,
                                          sub: w1.subclass, vendor: w0.vendor, deviceID: w0.deviceID, revision: w1.revision)
        if a.has("n"), let colon = line.utf8.firstIndex(of: UInt8(ascii: " ")) {
            // `00:1f.2 0106: 8086:2922 (rev 02)`: the class number instead of its name.
            let location = String(line[..<colon])
            line = location + " " + UtilityFormat.hex(UInt64(w1.classCode), digits: 2) + UtilityFormat.hex(UInt64(w1.subclass), digits: 2)
                + ": " + UtilityFormat.hex(UInt64(w0.vendor), digits: 4) + ":" + UtilityFormat.hex(UInt64(w0.deviceID), digits: 4)
                + (w1.revision != 0 ? " (rev " + UtilityFormat.hex(UInt64(w1.revision), digits: 2) + ")" : "")
        }
        IO.line(line)
    }
    return 0
}

/// dmesg: the kernel log as its ring holds it (log_read, syscall 77, from the oldest byte still there); a
/// first line says how many older bytes the ring dropped, when it did.
func dmesg(_ arguments: [String]) -> Int32 {
    guard options(arguments, flags: "") != nil else { return 1 }
    var reader = KernelLogReader()
    let bytes: [UInt8]
    do throws(SysError) { bytes = try reader.all() } catch {
        IO.error("log_read: " + staticText(error.name))
        return 1
    }
    if reader.lost > 0 { IO.line("dmesg: \(reader.lost) older bytes are gone from the ring") }
    IO.out(bytes)
    if let last = bytes.last, last != 10 { IO.out([10]) }
    return 0
}
