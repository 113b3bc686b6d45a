// Thread: a kernel stack, a saved user register file (the trap_frame at the top of that stack), the
// user's x87/SSE state, a priority and a state. Threads of one Process share its Vmem and handles.
//
// A thread is in at most one queue at a time through its links (nextWaiting, previousWaiting): a run
// queue while ready, a wait queue while blocked, the scheduler's dying queue while being torn down.
// A thread never started (.created) can only be started through a handle: when its last handle goes,
// it ends (Scheduler.kill), so it never keeps its process alive.

#if !KERNEL
import ABI
#endif

// ThreadState is the ABI's (Sources/ABI/Syscalls.swift); its raw values are what the thread registry
// (Debug/ThreadRegistry.swift) shows and what thread_get_state returns.

/// Threads blocked on something (an exit, an endpoint, a notification, a futex), in FIFO order.
typealias WaitQueue = IntrusiveQueue<Thread>

final class Thread: IntrusiveQueueElement {
    static let stackPages = KernelStacks.stackPages   // 16 KiB kernel stack, guard pages below
    static let defaultPriority = 16
    private static var nextID: UInt64 = 1

    let id: UInt64
    let process: Process
    var state: ThreadState = .created {
        didSet { ThreadRegistry.set(registryEntry, word: 2, UInt64(state.rawValue)) }
    }
    var priority = Thread.defaultPriority {
        didSet { ThreadRegistry.set(registryEntry, word: 3, UInt64(priority)) }
    }
    /// The CPUs it may run on (bit i: CPU i; thread_set_affinity). Guarded by: the kernel lock.
    var affinity = UInt64.max
    /// The CPU whose queue holds it (ready) or that runs it (running), else the one it ran on last
    /// (-1: never ran). Guarded by: the kernel lock.
    var cpu = -1
    /// This thread's entry in the debugger-visible thread registry, nil when the table was full.
    private var registryEntry: UnsafeMutablePointer<UInt64>? = nil
    var exitCode: UInt64 = 0
    /// Set when the thread must end: it does so the next time it would return to user mode.
    var killed = false
    /// CR3 for its process's address space, page-table root | PCID tag (it never changes), for switches.
    let addressSpaceRoot: UInt64
    let exitWaiters = WaitQueue()
    var blockedOn: WaitQueue? = nil
    var nextWaiting: Thread? = nil
    var previousWaiting: Unmanaged<Thread>? = nil
    var waitingIn: ObjectIdentifier? = nil
    /// Where this thread sits in its process's thread list (ThreadList), -1 when not in it.
    var listIndex = -1
    /// Handles to this thread, in any table; and those of them in other processes' tables.
    var handleCount = 0
    var foreignHandles = 0
    /// The Reply object this thread's call is bound to while it waits for the answer (the Reply owns it).
    unowned(unsafe) var boundReply: Reply? = nil

    // IPC state.
    /// User address of the IPC buffer page (0: none).
    var ipcBuffer: UInt64 = 0 {
        didSet { ipcPage = nil }
    }
    /// That page through the direct map, as IPC last resolved it (`ipcPageWritable`: for writing), valid
    /// while its Vmem's entries have not changed since (`ipcPageStamp`, Vmem.entryChanges): a message's
    /// bytes and handles reach it without a page walk (IPC.bufferPage).
    var ipcPage: UnsafeMutableRawPointer? = nil
    var ipcPageWritable = false
    var ipcPageStamp: UInt64 = 0
    /// The caller this thread received and has not answered yet (the implicit reply slot).
    var replyTo: Thread? = nil
    /// While blocked in receiver_recv with a Reply handle: bind the caller to this Reply.
    var receiveInto: Reply? = nil
    /// The badge of the Sender this thread is calling through (while queued on an endpoint).
    var callBadge: UInt64 = 0
    /// Set by whoever wakes this thread from a wait with an error (.peerClosed, a delivery error,
    /// .timedOut when its deadline passed).
    var ipcError: SysError? = nil
    /// The server thread holding this thread's call in its reply slot (`replyTo`) while the call waits
    /// for its answer: a call that times out then leaves that slot (IPC.letGo). Set on the general path
    /// only (a call with a timeout never takes the fast path, so a call bound there has no deadline);
    /// cleared when the call resumes (IPC.call) and when the server drops it (IPC.threadGone), so it is
    /// nil, or that live server, whenever it is read.
    unowned(unsafe) var heldBy: Thread? = nil
    /// Its slot in the timer queue (Time/Timeouts.swift) while it waits with a deadline, -1 otherwise.
    var timerSlot = -1
    /// A value handed over on wake-up (a notification word, a futex result).
    var wakeValue: UInt64 = 0

