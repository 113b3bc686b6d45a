// What the fuzzer does besides single calls: helper threads that run call lists (and block, exit or
// get killed), children that exit, fault, block, spin or play with flags, segment registers and the
// stack, crafted ELF images for process_load, and register files written into unstarted threads.

/// A helper thread of this process running a call list from its page of Layout.lists.
struct Helper {
    let thread: Handle
    let slot: Int
}

/// A process the fuzzer started and must end before it exits.
struct Child {
    let process: Handle
    let thread: Handle
}

/// What a child does (its command line: `child KIND ARG`).
enum ChildKind: UInt64, CaseIterable {
    case exit, fault, block, flags, segments, stack, lastPage, fuzz, trapFlag, nestedTask
}

/// The word a helper record's result starts as, so that unexecuted records are told apart.
let notRun: UInt64 = 0xfeed_0000_0000_0001

extension Engine {
    var maxHelpers: Int { 8 }

    // MARK: helpers

    /// Starts a helper on a free list page with 1...40 random calls (blocking ones included).
    func startHelper(_ helpers: inout [Helper]) {
        guard let slot = (0..<Int(Layout.listPages - 2)).first(where: { s in !helpers.contains { $0.slot == s } }) else { return }
        let base = Layout.lists + UInt64(slot) * pageSize
        let records = UnsafeMutablePointer<UInt64>(bitPattern: UInt(base))!
        let n = 1 + Int(r.below(40))
        helperMode = true
        for i in 0..<n {
            var number = pickNumber()
            if number == Syscall.processExit.rawValue || (!options.known && number == Syscall.threadCreate.rawValue) {
                number = Syscall.threadYield.rawValue
            }
            var a: [UInt64] = [r.next(), r.next(), r.next(), r.next(), r.next(), r.next()]
            if let call = Syscall(rawValue: number) { arguments(call, &a) }
            records[i * 8] = number
            for k in 0..<6 { records[i * 8 + 1 + k] = a[k] }
            records[i * 8 + 7] = notRun
        }
        helperMode = false
        records[n * 8] = UInt64.max
        guard let thread = try? threadCreate(process: Runtime.process, entry: Stub.runCalls.address, stack: 0, argument: base) else { return }
        if r.chance(30) { try? threadSetPriority(thread, r.below(32)) }     // not started yet: in no queue
        guard (try? threadStart(thread)) != nil else { try? handleClose(thread); return }
        helpers.append(Helper(thread: thread, slot: slot))
        if r.chance(60), let dup = try? handleDuplicate(thread, rights: Rights(rawValue: UInt32(rights()) & Rights.all.rawValue)) {
            add(.handleDuplicate, [UInt64(thread.raw)], dup.raw)
            if let i = pool.firstIndex(where: { $0.value == dup.raw }) { pool[i].isSelf = true; pool[i].type = .thread }
        }
    }

    /// Kills (or lets finish) and waits for a helper; checks the errors its calls got.
    func reapHelper(_ helper: Helper) throws(FuzzFailure) {
        try? threadStop(helper.thread)
        _ = try? threadWait(helper.thread)
        try? handleClose(helper.thread)
        let records = UnsafeMutablePointer<UInt64>(bitPattern: UInt(Layout.lists + UInt64(helper.slot) * pageSize))!
        var i = 0
        while records[i * 8] != UInt64.max && i < 63 {
            let error = records[i * 8 + 7]
            if error != notRun {
                calls += 1
                let a = (1...6).map { records[i * 8 + $0] }
                try check(records[i * 8], a, syscall_result(error: error, value: 0),
                          expect: Syscall(rawValue: records[i * 8]) == nil ? .unknownSyscall : nil)
            }
            i += 1
        }
    }

    // MARK: children

