// Arguments for each system call, and what the engine learns from a call that succeeded. Each case
// draws handles of the type the call expects (often with missing rights, closed, foreign or of another
// type), pointers and lengths from Values, and keeps the fuzzing process itself out of harm's way.

extension Engine {
    /// Bytes debug_log may print (read-only data of this program).
    static let logText: StaticString = "(fuzz debug_log)\n"

    /// A futex word only the main thread reads (its value never matches what futex_wait expects).
    static var privateWord: UInt64 { Layout.lists + (Layout.listPages - 1) * pageSize }

    /// The IPC buffer of this process's threads: only the fuzzer writes its handle slots (pool values,
    /// never the runtime's own handles), so a send cannot move a handle the fuzzer needs.
    func ipcPage() -> UInt64 {
        let page = UnsafeMutablePointer<UInt32>(bitPattern: UInt(Engine.ipcPageAddress))!
        let candidates = pool.filter { !isProtected($0.value) }
        for i in 0..<IPCBuffer.maxHandles {
            page[i] = candidates.isEmpty || r.chance(20) ? UInt32(truncatingIfNeeded: r.next()) : candidates[r.index(candidates.count)].value
        }
        return Engine.ipcPageAddress
    }

    static var ipcPageAddress: UInt64 { Layout.lists + (Layout.listPages - 2) * pageSize }

    func any(_ right: Rights = []) -> Use {
        Use(type: ObjectType(rawValue: UInt32(1 + r.below(UInt64(ObjectType.allCases.count - 1))))!, right: right)
    }

