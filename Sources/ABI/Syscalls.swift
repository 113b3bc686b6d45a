// Syscall numbers, names and argument counts: the kernel's dispatch, the userspace wrappers and osh's
// tracker tables all read this one list.
//
// Calling convention (x86_64 `syscall`): rax = number; arguments in rdi, rsi, rdx, r10, r8, r9.
// On return rax = 0 or a SysError raw value, rdx = the result value (a handle, a size, …).
// rcx and r11 are clobbered by the instruction itself; every other register is preserved.

// Semantics (a = arguments in order; r = result in rdx; every call can also fail with .unknownSyscall
// for a bad number, .invalidHandle for a handle that is 0, closed or not this process's, .wrongType for a
// handle of another object type, .accessDenied for a missing right, .badAddress for a user pointer that
// is not mapped readable/writable in the caller, and .outOfMemory):
//   debug_log          a: ptr, len (≤ 4096)                     prints the bytes on the kernel log
//   handle_identify    a: handle                                r: type << 32 | rights
//   handle_duplicate   a: handle, rights (subset)               r: new handle          needs .duplicate
//   handle_close       a: handle
//   process_create     a: vmem (needs .map)                     r: process (the process runs in that Vmem;
//                      what it holds also counts against the caller's limits, see process_set_limit)
//   process_self       r: process
//   process_give       a: process (.write), handle (.transfer)  r: the handle's value in the target; the
//                      handle moves (gone from the caller)
//   process_exit       a: code                                  ends every thread of the caller's process
//   process_wait       a: process (.wait), timeout               r: exit code; blocks until it has exited
//   process_kill       a: process (.manage)                     ends every thread of another process (its
//                      exit code ExitCode.stopped); .badState for the caller's own process or one that ended
//   thread_create      a: process (.manage), entry, stack, arg  r: thread (not started; arg in rdi)
//   thread_self        r: thread
//   thread_start       a: thread (.manage)                      .badState if started before
//   thread_stop        a: thread (.manage)                      ends it (exit code -1 as UInt64.max)
//   thread_set_priority a: thread (.manage), priority 0...31    .invalidArgument outside
//   thread_set_affinity a: thread (.manage), CPU mask (bit i: CPU i)   .invalidArgument when the mask
//                      names no CPU that runs threads (system_info cpusScheduling); a thread running on a
//                      CPU the mask leaves out moves at once
//   thread_get_affinity a: thread (.read)                       r: its CPU mask (all ones until set)
//   thread_get_state   a: thread (.read)                        r: its ThreadState now (created, ready,
//                      running, blocked, dead): tests wait for a thread on another CPU to block
//   thread_wait        a: thread (.wait), timeout                r: exit code; blocks until it has ended
//   thread_read_registers  a: thread (.read), ptr, len (RegisterIndex.count * 8)   a stopped or unstarted
//   thread_write_registers a: thread (.write), ptr, len                            thread (.badState else)
//   thread_exit        a: code                                  ends the calling thread
//   thread_yield       gives up the rest of the time slice
//   thread_sleep       a: nanoseconds                           blocks for at least that long as the kernel's
//                      clock counts (0: yields; beyond the clock's range: until killed); a kill ends it at once
//   vmem_create        r: vmem (an empty user half; the kernel half is shared by all)
//   vmem_self          r: vmem
//   vmem_map           a: vmem (.map), frame (.map; .read for any mapping, .write for writable, .exec for
//                      executable), address, frame offset, length, flags | cache << 8
//                      (MapFlags, CacheMode) — page-aligned (.misaligned), inside the user range
//                      (.badAddress), not overlapping (.overlapping), inside the frame (.invalidArgument);
//                      one handle backs at most one live mapping: map again with a duplicate (.badState).
//                      With VmemMapOptions.anywhere in the flags word the kernel chooses the address (the
//                      lowest free range at or above `address`, or above 1 MiB for 0; .outOfVirtualMemory
//                      when none) and returns it in r; without it r is the address given.
//                      Pages the Frame shares (after frame_clone) and untouched pages of an anonymous Frame
//                      (read through the shared zero page) are entered read-only; a write copies or
//                      allocates that one page (copy on write)
//   vmem_unmap         a: vmem (.map), address, length          every mapped page in the range; mappings
//                      it cuts are split (.notMapped when no page of the range is mapped)
//   vmem_read          a: vmem (.read), address, ptr, len       copies from that Vmem into the caller
//   vmem_write         a: vmem (.write), address, ptr, len      copies from the caller into that Vmem
//   frame_create       a: size (bytes, page multiple, > 0, ≤ 256 TiB: .tooLarge)   r: frame; pages are
//                      allocated and zeroed on first touch (lazily), charged then to the creator's limits
//                      (.limitExceeded; .outOfMemory when only the kernel heap's reserve is left)
//   frame_get_size     a: frame (.read)                         r: size
//   frame_set_size     a: frame (.manage), size                 .badState when shrinking under a mapping
//   frame_read         a: frame (.read), offset, ptr, len       .invalidArgument past the end
//   frame_write        a: frame (.write), offset, ptr, len
//   frame_clone        a: frame (.read), offset, size (page multiples, inside the frame:
//                      .misaligned, .invalidArgument)          r: frame (a copy-on-write snapshot of
//                      [offset, offset + size): its pages are shared read-only with the source until either
//                      side writes one, which copies that page only); the new handle has the source
//                      handle's rights (a read-only handle gives a read-only clone); .badState for a Frame
//                      over boot or device memory (frame_create_physical); each page the clone holds counts
//                      against the caller's frames limit
//   vmem_protect       a: vmem (.map), address, length, flags (MapFlags; .read is implied)   sets the
//                      rights of every mapped page in the range, splitting mappings it cuts; never above the
//                      rights of the handle the mapping was made with (.accessDenied, nothing changes);
//                      .notMapped when no page of the range is mapped
//   frame_create_paged a: size (as frame_create), sender (.signal), notify (.signal) or 0   r: frame whose
//                      pages a pager supplies (the notify gets bit 1 each time the Frame is down to one
//                      handle and no mapping: the creator's own handle, as a rule):
//                      a user fault on a page not supplied yet is an IPC call from the faulting thread
//                      through that sender (label PagerMessage.label, words: the page's offset, the thread's
//                      id) while it waits; the pager fills the page with frame_supply and answers
//                      PagerMessage.resume (the access is retried), or any other label to fail the fault
//                      (the process ends as on an unhandled fault; so it does when the pager's receiver is
//                      gone). A kernel copy that meets an unsupplied page (frame_read/write, vmem_read/write,
//                      process_load, IPC buffers, futex words, any user buffer of a syscall) asks the pager
//                      the same way from the calling thread and then runs the syscall again; it fails with
//                      .notSupplied when the pager fails the request or its receiver is gone, and at once
//                      when the calling thread itself last received on the pager's receiver (it would wait
//                      for itself). thread_stop and a process's end still end the wait. An answer
//                      (receiver_reply, reply_reply, receiver_reply_recv) that fails so keeps its caller
//                      held (answer again, or a receive drops it with .peerClosed)
//   frame_supply       a: frame (.write; a pager-backed one, else .badState), offset (page-aligned, inside),
//                      source frame (.read), source offset   the page is copied in (shared copy on write);
//                      .badState when the page was supplied before or the source is device memory
//   fault_handler_set  a: process or thread (.manage), sender (.signal) or 0 to unbind
//                      the thread's (else its process's) user faults that the kernel does not resolve itself
//                      become an IPC call through that sender while the thread waits: tag label
//                      FaultMessage.label, words: vector | error code << 32, address (CR2 for a page fault),
//                      the faulting thread's id (thread_get_id), rip; the badge is the sender's. A thread
//                      that last received on that sender's receiver (a handler's own fault) is not sent
//                      there: its fault is unhandled. The handler may read and write the waiting thread's
//                      registers (thread_read/write_registers) and answers with label FaultMessage.resume
//                      to retry the instruction, any other label to end the process as an unhandled fault
//                      would (also when the handler's receiver is gone). A thread's binding wins over its
//                      process's.
//   thread_get_id      a: thread (no right needed)             r: the thread's id, as fault messages, page
//                      requests and the kernel's fault reports name it (never 0, never reused)
//   receiver_create    r: receiver;  reply_create r: reply;  notify_create r: notify
//   sender_create      a: receiver (.wait), badge                r: sender (calls through it carry the badge)
//   receiver_set_notices a: receiver (.wait), on (1) or off (0; anything else .invalidArgument)
//                      closed-client notices: while on, when a Sender to this Receiver's endpoint goes away
//                      (its last handle closed, directly or because the process holding it ended, and no
//                      kernel structure — a fault binding, a pager-backed Frame, a call in progress —
//                      holds it any more), the kernel queues a notice with that Sender's badge. A receive
//                      (receiver_recv, receiver_reply_recv and their timed forms) takes a notice when no
//                      caller is queued: tag label SenderGoneNotice.label, no words, bytes or handles,
//                      rdi the badge; there is no caller to answer (receiver_reply then says .badState, a
//                      Reply handle given to the receive stays unbound). Notices wait in arrival order;
//                      turning notices off drops the waiting ones, and so does the endpoint closing.
//                      A caller cannot forge one: sender_call(_timed) with that label is .invalidArgument
//
// IPC (seL4-style synchronous endpoints; see IPCTag and IPCBuffer below). Message registers, the same
// for every IPC call: rdi = the object's handle, rsi = tag, rdx, r10, r8, r9 = message words 0..3 (as many
// as the tag says); on return from a call or a receive the same registers hold the message received,
// and rdi the badge (receive) — rax is the error.
//   sender_call        a: sender (.signal), tag, w0..w3          sends, blocks until answered; returns the
//                      answer. .peerClosed if the receiver is gone or the reply was dropped.
//   sender_call_timed  a: sender (.signal), tag (≤ 3 words: .invalidArgument), w0..w2, timeout (r9)
//                      sender_call with a timeout: .timedOut if not answered by then (queued or already
//                      received; a server that answers later gets .badState, as for a caller gone)
//   receiver_recv      a: receiver (.wait), reply (0, or a Reply handle to bind the caller to), timeout
//                      blocks for the next caller; returns its message and badge. Without a Reply handle the
//                      caller is held by the receiving thread, answered with receiver_reply(_recv).
//                      .peerClosed when the last Receiver handle is closed while it waits.
//   receiver_reply     a: (rdi unused), tag, w0..w3              answers the caller this thread received
//                      (.badState if none)
//   receiver_reply_recv a: receiver (.wait), tag, w0..w3         receiver_reply, then receiver_recv (no Reply)
//   receiver_reply_recv_timed a: receiver (.wait), tag (≤ 3 words), w0..w2, timeout (r9)   the receive
//                      part with a timeout
//   reply_reply        a: reply (.signal), tag, w0..w3           answers the caller bound to that Reply
//                      (.badState if none: never bound, already answered, or the caller ended)
//   notify_notify      a: notify (.signal), bits                 ORs bits into the word, wakes a waiter
//   notify_wait        a: notify (.wait), timeout                r: the word (non-zero), cleared; blocks
//   notify_poll        a: notify (.wait)                         r: the word (0 if none), cleared
//   futex_wait         a: address (4-aligned UInt32), expected, timeout   blocks while *address == expected
//                      (.wouldBlock if it differs); keyed by the Frame holding the word and the offset
//                      in it, so shared Frames work and a page copied on write keeps its waiters
//   futex_wake         a: address, count                        r: threads woken
//   futex_requeue      a: address, wake count, address2, requeue count   r: threads woken
//   thread_set_ipc_buffer a: thread (.write), address (page-aligned, mapped read/write, or 0)
//                      the page the kernel copies message bytes and transferred handles from and to
//                      (a page of a pager-backed Frame not supplied yet is taken: the pager is asked
//                      when a message first uses it)
//   system_info        a: SystemInfo raw value                  r: the figure (free frames, …)
//   process_load       a: process (.manage), frame (.read) holding a static ELF64 executable, name ptr,
//                      name len (≤ 64)                          r: entry point; maps its PT_LOAD segments
//                      into the process's Vmem (copies, fresh Frames) and records the image (name, build
//                      ID, segments) for the process's fault reports (.badELF for a bad image)
//   process_set_limit  a: process (.manage), LimitKind, value   lowers that process's limit (.accessDenied
//                      to raise it, .invalidArgument for a bad kind); calls that would go over a limit of
//                      the caller's process or of an ancestor fail with .limitExceeded
//   process_get_usage  a: process (.read), LimitKind            r: what the process and its descendants
//                      hold of that kind (handles: its own table)
//
// Timeouts: every call that blocks takes a timeout, relative, in nanoseconds of the kernel's monotonic
// clock, in the argument register after its last other argument; 0 (what callers that pass nothing
// leave there) waits forever, as does a timeout past the clock's range. A wait that reaches its timeout
// leaves every queue it was in and returns .timedOut. sender_call and receiver_reply_recv use all six
// argument registers, so their timed forms are calls of their own (sender_call_timed,
// receiver_reply_recv_timed) whose message has at most 3 words, r9 holding the timeout; the untimed forms
// keep the IPC fast path.
//
// Device capabilities (Zircon's resource model). Root gets the machine's Resource (StartupBlock); every
// device object comes from a Resource (.manage) and only inside its range (.outOfRange otherwise):
//   resource_create    a: resource (.manage), ResourceKind, base, size (> 0)   r: a narrowed Resource over
//                      [base, base+size) of that kind (.invalidArgument for a bad kind or size 0)
//   ioport_create      a: resource (.manage), base port, count (> 0)   r: ioport; while a process holds a
//                      handle to it (any rights), `in`/`out` on exactly those ports work in its user mode
//                      (the TSS I/O bitmap); any other port is a #GP that ends the process
//   irq_create         a: resource (.manage), number, IRQNumbering (GSI or ISA IRQ), IRQOptions   r: irq;
//                      the line stays masked until bound. One IRQ object per line (.inUse; also for the
//                      line the kernel keeps: the PIT's, ISA IRQ 0) unless every object on it was made
//                      with IRQOptions.shared; an ISA IRQ goes through the MADT's overrides (ISA 0 is
//                      GSI 2 on PCs); .outOfRange for a line the machine lacks; unknown options: .invalidArgument
//   irq_bind           a: irq (.write), notify (.signal), bits (≠ 0)   each interrupt on the line masks it
//                      and ORs bits into the Notify of every object bound on it; unmasks the line (as
//                      irq_ack). Rebinding replaces the Notify
//   irq_ack            a: irq (.write)                            after an interrupt was handled: unmasks
//                      the line once every object it signalled acknowledged (.badState if not bound).
//                      Closing the last handle unbinds the object (its line masked when no object is left)
//   frame_create_physical a: resource (.manage), address, size (page-aligned, > 0)   r: frame over that
//                      physical range (never freed to the PMM, never zeroed; map it with vmem_map's cache
//                      modes, e.g. UC or WC; frame_read/write, IPC buffers and other kernel copies through
//                      it are refused). .inUse over RAM the kernel manages; over ACPI memory the handle
//                      lacks .write; never .exec or .manage (no frame_set_size)
//   frame_create_contiguous a: resource (.manage, covering ResourceKind.dma or every physical address), size
//                      (page multiple, > 0, ≤ 16 MiB)   r: frame over physically contiguous RAM for a
//                      device's DMA, zeroed, every page present, freed to the PMM with the Frame; charged
//                      to the frames limit. Like a physical Frame: no clone, supply, resize or kernel
//                      copies (frame_read/write .badState). .outOfRange for a narrowed Resource,
//                      .outOfMemory when no such run is free
//   frame_physical     a: frame (.read), offset (< size)   r: the physical address of that byte of a Frame
//                      made by frame_create_contiguous or frame_create_physical (.badState for any other
//                      Frame: its pages move)
//   clock_get          r: the monotonic clock, nanoseconds since boot (the same clock the time page gives
//                      without a syscall: see TimePage)
//   tracker_read       a: buffer, length (bytes)                r: the tracker table's size in bytes
//                      copies the first min(length, size) bytes of the syscall tracker's table (laid out
//                      as TrackerLayout says, the counts `osh syscalls` reads from guest memory) to the
//                      buffer; length 0 only asks the size. No handle needed: the counts are the
//                      machine's, as system_info's figures are. .badAddress for a buffer not mapped
//                      writable, .tooLarge past the kernel's copy limit (never for the table's size)
//
// Syscall traces (SyscallTraceLayout.swift; `osh syscalls --trace` reads them):
//   trace_set          a: process (.manage), on (0 or 1; .invalidArgument else)   from now on every
//                      syscall of that process (1) or none (0) goes to the kernel's trace buffer;
//                      .badState for a process that has ended or has no entry in the process table
//                      (ProcessTableLayout: at most 256 live processes have one)
//
// The kernel log and the serial terminal (KernelLog below; Debug/KernelLog.swift):
//   log_read           a: ptr, len (≤ 1 MiB), cursor (a user address holding a UInt64 byte sequence)
//                      r: bytes copied. Copies the kernel log (every line the kernel and debug_log wrote
//                      since boot) from byte *cursor on, or from the oldest byte the ring still holds when
//                      *cursor is older (the bytes between are lost: the cursor then moves by more than the
//                      count), and stores the sequence after the last byte copied in *cursor. 0 bytes when
//                      nothing is newer. Read-only: any process may read it.
//   console_attach     a: ioport (covering COM1's data port 0x3F8), notify (.signal), bits (≠ 0)
//                      the caller becomes the serial terminal: its output goes through console_write and
//                      the kernel's log lines cooperate with it (KernelLog.TerminalState). .inUse while
//                      another live process is attached; .outOfRange for an IOPort without 0x3F8. The
//                      attachment ends with the process
//   console_write      a: ptr, len (≤ 4096), state (KernelLog.TerminalState)   r: len. Writes the bytes to
//                      COM1 as one piece (no kernel line comes between them; they do not enter the log)
//                      and says what the terminal's last line shows afterwards. .accessDenied unless the
//                      caller is the attached terminal; .invalidArgument for an unknown state
public enum Syscall: UInt64, CaseIterable, Sendable {
    case debugLog = 0
    case handleIdentify = 1
    case handleDuplicate = 2
    case handleClose = 3
    case processCreate = 4
    case processSelf = 5
    case processGive = 6
    case processExit = 7
    case processWait = 8
    case threadCreate = 9
    case threadSelf = 10
    case threadStart = 11
    case threadStop = 12
    case threadSetPriority = 13
    case threadWait = 14
    case threadReadRegisters = 15
    case threadWriteRegisters = 16
    case threadExit = 17
    case threadYield = 18
    case vmemCreate = 19
    case vmemSelf = 20
    case vmemMap = 21
    case vmemUnmap = 22
    case vmemRead = 23
    case vmemWrite = 24
    case frameCreate = 25
    case frameGetSize = 26
    case frameSetSize = 27
    case frameRead = 28
    case frameWrite = 29
    case receiverCreate = 30
    case senderCreate = 31
    case replyCreate = 32
    case notifyCreate = 33
    case systemInfo = 34
    case processLoad = 35
    case senderCall = 36
    case receiverRecv = 37
    case receiverReply = 38
    case receiverReplyRecv = 39
    case replyReply = 40
    case notifyNotify = 41
    case notifyWait = 42
    case notifyPoll = 43
    case futexWait = 44
    case futexWake = 45
    case futexRequeue = 46
    case threadSetIPCBuffer = 47
    case processSetLimit = 48
    case processGetUsage = 49
    case clockGet = 50
    case threadSleep = 51
    case senderCallTimed = 52
    case receiverReplyRecvTimed = 53
    case resourceCreate = 56
    case ioportCreate = 57
    case irqCreate = 58
    case irqBind = 59
    case irqAck = 60
    case frameCreatePhysical = 61
    case frameClone = 64
    case vmemProtect = 65
    case faultHandlerSet = 66
    case frameCreatePaged = 67
    case frameSupply = 68
    case threadGetID = 69
    case traceSet = 72
    case receiverSetNotices = 76
    case logRead = 77
    case consoleAttach = 78
    case consoleWrite = 79
    case processKill = 88
    case frameCreateContiguous = 92
    case threadSetAffinity = 80
    case threadGetAffinity = 81
    case threadGetState = 82
    case framePhysical = 93
    case trackerRead = 104

