// devicetest: the guest half of Tests/IntegrationTests/InputDeviceTests.swift. init runs it with
// `devicetest` on the kernel command line (init.conf), with Senders to kbd, moused, timed and rngd. It
// checks timed (wall clock printed for the host to compare, sleeps, alarms in order, cancel, many
// sleepers at once), rngd (sources, bytes for the host to compare across boots, frequency and byte
// counts, getrandom and arc4random_buf), malformed requests to all four, and then prints every key and
// mouse event the host sends through QMP. `ok NAME` / `FAIL NAME: why` per check, then
// `devicetest: N passed, N failed`; the exit code is the failures.

let programName: StaticString = "devicetest"

var passed = 0, failed = 0

func check(_ name: String, _ ok: Bool, _ why: @autoclosure () -> String = "") {
    if ok { passed += 1; print("devicetest: ok \(name)") } else { failed += 1; print("devicetest: FAIL \(name): \(why())") }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// A request with `label` and words, and nothing else; the reply's label.
func callLabel(_ sender: Handle, _ tag: IPCTag, _ w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)) -> UInt32? {
    (try? senderCall(sender, IPCMessage(tag: tag, words: w)))?.tag.label
}

func programMain(_ startup: Startup) -> Int32 {
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("devicetest: no IPC buffer page")
        return 1
    }
    guard let input = startup.imported("input"), let mouse = startup.imported("mouse"),
          let time = startup.imported("time"), let random = startup.imported("random") else {
        print("devicetest: FAIL: missing import:input, mouse, time or random")
        return 1
    }
    timeChecks(TimeClient(time), page: page)
    randomChecks(random, page: page)
    malformedInput(input, page: page)
    inputChecks(input: input, mouse: mouse, time: TimeClient(time), page: page)
    print("devicetest: \(passed) passed, \(failed) failed")
    return Int32(failed)
}

// MARK: timed

/// Wall-clock ns as seconds with three decimals.
func wallText(_ ns: UInt64) -> String {
    let seconds = ns / 1_000_000_000, ms = ns / 1_000_000 % 1000
    return "\(seconds).\(ms < 100 ? (ms < 10 ? "00" : "0") : "")\(ms)"
}