    /// Fills in the arguments of `call` (a holds random words on entry).
    func arguments(_ call: Syscall, _ a: inout [UInt64]) {
        switch call {
        case .debugLog:
            if r.chance(20) {
                a[0] = UInt64(UInt(bitPattern: Engine.logText.utf8Start))
                a[1] = r.chance(50) ? 0 : UInt64(Engine.logText.utf8CodeUnitCount)   // whole lines only
            } else {
                a[0] = Values.hostilePointer(&r); a[1] = Values.length(&r)
                if a[0] >> 40 == Layout.code >> 40 || a[0] >> 40 == Spawn.startupAddress >> 40 { a[0] = 0 }   // readable: garbage on the console
            }
        case .handleIdentify: a[0] = handle(any())
        case .handleDuplicate: a[0] = handle(any(.duplicate)); a[1] = rights()
        case .handleClose: a[0] = handle(Use(type: any().type, right: [], destructive: true))
        case .processCreate: a[0] = handle(Use(type: .vmem, right: .map))
        case .processGive: processGiveArguments(&a)
        case .processExit: a[0] = r.below(256)
        case .processWait: a[0] = handle(Use(type: .process, right: .wait)); a[1] = timeout()
        case .threadCreate:
            a[0] = handle(Use(type: .process, right: .manage))
            if !options.known, let e = entry(a[0]), e.type == .process, !e.isSelf { a[0] = 0 }
            a[1] = r.chance(50) ? Stub.exit.address : Values.hostilePointer(&r)
            a[2] = r.chance(50) ? 0 : Values.hostilePointer(&r)
        case .threadStart, .threadStop:
            a[0] = handle(Use(type: .thread, right: .manage))
            if call == .threadStart && untrackedLive(a[0]) { a[0] = 0 }
        case .threadSetPriority:
            a[0] = handle(Use(type: .thread, right: .manage))
            if !options.known, let e = entry(a[0]), e.type == .thread { a[0] = 0 }   // ready threads: finding 7
            a[1] = r.chance(70) ? r.below(32) : r.next()
        case .threadSetAffinity:
            a[0] = handle(Use(type: .thread, right: .manage))
            a[1] = r.chance(70) ? r.below(16) : r.next()
        case .threadGetAffinity, .threadGetState: a[0] = handle(Use(type: .thread, right: .read))
        case .threadWait: a[0] = handle(Use(type: .thread, right: .wait)); a[1] = timeout()
        case .threadSleep:
            a[0] = helperMode && r.chance(15) ? r.pick([UInt64.max, r.next()]) : r.chance(30) ? 0 : 1 + r.below(2_000_000)
        case .threadReadRegisters:
            a[0] = handle(Use(type: .thread, right: .read)); a[1] = Values.outPointer(&r)
            a[2] = r.chance(60) ? UInt64(RegisterIndex.count * 8) : Values.length(&r)
        case .threadWriteRegisters:
            a[0] = handle(Use(type: .thread, right: .write))
            if let e = entry(a[0]), e.type == .thread, e.isSelf { a[0] = 0 }   // see registerGame
            if untrackedLive(a[0]) { a[0] = 0 }
            a[1] = r.chance(70) ? Values.scratchPointer(&r) : Values.hostilePointer(&r)
            a[2] = r.chance(60) ? UInt64(RegisterIndex.count * 8) : Values.length(&r)
        case .processSelf, .threadSelf, .threadYield, .vmemCreate, .vmemSelf, .receiverCreate, .replyCreate,
             .notifyCreate, .threadExit, .clockGet:
            break
        case .vmemMap: vmemMapArguments(&a)
        case .vmemUnmap, .vmemProtect:
            // Any page range: in this process's own vmem kept inside the playground (the stack, the heap
            // and the code lie outside it).
            a[0] = handle(Use(type: .vmem, right: .map))
            let own = ownVmem(a[0])
            a[1] = own ? playgroundOrKernel() : Values.mapAddress(&r)
            a[2] = r.chance(70) ? pageSize * (1 + r.below(16)) : Values.length(&r)
            if own { a[2] = insidePlayground(a[1], a[2]) }
            if call == .vmemProtect { a[3] = r.chance(80) ? r.below(8) : r.next() }
        case .vmemRead:
            a[0] = handle(Use(type: .vmem, right: .read)); a[1] = r.chance(50) ? Values.mapAddress(&r) : r.next()
            a[2] = Values.outPointer(&r); a[3] = Values.length(&r)
        case .vmemWrite:
            a[0] = handle(Use(type: .vmem, right: .write))
            a[1] = ownVmem(a[0]) ? (r.chance(50) ? Values.scratchPointer(&r) : playgroundOrKernel()) : Values.mapAddress(&r)
            a[2] = r.chance(60) ? Values.scratchPointer(&r) : Values.hostilePointer(&r); a[3] = Values.length(&r)
        case .frameCreate: a[0] = Values.frameSize(&r, known: options.known)
        case .faultHandlerSet:
            // A real handler only for processes that run nothing (a bound fault waits for an answer that
            // nobody here gives: this process, its children and its threads must fault as they always did).
            a[0] = handle(Use(type: r.chance(50) ? .process : .thread, right: .manage))
            let quiet = entry(a[0]).map { $0.type == .process && !$0.isSelf && !$0.runs } ?? false
            a[1] = quiet && r.chance(70) ? handle(Use(type: .sender, right: .signal)) : r.chance(50) ? 0 : r.next() | 1 << 40
        case .frameCreatePaged:
            a[0] = Values.frameSize(&r, known: options.known); a[1] = Engine.deadPager.word
            a[2] = r.chance(50) ? 0 : handle(Use(type: .notify, right: .signal))
        case .frameSupply:
            a[0] = handle(Use(type: .frame, right: .write)); a[2] = handle(Use(type: .frame, right: .read))
            a[1] = r.chance(70) ? pageSize * r.below(8) : r.next()
            a[3] = r.chance(70) ? pageSize * r.below(8) : r.next()
        case .frameClone:
            a[0] = handle(Use(type: .frame, right: .read))
            a[1] = r.chance(60) ? pageSize * r.below(8) + (r.chance(20) ? r.below(pageSize) : 0) : r.next()
            a[2] = r.chance(60) ? pageSize * (1 + r.below(8)) : Values.length(&r)
        case .frameGetSize: a[0] = handle(Use(type: .frame, right: .read))
        case .threadGetID: a[0] = handle(Use(type: .thread, right: []))
        case .trackerRead: a[0] = Values.outPointer(&r); a[1] = r.chance(60) ? UInt64(TrackerLayout.totalWords * 8) : Values.length(&r)
        case .framePhysical:
            a[0] = handle(Use(type: .frame, right: .read)); a[1] = r.chance(70) ? r.below(8 * pageSize) : r.next()
        case .processKill:
            // Its refusals only (this process: .badState; wrong types and bad handles): ending a child
            // here would change what the fuzzer's own bookkeeping expects of it.
            a[0] = handle(Use(type: .process, right: .manage))
            if let e = entry(a[0]), e.type == .process, !e.isSelf { a[0] = r.chance(50) ? 0 : r.next() | 1 << 40 }
        case .frameSetSize: a[0] = handle(Use(type: .frame, right: .manage)); a[1] = Values.frameSize(&r, known: options.known)
        case .frameRead, .frameWrite:
            a[0] = handle(Use(type: .frame, right: call == .frameRead ? .read : .write))
            a[1] = r.chance(60) ? pageSize * r.below(8) + (r.chance(30) ? r.below(pageSize) : 0) : r.next()
            a[2] = call == .frameRead ? Values.outPointer(&r) : (r.chance(60) ? Values.scratchPointer(&r) : Values.hostilePointer(&r))
            a[3] = Values.length(&r)
        case .senderCreate: a[0] = handle(Use(type: .receiver, right: .wait))
        case .receiverSetNotices: a[0] = handle(Use(type: .receiver, right: .wait)); a[1] = r.chance(80) ? r.below(2) : r.next()
        case .systemInfo: a[0] = r.chance(80) ? r.below(UInt64(SystemInfo.allCases.count) + 1) : r.next()
        case .processLoad:
            a[0] = handle(Use(type: .process, right: .manage))
            if let e = entry(a[0]), e.isSelf { a[0] = 0 }                 // never into this address space
            a[1] = handle(Use(type: .frame, right: .read))
            a[2] = r.chance(50) ? Values.scratchPointer(&r) : Values.hostilePointer(&r)
            a[3] = r.chance(70) ? r.below(65) : Values.length(&r)
        case .senderCall: a[0] = handle(Use(type: .sender, right: .signal, blocking: true)); a[1] = tag()
        case .senderCallTimed: a[0] = handle(Use(type: .sender, right: .signal)); a[1] = tag(); a[5] = timeout()
        case .receiverRecv:
            a[0] = handle(Use(type: .receiver, right: .wait)); a[1] = handle(Use(type: .reply, right: .signal))
            a[2] = timeout()
        case .receiverReplyRecv: a[0] = handle(Use(type: .receiver, right: .wait, blocking: true)); a[1] = tag()
        case .receiverReplyRecvTimed: a[0] = handle(Use(type: .receiver, right: .wait)); a[1] = tag(); a[5] = timeout()
        case .receiverReply: a[1] = tag()
        case .replyReply: a[0] = handle(Use(type: .reply, right: .signal)); a[1] = tag()
        case .notifyNotify: a[0] = handle(Use(type: .notify, right: .signal))
        case .notifyWait: a[0] = handle(Use(type: .notify, right: .wait)); a[1] = timeout()
        case .notifyPoll: a[0] = handle(Use(type: .notify, right: .wait))
        case .futexWait:
            if r.chance(50) { a[0] = Engine.privateWord + (r.chance(20) ? 1 + r.below(3) : 0); a[1] = 0xdead_0000 | r.below(0x1000) }
            else { a[0] = r.chance(50) ? Values.scratchPointer(&r) : Values.hostilePointer(&r) }
            a[2] = timeout()
        case .futexWake, .futexRequeue:
            a[0] = r.chance(50) ? Values.scratchPointer(&r) : Values.hostilePointer(&r)
            a[2] = r.chance(50) ? Values.scratchPointer(&r) : Values.hostilePointer(&r)
            a[1] = r.below(4); if r.chance(20) { a[3] = r.below(4) }
        case .traceSet:
            a[0] = handle(Use(type: .process, right: .manage)); a[1] = r.chance(70) ? r.below(3) : r.next()
        case .processSetLimit, .processGetUsage:
            a[0] = handle(Use(type: .process, right: call == .processSetLimit ? .manage : .read))
            // Never this process's own limits: the fuzzer's runtime must keep allocating.
            if call == .processSetLimit, let e = entry(a[0]), e.isSelf { a[0] = 0 }
            a[1] = r.chance(80) ? r.below(UInt64(LimitKind.allCases.count)) : r.next()
            a[2] = r.chance(50) ? r.below(64) : r.next()
        case .resourceCreate, .ioportCreate, .irqCreate, .irqBind, .irqAck, .frameCreatePhysical, .frameCreateContiguous,
             .logRead, .consoleAttach, .consoleWrite:
            deviceArguments(call, &a)
        case .threadSetIPCBuffer:
            a[0] = handle(Use(type: .thread, right: .write))
            let own = entry(a[0])?.isSelf ?? true
            a[1] = r.chance(15) ? 0 : own ? (r.chance(60) ? ipcPage() : Values.hostilePointer(&r)) : Values.mapAddress(&r)
        }
    }

