// Thread: a kernel stack, a saved user register file (the trap_frame at the top of that stack), the
// user's x87/SSE state, a priority and a state. Threads of one Process share its Vmem and handles.

#if !KERNEL
import ABI
#endif

enum ThreadState {
    case created, ready, running, blocked, dead
}

/// Threads blocked on something (an exit, an endpoint, a notification, a futex), in FIFO order.
typealias WaitQueue = IntrusiveQueue<Thread>

final class Thread: IntrusiveQueueElement {
    static let stackPages = 4                   // 16 KiB kernel stack
    static let defaultPriority = 16
    private static var nextID: UInt64 = 1

    let id: UInt64
    let process: Process
    var state: ThreadState = .created
    var priority = Thread.defaultPriority
    var exitCode: UInt64 = 0
    /// Set when the thread must end: it does so the next time it would return to user mode.
    var killed = false
    /// The page-table root of its process's address space (it never changes), for thread switches.
    let addressSpaceRoot: UInt64
    let exitWaiters = WaitQueue()
    var blockedOn: WaitQueue? = nil
    var nextWaiting: Thread? = nil

    // IPC state.
    /// User address of the IPC buffer page (0: none).
    var ipcBuffer: UInt64 = 0
    /// The caller this thread received and has not answered yet (the implicit reply slot).
    var replyTo: Thread? = nil
    /// While blocked in receiver_recv with a Reply handle: bind the caller to this Reply.
    var receiveInto: Reply? = nil
    /// The badge of the Sender this thread is calling through (while queued on an endpoint).
    var callBadge: UInt64 = 0
    /// Set by whoever wakes this thread from an IPC wait with an error (.peerClosed, a delivery error).
    var ipcError: SysError? = nil
    /// A value handed over on wake-up (a notification word, a futex result).
    var wakeValue: UInt64 = 0

    /// Physical base of the kernel stack (direct-mapped), and the saved rsp slot for switch_context.
    let stackPhysical: UInt64
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
        id = Thread.nextID
        Thread.nextID += 1
        self.process = process
        addressSpaceRoot = process.vmem.root
        stackPhysical = physical
        (stackTop, frame, savedRSP, fpuArea) = Thread.stackLayout(physical)
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
    }

    /// The idle thread: the boot context itself (kmain ends in the idle loop), so it needs no stack of its
    /// own beyond the switch slot and FPU area kept here.
    init(idleFor process: Process) {
        id = 0
        self.process = process
        addressSpaceRoot = Vmem.kernelRoot
        stackPhysical = PMM.allocate(count: Thread.stackPages)!
        (stackTop, frame, savedRSP, fpuArea) = Thread.stackLayout(stackPhysical)
        priority = 0
    }

    deinit {
        PMM.free(stackPhysical, count: Thread.stackPages)
        if id != 0 { ObjectCounter.live -= 1 }
    }

    /// What lives in a kernel stack allocation: the switch_context slot and the FPU area at the bottom,
    /// the user register file at the top. The FPU area starts out clean.
    private static func stackLayout(_ physical: UInt64) -> (top: UInt64, frame: UnsafeMutablePointer<trap_frame>,
                                                              savedRSP: UnsafeMutablePointer<UInt64>, fpu: UnsafeMutableRawPointer) {
        let bottom = KernelMemory.virtual(physical: physical)
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
    func readRegisters() -> [UInt64] {
        let f = frame.pointee
        return [f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp, f.rsp, f.r8, f.r9, f.r10, f.r11, f.r12, f.r13,
                f.r14, f.r15, f.rip, f.rflags, 0, 0]
    }

    func writeRegisters(_ r: [UInt64]) throws(SysError) {
        guard r.count == RegisterIndex.count else { throw .invalidArgument }
        // Only user addresses for rip and rsp; flags limited to the arithmetic ones, IF always on.
        guard r[RegisterIndex.rip.rawValue] < userAddressLimit, r[RegisterIndex.rsp.rawValue] < userAddressLimit else {
            throw .badAddress
        }
        var f = frame.pointee
        f.rax = r[0]; f.rbx = r[1]; f.rcx = r[2]; f.rdx = r[3]; f.rsi = r[4]; f.rdi = r[5]; f.rbp = r[6]
        f.rsp = r[7]; f.r8 = r[8]; f.r9 = r[9]; f.r10 = r[10]; f.r11 = r[11]; f.r12 = r[12]; f.r13 = r[13]
        f.r14 = r[14]; f.r15 = r[15]; f.rip = r[16]
        f.rflags = (r[17] & 0xcd5) | 0x202
        frame.pointee = f
    }
}