func timeChecks(_ time: TimeClient, page: IPCBufferPage) {
    if let now = try? time.now() {
        print("devicetest: time wall \(wallText(now.wall)) monotonic \(now.monotonic) rtc \(now.rtcAtStart)")
        check("time.now", now.wall / 1_000_000_000 >= now.rtcAtStart && now.rtcAtStart > 1_700_000_000, "wall \(now.wall), rtc \(now.rtcAtStart)")
    } else {
        check("time.now", false, "no answer")
    }
    // One sleep through timed.
    let before = Clock.now()
    let slept = (try? time.sleep(200_000_000)) != nil
    let took = Clock.now() - before
    check("time.sleep", slept && took >= 200_000_000, "slept \(slept), \(took) ns")
    // Alarms set out of order fire in deadline order, none early.
    guard let notify = try? notifyCreate() else { check("time.alarms", false, "no Notify"); return }
    let base = Clock.now() + 200_000_000
    let plan: [(offset: UInt64, bit: UInt64)] = [(600_000_000, 4), (200_000_000, 1), (400_000_000, 2), (300_000_000, 8)]
    var ids: [UInt64] = []
    for p in plan { if let id = try? time.alarm(at: base + p.offset, notify: notify, bits: p.bit, page: page) { ids.append(id) } }
    check("time.alarm_set", ids.count == 4, "\(ids.count) of 4 set")
    let cancelled = ids.count == 4 ? ((try? time.cancel(ids[3])) ?? false) : false
    check("time.cancel", cancelled)
    check("time.cancel_twice", ids.count == 4 && (try? time.cancel(ids[3])) == false, "a second cancel succeeded")
    var order: [UInt64] = [], late: [UInt64] = []
    var early = false
    while order.count < 3 {
        guard let bits = try? notifyWait(notify, timeout: 5_000_000_000) else { break }
        let at = Clock.now()
        for p in plan.sorted(by: { $0.offset < $1.offset }) where bits & p.bit != 0 {
            order.append(p.bit)
            if at < base + p.offset { early = true }
            late.append((at - min(at, base + p.offset)) / 1_000_000)
        }
    }
    print("devicetest: alarms fired \(order.map { String($0) }.joined(separator: ",")) late by \(late.map { String($0) }.joined(separator: ",")) ms")
    check("time.alarms_in_order", order == [1, 2, 4] && !early, "order \(order), early \(early)")
    check("time.cancelled_alarm_silent", ((try? notifyPoll(notify)) ?? 0) & 8 == 0)
    // Many sleepers at once: each thread sleeps a different time; all wake after their own deadline.
    let durations: [UInt64] = [500, 100, 400, 200, 300, 150, 350, 250].map { $0 * 1_000_000 }
    var woke = [UInt64](repeating: 0, count: durations.count)
    let start = Clock.now()
    var threads: [SpawnedThread] = []
    woke.withUnsafeMutableBufferPointer { slots in
        for (i, d) in durations.enumerated() {
            let slot = slots.baseAddress! + i
            if let t = try? spawnThread({
                guard (try? time.sleep(d)) != nil else { return 1 }
                slot.pointee = Clock.now()
                return 0
            }) { threads.append(t) }
        }
        for t in threads { _ = try? t.join() }
    }
    let allLate = durations.indices.allSatisfy { woke[$0] >= start + durations[$0] }
    let sorted = durations.indices.sorted { durations[$0] < durations[$1] }
    let inOrder = zip(sorted, sorted.dropFirst()).allSatisfy { woke[$0.0] <= woke[$0.1] }
    check("time.many_sleepers", threads.count == durations.count && allLate && inOrder,
          "\(threads.count) threads, none early \(allLate), in order \(inOrder)")
    if let r = try? senderCall(time.sender, IPCMessage(tag: IPCTag(label: TimeLabel.info.rawValue))) {
        print("devicetest: timed info pending \(r.words.0) fired \(r.words.1) kernel timeouts \(r.words.2)")
        check("time.info", r.tag.label == 0 && r.words.0 == 0 && r.words.1 >= 12, "pending \(r.words.0), fired \(r.words.1)")
    }
    // Malformed requests get error replies.
    let bad = TimeError.badMessage.rawValue, invalid = TimeError.invalid.rawValue
    check("time.malformed_label", callLabel(time.sender, IPCTag(label: 77)) == bad)
    check("time.malformed_words", callLabel(time.sender, IPCTag(label: TimeLabel.sleep.rawValue)) == bad)
    check("time.malformed_bytes", callLabel(time.sender, IPCTag(words: 1, bytes: 8, label: TimeLabel.sleep.rawValue)) == bad)
    check("time.alarm_without_notify", callLabel(time.sender, IPCTag(words: 2, label: TimeLabel.alarm.rawValue), (1, 1, 0, 0)) == bad)
    check("time.sleep_too_long", callLabel(time.sender, IPCTag(words: 1, label: TimeLabel.sleep.rawValue), (UInt64.max, 0, 0, 0)) == invalid)
    if let f = try? frameCreate(size: 4096) {
        page.setHandle(0, f)
        check("time.alarm_with_frame", callLabel(time.sender, IPCTag(words: 2, handles: 1, label: TimeLabel.alarm.rawValue), (0, 1, 0, 0)) == invalid)
    }
    if let n = try? notifyCreate() {
        page.setHandle(0, n)
        check("time.alarm_zero_bits", callLabel(time.sender, IPCTag(words: 2, handles: 1, label: TimeLabel.alarm.rawValue), (0, 0, 0, 0)) == invalid)
    }
}