    /// The timeout of a blocking call: on the main thread always one that ends within a tick or two (so
    /// those calls may block on real objects); in a helper also 0 (forever), past the clock's range, or
    /// any word.
    func timeout() -> UInt64 {
        if !helperMode || r.chance(60) { return 1 + r.below(2_000_000) }
        return r.pick([0, UInt64.max, 1 << 63, r.next()])
    }

    /// An IPC tag: valid shapes mostly, with reserved bits or too much sometimes.
    func tag() -> UInt64 {
        if r.chance(20) { return r.next() }
        return IPCTag(words: Int(r.below(6)), bytes: r.chance(70) ? Int(r.below(64)) : Int(r.below(0x1000)),
                      handles: r.chance(80) ? 0 : Int(r.below(10)), label: UInt32(truncatingIfNeeded: r.next())).raw
    }

    func ownVmem(_ value: UInt64) -> Bool { entry(value).map { $0.type == .vmem && $0.isSelf } ?? false }

    /// An address in the playground (or a kernel or non-canonical one): all this process may unmap or overwrite.
    func playgroundOrKernel() -> UInt64 {
        switch r.below(5) {
        case 0: return Values.hostilePointer(&r) | 0xffff_8000_0000_0000
        case 1: return 0x0000_8000_0000_0000 + r.below(1 << 40)
        case 2: return Layout.playground + r.below(Layout.playgroundSize)
        default: return Layout.playground + r.below(Layout.playgroundSize / pageSize) * pageSize
        }
    }