    /// One past the largest syscall number (numbers below it without a case are .unknownSyscall).
    public static let count = Int(Syscall.trackerRead.rawValue) + 1

    /// The name as users see it (`frame_create`).
    public var name: StaticString {
        switch self {
        case .debugLog: return "debug_log"
        case .handleIdentify: return "handle_identify"
        case .handleDuplicate: return "handle_duplicate"
        case .handleClose: return "handle_close"
        case .processCreate: return "process_create"
        case .processSelf: return "process_self"
        case .processGive: return "process_give"
        case .processExit: return "process_exit"
        case .processWait: return "process_wait"
        case .threadCreate: return "thread_create"
        case .threadSelf: return "thread_self"
        case .threadStart: return "thread_start"
        case .threadStop: return "thread_stop"
        case .threadSetPriority: return "thread_set_priority"
        case .threadWait: return "thread_wait"
        case .threadReadRegisters: return "thread_read_registers"
        case .threadWriteRegisters: return "thread_write_registers"
        case .threadExit: return "thread_exit"
        case .threadYield: return "thread_yield"
        case .vmemCreate: return "vmem_create"
        case .vmemSelf: return "vmem_self"
        case .vmemMap: return "vmem_map"
        case .vmemUnmap: return "vmem_unmap"
        case .vmemRead: return "vmem_read"
        case .vmemWrite: return "vmem_write"
        case .frameCreate: return "frame_create"
        case .frameGetSize: return "frame_get_size"
        case .frameSetSize: return "frame_set_size"
        case .frameRead: return "frame_read"
        case .frameWrite: return "frame_write"
        case .receiverCreate: return "receiver_create"
        case .senderCreate: return "sender_create"
        case .replyCreate: return "reply_create"
        case .notifyCreate: return "notify_create"
        case .systemInfo: return "system_info"
        case .processLoad: return "process_load"
        case .senderCall: return "sender_call"
        case .receiverRecv: return "receiver_recv"
        case .receiverReply: return "receiver_reply"
        case .receiverReplyRecv: return "receiver_reply_recv"
        case .replyReply: return "reply_reply"
        case .notifyNotify: return "notify_notify"
        case .notifyWait: return "notify_wait"
        case .notifyPoll: return "notify_poll"
        case .futexWait: return "futex_wait"
        case .futexWake: return "futex_wake"
        case .futexRequeue: return "futex_requeue"
        case .threadSetIPCBuffer: return "thread_set_ipc_buffer"
        case .processSetLimit: return "process_set_limit"
        case .processGetUsage: return "process_get_usage"
        case .clockGet: return "clock_get"
        case .threadSleep: return "thread_sleep"
        case .senderCallTimed: return "sender_call_timed"
        case .receiverReplyRecvTimed: return "receiver_reply_recv_timed"
        case .resourceCreate: return "resource_create"
        case .ioportCreate: return "ioport_create"
        case .irqCreate: return "irq_create"
        case .irqBind: return "irq_bind"
        case .irqAck: return "irq_ack"
        case .frameCreatePhysical: return "frame_create_physical"
        case .frameClone: return "frame_clone"
        case .vmemProtect: return "vmem_protect"
        case .faultHandlerSet: return "fault_handler_set"
        case .frameCreatePaged: return "frame_create_paged"
        case .frameSupply: return "frame_supply"
        case .threadGetID: return "thread_get_id"
        case .threadSetAffinity: return "thread_set_affinity"
        case .threadGetAffinity: return "thread_get_affinity"
        case .threadGetState: return "thread_get_state"
        case .frameCreateContiguous: return "frame_create_contiguous"
        case .framePhysical: return "frame_physical"
        case .processKill: return "process_kill"
        case .trackerRead: return "tracker_read"
        case .receiverSetNotices: return "receiver_set_notices"
        case .traceSet: return "trace_set"
        case .logRead: return "log_read"
        case .consoleAttach: return "console_attach"
        case .consoleWrite: return "console_write"
        }
    }

