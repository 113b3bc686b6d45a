// Typed wrappers for every syscall of Sources/ABI/Syscalls.swift. Each returns the result or throws the
// kernel's SysError; an error number this runtime does not know becomes .invalidArgument.

/// A handle in this process's handle table (0 is never a valid handle).
public struct Handle: Equatable, Hashable, Sendable {
    public let raw: UInt32
    public init(raw: UInt32) { self.raw = raw }
    public init(_ raw: UInt64) { self.raw = UInt32(truncatingIfNeeded: raw) }
    public static let invalid = Handle(raw: 0)
    var word: UInt64 { UInt64(raw) }
}

extension SysError {
    /// The error behind a raw rax value (never .none: 0 is success and not passed here).
    public init(code: UInt64) {
        self = SysError(rawValue: code) ?? .invalidArgument
    }
}

/// One syscall, its error turned into a thrown SysError and its value returned.
@inline(__always)
public func syscall(_ number: Syscall, _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0,
                    _ a4: UInt64 = 0, _ a5: UInt64 = 0) throws(SysError) -> UInt64 {
    let result = raw_syscall(number.rawValue, a0, a1, a2, a3, a4, a5)
    if result.error != 0 { throw SysError(code: result.error) }
    return result.value
}

@inline(__always)
func pointerWord(_ pointer: UnsafeRawPointer?) -> UInt64 { UInt64(UInt(bitPattern: pointer)) }

// MARK: debug and system

/// Writes bytes (at most 4096) to the kernel log.
public func debugLog(_ bytes: UnsafeRawBufferPointer) throws(SysError) {
    _ = try syscall(.debugLog, pointerWord(bytes.baseAddress), UInt64(bytes.count))
}

/// debug_log with a raw address and length (for tests of bad pointers).
public func debugLog(address: UInt64, length: UInt64) throws(SysError) {
    _ = try syscall(.debugLog, address, length)
}

public func systemInfo(_ what: SystemInfo) throws(SysError) -> UInt64 {
    try syscall(.systemInfo, what.rawValue)
}

/// The kernel's monotonic clock in nanoseconds since boot, through the syscall (Clock.now() reads the
/// same clock from the time page without one).
public func clockGet() throws(SysError) -> UInt64 {
    try syscall(.clockGet)
}

// MARK: handles

/// The object type and rights behind a handle.
public func handleIdentify(_ handle: Handle) throws(SysError) -> (type: ObjectType, rights: Rights) {
    let word = try syscall(.handleIdentify, handle.word)
    let type = ObjectType(rawValue: UInt32(truncatingIfNeeded: word >> 32)) ?? .none
    return (type, Rights(rawValue: UInt32(truncatingIfNeeded: word)))
}

/// A new handle to the same object with a subset of the rights.
public func handleDuplicate(_ handle: Handle, rights: Rights) throws(SysError) -> Handle {
    Handle(try syscall(.handleDuplicate, handle.word, UInt64(rights.rawValue)))
}

public func handleClose(_ handle: Handle) throws(SysError) {
    _ = try syscall(.handleClose, handle.word)
}

// MARK: processes

public func processCreate(vmem: Handle) throws(SysError) -> Handle {
    Handle(try syscall(.processCreate, vmem.word))
}

public func processSelf() throws(SysError) -> Handle {
    Handle(try syscall(.processSelf))
}

/// Moves a handle into another process; returns its value there. The handle is gone from this process.
public func processGive(_ process: Handle, _ handle: Handle) throws(SysError) -> Handle {
    Handle(try syscall(.processGive, process.word, handle.word))
}

public func processExit(_ code: UInt64) -> Never {
    _ = raw_syscall(Syscall.processExit.rawValue, code, 0, 0, 0, 0, 0)
    while true { cpu_trap() }
}

/// Blocks until the process has exited; its exit code. `timeout` in nanoseconds (0: none) ends the
/// wait with .timedOut.
public func processWait(_ process: Handle, timeout: UInt64 = 0) throws(SysError) -> UInt64 {
    try syscall(.processWait, process.word, timeout)
}