// MARK: rngd

func randomChecks(_ random: Handle, page: IPCBufferPage) {
    if let r = try? senderCall(random, IPCMessage(tag: IPCTag(label: RandomLabel.info.rawValue))), r.tag.label == 0 {
        let s = RandomSources(rawValue: r.words.0)
        print("devicetest: random sources\(s.contains(.rdseed) ? " rdseed" : "")\(s.contains(.rdrand) ? " rdrand" : "")"
              + "\(s.contains(.jitter) ? " jitter" : "")\(s.isDisjoint(with: [.rdrand, .rdseed]) ? " (no hardware source)" : "")")
    }
    // 64 KiB through readBytes.
    var data: [UInt8] = []
    while data.count < 65536 {
        guard let r = try? senderCall(random, IPCMessage(label: RandomLabel.readBytes.rawValue, 4096 - 64)),
              r.tag.label == 0, r.tag.bytes == 4032 else { break }
        data += page.take(4032)
    }
    check("random.read_bytes", data.count >= 65536, "\(data.count) bytes")
    print("devicetest: random first \(data.prefix(16).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())")
    // Frequency (monobit) test: ones within 4 standard deviations of half; byte counts by chi-square.
    let bits = data.count * 8
    let ones = data.reduce(0) { $0 + $1.nonzeroBitCount }
    var sd = 1   // the binomial standard deviation of the ones, sqrt(bits / 4) (no libm here)
    while (sd + 1) * (sd + 1) * 4 <= bits { sd += 1 }
    var counts = [Int](repeating: 0, count: 256)
    for b in data { counts[Int(b)] += 1 }
    let expected = Double(data.count) / 256
    let chi2 = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
    print("devicetest: random monobit \(ones) of \(bits) bits, chi-square \(Int(chi2)) (255 degrees of freedom)")
    check("random.monobit", abs(ones - bits / 2) < 4 * sd, "\(ones) ones of \(bits)")
    check("random.chi_square", chi2 > 150 && chi2 < 380, "chi-square \(chi2)")
    // The 32-byte read, getrandom and arc4random_buf: distinct, not all zero.
    var a = [UInt8](repeating: 0, count: 32), b = [UInt8](repeating: 0, count: 32), c = [UInt8](repeating: 0, count: 32)
    let got = a.withUnsafeMutableBytes { getrandom($0.baseAddress!, 32, 0) }
    b.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, 32) }
    c.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, 32) }
    check("random.getrandom", got == 32 && a != [UInt8](repeating: 0, count: 32), "getrandom returned \(got)")
    check("random.arc4random_buf", b != c && b != a && b != [UInt8](repeating: 0, count: 32))
    let bad = RandomError.badMessage.rawValue, invalid = RandomError.invalid.rawValue
    check("random.malformed_label", callLabel(random, IPCTag(label: 99)) == bad)
    check("random.read_bytes_zero", callLabel(random, IPCTag(words: 1, label: RandomLabel.readBytes.rawValue), (0, 0, 0, 0)) == invalid)
    check("random.read_bytes_too_many", callLabel(random, IPCTag(words: 1, label: RandomLabel.readBytes.rawValue), (5000, 0, 0, 0)) == invalid)
    check("random.read_bytes_no_words", callLabel(random, IPCTag(label: RandomLabel.readBytes.rawValue)) == bad)
    if let n = try? notifyCreate() {
        page.setHandle(0, n)
        check("random.handle_refused", callLabel(random, IPCTag(handles: 1, label: RandomLabel.read.rawValue)) == bad)
    }
}

// MARK: kbd and moused