    func vmemMapArguments(_ a: inout [UInt64]) {
        a[0] = handle(Use(type: .vmem, right: .map))
        a[1] = handle(Use(type: .frame, right: .map))
        a[2] = Values.mapAddress(&r)
        if ownVmem(a[0]) && (a[2] < Layout.playground || a[2] >= Layout.playground + Layout.playgroundSize) && r.chance(80) {
            a[2] = Layout.playground + r.below(Layout.playgroundSize / pageSize) * pageSize
        }
        a[3] = r.chance(70) ? 0 : r.chance(70) ? pageSize * r.below(16) : r.next()
        a[4] = r.chance(70) ? pageSize * (1 + r.below(16)) : Values.length(&r)
        a[5] = r.chance(80) ? r.below(8) | r.below(8) << 8 | (r.chance(20) ? VmemMapOptions.anywhere : 0) : r.next()
        // A kernel-chosen address in this process's own vmem: searched from the playground, so the heap's
        // growth and the guard pages stay free.
        if ownVmem(a[0]) && a[5] & VmemMapOptions.anywhere != 0 { a[2] = Layout.playground }
    }

    /// A length that keeps [address, address + length) inside the playground when the address is a user
    /// address (kernel and non-canonical ones keep any length: they are refused whole).
    func insidePlayground(_ address: UInt64, _ length: UInt64) -> UInt64 {
        let end = Layout.playground + Layout.playgroundSize
        guard address < userAddressLimit else { return length }
        guard address >= Layout.playground, address < end else { return 0 }
        return min(length, end - address)
    }

