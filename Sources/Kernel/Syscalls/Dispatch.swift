// Syscall dispatch: rax = number, arguments in rdi, rsi, rdx, r10, r8, r9; the result goes back in rax
// (0 or a SysError) and rdx (the value). Every argument is checked; a bad one is an error, never a panic.

#if !KERNEL
import ABI
#endif

/// Array.withUnsafeMutableBytes with a typed error (the standard library's version rethrows `any Error`).
func withBytes(_ bytes: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(SysError) -> Void) throws(SysError) {
    var failure: SysError? = nil
    bytes.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) -> Void in
        do throws(SysError) { try body(b) } catch { failure = error }
    }
    if let failure { throw failure }
}

struct SyscallArguments {
    let a0, a1, a2, a3, a4, a5: UInt64
}

@_cdecl("kernel_syscall")
func kernelSyscall(_ raw: UnsafeMutableRawPointer) {
    let frame = raw.assumingMemoryBound(to: trap_frame.self)
    KernelLock.take()           // let go in kernel_leave
    // The one test while nobody traces (Debug/SyscallTrace.swift).
    if SyscallTrace.active {
        SyscallTrace.syscall(frame)
        return
    }
    untracedSyscall(frame)
}

/// A syscall with the IPC and notification fast paths tried first.
@inline(__always)
func untracedSyscall(_ frame: UnsafeMutablePointer<trap_frame>) {
    let number = frame.pointee.rax
    if FastPath.enabled {
        switch number {
        case Syscall.senderCall.rawValue: if FastPath.call(frame) { return }
        case Syscall.receiverReplyRecv.rawValue: if FastPath.replyReceive(frame) { return }
        case Syscall.notifyNotify.rawValue: if FastPath.notify(frame) { return }
        case Syscall.notifyWait.rawValue: if FastPath.notifyWait(frame) { return }
        default: break
        }
    }
    handleSyscall(frame)
}

/// A syscall on the general path: counted, dispatched, its result or error written into the frame.
func handleSyscall(_ frame: UnsafeMutablePointer<trap_frame>) {
    let number = frame.pointee.rax
    let f = frame.pointee
    Tracker.count(number)
    guard Heap.hasSyscallHeadroom else {
        frame.pointee.rax = SysError.outOfMemory.rawValue
        frame.pointee.rdx = 0
        return
    }
    let args = SyscallArguments(a0: f.rdi, a1: f.rsi, a2: f.rdx, a3: f.r10, a4: f.r8, a5: f.r9)
    let me = Scheduler.current!
    me.missingPage = nil
    while true {
        do {
            let value = try Syscalls.dispatch(number, args)
            frame.pointee.rax = 0
            frame.pointee.rdx = value
        } catch {
            // A page its pager has not supplied: ask for it, then run the call again from the start
            // (Syscalls/PagerWait.swift); the registers are as they were at entry.
            if error == .notSupplied, let page = me.missingPage {
                me.missingPage = nil
                if PagerWait.ask(page, frame) && !me.killed { continue }
            }
            me.missingPage = nil
            frame.pointee.rax = error.rawValue
            frame.pointee.rdx = 0
        }
        Terminal.safePoint()
        return
    }
}

enum Syscalls {
    static var caller: Thread { Scheduler.current }
    static var process: Process { Scheduler.current.process }