    /// The object type whose method this syscall is (for the method-call tracker); `.none` for calls on
    /// no object (debug_log).
    public var objectType: ObjectType {
        switch self {
        case .debugLog, .systemInfo, .clockGet, .trackerRead, .logRead, .consoleWrite: return .none
        case .consoleAttach: return .ioPort
        case .handleIdentify, .handleDuplicate, .handleClose: return .none
        case .processCreate, .processSelf, .processGive, .processExit, .processWait, .processKill, .processLoad,
             .processSetLimit, .processGetUsage, .faultHandlerSet, .traceSet: return .process
        case .threadCreate, .threadSelf, .threadStart, .threadStop, .threadSetPriority, .threadWait,
             .threadReadRegisters, .threadWriteRegisters, .threadExit, .threadYield, .threadSetIPCBuffer,
             .threadSleep, .threadGetID, .threadSetAffinity, .threadGetAffinity, .threadGetState: return .thread
        case .vmemCreate, .vmemSelf, .vmemMap, .vmemUnmap, .vmemRead, .vmemWrite, .vmemProtect: return .vmem
        case .frameCreate, .frameGetSize, .frameSetSize, .frameRead, .frameWrite, .frameCreatePhysical,
             .frameClone, .frameCreatePaged, .frameSupply, .frameCreateContiguous, .framePhysical: return .frame
        case .resourceCreate: return .resource
        case .ioportCreate: return .ioPort
        case .irqCreate, .irqBind, .irqAck: return .irq
        case .receiverCreate, .receiverRecv, .receiverReply, .receiverReplyRecv, .receiverReplyRecvTimed,
             .receiverSetNotices: return .receiver
        case .senderCreate, .senderCall, .senderCallTimed: return .sender
        case .replyCreate, .replyReply: return .reply
        case .notifyCreate, .notifyNotify, .notifyWait, .notifyPoll: return .notify
        case .futexWait, .futexWake, .futexRequeue: return .none
        }
    }
}