    /// Starts a child from this program's image.
    func startChild(_ children: inout [Child]) {
        var kinds = ChildKind.allCases.filter { $0 != .nestedTask }
        if options.known { kinds.append(.nestedTask) }
        var kind = kinds[r.index(kinds.count)]
        if let only = options.onlyChild { kind = only }
        let giveable = pool.filter { !isProtected($0.value) && $0.rights.contains([.duplicate, .transfer]) && $0.type != .process }
        let give = giveable.isEmpty || r.chance(50) ? [] : [Handle(raw: giveable[r.index(giveable.count)].value)]
        if options.trace { print("fuzz: child kind \(kind.rawValue), giving type \(give.first.flatMap { (try? handleIdentify($0))?.type.rawValue } ?? 0)") }
        let spawned: SpawnedProcess
        do throws(SysError) {
            spawned = try Spawn.start(image: Engine.image, name: "fuzz",
                                      commandLine: "child \(kind.rawValue) \(r.next())\(options.trace ? " trace" : "")", give: give)
        } catch {
            if options.trace { print("fuzz: child not started: \(error.rawValue)") }
            return
        }
        children.append(Child(process: spawned.process, thread: spawned.thread))
        try? handleClose(spawned.vmem)
        if r.chance(50), let dup = try? handleDuplicate(spawned.process, rights: Rights(rawValue: UInt32(rights()) & Rights.all.rawValue)) {
            pool.append(Entry(value: dup.raw, type: .process, rights: (try? handleIdentify(dup).rights) ?? [],
                              object: newObject(), isSelf: false, runs: true))
        }
    }

    /// Ends a child (killing its first thread) and waits for it.
    func reapChild(_ child: Child) {
        try? threadStop(child.thread)
        _ = try? processWait(child.process)
        try? handleClose(child.thread)
        try? handleClose(child.process)
    }

    // MARK: ELF images

    /// Loads a crafted ELF image into a new process; sometimes starts it (then it is a child to end).
    func elfScenario(_ children: inout [Child]) throws(FuzzFailure) {
        let bytes = craftELF()
        guard let frame = try? frameCreate(size: (UInt64(bytes.count) + pageSize - 1) & ~(pageSize - 1)) else { return }
        defer { try? handleClose(frame) }
        guard (try? writeFrame(frame, bytes)) != nil,
              let vmem = try? vmemCreate() else { return }
        defer { try? handleClose(vmem) }
        guard let process = try? processCreate(vmem: vmem) else { return }
        let name = r.chance(80) ? Values.scratchPointer(&r) : Values.hostilePointer(&r)
        let nameLength = r.chance(80) ? r.below(65) : Values.length(&r)
        var a: [UInt64] = [UInt64(process.raw), UInt64(frame.raw), name, nameLength, 0, 0]
        let loaded = raw_syscall(Syscall.processLoad.rawValue, a[0], a[1], a[2], a[3], 0, 0)
        calls += 1
        try check(Syscall.processLoad.rawValue, a, loaded, expect: nil)
        if loaded.error == 0 && r.chance(30) {
            let again = raw_syscall(Syscall.processLoad.rawValue, a[0], a[1], a[2], a[3], 0, 0)   // overlaps itself
            a[4] = 1
            try check(Syscall.processLoad.rawValue, a, again, expect: nil)
        }
        if loaded.error == 0 && r.chance(40),
           let thread = try? threadCreate(process: process, entry: loaded.value, stack: r.chance(50) ? 0 : Spawn.stackTop, argument: 0) {
            try? threadSetPriority(thread, 0)                            // its code may spin: it starves no one
            if (try? threadStart(thread)) != nil {
                if options.trace { print("fuzz: elf child started") }
                children.append(Child(process: process, thread: thread))
                return
            }
            try? handleClose(thread)
        }
        try? handleClose(process)
    }