/// Ends every thread of another process (needs .manage); process_wait then returns ExitCode.stopped.
public func processKill(_ process: Handle) throws(SysError) {
    _ = try syscall(.processKill, process.word)
}

// MARK: threads

/// A thread (not started) in a process, entering at `entry` with rsp = stack and rdi = argument.
public func threadCreate(process: Handle, entry: UInt64, stack: UInt64, argument: UInt64) throws(SysError) -> Handle {
    Handle(try syscall(.threadCreate, process.word, entry, stack, argument))
}

public func threadSelf() throws(SysError) -> Handle {
    Handle(try syscall(.threadSelf))
}

/// The thread's id, as fault messages and page requests name it (thread_get_id).
public func threadGetID(_ thread: Handle) throws(SysError) -> UInt64 {
    try syscall(.threadGetID, thread.word)
}

public func threadStart(_ thread: Handle) throws(SysError) {
    _ = try syscall(.threadStart, thread.word)
}

public func threadStop(_ thread: Handle) throws(SysError) {
    _ = try syscall(.threadStop, thread.word)
}

public func threadSetPriority(_ thread: Handle, _ priority: UInt64) throws(SysError) {
    _ = try syscall(.threadSetPriority, thread.word, priority)
}

/// The CPUs `thread` may run on (bit i: CPU i); .invalidArgument when the mask names none that runs threads.
public func threadSetAffinity(_ thread: Handle, _ mask: UInt64) throws(SysError) {
    _ = try syscall(.threadSetAffinity, thread.word, mask)
}

/// The CPUs `thread` may run on (all ones until thread_set_affinity).
public func threadGetAffinity(_ thread: Handle) throws(SysError) -> UInt64 {
    try syscall(.threadGetAffinity, thread.word)
}

/// The thread's state now (thread_get_state).
public func threadGetState(_ thread: Handle) throws(SysError) -> ThreadState {
    guard let state = ThreadState(rawValue: UInt8(truncatingIfNeeded: try syscall(.threadGetState, thread.word))) else {
        throw .badState
    }
    return state
}

/// Blocks until the thread has ended; its exit code. `timeout` in nanoseconds (0: none) ends the wait
/// with .timedOut.
public func threadWait(_ thread: Handle, timeout: UInt64 = 0) throws(SysError) -> UInt64 {
    try syscall(.threadWait, thread.word, timeout)
}

/// The register file (RegisterIndex order) of a stopped or unstarted thread.
public func threadReadRegisters(_ thread: Handle) throws(SysError) -> [UInt64] {
    var registers = [UInt64](repeating: 0, count: RegisterIndex.count)
    let error = registers.withUnsafeMutableBytes { buffer in
        raw_syscall(Syscall.threadReadRegisters.rawValue, thread.word, pointerWord(buffer.baseAddress),
                    UInt64(buffer.count), 0, 0, 0).error
    }
    if error != 0 { throw SysError(code: error) }
    return registers
}

/// Replaces the register file of a stopped or unstarted thread (RegisterIndex.count values).
public func threadWriteRegisters(_ thread: Handle, _ registers: [UInt64]) throws(SysError) {
    let error = registers.withUnsafeBytes { buffer in
        raw_syscall(Syscall.threadWriteRegisters.rawValue, thread.word, pointerWord(buffer.baseAddress),
                    UInt64(buffer.count), 0, 0, 0).error
    }
    if error != 0 { throw SysError(code: error) }
}

public func threadExit(_ code: UInt64) -> Never {
    _ = raw_syscall(Syscall.threadExit.rawValue, code, 0, 0, 0, 0, 0)
    while true { cpu_trap() }
}

public func threadYield() {
    _ = raw_syscall(Syscall.threadYield.rawValue, 0, 0, 0, 0, 0, 0)
}