/// The message of a user fault to its handler (fault_handler_set) and the answers it takes.
/// Words: 0 the vector (bits 0...7) and the CPU's error code (bits 32...63), 1 the address (CR2 for a
/// page fault, else 0), 2 the faulting thread's id (thread_get_id), 3 rip.
public enum FaultMessage {
    /// The tag label of a fault message ("FALT").
    public static let label: UInt32 = 0x544c_4146
    /// The answer label that retries the faulting instruction; any other ends the process.
    public static let resume: UInt32 = 0
    /// Word 0 of a fault message.
    public static func first(vector: UInt64, errorCode: UInt64) -> UInt64 { vector & 0xff | errorCode << 32 }
    /// The vector in word 0.
    public static func vector(_ word0: UInt64) -> UInt64 { word0 & 0xff }
    /// The CPU's error code in word 0 (0 for exceptions without one).
    public static func errorCode(_ word0: UInt64) -> UInt64 { word0 >> 32 }
}

/// The closed-client notice a Receiver gets once a Sender to it is gone (receiver_set_notices).
public enum SenderGoneNotice {
    /// The tag label of a notice ("GONE"); rdi (IPCMessage.badge) is the gone Sender's badge. Reserved:
    /// a sender_call with this label is refused (.invalidArgument).
    public static let label: UInt32 = 0x454e_4f47
}