    static func dispatch(_ number: UInt64, _ a: SyscallArguments) throws(SysError) -> UInt64 {
        guard let call = Syscall(rawValue: number) else { throw .unknownSyscall }
        switch call {
        case .debugLog: return try debugLog(a.a0, a.a1)
        case .handleIdentify: return try handleIdentify(a.a0)
        case .handleDuplicate: return try handleDuplicate(a.a0, a.a1)
        case .handleClose: return try handleClose(a.a0)
        case .processCreate: return try processCreate(a.a0)
        case .processSelf: return try insertNew(.process(process))
        case .processGive: return try processGive(a.a0, a.a1)
        case .processExit: return processExit(a.a0)
        case .processWait: return try processWait(a.a0, timeout: a.a1)
        case .processKill: return try processKill(a.a0)
        case .threadCreate: return try threadCreate(a.a0, entry: a.a1, stack: a.a2, argument: a.a3)
        case .threadSelf: return try insertNew(.thread(caller))
        case .threadStart: return try threadStart(a.a0)
        case .threadStop: return try threadStop(a.a0)
        case .threadSetPriority: return try threadSetPriority(a.a0, a.a1)
        case .threadWait: return try threadWait(a.a0, timeout: a.a1)
        case .threadReadRegisters: return try threadRegisters(a.a0, a.a1, a.a2, write: false)
        case .threadWriteRegisters: return try threadRegisters(a.a0, a.a1, a.a2, write: true)
        case .threadExit: return threadExit(a.a0)
        case .threadYield:
            Scheduler.schedule()
            return 0
        case .threadSleep:
            Scheduler.sleep(a.a0)
            return 0
        case .vmemCreate: return try vmemCreate()
        case .vmemSelf: return try insertNew(.vmem(process.vmem))
        case .vmemMap: return try vmemMap(a)
        case .vmemUnmap: return try vmemUnmap(a.a0, a.a1, a.a2)
        case .vmemRead: return try vmemCopy(a.a0, a.a1, a.a2, a.a3, write: false)
        case .vmemWrite: return try vmemCopy(a.a0, a.a1, a.a2, a.a3, write: true)
        case .frameCreate: return try frameCreate(a.a0)
        case .frameGetSize: return try frame(a.a0, .read).size
        case .frameSetSize: return try frameSetSize(a.a0, a.a1)
        case .frameRead: return try frameCopy(a.a0, a.a1, a.a2, a.a3, write: false)
        case .frameWrite: return try frameCopy(a.a0, a.a1, a.a2, a.a3, write: true)
        case .receiverCreate: return try insertNew(.receiver(Receiver()))
        case .senderCreate: return try senderCreate(a.a0, badge: a.a1)
        case .replyCreate: return try insertNew(.reply(Reply()))
        case .notifyCreate: return try insertNew(.notify(Notify()))
        case .systemInfo: return try systemInfo(a.a0)
        case .processLoad: return try processLoad(a.a0, a.a1, a.a2, a.a3)
        case .senderCall:
            guard case .sender(let s) = try object(a.a0, .sender, .signal) else { throw .wrongType }
            return try IPC.call(s)
        case .senderCallTimed:
            guard case .sender(let s) = try object(a.a0, .sender, .signal) else { throw .wrongType }
            guard IPCTag(raw: a.a1).words <= 3 else { throw .invalidArgument }   // r9 is the timeout
            return try IPC.call(s, until: Timeouts.deadline(after: a.a5))
        case .receiverRecv:
            guard case .receiver(let r) = try object(a.a0, .receiver, .wait) else { throw .wrongType }
            var reply: Reply? = nil
            if a.a1 != 0 {
                guard case .reply(let rp) = try object(a.a1, .reply, .signal) else { throw .wrongType }
                reply = rp
            }
            return try IPC.receive(r, reply: reply, until: Timeouts.deadline(after: a.a2))
        case .receiverReply: return try IPC.reply()
        case .receiverReplyRecv:
            guard case .receiver(let r) = try object(a.a0, .receiver, .wait) else { throw .wrongType }
            return try IPC.replyReceive(r)
        case .receiverReplyRecvTimed:
            guard case .receiver(let r) = try object(a.a0, .receiver, .wait) else { throw .wrongType }
            guard IPCTag(raw: a.a1).words <= 3 else { throw .invalidArgument }   // r9 is the timeout
            return try IPC.replyReceive(r, until: Timeouts.deadline(after: a.a5))
        case .replyReply:
            guard case .reply(let rp) = try object(a.a0, .reply, .signal) else { throw .wrongType }
            return try IPC.replyThroughObject(rp)
        case .notifyNotify:
            guard case .notify(let n) = try object(a.a0, .notify, .signal) else { throw .wrongType }
            return IPC.notify(n, bits: a.a1)
        case .notifyWait:
            guard case .notify(let n) = try object(a.a0, .notify, .wait) else { throw .wrongType }
            return try IPC.wait(n, until: Timeouts.deadline(after: a.a1))
        case .notifyPoll:
            guard case .notify(let n) = try object(a.a0, .notify, .wait) else { throw .wrongType }
            return IPC.poll(n)
        case .futexWait: return try Futex.wait(a.a0, expected: a.a1, until: Timeouts.deadline(after: a.a2))
        case .futexWake: return try Futex.wake(a.a0, count: a.a1)
        case .futexRequeue: return try Futex.requeue(a.a0, wake: a.a1, to: a.a2, requeue: a.a3)
        case .threadSetIPCBuffer: return try threadSetIPCBuffer(a.a0, a.a1)
        case .processSetLimit: return try processSetLimit(a.a0, a.a1, a.a2)
        case .processGetUsage: return try processGetUsage(a.a0, a.a1)
        case .clockGet: return Clock.nanoseconds()
        case .logRead: return try Terminal.logRead(a)
        case .consoleAttach: return try Terminal.attach(a)
        case .consoleWrite: return try Terminal.write(a)
        case .resourceCreate: return try resourceCreate(a)
        case .ioportCreate: return try ioportCreate(a)
        case .irqCreate: return try irqCreate(a)
        case .irqBind: return try irqBind(a)
        case .irqAck: return try irqAck(a.a0)
        case .frameCreatePhysical: return try frameCreatePhysical(a)
        case .frameClone: return try frameClone(a.a0, a.a1, a.a2)
        case .vmemProtect: return try vmemProtect(a.a0, a.a1, a.a2, a.a3)
        case .faultHandlerSet: return try faultHandlerSet(a.a0, a.a1)
        case .frameCreatePaged: return try frameCreatePaged(a.a0, a.a1, a.a2)
        case .frameSupply: return try frameSupply(a.a0, a.a1, a.a2, a.a3)
        case .threadGetID:
            guard case .thread(let t) = try object(a.a0, .thread, []) else { throw .wrongType }
            return t.id
        case .threadSetAffinity: return try threadSetAffinity(a.a0, a.a1)
        case .threadGetAffinity: return try thread(a.a0, .read).affinity
        case .threadGetState: return UInt64(try thread(a.a0, .read).state.rawValue)
        case .frameCreateContiguous: return try frameCreateContiguous(a)
        case .framePhysical: return try framePhysical(a.a0, a.a1)
        case .trackerRead: return try Tracker.read(into: a.a0, length: a.a1)
        case .receiverSetNotices: return try receiverSetNotices(a.a0, a.a1)
        case .traceSet: return try traceSet(a.a0, a.a1)
        }
    }

