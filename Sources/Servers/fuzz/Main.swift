// fuzz: a seeded system-call fuzzer that runs as an ordinary, unprivileged user program. Root starts it
// for `fuzz=SEED[-LAST][,COUNT][,known][,trace][,child=K][,selftest]` on the kernel command line (root/Fuzz.swift) with the
// command line `main SEED COUNT [known] [trace] [child=K] [selftest] handle=IMAGE`; it starts copies of itself as children
// (`child KIND ARG`). It exits with the number of calls it made, or with failedBit set and a line
// `fuzz: seed S: FAIL …` naming the call when a result was outside the ABI. A kernel panic or hang is
// seen by root and the host (the run ends with the panic status, or makes no progress).

let programName: StaticString = "fuzz"

/// Set in the exit code of a run that saw a failure (the low bits still count the calls).
let failedBit: UInt64 = 1 << 62

func programMain(_ startup: Startup) -> Int32 {
    let words = startup.commandLine.split(separator: " ")
    guard (try? setUpAddressSpace()) != nil else {
        print("fuzz: cannot map the code page and scratch region")
        return 1
    }
    if words.first == "child", words.count >= 3, let kind = UInt64(words[1]).flatMap(ChildKind.init(rawValue:)),
       let argument = UInt64(words[2]) {
        return runChild(kind, argument, trace: words.contains("trace"))
    }
    var options = Options()
    guard words.first == "main", words.count >= 3, let seed = UInt64(words[1]), let count = UInt64(words[2]) else {
        print("fuzz: usage: main SEED COUNT [known] [trace] [child=K] [selftest] handle=IMAGE")
        return 1
    }
    options.seed = seed
    options.count = count
    options.known = words.contains("known")
    options.trace = words.contains("trace")
    options.leaveChild = words.contains("selftest")
    if let only = words.first(where: { $0.hasPrefix("child=") }).flatMap({ UInt64($0.dropFirst(6)) }) {
        options.onlyChild = ChildKind(rawValue: only)
    }
    // handle=IMAGE first, then the narrowed Resources root gives (FuzzDevices).
    let given = words.filter { $0.hasPrefix("handle=") }.compactMap { UInt64($0.dropFirst(7)) }
    if let image = given.first { Engine.image = Handle(image) }
    Engine.resources = given.dropFirst().map { Handle($0) }
    try? handleClose(startup.thread)                      // no handle to the main thread: nothing can stop it
    let (calls, failed) = fuzz(options)
    processExit(failed ? calls | failedBit : calls)
}

/// The main loop: single calls mostly, now and then a helper, a child, an ELF image or a register file.
func fuzz(_ options: Options) -> (UInt64, Bool) {
    let engine = Engine(options)
    var helpers: [Helper] = []
    var children: [Child] = []
    var failed = false
    do throws(FuzzFailure) {
        if options.count > 0 { try engine.directionFlagCheck() }
        for step in 0..<options.count {
            if step % 50_000 == 0 && step > 0 { print("fuzz: seed \(options.seed): \(engine.calls) calls") }
            let roll = engine.r.below(1000)
            if options.trace && roll < 22 { print("fuzz: step \(step): scenario \(roll)") }
            if roll < 5 && helpers.count < engine.maxHelpers {
                engine.startHelper(&helpers)
            } else if roll < 10 && !helpers.isEmpty {
                try engine.reapHelper(helpers.remove(at: engine.r.index(helpers.count)))
            } else if roll < 12 && children.count < 2 {
                engine.startChild(&children)
            } else if roll < 14 && !children.isEmpty {
                engine.reapChild(children.remove(at: engine.r.index(children.count)))
            } else if roll < 18 {
                try engine.elfScenario(&children)
            } else if roll < 21 {
                try engine.registerGame()
            } else if roll < 22 && options.known && engine.r.chance(10) {
                engine.threadFlood()
            } else {
                try engine.step()
            }
        }
        for h in helpers { try engine.reapHelper(h) }
    } catch {
        print("fuzz: seed \(options.seed): FAIL at call \(engine.calls): \(error.message)")
        failed = true
        for h in helpers { try? threadStop(h.thread); _ = try? threadWait(h.thread) }
    }
    for c in children { engine.reapChild(c) }
    if options.leaveChild {                               // `selftest`: root's leak check must see this one
        _ = try? Spawn.start(image: Engine.image, name: "fuzz", commandLine: "child \(ChildKind.block.rawValue) 0")
    }
    return (engine.calls, failed)
}

/// What the Resources root gives the fuzzer cover (root/Fuzz.swift makes them; never the machine's):
/// I/O ports COM2 (absent or idle under QEMU), one ISA line nothing raises, and the VGA window.
enum FuzzDevices {
    static let ports: UInt64 = 0x2f8
    static let portCount: UInt64 = 8
    static let line: UInt64 = 5
    static let physical: UInt64 = 0xa_0000
    static let physicalSize: UInt64 = 0x2_0000
}