/// The message of a page fault on a pager-backed Frame to its pager (frame_create_paged).
public enum PagerMessage {
    /// The tag label of a page request ("PAGE"); word 0 is the page's offset in the Frame, word 1 the
    /// id of the thread that waits for it (thread_get_id; a kernel copy's thread too).
    public static let label: UInt32 = 0x4547_4150
    /// The answer label that retries the access; any other fails the fault.
    public static let resume: UInt32 = 0
}

/// The layout of the kernel's syscall and method-call tracker, at the kernel symbol `syscall_tracker`,
/// so that osh can read it from guest memory. One table per CPU (`tables` of them, CPU i's at word
/// i * totalWords; each CPU counts only in its own, so no increment is lost), each laid out the same
/// way, all fields little-endian UInt64:
///   [0] magic "SYSTRACK" (0x4b43_4152_5453_5953), [1] version (3), [2] syscall slots N,
///   [3] object-type slots M, then N per-syscall counts, then M per-object-type method-call counts
///   (indexed by ObjectType raw value), then one count of calls with an unknown number.
/// The machine's counts are the sums over the tables (osh sums them; tracker_read copies out one table
/// of the sums).
public enum TrackerLayout {
    public static let symbol = "syscall_tracker"
    public static let magic: UInt64 = 0x4b43_4152_5453_5953
    public static let version: UInt64 = 3
    /// Per-CPU tables (the kernel's CPU limit, APStartup.maxCPUs).
    public static let tables = 64
    public static let headerWords = 4
    public static let syscallSlots = 128
    public static let objectSlots = 16
    public static let totalWords = headerWords + syscallSlots + objectSlots + 1
}