func malformedInput(_ input: Handle, page: IPCBufferPage) {
    let bad = InputError.badMessage.rawValue
    check("input.malformed_label", callLabel(input, IPCTag(label: 42)) == bad)
    check("input.read_unknown_id", callLabel(input, IPCTag(words: 2, label: InputLabel.read.rawValue), (999, 1, 0, 0)) == InputError.badSubscription.rawValue)
    check("input.subscribe_without_notify", callLabel(input, IPCTag(words: 1, label: InputLabel.subscribe.rawValue), (1, 0, 0, 0)) == bad)
    if let f = try? frameCreate(size: 4096) {
        page.setHandle(0, f)
        check("input.subscribe_with_frame", callLabel(input, IPCTag(words: 1, handles: 1, label: InputLabel.subscribe.rawValue), (1, 0, 0, 0)) == InputError.invalid.rawValue)
    }
    check("input.unsubscribe_unknown", callLabel(input, IPCTag(words: 1, label: InputLabel.unsubscribe.rawValue), (12345, 0, 0, 0)) == InputError.badSubscription.rawValue)
}

func inputChecks(input: Handle, mouse: Handle, time: TimeClient, page: IPCBufferPage) {
    guard let keys = try? InputClient(input, page: page), let pointer = try? InputClient(mouse, page: page) else {
        check("input.subscribe", false, "cannot subscribe")
        return
    }
    let kbdInfo = try? InputClient.info(input), mouseInfo = try? InputClient.info(mouse)
    check("input.info", kbdInfo?.kind == InputDeviceKind.keyboard.rawValue && kbdInfo?.ready == true
          && mouseInfo?.kind == InputDeviceKind.mouse.rawValue && mouseInfo?.ready == true,
          "keyboard \(kbdInfo?.kind ?? 0) ready \(kbdInfo?.ready ?? false), mouse \(mouseInfo?.kind ?? 0) ready \(mouseInfo?.ready ?? false)")
    check("input.read_zero", callLabel(input, IPCTag(words: 2, label: InputLabel.read.rawValue), (keys.id, 0, 0, 0)) == InputError.invalid.rawValue)
    // Keys until Escape: each event printed, the characters collected.
    // The wall clock goes out with `input ready`, which the host notices within a fraction of a second.
    let wall = (try? time.now().wall) ?? 0
    print("devicetest: input ready at wall \(wallText(wall))")
    var typed: [UInt32] = []
    var done = false
    let deadline = Clock.now() + 300_000_000_000
    while !done && Clock.now() < deadline {
        guard let events = try? keys.next(timeout: 1_000_000_000) else { continue }
        for e in events {
            print("devicetest: key \(hex(UInt64(e.usage))) \(e.pressed ? "down" : "up") mods \(hex(UInt64(e.modifiers))) char \(hex(UInt64(UInt32(bitPattern: e.a))))")
            if e.pressed && e.a != 0 && e.usage != 0x29 { typed.append(UInt32(bitPattern: e.a)) }
            if e.pressed && e.usage == 0x29 { done = true }
        }
    }
    print("devicetest: typed \(typed.map { hex(UInt64($0)) }.joined(separator: " "))")
    check("input.keys_until_escape", done)
    // Mouse events until the middle button is released.
    print("devicetest: mouse ready")
    var dx = 0, dy = 0, wheel = 0, buttonsSeen: UInt8 = 0, middleDown = false
    done = false
    while !done && Clock.now() < deadline {
        guard let events = try? pointer.next(timeout: 1_000_000_000) else { continue }
        for e in events where e.kind == .motion {
            print("devicetest: motion dx \(e.a) dy \(e.b) wheel \(e.wheel) buttons \(hex(UInt64(e.flags)))")
            dx += Int(e.a); dy += Int(e.b); wheel += Int(e.wheel)
            buttonsSeen |= e.flags
            if e.flags & 4 != 0 { middleDown = true } else if middleDown { done = true }
        }
    }
    print("devicetest: mouse total dx \(dx) dy \(dy) wheel \(wheel) buttons seen \(hex(UInt64(buttonsSeen)))")
    check("input.mouse_until_middle_click", done)
}