    // MARK: handles

    static func handleValue(_ raw: UInt64) throws(SysError) -> UInt32 {
        guard raw != 0, raw <= UInt64(UInt32.max) else { throw .invalidHandle }
        return UInt32(raw)
    }

    /// The object behind a handle, checked in the order: valid handle, object type, rights.
    static func object(_ raw: UInt64, _ type: ObjectType, _ rights: Rights) throws(SysError) -> KernelObject {
        let entry = try process.handles.lookup(try handleValue(raw))
        guard entry.object.type == type else { throw .wrongType }
        guard entry.rights.contains(rights) else { throw .accessDenied }
        return entry.object
    }

    static func insertNew(_ object: KernelObject) throws(SysError) -> UInt64 {
        try checkHandleLimit(process)
        return UInt64(try process.handles.insert(object, rights: Rights.defaults(for: object.type)))
    }

    static func frame(_ raw: UInt64, _ rights: Rights) throws(SysError) -> Frame {
        guard case .frame(let f) = try object(raw, .frame, rights) else { throw .wrongType }
        return f
    }

    static func vmem(_ raw: UInt64, _ rights: Rights) throws(SysError) -> Vmem {
        guard case .vmem(let v) = try object(raw, .vmem, rights) else { throw .wrongType }
        return v
    }