/// Thread register file as thread_read_registers/thread_write_registers exchange it (UInt64 each).
public enum RegisterIndex: Int, CaseIterable, Sendable {
    case rax = 0, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags, fsBase, gsBase
    public static let count = 20
}

/// A thread's state (thread_get_state; the kernel's own, and what its debugger thread registry shows).
public enum ThreadState: UInt8, Sendable {
    /// Made, not started yet.
    case created
    /// Queued to run on some CPU.
    case ready
    /// On a CPU now (the caller itself, or a thread running on another CPU).
    case running
    /// Waiting (IPC, a notification, a futex, a sleep, a thread or process exit).
    case blocked
    /// Ended.
    case dead
}

/// What system_info reports.
public enum SystemInfo: UInt64, CaseIterable, Sendable {
    /// Physical frames free in the PMM.
    case freeFrames = 0
    /// Live kernel objects of all types.
    case liveObjects = 1
    /// Timer interrupts since boot. The timer is tickless (slices while threads run, deadlines when idle),
    /// so this is no measure of time: clock_get and the time page are.
    case ticks = 2
    /// Pages the kernel heap holds (from the PMM or its boot pool), including small-block pages that stay
    /// with their size class once carved: with freeFrames, a leak check can tell frames lost from frames
    /// the heap keeps.
    case heapPages = 3
    /// The boot loader's linear framebuffer (0 when there is none): physical address, bytes per line,
    /// width and height in pixels, bits per pixel | multiboot framebuffer type << 8 (1: RGB).
    /// Root maps it with frame_create_physical from its Resource.
    case framebufferAddress = 4
    case framebufferPitch = 5
    case framebufferWidth = 6
    case framebufferHeight = 7
    case framebufferFormat = 8
    /// Physical address of the ACPI root table (XSDT, else RSDT; 0 when none) and of the HPET's
    /// registers (0 when there is no HPET table), for frame_create_physical.
    case acpiRootTable = 9
    case hpetAddress = 10
    /// Physical frames free at or above 4 GiB (0 on a machine without memory there). User pages come
    /// from the top of memory, so a touched page lowers it first.
    case freeFramesAbove4GiB = 11
    /// CPUs running the kernel (the boot CPU and the application processors that came up), and the
    /// enabled processors the firmware's MADT lists (1 without a MADT). `smp=off` leaves cpusOnline 1.
    case cpusOnline = 12
    case cpusPresent = 13
    /// Requests kernel copies sent to pagers since boot (a frame_read, vmem_read, IPC buffer or other
    /// kernel copy that met a page its pager-backed Frame had not supplied yet, and waited for it).
    case pagerCopyWaits = 14
    /// The CPU (index, 0: the boot CPU) the calling thread runs on as it asks, and the CPUs that run
    /// threads (bit i: CPU i; 1 unless `smp=threads`).
    case currentCPU = 15
    case cpusScheduling = 16
    /// Bytes the kernel log has taken since boot: the sequence log_read's cursor reaches at the end.
    case logSequence = 17
    /// PCI Express ECAM (ACPI MCFG, segment 0): the physical address of its configuration space (0 when
    /// the machine has no MCFG: use ports 0xCF8/0xCFC), and its buses: first | last << 8.
    case ecamAddress = 22
    case ecamBuses = 23
}

