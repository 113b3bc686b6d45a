// Syscall numbers, names and argument counts: the kernel's dispatch, the userspace wrappers and osh's
// tracker tables all read this one list.
//
// Calling convention (x86_64 `syscall`): rax = number; arguments in rdi, rsi, rdx, r10, r8, r9.
// On return rax = 0 or a SysError raw value, rdx = the result value (a handle, a size, …).
// rcx and r11 are clobbered by the instruction itself; every other register is preserved.

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

    /// Slots in the tracker's per-syscall table (numbers are dense from 0).
    public static let count = Int(Syscall.notifyCreate.rawValue) + 1

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
        }
    }

    /// The object type whose method this syscall is (for the method-call tracker); `.none` for calls on
    /// no object (debug_log).
    public var objectType: ObjectType {
        switch self {
        case .debugLog: return .none
        case .handleIdentify, .handleDuplicate, .handleClose: return .none
        case .processCreate, .processSelf, .processGive, .processExit, .processWait: return .process
        case .threadCreate, .threadSelf, .threadStart, .threadStop, .threadSetPriority, .threadWait,
             .threadReadRegisters, .threadWriteRegisters, .threadExit, .threadYield: return .thread
        case .vmemCreate, .vmemSelf, .vmemMap, .vmemUnmap, .vmemRead, .vmemWrite: return .vmem
        case .frameCreate, .frameGetSize, .frameSetSize, .frameRead, .frameWrite: return .frame
        case .receiverCreate: return .receiver
        case .senderCreate: return .sender
        case .replyCreate: return .reply
        case .notifyCreate: return .notify
        }
    }
}

/// The layout of the kernel's syscall and method-call tracker, at the kernel symbol `syscall_tracker`,
/// so that osh can read it from guest memory. All fields are little-endian UInt64:
///   [0] magic "SYSTRACK" (0x4b43_4152_5453_5953), [1] version (1), [2] syscall slots N,
///   [3] object-type slots M, then N per-syscall counts, then M per-object-type method-call counts
///   (indexed by ObjectType raw value), then one count of calls with an unknown number.
public enum TrackerLayout {
    public static let symbol = "syscall_tracker"
    public static let magic: UInt64 = 0x4b43_4152_5453_5953
    public static let version: UInt64 = 1
    public static let headerWords = 4
    public static let syscallSlots = 64
    public static let objectSlots = 16
    public static let totalWords = headerWords + syscallSlots + objectSlots + 1
}

/// Thread register file as thread_read_registers/thread_write_registers exchange it (UInt64 each).
public enum RegisterIndex: Int, CaseIterable, Sendable {
    case rax = 0, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags, fsBase, gsBase
    public static let count = 20
}