    /// An ELF64 header, 0...8 program headers (PT_LOAD, PT_NOTE, others) and some bytes, each field
    /// sometimes hostile. Segments larger than 16 MiB only with `known` (finding 2).
    func craftELF() -> [UInt8] {
        let phnum = Int(r.below(9))
        let payload = Int(r.below(2 * pageSize))
        var b = [UInt8](repeating: 0, count: 64 + 56 * phnum + payload)
        func put(_ offset: Int, _ value: UInt64, _ size: Int) {
            for k in 0..<size where offset + k < b.count { b[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
        }
        func maybe(_ normal: UInt64) -> UInt64 { r.chance(8) ? r.pick([0, 1, UInt64.max, r.next(), normal ^ (1 << r.below(64))]) : normal }
        for i in 0..<payload { b[64 + 56 * phnum + i] = UInt8(truncatingIfNeeded: r.chance(50) ? 0xcc : r.next()) }
        put(0, r.chance(97) ? 0x0101_0246_4c45_7f : r.next(), 8)      // \x7fELF, 64-bit, little-endian, version 1
        put(16, maybe(2), 2); put(18, maybe(0x3e), 2); put(20, maybe(1), 4)
        put(24, r.chance(70) ? 0x40_0000 + r.below(UInt64(b.count)) : Values.hostilePointer(&r), 8)
        put(32, maybe(64), 8); put(40, maybe(0), 8); put(52, maybe(64), 2); put(54, maybe(56), 2)
        put(56, r.chance(95) ? UInt64(phnum) : r.below(0x10000), 2)
        for i in 0..<phnum {
            let h = 64 + 56 * i
            let type: UInt64 = r.chance(70) ? 1 : r.pick([4, 0x6474_e551, 0, 2, 3, 6, 7, r.next() & 0xffff_ffff])
            let offset = r.chance(80) ? r.below(UInt64(b.count)) & ~(r.chance(70) ? pageSize - 1 : 0) : maybe(UInt64(b.count))
            let filesz = r.chance(85) ? r.below(UInt64(b.count) - min(offset, UInt64(b.count)) + 1) : maybe(UInt64(b.count))
            let vaddr: UInt64 = r.chance(80) ? 0x40_0000 + r.below(64) * pageSize + (r.chance(80) ? offset & (pageSize - 1) : r.below(pageSize))
                : Values.hostilePointer(&r)
            var memsz = filesz &+ (r.chance(50) ? 0 : r.below(1 << 20))
            if r.chance(10) { memsz = options.known ? r.pick([1 << 40, 16 << 30, 1 << 34, r.next()]) : r.below(16 << 20) }
            if r.chance(5) { memsz = filesz / 2 }
            put(h, type, 4); put(h + 4, r.below(8), 4); put(h + 8, offset, 8); put(h + 16, vaddr, 8)
            put(h + 24, vaddr, 8); put(h + 32, filesz, 8); put(h + 40, memsz, 8); put(h + 48, maybe(pageSize), 8)
            if type == 4 && offset < UInt64(b.count) {                   // a note: namesz, descsz, type, "GNU"
                let o = Int(offset)
                put(o, r.chance(70) ? 4 : r.next(), 4); put(o + 4, r.chance(70) ? 20 : r.next(), 4)
                put(o + 8, r.chance(70) ? 3 : r.next(), 4); put(o + 12, 0x0055_4e47, 4)
            }
        }
        return b
    }

    // MARK: register files

    /// Writes a random register file (any flag bits, odd fs/gs bases, rip at a stub or hostile) into an
    /// unstarted thread of this process, then starts it and waits for it.
    func registerGame() throws(FuzzFailure) {
        guard let thread = try? threadCreate(process: Runtime.process, entry: Stub.exit.address, stack: 0, argument: 0) else { return }
        var registers = (0..<RegisterIndex.count).map { _ in r.chance(50) ? r.next() : Values.hostilePointer(&r) }
        registers[RegisterIndex.rflags.rawValue] = r.chance(50) ? r.next() : r.pick([0x4000, 0x100, 0x40000, 0x3000, 0x20000, 0x10000, 0x400]) | 0x202
        let kernelRIP = r.chance(20)
        registers[RegisterIndex.rip.rawValue] = kernelRIP ? Values.hostilePointer(&r) | 0x8000_0000_0000_0000 : Stub.exit.address
        let a: [UInt64] = [UInt64(thread.raw), Layout.scratch, UInt64(RegisterIndex.count * 8)] + registers.prefix(3)
        let result = registers.withUnsafeBytes { b in
            raw_syscall(Syscall.threadWriteRegisters.rawValue, UInt64(thread.raw), UInt64(UInt(bitPattern: b.baseAddress)),
                        UInt64(b.count), 0, 0, 0)
        }
        calls += 1
        try check(Syscall.threadWriteRegisters.rawValue, a, result, expect: kernelRIP ? .badAddress : nil)
        if result.error != 0 {                                           // the exit stub, plain flags
            registers[RegisterIndex.rip.rawValue] = Stub.exit.address
            registers[RegisterIndex.rflags.rawValue] = 0x202
            try? threadWriteRegisters(thread, registers)
        }
        try? threadSetPriority(thread, r.below(32))                     // not started yet: in no queue
        try? threadStart(thread)
        _ = try? threadWait(thread)
        try? handleClose(thread)
    }

    /// A page the kernel fills on a fault taken with the direction flag set must still be zeroed: a
    /// frame is dirtied and freed, and a new one is first touched by a store made with DF = 1.
    func directionFlagCheck() throws(FuzzFailure) {
        guard let dirty = try? frameCreate(size: 16 * pageSize) else { return }
        let pattern = [UInt8](repeating: 0xa5, count: Int(16 * pageSize))
        _ = try? writeFrame(dirty, pattern)
        try? handleClose(dirty)
        guard let fresh = try? frameCreate(size: 16 * pageSize) else { return }
        defer { try? handleClose(fresh) }
        let address = Layout.playground + Layout.playgroundSize - 64 * pageSize
        guard (try? vmemMap(Runtime.vmem, frame: fresh, address: address, length: 16 * pageSize, flags: [.read, .write])) != nil else { return }
        defer { try? vmemUnmap(Runtime.vmem, address: address, length: 16 * pageSize) }
        for page in 0..<UInt64(16) { _ = Stub.storeWithDF.call(address + page * pageSize + 8) }
        let bytes = UnsafePointer<UInt8>(bitPattern: UInt(address))!
        for i in 0..<Int(16 * pageSize) where i % Int(pageSize) != 8 && bytes[i] != 0 {
            throw FuzzFailure(message: "a page first touched with DF set is not zeroed (byte \(i) is \(bytes[i])): the kernel's fault path ran with DF = 1")
        }
    }

    /// Finding 4 (`known` only): a thousand threads created in this process and never started.
    func threadFlood() {
        for _ in 0..<1000 {
            guard let t = try? threadCreate(process: Runtime.process, entry: Stub.exit.address, stack: 0, argument: 0) else { return }
            try? handleClose(t)
        }
    }
}

/// A child's whole life (command line `child KIND ARG`).
func runChild(_ kind: ChildKind, _ argument: UInt64, trace: Bool) -> Int32 {
    var r = FuzzRandom(seed: argument)
    switch kind {
    case .exit: processExit(r.below(256))
    case .fault:
        let stubs: [Stub] = [.ud2, .int3, .cli, .inPort, .hlt, .divideByZero, .int80, .sysenter, .int1, .readCR0, .wrmsr, .misalignedWithAC]
        if r.chance(20) { _ = Stub.jump.call(Values.hostilePointer(&r)) }
        if r.chance(10) { UnsafeMutablePointer<UInt8>(bitPattern: UInt(Layout.code))!.pointee = 0 }
        _ = stubs[r.index(stubs.count)].call()
    case .block:
        if let n = try? notifyCreate() { _ = try? notifyWait(n) }
    case .flags:
        let mask = r.chance(50) ? r.next() & ~UInt64(0x4000) : r.pick([0x400, 0x40000, 0x3000, 0x10000, 0x20000, 0x200000, 0x80000, 0x100000])
        _ = (r.chance(50) ? Stub.setFlagsAndCount : Stub.setFlagsAndYield).call(mask)
    case .segments:
        let selectors: [UInt64] = [0, 1, 2, 3, 0x8, 0x10, 0x13, 0x18, 0x1b, 0x20, 0x23, 0x28, 0x2b, 0x30, 0x33, 0x38, 0x3b, 0xfffc, r.below(0x10000)]
        let loads: [Stub] = [.loadDS, .loadES, .loadFS, .loadGS, .loadSS]
        for _ in 0..<(1 + r.below(4)) { _ = loads[r.index(loads.count)].call(selectors[r.index(selectors.count)]) }
        for _ in 0..<100 { threadYield(); _ = try? systemInfo(.ticks) }
        _ = Stub.setFlagsAndCount.call(0)
    case .stack:
        _ = (r.chance(50) ? Stub.syscallWithStack : Stub.countWithStack).call(Values.hostilePointer(&r))
    case .lastPage:
        if let frame = try? frameCreate(size: pageSize),
           (try? vmemMap(Runtime.vmem, frame: frame, address: Layout.lastUserPage, length: pageSize, flags: [.read, .write, .exec])) != nil {
            let page = UnsafeMutablePointer<UInt8>(bitPattern: UInt(Layout.lastUserPage))!
            let code: [UInt8] = [0xb8, 0x12, 0, 0, 0, 0x0f, 0x05]      // thread_yield; falls off the user half
            for (i, byte) in code.enumerated() { page[Int(pageSize) - code.count + i] = byte }
            _ = Stub.jump.call(Layout.lastUserPage + pageSize - UInt64(code.count))
        }
    case .fuzz:
        let engine = Engine(Options(seed: argument, count: 0, known: false, trace: trace, child: true))
        for _ in 0..<(100 + r.below(1000)) {
            do throws(FuzzFailure) { try engine.step() } catch {
                print("fuzz: child \(argument): FAIL \(error.message)")
                return 1
            }
        }
    case .trapFlag: _ = Stub.syscallWithTF.call()
    case .nestedTask: _ = Stub.setFlagsAndYield.call(0x4000)
    }
    return 0
}