    /// The device calls, on the narrowed Resources root gave this run (never the machine's): ranges
    /// inside, across and outside them, and lines and addresses that do not exist.
    func deviceArguments(_ call: Syscall, _ a: inout [UInt64]) {
        let resource = Use(type: .resource, right: .manage)
        switch call {
        case .resourceCreate:
            a[0] = handle(resource)
            a[1] = r.chance(80) ? r.below(UInt64(ResourceKind.allCases.count)) : r.next()
            a[2] = r.chance(60) ? r.pick([FuzzDevices.ports, FuzzDevices.line, FuzzDevices.physical]) + r.below(3) : r.next()
            a[3] = r.chance(60) ? r.below(4) : r.next()
        case .ioportCreate:
            a[0] = handle(resource)
            a[1] = r.chance(60) ? FuzzDevices.ports + r.below(10) : r.chance(50) ? r.below(0x1_0001) : r.next()
            a[2] = r.chance(70) ? r.below(10) : r.next()
        case .irqCreate:
            a[0] = handle(resource)
            a[1] = r.chance(50) ? FuzzDevices.line : r.chance(60) ? r.below(24) : r.next()
            a[2] = r.chance(80) ? r.below(2) : r.next()
            a[3] = r.chance(40) ? IRQOptions.shared : r.chance(80) ? 0 : r.next()
        case .irqBind:
            a[0] = handle(Use(type: .irq, right: .write)); a[1] = handle(Use(type: .notify, right: .signal))
            a[2] = r.chance(20) ? 0 : r.next()
        case .irqAck: a[0] = handle(Use(type: .irq, right: .write))
        case .logRead:
            a[0] = Values.outPointer(&r); a[1] = Values.length(&r)
            a[2] = r.chance(50) ? Values.outPointer(&r) : Values.hostilePointer(&r)
        case .consoleAttach:              // the fuzzer's IOPorts are COM2's: never the terminal
            a[0] = handle(Use(type: .ioPort, right: [])); a[1] = handle(Use(type: .notify, right: .signal))
            a[2] = r.chance(20) ? 0 : r.next()
        case .consoleWrite:               // not the attached terminal: always .accessDenied
            a[0] = Values.hostilePointer(&r); a[1] = Values.length(&r); a[2] = r.chance(80) ? r.below(4) : r.next()
        case .frameCreateContiguous:     // the fuzzer's Resources are narrowed: always .outOfRange
            a[0] = handle(resource)
            a[1] = r.chance(70) ? pageSize * r.below(9) : Values.length(&r)
        default:
            a[0] = handle(resource)
            a[1] = r.chance(50) ? FuzzDevices.physical + pageSize * r.below(40) : r.chance(50) ? pageSize * r.below(1 << 20) : r.next()
            a[2] = r.chance(70) ? pageSize * r.below(9) : Values.length(&r)
        }
    }

    func processGiveArguments(_ a: inout [UInt64]) {
        a[0] = handle(Use(type: .process, right: .write))
        a[1] = handle(Use(type: any().type, right: .transfer, destructive: true))
        guard !options.known else { return }
        // Without `known`: no handles into idle processes, nor a process's own handle (finding 6's cycles).
        if let target = entry(a[0]), target.type == .process {
            if !target.runs { a[0] = 0 }
            if let given = entry(a[1]), given.object == target.object { a[1] = 0 }
        }
    }

    // MARK: results