/// How the kernel starts the root process: rdi = address of a StartupBlock in its address space
/// (read-only page). Layout, little-endian UInt64 words: [0] magic "STARTUP\0" (0x0050_5554_5241_5453),
/// [1] process handle, [2] vmem handle, [3] thread handle, [4] module count M, [5] command-line offset,
/// [6] command-line length (the kernel's command line), [7] the machine's Resource handle (every I/O
/// port, interrupt line and physical address outside RAM; root's only: 0 in a process Spawn starts), then
/// M entries of four words: frame handle, size in bytes, name offset, name length. Strings follow the
/// entries; offsets are from the block's start.
///
/// The entries are named handles. The kernel gives root one per boot module (a Frame, its size, the
/// module's name). A process started by another (Runtime Spawn) gets its grants the same way, with size
/// 0 and a prefixed name: `import:SERVICE` is a Sender to the service a manifest imports, `export:SERVICE`
/// the Receiver of a service it exports (owned by the exporter), `grant:NAME` any other handle its starter
/// passes by name (e.g. `grant:initfs-archive`, `grant:resource`), and `fd:N` (N = 0, 1, 2, …) an open
/// file the program gets as its POSIX descriptor N: a Sender that holds exactly that file (the file
/// protocol's `share`), with the entry's size word carrying the file's id. Names are at most
/// ManifestNote.maxNameLength bytes after the prefix.
public enum StartupBlock {
    public static let magic: UInt64 = 0x0050_5554_5241_5453
    public static let headerWords = 8
    public static let moduleWords = 4
    /// Prefixes of grant entry names.
    public static let importPrefix: StaticString = "import:"
    public static let exportPrefix: StaticString = "export:"
    /// An open file given as a descriptor: `fd:N`, the entry's size word is the file id.
    public static let descriptorPrefix: StaticString = "fd:"
    public static let grantPrefix: StaticString = "grant:"
}