/// Sleeps at least `nanoseconds` as the kernel's clock counts (0 yields).
public func threadSleep(nanoseconds: UInt64) {
    _ = raw_syscall(Syscall.threadSleep.rawValue, nanoseconds, 0, 0, 0, 0, 0)
}

// MARK: virtual memory

public func vmemCreate() throws(SysError) -> Handle {
    Handle(try syscall(.vmemCreate))
}

public func vmemSelf() throws(SysError) -> Handle {
    Handle(try syscall(.vmemSelf))
}

/// Maps [offset, offset + length) of a frame at `address` in a vmem.
public func vmemMap(_ vmem: Handle, frame: Handle, address: UInt64, offset: UInt64 = 0, length: UInt64,
                    flags: MapFlags, cache: CacheMode = .writeBack) throws(SysError) {
    _ = try syscall(.vmemMap, vmem.word, frame.word, address, offset, length,
                    UInt64(flags.rawValue) | UInt64(cache.rawValue) << 8)
}

/// vmem_map with the flags word given raw (for tests of invalid cache modes and flags).
public func vmemMap(_ vmem: Handle, frame: Handle, address: UInt64, offset: UInt64, length: UInt64,
                    rawFlags: UInt64) throws(SysError) {
    _ = try syscall(.vmemMap, vmem.word, frame.word, address, offset, length, rawFlags)
}

/// Maps [offset, offset + length) of a frame at an address the kernel chooses (the lowest free one at or
/// above `from`; 0: the default base) and returns that address.
public func vmemMapAnywhere(_ vmem: Handle, frame: Handle, from: UInt64 = 0, offset: UInt64 = 0, length: UInt64,
                            flags: MapFlags, cache: CacheMode = .writeBack) throws(SysError) -> UInt64 {
    try syscall(.vmemMap, vmem.word, frame.word, from, offset, length,
                UInt64(flags.rawValue) | UInt64(cache.rawValue) << 8 | VmemMapOptions.anywhere)
}

/// Unmaps every mapped page of [address, address + length) (mappings it cuts are split).
public func vmemUnmap(_ vmem: Handle, address: UInt64, length: UInt64) throws(SysError) {
    _ = try syscall(.vmemUnmap, vmem.word, address, length)
}

/// Sets the rights of every mapped page of [address, address + length) (never above the mapping handle's).
public func vmemProtect(_ vmem: Handle, address: UInt64, length: UInt64, flags: MapFlags) throws(SysError) {
    _ = try syscall(.vmemProtect, vmem.word, address, length, UInt64(flags.rawValue))
}

/// Copies from `address` in a vmem into the buffer.
public func vmemRead(_ vmem: Handle, address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SysError) {
    _ = try syscall(.vmemRead, vmem.word, address, pointerWord(buffer.baseAddress), UInt64(buffer.count))
}

/// Copies the buffer to `address` in a vmem.
public func vmemWrite(_ vmem: Handle, address: UInt64, from buffer: UnsafeRawBufferPointer) throws(SysError) {
    _ = try syscall(.vmemWrite, vmem.word, address, pointerWord(buffer.baseAddress), UInt64(buffer.count))
}

// MARK: frames

/// A frame of `size` bytes (a page multiple), zeroed lazily.
public func frameCreate(size: UInt64) throws(SysError) -> Handle {
    Handle(try syscall(.frameCreate, size))
}

/// A copy-on-write Frame of [offset, offset + size) of `frame` (with the same handle rights).
public func frameClone(_ frame: Handle, offset: UInt64 = 0, size: UInt64) throws(SysError) -> Handle {
    Handle(try syscall(.frameClone, frame.word, offset, size))
}

/// Binds a process's or thread's user faults to a handler: each becomes a call through `sender` (nil:
/// unbind). See fault_handler_set in Sources/ABI/Syscalls.swift.
public func faultHandlerSet(_ target: Handle, sender: Handle?) throws(SysError) {
    _ = try syscall(.faultHandlerSet, target.word, sender?.word ?? 0)
}