    /// Physical base of the kernel stack, and its lowest address in the kernel stack region
    /// (Memory/KernelStacks.swift: unmapped guard pages lie below it).
    let stackPhysical: UInt64
    let stackBottom: UInt64
    /// The switch_context slot and the FPU area live at the bottom of the kernel stack allocation.
    let savedRSP: UnsafeMutablePointer<UInt64>
    let fpuArea: UnsafeMutableRawPointer

    /// Top of the kernel stack (TSS.rsp0 and the syscall stack while this thread runs).
    let stackTop: UInt64
    /// The user-mode register file at the top of the kernel stack, valid while the thread is not running
    /// user code.
    let frame: UnsafeMutablePointer<trap_frame>

    // Resource limits (Limits.swift), kept apart from the lifecycle fields above.
    /// The thread's charge to its process's account (.threads), given back when the Thread is freed.
    var limitCharge: Charge? = nil

    /// A user thread that will start at `entry` with `stack` and `argument` in rdi.
    init(process: Process, entry: UInt64, stack: UInt64, argument: UInt64) throws(SysError) {
        guard let physical = PMM.allocate(count: Thread.stackPages) else { throw .outOfMemory }
        do throws(SysError) {
            stackBottom = try KernelStacks.map(physical: physical)
        } catch {
            PMM.free(physical, count: Thread.stackPages)
            throw error
        }
        id = Thread.nextID
        Thread.nextID += 1
        self.process = process
        addressSpaceRoot = process.vmem.cr3
        stackPhysical = physical
        (stackTop, frame, savedRSP, fpuArea) = Thread.stackLayout(stackBottom)
        var f = trap_frame()
        f.rip = entry
        f.rsp = stack
        f.rdi = argument
        f.cs = UInt64(Selector.userCode)
        f.ss = UInt64(Selector.userData)
        f.rflags = 0x202                        // IF set
        frame.pointee = f
        // Below the frame: what switch_context pops (r15, r14, r13, r12, rbx, rbp) and its return address.
        let switchFrame = UnsafeMutablePointer<UInt64>(bitPattern: UInt(bitPattern: frame) - 7 * 8)!
        for i in 0..<6 { switchFrame[i] = 0 }
        switchFrame[6] = address_of_user_thread_start()
        savedRSP.pointee = UInt64(UInt(bitPattern: switchFrame))
        ObjectCounter.live += 1
        registryEntry = ThreadRegistry.add(self)
        KernelStacks.note(.map, address: stackBottom, thread: id, rbp: read_rbp())
    }

    /// The idle thread: the boot context itself (kmain ends in the idle loop), so it needs no stack of its
    /// own beyond the switch slot and FPU area kept here.
    init(idleFor process: Process) {
        id = 0
        self.process = process
        addressSpaceRoot = Vmem.kernelRoot
        guard let physical = PMM.allocate(count: Thread.stackPages),
              let bottom = try? KernelStacks.map(physical: physical) else {
            kernelPanic("no memory for the idle thread's stack")
        }
        stackPhysical = physical
        stackBottom = bottom
        (stackTop, frame, savedRSP, fpuArea) = Thread.stackLayout(stackBottom)
        priority = 0
        registryEntry = ThreadRegistry.add(self)
    }

    deinit {
        // Only an ended thread, or one never started, may go: a queued, ready, running or waiting one
        // freed would be run or woken later through a dangling reference (an invariant, checked cheaply).
        if id != 0 && ((state != .dead && state != .created) || waitingIn != nil || nextWaiting != nil) {
            Console.write("\nthread ")
            Console.writeDecimal(id)
            Console.write(" freed in state ")
            Console.writeDecimal(UInt64(state.rawValue))
            Console.write(waitingIn != nil ? " while queued" : " not queued")
            Console.write(" cpu ")
            Console.writeDecimal(cpu)
            Console.write(" killed ")
            Console.writeDecimal(killed ? 1 : 0)
            Console.write(" here ")
            Console.writeDecimal(PerCPU.index)
            Console.write(10)
            kernelPanic("a thread was freed while it could still run")
        }
        faultFrame?.deallocate()
        ThreadRegistry.remove(registryEntry)
        KernelStacks.note(.unmap, address: stackBottom, thread: id, rbp: read_rbp())
        KernelStacks.unmap(bottom: stackBottom)
        PMM.free(stackPhysical, count: Thread.stackPages)
        if id != 0 { ObjectCounter.live -= 1 }
    }