    /// Updates the pool after a call that succeeded.
    func record(_ call: Syscall, _ a: [UInt64], _ value: UInt64) {
        switch call {
        case .handleClose:
            pool.removeAll { UInt64($0.value) == a[0] }
            stale.append(UInt32(truncatingIfNeeded: a[0]))
        case .processGive:
            let moved = entry(a[1])
            pool.removeAll { UInt64($0.value) == a[1] }
            stale.append(UInt32(truncatingIfNeeded: a[1]))
            if let target = entry(a[0]), target.object == Engine.selfProcess, var m = moved {
                m.value = UInt32(truncatingIfNeeded: value); pool.append(m)
            } else { foreign.append(UInt32(truncatingIfNeeded: value)) }
        case .threadSelf:
            try? handleClose(Handle(value))                              // the main thread: never in the pool
        case .handleDuplicate, .processCreate, .processSelf, .threadCreate, .vmemCreate, .vmemSelf, .frameCreate,
             .frameClone, .frameCreatePaged, .receiverCreate, .senderCreate, .replyCreate, .notifyCreate,
             .resourceCreate, .ioportCreate, .irqCreate, .frameCreatePhysical, .frameCreateContiguous:
            add(call, a, UInt32(truncatingIfNeeded: value))
        default: break
        }
    }

    func add(_ call: Syscall, _ a: [UInt64], _ value: UInt32) {
        guard let (type, rights) = try? handleIdentify(Handle(raw: value)) else { return }
        var e = Entry(value: value, type: type, rights: rights, object: newObject(), isSelf: false, runs: false)
        switch call {
        case .handleDuplicate:
            if let from = entry(a[0]) { e.object = from.object; e.isSelf = from.isSelf; e.runs = from.runs } else { e.isSelf = true }
        case .processSelf: e.object = Engine.selfProcess; e.isSelf = true; e.runs = true
        case .vmemSelf: e.object = Engine.selfVmem; e.isSelf = true
        case .processCreate: e.isSelf = entry(a[0])?.isSelf ?? true                   // shares this address space
        case .threadCreate: e.isSelf = adoptThread(Handle(raw: value), in: entry(a[0]))
        default: break
        }
        pool.append(e)
    }

    /// A thread just created is pointed at the exit stub, and in this address space (without `known`,
    /// which keeps finding 5's unstarted threads) started at once. Threads of other processes are
    /// redirected too: a process handle can reach the fuzzer without its identity (through IPC, or
    /// process_give back to itself), and such a process may be this one, where a random entry would
    /// fault the fuzzer itself; elsewhere the stub is unmapped and the thread faults its own process,
    /// as a random entry would. True when the thread is this process's.
    func adoptThread(_ thread: Handle, in process: Entry?) -> Bool {
        let own = process?.isSelf ?? true
        if !own, let p = process, let i = pool.firstIndex(where: { $0.object == p.object }) { pool[i].runs = true }
        guard var registers = try? threadReadRegisters(thread) else { return neutralize(thread, own) }
        registers[RegisterIndex.rip.rawValue] = Stub.exit.address
        registers[RegisterIndex.rsp.rawValue] = 0
        guard (try? threadWriteRegisters(thread, registers)) != nil else { return neutralize(thread, own) }
        if own && !options.known { try? threadStart(thread) }
        return own
    }

    /// A live handle of this process that the pool does not know (it came back from process_give into a
    /// process of unknown identity, or a helper's call made it): it may name a thread of this process
    /// with a random entry or register file, so the fuzzer never starts it or writes its registers.
    func untrackedLive(_ value: UInt64) -> Bool {
        guard value != 0, value <= UInt64(UInt32.max), entry(value) == nil else { return false }
        return (try? handleIdentify(Handle(raw: UInt32(value)))) != nil
    }

    /// A new thread whose entry could not be pointed at the exit stub (the registers call failed, e.g.
    /// with .outOfMemory while memory runs short) must never run its random entry, which could fault this
    /// process: it is ended now (or, failing that, its handle closed, which ends a never-started thread).
    func neutralize(_ thread: Handle, _ own: Bool) -> Bool {
        if (try? threadStop(thread)) == nil { try? handleClose(thread) }
        return own
    }
}