/// The time page: one read-only page the kernel maps at `address` in every address space, from which a process reads the monotonic clock without a syscall. Little-endian
/// UInt64 words: [0] sequence (odd while the kernel rewrites the page), [1] TSC base, [2] nanoseconds at
/// the base, [3] multiplier, [4] shift, [5] TSC frequency in Hz. Time in ns = word 2 +
/// ((rdtsc - word 1) * word 3) >> word 4, through a 128-bit product (KernelCore's TimeScale). A reader
/// copies the words and retries while the sequence was odd or changed across the copy.
/// vmem_map refuses ranges that overlap it (.badAddress); the last user page stays free for programs.
public enum TimePage {
    public static let address: UInt64 = userAddressLimit - 2 * pageSize
    public static let sequence = 0, base = 1, offset = 2, multiplier = 3, shift = 4, frequency = 5
    public static let words = 6
}

/// The tag word of an IPC message (rsi): how much of the message there is and a user label.
/// bits 0..2 register words (0...4), 8..19 buffer bytes (0...IPCBuffer.maxBytes), 20..23 handles
/// (0...IPCBuffer.maxHandles), 32..63 label (free for the protocol).
public struct IPCTag: Equatable, Sendable {
    public var raw: UInt64
    public init(raw: UInt64) { self.raw = raw }
    public init(words: Int = 0, bytes: Int = 0, handles: Int = 0, label: UInt32 = 0) {
        raw = UInt64(words & 7) | UInt64(bytes & 0xfff) << 8 | UInt64(handles & 0xf) << 20 | UInt64(label) << 32
    }
    public var words: Int { Int(raw & 7) }
    public var bytes: Int { Int((raw >> 8) & 0xfff) }
    public var handles: Int { Int((raw >> 20) & 0xf) }
    public var label: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) }
    /// Bits that must be zero.
    public var isValid: Bool { raw & 0x0000_0000_ff00_00f8 == 0 && words <= 4 && bytes <= IPCBuffer.maxBytes && handles <= IPCBuffer.maxHandles }
}

/// The per-thread IPC buffer page: handle values at offset 0 (UInt32 each), message bytes from offset
/// `bytesOffset`. Transferred handles move (the TRANSFER right is required) and arrive as new values in
/// the receiver's buffer; a failed send moves nothing.
public enum IPCBuffer {
    public static let maxHandles = 8
    public static let bytesOffset = 64
    public static let maxBytes = 4096 - 64
}

/// The kernel log ring (log_read) and the serial terminal's cooperation with it (console_attach,
/// console_write).
///
/// Every byte the kernel writes to its log (its own lines, debug_log's bytes, panics) goes to COM1 and to
/// a ring of `ringSize` bytes, numbered by a sequence counted from boot. The serial terminal (the console
/// server) writes its own output through console_write, which never enters the ring, and tells the
/// kernel what the screen's last line holds. When a kernel line starts while that line holds the
/// terminal's line being edited, the kernel first erases it (`\r` and ESC [K), writes its line, and then
/// signals the terminal's Notify so that it draws its prompt and line again; when it holds unfinished
/// program output, the kernel starts a new line first. Terminal output that would follow an unfinished
/// kernel line starts on a new line. So no line is garbled, and every byte still reaches the serial
/// line; when no terminal is attached (or it ended) the kernel writes as before.
public enum KernelLog {
    /// Bytes the ring holds.
    public static let ringSize: UInt64 = 64 << 10
    /// The most log_read copies in one call.
    public static let maxRead: UInt64 = 1 << 20
    /// The most console_write takes in one call.
    public static let maxWrite: UInt64 = 4096

    /// What the terminal's last line shows after a console_write.
    public enum TerminalState: UInt64, CaseIterable, Sendable {
        /// The cursor is at the start of an empty line.
        case lineStart = 0
        /// Program output without its newline yet.
        case output = 1
        /// The prompt and the line being edited (the kernel erases it before a line and asks for a redraw).
        case editing = 2
    }
}