    static func processObject(_ raw: UInt64, _ rights: Rights) throws(SysError) -> Process {
        guard case .process(let p) = try object(raw, .process, rights) else { throw .wrongType }
        return p
    }

    static func thread(_ raw: UInt64, _ rights: Rights) throws(SysError) -> Thread {
        guard case .thread(let t) = try object(raw, .thread, rights) else { throw .wrongType }
        return t
    }

    static func handleIdentify(_ raw: UInt64) throws(SysError) -> UInt64 {
        let entry = try process.handles.lookup(try handleValue(raw))
        return UInt64(entry.object.type.rawValue) << 32 | UInt64(entry.rights.rawValue)
    }

    static func handleDuplicate(_ raw: UInt64, _ rights: UInt64) throws(SysError) -> UInt64 {
        guard rights <= UInt64(UInt32.max) else { throw .invalidArgument }
        try checkHandleLimit(process)
        return UInt64(try process.handles.duplicate(try handleValue(raw), rights: Rights(rawValue: UInt32(rights))))
    }

    static func handleClose(_ raw: UInt64) throws(SysError) -> UInt64 {
        try process.closeHandle(try handleValue(raw))
        return 0
    }

    // MARK: user memory

    static let maxCopy: UInt64 = 1 << 20

    static func copyIn(_ address: UInt64, _ length: UInt64) throws(SysError) -> [UInt8] {
        guard length <= maxCopy else { throw .tooLarge }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        try withBytes(&bytes) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            try process.vmem.copy(address: address, buffer: b, write: false)
        }
        return bytes
    }

    static func copyOut(_ bytes: inout [UInt8], to address: UInt64) throws(SysError) {
        try withBytes(&bytes) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            try process.vmem.copy(address: address, buffer: b, write: true)
        }
    }

    /// Moves `length` bytes between the caller's memory at `buffer` and some target through a kernel
    /// buffer: with `write`, the caller's bytes are read first and `access` writes them into the target;
    /// otherwise `access` fills the buffer from the target and it is copied out to the caller.
    static func relay(_ buffer: UInt64, _ length: UInt64, write: Bool,
                      _ access: (UnsafeMutableRawBufferPointer) throws(SysError) -> Void) throws(SysError) {
        guard length <= maxCopy else { throw .tooLarge }
        try Heap.withBuffer(Int(length)) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            if write { try process.vmem.copy(address: buffer, buffer: b, write: false) }
            try access(b)
            if !write { try process.vmem.copy(address: buffer, buffer: b, write: true) }
        }
    }

    static func debugLog(_ address: UInt64, _ length: UInt64) throws(SysError) -> UInt64 {
        guard length <= 4096 else { throw .tooLarge }
        let bytes = try copyIn(address, length)
        Console.write(bytes: bytes)
        return length
    }

    // MARK: processes

    static func processCreate(_ vmemHandle: UInt64) throws(SysError) -> UInt64 {
        let v = try vmem(vmemHandle, .map)
        let p = Process(vmem: v)
        p.account = Account(parent: process.account)
        return try insertNew(.process(p))
    }

    static let maxImage: UInt64 = 64 << 20

    static func processLoad(_ processHandle: UInt64, _ frameHandle: UInt64, _ name: UInt64, _ nameLength: UInt64) throws(SysError) -> UInt64 {
        let target = try processObject(processHandle, .manage)
        let image = try frame(frameHandle, .read)
        guard nameLength <= 64 else { throw .tooLarge }
        let nameBytes = try copyIn(name, nameLength)
        guard !target.exited else { throw .badState }
        guard image.size <= maxImage else { throw .tooLarge }
        try PagerWait.supplyRange(image, offset: 0, length: image.size)
        return try Heap.withBuffer(Int(image.size)) { (b: UnsafeMutableRawBufferPointer) throws(SysError) -> UInt64 in
            try image.copy(offset: 0, buffer: b, write: false)
            return try Loader.load(elfBytes: UnsafeRawBufferPointer(b), name: nameBytes, into: target.vmem, process: target)
        }
    }

    static func processGive(_ target: UInt64, _ handle: UInt64) throws(SysError) -> UInt64 {
        let to = try processObject(target, .write)
        let value = try handleValue(handle)
        let entry = try process.handles.lookup(value)
        guard entry.rights.contains(.transfer) else { throw .accessDenied }
        guard !to.exited else { throw .badState }
        try checkHandleLimit(to)
        let given = try to.handles.insert(entry.object, rights: entry.rights)
        try process.closeHandle(value)
        return UInt64(given)
    }

    static func processExit(_ code: UInt64) -> UInt64 {
        process.kill(code: code)
        return 0
    }

    /// Ends every thread of another process (the last one to go finishes it).
    static func processKill(_ raw: UInt64) throws(SysError) -> UInt64 {
        let p = try processObject(raw, .manage)
        guard p !== process, !p.exited else { throw .badState }
        p.kill(code: ExitCode.stopped)
        return 0
    }

    static func processWait(_ raw: UInt64, timeout: UInt64) throws(SysError) -> UInt64 {
        let p = try processObject(raw, .wait)
        guard p !== process else { throw .badState }
        let deadline = Timeouts.deadline(after: timeout)
        caller.ipcError = nil
        while !p.exited {
            Scheduler.block(on: p.exitWaiters, until: deadline)
            try Scheduler.resumed(caller)
        }
        return p.exitCode
    }

    // MARK: threads

    static func threadCreate(_ processHandle: UInt64, entry: UInt64, stack: UInt64, argument: UInt64) throws(SysError) -> UInt64 {
        let p = try processObject(processHandle, .manage)
        guard !p.exited else { throw .badState }
        guard entry < userAddressLimit, stack < userAddressLimit else { throw .badAddress }
        let charge = try Charge(p.account, .threads, 1)
        let t = try Thread(process: p, entry: entry, stack: stack, argument: argument)
        t.limitCharge = charge
        p.threads.append(t)
        do {
            return try insertNew(.thread(t))
        } catch {
            p.threads.remove(t)
            throw error
        }
    }

    static func threadStart(_ raw: UInt64) throws(SysError) -> UInt64 {
        let t = try thread(raw, .manage)
        guard t.state == .created, !t.killed, !t.process.exited else { throw .badState }
        Scheduler.makeReady(t)
        return 0
    }

    static func threadStop(_ raw: UInt64) throws(SysError) -> UInt64 {
        let t = try thread(raw, .manage)
        guard t.state != .dead else { throw .badState }
        Scheduler.kill(t, code: ExitCode.stopped)
        return 0
    }

    static func threadSetAffinity(_ raw: UInt64, _ mask: UInt64) throws(SysError) -> UInt64 {
        let t = try thread(raw, .manage)
        guard mask & Scheduler.onlineMask != 0 else { throw .invalidArgument }
        guard t.state != .dead else { throw .badState }
        Scheduler.setAffinity(t, mask)
        return 0
    }

    static func threadSetPriority(_ raw: UInt64, _ priority: UInt64) throws(SysError) -> UInt64 {
        let t = try thread(raw, .manage)
        guard priority <= 31 else { throw .invalidArgument }
        Scheduler.setPriority(t, Int(priority))
        return 0
    }

    static func threadWait(_ raw: UInt64, timeout: UInt64) throws(SysError) -> UInt64 {
        let t = try thread(raw, .wait)
        guard t !== caller else { throw .badState }
        let deadline = Timeouts.deadline(after: timeout)
        caller.ipcError = nil
        while t.state != .dead {
            Scheduler.block(on: t.exitWaiters, until: deadline)
            try Scheduler.resumed(caller)
        }
        return t.exitCode
    }

    static func threadRegisters(_ raw: UInt64, _ address: UInt64, _ length: UInt64, write: Bool) throws(SysError) -> UInt64 {
        let t = try thread(raw, write ? .write : .read)
        guard length == UInt64(RegisterIndex.count * 8) else { throw .invalidArgument }
        // Only a thread that is not running user code: never started, ended, or waiting for its fault handler.
        guard t.state == .created || t.state == .dead || t.inFault else { throw .badState }
        if write {
            let bytes = try copyIn(address, length)
            var values = [UInt64](repeating: 0, count: RegisterIndex.count)
            for i in 0..<values.count {
                var v: UInt64 = 0
                for b in 0..<8 { v |= UInt64(bytes[i * 8 + b]) << (8 * b) }
                values[i] = v
            }
            try t.writeRegisters(values)
        } else {
            var bytes: [UInt8] = []
            for v in t.readRegisters() { for b in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * b))) } }
            try copyOut(&bytes, to: address)
        }
        return 0
    }

    static func faultHandlerSet(_ target: UInt64, _ senderHandle: UInt64) throws(SysError) -> UInt64 {
        let entry = try process.handles.lookup(try handleValue(target))
        guard entry.object.type == .process || entry.object.type == .thread else { throw .wrongType }
        guard entry.rights.contains(.manage) else { throw .accessDenied }
        var sender: Sender? = nil
        if senderHandle != 0 {
            guard case .sender(let s) = try object(senderHandle, .sender, .signal) else { throw .wrongType }
            sender = s
        }
        switch entry.object {
        case .process(let p): p.faultSender = sender
        case .thread(let t): t.faultSender = sender
        default: throw .wrongType
        }
        return 0
    }

    static func threadExit(_ code: UInt64) -> UInt64 {
        Scheduler.kill(caller, code: code)
        return 0
    }

    // MARK: address spaces and frames

    static func vmemCreate() throws(SysError) -> UInt64 {
        try insertNew(.vmem(try Vmem()))
    }

    static func vmemMap(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        let v = try vmem(a.a0, .map)
        let frameHandle = try handleValue(a.a1)
        let entry = try process.handles.lookup(frameHandle)
        guard case .frame(let f) = entry.object else { throw .wrongType }
        let flags = MapFlags(rawValue: UInt32(truncatingIfNeeded: a.a5 & 0xff))
        let anywhere = a.a5 & VmemMapOptions.anywhere != 0
        guard (a.a5 & ~VmemMapOptions.anywhere) >> 16 == 0, flags.rawValue & ~0x7 == 0,
              let cache = CacheMode(rawValue: UInt8(truncatingIfNeeded: a.a5 >> 8)) else {
            throw .invalidArgument
        }
        guard flags.contains(.read) || !flags.isEmpty else { throw .invalidArgument }
        guard entry.rights.contains(mapRights(flags)) else { throw .accessDenied }
        let address = anywhere ? try v.freeRange(length: a.a4, from: a.a2) : a.a2
        try v.map(frame: f, frameOffset: a.a3, address: address, length: a.a4, flags: flags.union(.read), cache: cache,
                  ownerProcess: process.id, ownerHandle: frameHandle, maxFlags: mapFlags(entry.rights))
        return address
    }

    /// The handle rights a mapping with `flags` needs.
    static func mapRights(_ flags: MapFlags) -> Rights {
        var needed: Rights = [.map, .read]
        if flags.contains(.write) { needed.insert(.write) }
        if flags.contains(.exec) { needed.insert(.exec) }
        return needed
    }

    /// The most a mapping made through a handle with `rights` may allow (vmem_protect's ceiling).
    static func mapFlags(_ rights: Rights) -> MapFlags {
        var flags: MapFlags = .read
        if rights.contains(.write) { flags.insert(.write) }
        if rights.contains(.exec) { flags.insert(.exec) }
        return flags
    }

    static func vmemProtect(_ raw: UInt64, _ address: UInt64, _ length: UInt64, _ rawFlags: UInt64) throws(SysError) -> UInt64 {
        let v = try vmem(raw, .map)
        guard rawFlags & ~0x7 == 0 else { throw .invalidArgument }
        try v.protect(address: address, length: length, flags: MapFlags(rawValue: UInt32(rawFlags)).union(.read))
        return 0
    }

    static func vmemUnmap(_ raw: UInt64, _ address: UInt64, _ length: UInt64) throws(SysError) -> UInt64 {
        try vmem(raw, .map).unmap(address: address, length: length)
        return 0
    }

    static func vmemCopy(_ raw: UInt64, _ address: UInt64, _ buffer: UInt64, _ length: UInt64, write: Bool) throws(SysError) -> UInt64 {
        let v = try vmem(raw, write ? .write : .read)
        guard length <= maxCopy else { throw .tooLarge }
        try relay(buffer, length, write: write) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            try v.copy(address: address, buffer: b, write: write)
        }
        return length
    }

    static func frameCreate(_ size: UInt64) throws(SysError) -> UInt64 {
        guard size > 0 else { throw .invalidArgument }
        guard size % pageSize == 0 else { throw .misaligned }
        guard size / pageSize <= Frame.maxPages else { throw .tooLarge }
        return try insertNew(.frame(try Frame(pageCount: size / pageSize, account: process.account)))
    }

    static func frameClone(_ raw: UInt64, _ offset: UInt64, _ size: UInt64) throws(SysError) -> UInt64 {
        let value = try handleValue(raw)
        let entry = try process.handles.lookup(value)
        guard case .frame(let f) = entry.object else { throw .wrongType }
        guard entry.rights.contains(.read) else { throw .accessDenied }
        guard offset % pageSize == 0, size % pageSize == 0 else { throw .misaligned }
        guard size > 0, offset <= f.size, size <= f.size - offset else { throw .invalidArgument }
        try checkHandleLimit(process)
        let copy = try f.clone(first: offset / pageSize, count: size / pageSize, account: process.account)
        return UInt64(try process.handles.insert(.frame(copy), rights: entry.rights))
    }

    static func frameCreatePaged(_ size: UInt64, _ senderHandle: UInt64, _ notifyHandle: UInt64) throws(SysError) -> UInt64 {
        guard case .sender(let pager) = try object(senderHandle, .sender, .signal) else { throw .wrongType }
        var lastUser: Notify? = nil
        if notifyHandle != 0 {
            guard case .notify(let n) = try object(notifyHandle, .notify, .signal) else { throw .wrongType }
            lastUser = n
        }
        guard size > 0 else { throw .invalidArgument }
        guard size % pageSize == 0 else { throw .misaligned }
        guard size / pageSize <= Frame.maxPages else { throw .tooLarge }
        let f = try Frame(pageCount: size / pageSize, account: process.account)
        f.pager = pager
        f.lastUser = lastUser
        return try insertNew(.frame(f))
    }

    static func frameSupply(_ raw: UInt64, _ offset: UInt64, _ sourceRaw: UInt64, _ sourceOffset: UInt64) throws(SysError) -> UInt64 {
        let f = try frame(raw, .write)
        let source = try frame(sourceRaw, .read)
        guard offset % pageSize == 0, sourceOffset % pageSize == 0 else { throw .misaligned }
        guard offset < f.size, sourceOffset < source.size else { throw .invalidArgument }
        try f.supply(offset / pageSize, from: source, at: sourceOffset / pageSize)
        return 0
    }

    static func frameSetSize(_ raw: UInt64, _ size: UInt64) throws(SysError) -> UInt64 {
        try frame(raw, .manage).setSize(size)
        return 0
    }

    static func frameCopy(_ raw: UInt64, _ offset: UInt64, _ buffer: UInt64, _ length: UInt64, write: Bool) throws(SysError) -> UInt64 {
        let f = try frame(raw, write ? .write : .read)
        guard length <= maxCopy else { throw .tooLarge }
        guard offset <= f.size, length <= f.size - offset else { throw .invalidArgument }
        try PagerWait.supplyRange(f, offset: offset, length: length)
        try relay(buffer, length, write: write) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            try f.copy(offset: offset, buffer: b, write: write)
        }
        return length
    }

    // MARK: endpoints and system

    static func senderCreate(_ raw: UInt64, badge: UInt64) throws(SysError) -> UInt64 {
        guard case .receiver(let r) = try object(raw, .receiver, .wait) else { throw .wrongType }
        return try insertNew(.sender(Sender(receiver: r, badge: badge)))
    }

    /// receiver_set_notices: closed-client notices on (1) or off (0, dropping the waiting ones).
    static func receiverSetNotices(_ raw: UInt64, _ on: UInt64) throws(SysError) -> UInt64 {
        guard case .receiver(let r) = try object(raw, .receiver, .wait) else { throw .wrongType }
        guard on <= 1 else { throw .invalidArgument }
        r.endpoint.noticesWanted = on == 1
        if on == 0 { r.endpoint.notices.removeAll() }
        return 0
    }

    static func threadSetIPCBuffer(_ raw: UInt64, _ address: UInt64) throws(SysError) -> UInt64 {
        let t = try thread(raw, .write)
        guard address % pageSize == 0 else { throw .misaligned }
        if address != 0 {
            // Must be mapped read/write in that thread's address space now (a page its pager has not
            // supplied yet is: it is asked for when a message first uses it).
            do { _ = try t.process.vmem.resolve(address, write: true, kernel: true) } catch {
                if error != .notSupplied { throw .badAddress }
            }
        }
        t.ipcBuffer = address
        return 0
    }

    // MARK: resource limits

    /// Throws .limitExceeded when `p`'s handle table holds as many handles as its limit allows.
    static func checkHandleLimit(_ p: Process) throws(SysError) {
        guard UInt64(p.handles.count) < p.account.limit(.handles) else { throw .limitExceeded }
    }

    static func processSetLimit(_ raw: UInt64, _ kind: UInt64, _ value: UInt64) throws(SysError) -> UInt64 {
        let p = try processObject(raw, .manage)
        guard let k = LimitKind(rawValue: kind) else { throw .invalidArgument }
        try p.account.lower(k, to: value)
        return 0
    }

    static func processGetUsage(_ raw: UInt64, _ kind: UInt64) throws(SysError) -> UInt64 {
        let p = try processObject(raw, .read)
        guard let k = LimitKind(rawValue: kind) else { throw .invalidArgument }
        return k == .handles ? UInt64(p.handles.count) : p.account.usage(k)
    }

    static func systemInfo(_ kind: UInt64) throws(SysError) -> UInt64 {
        guard let info = SystemInfo(rawValue: kind) else { throw .invalidArgument }
        switch info {
        case .freeFrames: return UInt64(PMM.freeCount)
        case .liveObjects: return UInt64(ObjectCounter.live)
        case .ticks: return Scheduler.ticks
        case .heapPages: return UInt64(Heap.pagesInUse)
        case .framebufferAddress, .framebufferPitch, .framebufferWidth, .framebufferHeight, .framebufferFormat,
             .acpiRootTable, .hpetAddress, .ecamAddress, .ecamBuses: return deviceInfo(info)
        case .freeFramesAbove4GiB: return UInt64(PMM.freeAbove4GiB)
        case .cpusOnline: return UInt64(SMP.onlineCount)
        case .cpusPresent: return UInt64(SMP.present)
        case .pagerCopyWaits: return PagerWait.waits
        case .currentCPU: return UInt64(PerCPU.index)
        case .cpusScheduling: return Scheduler.onlineMask
        case .logSequence: return LogRing.head
        }
    }
}