/// A Frame of `size` bytes whose pages the pager behind `pager` supplies on faults (frame_create_paged);
/// `lastUser` gets bit 1 whenever the Frame is down to one handle and no mapping.
public func frameCreatePaged(size: UInt64, pager: Handle, lastUser: Handle? = nil) throws(SysError) -> Handle {
    Handle(try syscall(.frameCreatePaged, size, pager.word, lastUser?.word ?? 0))
}

/// Fills the page at `offset` of a pager-backed Frame from the page at `sourceOffset` of `source`.
public func frameSupply(_ frame: Handle, offset: UInt64, from source: Handle, sourceOffset: UInt64 = 0) throws(SysError) {
    _ = try syscall(.frameSupply, frame.word, offset, source.word, sourceOffset)
}

/// Traces the syscalls of `process` into the kernel's trace buffer from now on, or no longer
/// (trace_set; `osh syscalls --trace` reads them).
public func traceSet(_ process: Handle, on: Bool) throws(SysError) {
    _ = try syscall(.traceSet, process.word, on ? 1 : 0)
}

public func frameGetSize(_ frame: Handle) throws(SysError) -> UInt64 {
    try syscall(.frameGetSize, frame.word)
}

public func frameSetSize(_ frame: Handle, _ size: UInt64) throws(SysError) {
    _ = try syscall(.frameSetSize, frame.word, size)
}

public func frameRead(_ frame: Handle, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SysError) {
    _ = try syscall(.frameRead, frame.word, offset, pointerWord(buffer.baseAddress), UInt64(buffer.count))
}

public func frameWrite(_ frame: Handle, offset: UInt64, from buffer: UnsafeRawBufferPointer) throws(SysError) {
    _ = try syscall(.frameWrite, frame.word, offset, pointerWord(buffer.baseAddress), UInt64(buffer.count))
}

/// The most one frame_read/frame_write copies (the kernel's bound; larger is .tooLarge).
public let frameCopyLimit = 1 << 20

/// frame_read of any length, in calls of at most frameCopyLimit bytes.
public func frameReadAll(_ frame: Handle, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SysError) {
    var done = 0
    while done < buffer.count {
        let n = min(frameCopyLimit, buffer.count - done)
        try frameRead(frame, offset: offset + UInt64(done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)]))
        done += n
    }
}

/// frame_write of any length, in calls of at most frameCopyLimit bytes.
public func frameWriteAll(_ frame: Handle, offset: UInt64, from buffer: UnsafeRawBufferPointer) throws(SysError) {
    var done = 0
    while done < buffer.count {
        let n = min(frameCopyLimit, buffer.count - done)
        try frameWrite(frame, offset: offset + UInt64(done), from: UnsafeRawBufferPointer(rebasing: buffer[done..<(done + n)]))
        done += n
    }
}

/// frame_read/frame_write with a raw user pointer (for tests of bad pointers).
public func frameRead(_ frame: Handle, offset: UInt64, address: UInt64, length: UInt64) throws(SysError) {
    _ = try syscall(.frameRead, frame.word, offset, address, length)
}

public func frameWrite(_ frame: Handle, offset: UInt64, address: UInt64, length: UInt64) throws(SysError) {
    _ = try syscall(.frameWrite, frame.word, offset, address, length)
}

// MARK: IPC objects (their operations come later)

public func receiverCreate() throws(SysError) -> Handle { Handle(try syscall(.receiverCreate)) }
public func senderCreate(_ receiver: Handle, badge: UInt64 = 0) throws(SysError) -> Handle { Handle(try syscall(.senderCreate, receiver.word, badge)) }
public func replyCreate() throws(SysError) -> Handle { Handle(try syscall(.replyCreate)) }
/// Turns closed-client notices on or off for `receiver`: while on, a receive may return a message labelled
/// SenderGoneNotice.label whose badge names a Sender that is gone (IPCMessage.isSenderGone).
public func receiverSetNotices(_ receiver: Handle, _ on: Bool) throws(SysError) {
    _ = try syscall(.receiverSetNotices, receiver.word, on ? 1 : 0)
}
public func notifyCreate() throws(SysError) -> Handle { Handle(try syscall(.notifyCreate)) }

