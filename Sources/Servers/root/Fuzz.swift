// `fuzz=SEED[-LAST][,COUNT][,known][,trace][,child=K][,selftest]`: root runs the system-call fuzzer (Sources/Servers/fuzz)
// once per seed, from the boot module `fuzz`, and checks after each run that free frames and live
// kernel objects are back at their baseline exactly; kernel heap pages that stay with their size class
// are counted apart (free frames + heap pages must be equal) and their growth is bounded. One line per
// seed (`fuzz: seed S: N calls, ok` or `fuzz: seed S: FAIL …`), then `fuzz: N passed, N failed`.

/// What a fuzz run is asked to do.
struct FuzzRequest {
    var first: UInt64 = 1
    var last: UInt64 = 1
    var count: UInt64 = 10_000
    var flags: [String] = []

    /// Parses the value of `fuzz=`; nil when it is malformed.
    init?(_ value: Substring) {
        let parts = value.split(separator: ",", omittingEmptySubsequences: false)
        guard let seeds = parts.first else { return nil }
        let range = seeds.split(separator: "-")
        guard range.count == 1 || range.count == 2, let first = UInt64(range[0]),
              let last = range.count == 2 ? UInt64(range[1]) : first, first <= last else { return nil }
        self.first = first
        self.last = last
        for part in parts.dropFirst() {
            if let n = UInt64(part) { count = n }
            else if part == "known" || part == "trace" || part == "selftest" || part.hasPrefix("child=") { flags.append(String(part)) }
            else { return nil }
        }
    }
}

func runFuzz(_ startup: Startup, _ value: Substring) -> Int32 {
    guard let request = FuzzRequest(value) else {
        print("fuzz: bad fuzz= value '\(value)': expected fuzz=SEED[-LAST][,COUNT][,known][,trace][,child=K][,selftest]")
        return 1
    }
    // The fuzzer's image: a boot module `fuzz`, else bin/fuzz in the initfs (made before the baseline).
    let found: (frame: Handle, owned: Bool)?
    do throws(SysError) { found = try Programs.image(named: "fuzz", startup) } catch {
        print("fuzz: the fuzz program's image: \(error.name)")
        return 1
    }
    guard let (image, owned) = found else {
        print("fuzz: needs the fuzz program (a boot module, or bin/fuzz in the initfs)")
        return 1
    }
    defer { if owned { try? handleClose(image) } }
    fuzzResources = narrowedForFuzz(startup.resource)
    defer { for h in fuzzResources { try? handleClose(h) } }
    _ = fuzzOnce(image, seed: 0, count: 0, flags: [])        // warm-up: first-use allocations
    settle(until: KernelFigures.now())
    var passed = 0, failed = 0
    for seed in request.first...request.last {
        print("fuzz: seed \(seed): start")
        let before = KernelFigures.now()
        let code = fuzzOnce(image, seed: seed, count: request.count, flags: request.flags)
        let after = settle(until: before)
        if let code, code < fuzzFailedBit, after.matches(before) {
            print("fuzz: seed \(seed): \(code) calls, ok")
            print("fuzz: seed \(seed): kernel heap \(after.heapPages) pages (\(Int64(after.heapPages) - Int64(before.heapPages)) since the start, bound \(KernelFigures.heapPageBound))")
            passed += 1
            continue
        }
        failed += 1
        if let code {
            if ExitCode.isFault(code) || code == ExitCode.stopped {
                print("fuzz: seed \(seed): FAIL: the fuzzer itself ended with code \(hex(code)) (a fault in the fuzzer, see its report above)")
            } else if code & fuzzFailedBit != 0 {
                print("fuzz: seed \(seed): FAIL: the fuzzer saw a bad result after \(code & ~fuzzFailedBit) calls (line above)")
            } else if code >= fuzzFailedBit { print("fuzz: seed \(seed): FAIL: the fuzzer ended with code \(hex(code))") }
        } else { print("fuzz: seed \(seed): FAIL: could not start the fuzzer") }
        if !after.matches(before) {
            print("fuzz: seed \(seed): FAIL leak: free frames \(before.freeFrames) -> \(after.freeFrames), heap pages \(before.heapPages) -> \(after.heapPages), live objects \(before.liveObjects) -> \(after.liveObjects)")
        }
    }
    print("fuzz: \(passed) passed, \(failed) failed")
    return failed == 0 ? 0 : 1
}

/// Bit 62 of the fuzzer's exit code: it saw a failure (Sources/Servers/fuzz/Main.swift).
let fuzzFailedBit: UInt64 = 1 << 62

/// The narrowed Resources every fuzzer run gets (made once, so the leak check's baseline holds them).
var fuzzResources: [Handle] = []

/// Resources the fuzzer may use without harm (as Sources/Servers/fuzz/Main.swift's FuzzDevices): the COM2
/// ports, ISA line 5, the VGA window. The machine's Resource stays with root.
func narrowedForFuzz(_ machine: Handle) -> [Handle] {
    let ranges: [(ResourceKind, UInt64, UInt64)] = [(.ioPort, 0x2f8, 8), (.irq, 5, 1), (.physical, 0xa_0000, 0x2_0000)]
    return ranges.compactMap { (kind, base, size) in try? resourceCreate(machine, kind: kind, base: base, size: size) }
}

/// Runs the fuzzer once; its exit code (calls made, or a failure), nil when it did not start.
func fuzzOnce(_ image: Handle, seed: UInt64, count: UInt64, flags: [String]) -> UInt64? {
    let line = (["main", String(seed), String(count)] + flags).joined(separator: " ")
    guard let spawned = try? Spawn.start(image: image, name: "fuzz", commandLine: line, give: [image] + fuzzResources) else { return nil }
    return try? spawned.wait()
}