    /// What lives in a kernel stack allocation: the switch_context slot and the FPU area at the bottom,
    /// the user register file at the top. The FPU area starts out clean.
    private static func stackLayout(_ lowest: UInt64) -> (top: UInt64, frame: UnsafeMutablePointer<trap_frame>,
                                                            savedRSP: UnsafeMutablePointer<UInt64>, fpu: UnsafeMutableRawPointer) {
        let bottom = UnsafeMutableRawPointer(bitPattern: UInt(lowest))!
        let top = UInt64(UInt(bitPattern: bottom)) + UInt64(stackPages) * pageSize
        let frame = UnsafeMutablePointer<trap_frame>(bitPattern: UInt(top) - UInt(MemoryLayout<trap_frame>.size))!
        initializeFPU(bottom + 64)
        return (top, frame, bottom.assumingMemoryBound(to: UInt64.self), bottom + 64)
    }

    /// A clean x87/SSE state: FCW 0x37f (all x87 exceptions masked), MXCSR 0x1f80 (all SSE masked).
    static func initializeFPU(_ area: UnsafeMutableRawPointer) {
        area.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        area.storeBytes(of: UInt16(0x037f), toByteOffset: 0, as: UInt16.self)
        area.storeBytes(of: UInt32(0x1f80), toByteOffset: 24, as: UInt32.self)
        area.storeBytes(of: UInt32(0xffff), toByteOffset: 28, as: UInt32.self)   // MXCSR mask
    }

    /// The register file in ABI order (RegisterIndex).
    /// The fault handler bound to this thread (fault_handler_set), before its process's.
    var faultSender: Sender? = nil
    /// While the thread waits for its fault handler: its user registers at the fault (the trap frame
    /// carries the fault message meanwhile). Allocated on the first fault sent to a handler.
    var faultFrame: UnsafeMutablePointer<trap_frame>? = nil
    var inFault = false
    /// The endpoint (Endpoint.id) this thread last received on, 0 for none: a fault or a kernel copy of
    /// this thread that would go to a handler or pager behind that endpoint gets no answer (the thread
    /// itself would have to give it), so it is treated as unhandled instead of waiting forever.
    var servedEndpoint: UInt64 = 0
    /// The page a syscall of this thread found missing (a pager-backed Frame's page not supplied yet):
    /// set where .notSupplied is thrown, read by the syscall epilogue, which asks the pager and restarts
    /// the call (Syscalls/PagerWait.swift).
    var missingPage: MissingPage? = nil

    /// The thread's user registers: its trap frame, or the copy kept while it waits in a fault.
    var userFrame: UnsafeMutablePointer<trap_frame> {
        if inFault, let saved = faultFrame { return saved }
        return frame
    }

    func readRegisters() -> [UInt64] {
        let f = userFrame.pointee
        return [f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp, f.rsp, f.r8, f.r9, f.r10, f.r11, f.r12, f.r13,
                f.r14, f.r15, f.rip, f.rflags, 0, 0]
    }

    func writeRegisters(_ r: [UInt64]) throws(SysError) {
        guard r.count == RegisterIndex.count else { throw .invalidArgument }
        // Only user addresses for rip and rsp; flags limited to the arithmetic ones, IF always on.
        guard r[RegisterIndex.rip.rawValue] < userAddressLimit, r[RegisterIndex.rsp.rawValue] < userAddressLimit else {
            throw .badAddress
        }
        var f = userFrame.pointee
        f.rax = r[0]; f.rbx = r[1]; f.rcx = r[2]; f.rdx = r[3]; f.rsi = r[4]; f.rdi = r[5]; f.rbp = r[6]
        f.rsp = r[7]; f.r8 = r[8]; f.r9 = r[9]; f.r10 = r[10]; f.r11 = r[11]; f.r12 = r[12]; f.r13 = r[13]
        f.r14 = r[14]; f.r15 = r[15]; f.rip = r[16]
        f.rflags = (r[17] & 0xcd5) | 0x202
        userFrame.pointee = f
    }
}