// MARK: resource limits

/// Lowers a limit of `process` (and so of what its descendants may hold together); raising is refused.
public func processSetLimit(_ process: Handle, _ kind: LimitKind, _ value: UInt64) throws(SysError) {
    _ = try syscall(.processSetLimit, process.word, kind.rawValue, value)
}

/// What `process` and its descendants hold of `kind` (handles: its own table).
public func processGetUsage(_ process: Handle, _ kind: LimitKind) throws(SysError) -> UInt64 {
    try syscall(.processGetUsage, process.word, kind.rawValue)
}

// MARK: device capabilities

/// A Resource narrowed to [base, base + size) of one kind (needs .manage on `resource`).
public func resourceCreate(_ resource: Handle, kind: ResourceKind, base: UInt64, size: UInt64) throws(SysError) -> Handle {
    Handle(try syscall(.resourceCreate, resource.word, kind.rawValue, base, size))
}

/// An IOPort over ports base ..< base + count: while this process holds it, `in`/`out` on them work.
public func ioportCreate(_ resource: Handle, base: UInt64, count: UInt64) throws(SysError) -> Handle {
    Handle(try syscall(.ioportCreate, resource.word, base, count))
}

/// The IRQ object of one interrupt line (a GSI, or an ISA IRQ translated by the kernel); masked until bound.
/// `shared`: other objects made with `shared` may take the same line (IRQOptions.shared).
public func irqCreate(_ resource: Handle, _ number: UInt64, _ numbering: IRQNumbering = .gsi,
                      shared: Bool = false) throws(SysError) -> Handle {
    Handle(try syscall(.irqCreate, resource.word, number, numbering.rawValue, shared ? IRQOptions.shared : 0))
}

/// Each interrupt on the line masks it and ORs `bits` into `notify`; the line is unmasked.
public func irqBind(_ irq: Handle, notify: Handle, bits: UInt64) throws(SysError) {
    _ = try syscall(.irqBind, irq.word, notify.word, bits)
}

/// Unmasks the line after its interrupt was handled.
public func irqAck(_ irq: Handle) throws(SysError) {
    _ = try syscall(.irqAck, irq.word)
}

/// A Frame over device memory [address, address + size) (page-aligned), to map with vmem_map (UC, WC).
public func frameCreatePhysical(_ resource: Handle, address: UInt64, size: UInt64) throws(SysError) -> Handle {
    Handle(try syscall(.frameCreatePhysical, resource.word, address, size))
}

/// A Frame of `size` bytes of physically contiguous, zeroed RAM for a device's DMA (needs the machine's
/// Resource); frame_physical gives its address.
public func frameCreateContiguous(_ resource: Handle, size: UInt64) throws(SysError) -> Handle {
    Handle(try syscall(.frameCreateContiguous, resource.word, size))
}

/// The physical address of byte `offset` of a contiguous or device Frame.
public func framePhysical(_ frame: Handle, offset: UInt64 = 0) throws(SysError) -> UInt64 {
    try syscall(.framePhysical, frame.word, offset)
}

/// tracker_read: the kernel's syscall tracker table (TrackerLayout's words: the counts by syscall and by
/// object type), as `osh syscalls` reads it from guest memory.
public func trackerRead() throws(SysError) -> [UInt64] {
    var table = [UInt64](repeating: 0, count: TrackerLayout.totalWords)
    let size = UInt64(table.count * 8)
    var result: UInt64 = 0
    var failure: SysError? = nil
    table.withUnsafeMutableBytes { b in
        do throws(SysError) { result = try syscall(.trackerRead, UInt64(UInt(bitPattern: b.baseAddress)), size) } catch { failure = error }
    }
    if let failure { throw failure }
    guard result >= size else { throw .badState }
    return table
}
