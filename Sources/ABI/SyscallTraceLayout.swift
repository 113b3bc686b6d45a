// Per-process syscall traces and the process table that debuggers read: the layouts of the kernel's
// trace buffer (`syscall_trace`) and process table (`debug_processes`), both plain words in the kernel's
// .bss so osh reads them through QMP memsave, the gdbstub or a core file without knowing Swift's object
// layout; and each syscall's argument list in a form osh decodes (names and kinds).

/// The kernel's syscall trace buffer at the kernel symbol `syscall_trace`: a header, then a ring of
/// records. Little-endian UInt64 words. Header:
///   [0] magic "SYSCTRCE", [1] version, [2] record slots N, [3] words per record,
///   [4] records written so far (the next record's sequence number is this + 1; slot = (seq - 1) % N),
///   [5] TSC frequency in Hz (0 until the clock is calibrated), [6] control (ControlBits; the kernel's
///   syscall path tests this one word), [7] reserved, [8..15] up to four program names to trace from
///   their process_load on (16 bytes each, NUL-padded; `strace=NAME,...` or written by osh).
/// Record (one per traced syscall, written when it starts and completed when it returns):
///   [0] sequence (0: empty; written last on entry), [1] process id | thread id << 32,
///   [2] syscall number | RecordFlags << 32, [3...8] the six argument registers (rdi, rsi, rdx, r10, r8,
///   r9), [9] rax on return (0 or a SysError), [10] rdx on return (the value, or message word 0),
///   [11] rsi on return (the tag of a message received), [12] TSC at entry, [13] TSC at return,
///   [14] what each of arguments 0...3 named in the caller's handle table at entry, 16 bits each
///   (HandleInfo), [15] the same for arguments 4 and 5 (bits 0...31).
/// A syscall that never returns (thread_exit, process_exit, a kill while blocked) stays without
/// `RecordFlags.finished`; a record whose slot was reused before its call returned is not completed.
public enum SyscallTraceLayout {
    public static let symbol = "syscall_trace"
    public static let magic: UInt64 = 0x4543_5254_4353_5953   // "SYSCTRCE"
    public static let version: UInt64 = 1
    public static let headerWords = 16
    public static let recordWords = 16
    public static let records = 4096
    public static let totalWords = headerWords + records * recordWords

    public static let recordsWrittenWord = 4, tscHzWord = 5, controlWord = 6
    public static let namesWord = 8
    public static let maxNames = 4, nameBytes = 16

    /// Bits of the control word.
    public enum ControlBits {
        /// Trace every process.
        public static let all: UInt64 = 1
        /// Trace the processes whose process-table entry says so (ProcessTableLayout.tracedWord), and
        /// mark programs named in the header's names when they are loaded.
        public static let selected: UInt64 = 2
    }

    /// Bits of record word 2 above the number.
    public enum RecordFlags {
        /// The call returned; words 9...11 and 13 hold its result.
        public static let finished: UInt64 = 1
    }

    /// One argument's handle info: bit 15 set when the value named a handle of the caller at entry,
    /// bits 9...13 its ObjectType, bits 0...8 its Rights.
    public enum HandleInfo {
        public static let valid: UInt16 = 1 << 15
        public static func encode(type: UInt32, rights: UInt32) -> UInt16 {
            valid | UInt16(truncatingIfNeeded: (type & 0x1f) << 9) | UInt16(truncatingIfNeeded: rights & 0x1ff)
        }
        public static func type(_ info: UInt16) -> UInt32 { UInt32(info >> 9) & 0x1f }
        public static func rights(_ info: UInt16) -> UInt32 { UInt32(info) & 0x1ff }
    }
}

/// The kernel's process table at the kernel symbol `debug_processes`: one entry per live process that a
/// program was loaded into (process_load, and root), so osh knows each process's program by name and
/// ELF build ID (the profiler and backtraces find the user ELF by it). Entries of 16 words:
///   [0] process id + 1 (0: free), [1] the name's length, [2...9] the name (64 bytes, as process_load
///   got it), [10] the build ID's length, [11...12] the build ID (its first 16 bytes), [13] the physical
///   address of its page-table root (CR3 without the PCID bits while it runs: the profiler's key),
///   [14] traced (non-zero: its syscalls go to the trace when ControlBits.selected is set), [15] 0 while
///   it lives, 1 once it has ended, 2 once the Process object is freed (the entry keeps its id and name
///   until a new process takes it, so records of processes that are gone still have names).
/// `debug_processes_dropped` counts processes that found no free entry.
public enum ProcessTableLayout {
    public static let symbol = "debug_processes"
    public static let entries = 256
    public static let entryWords = 16
    public static let nameLengthWord = 1, nameWord = 2, maxName = 64
    public static let buildIDLengthWord = 10, buildIDWord = 11, maxBuildID = 16
    public static let pageTableRootWord = 13
    public static let tracedWord = 14, endedWord = 15
    public static let totalWords = entries * entryWords
}

extension Syscall {
    /// The arguments as osh decodes them: space-separated `name:kind`, then `-> kind` for the value
    /// returned in rdx. Kinds: h handle, p user address, n number, x hex, tag IPC tag, w message word,
    /// ns timeout or time in nanoseconds, info SystemInfo, limit LimitKind, map vmem_map's flags word,
    /// prot MapFlags, res ResourceKind, irqn IRQNumbering, - nothing.
    public var signature: StaticString {
        switch self {
        case .debugLog: return "ptr:p len:n -> n"
        case .handleIdentify: return "handle:h -> x"
        case .handleDuplicate: return "handle:h rights:x -> h"
        case .handleClose: return "handle:h -> -"
        case .processCreate: return "vmem:h -> h"
        case .processSelf: return "-> h"
        case .processGive: return "process:h handle:h -> n"
        case .processExit: return "code:n -> -"
        case .processWait: return "process:h timeout:ns -> n"
        case .threadCreate: return "process:h entry:p stack:p arg:x -> h"
        case .threadSelf: return "-> h"
        case .threadStart, .threadStop: return "thread:h -> -"
        case .threadSetPriority: return "thread:h priority:n -> -"
        case .threadWait: return "thread:h timeout:ns -> n"
        case .threadReadRegisters, .threadWriteRegisters: return "thread:h ptr:p len:n -> -"
        case .threadExit: return "code:n -> -"
        case .threadYield: return "-> -"
        case .threadSleep: return "time:ns -> -"
        case .vmemCreate, .vmemSelf: return "-> h"
        case .vmemMap: return "vmem:h frame:h address:p offset:x length:x flags:map -> p"
        case .vmemUnmap: return "vmem:h address:p length:x -> -"
        case .vmemRead, .vmemWrite: return "vmem:h address:p ptr:p len:n -> n"
        case .vmemProtect: return "vmem:h address:p length:x flags:prot -> -"
        case .frameCreate: return "size:x -> h"
        case .frameGetSize: return "frame:h -> x"
        case .frameSetSize: return "frame:h size:x -> -"
        case .frameRead, .frameWrite: return "frame:h offset:x ptr:p len:n -> n"
        case .frameClone: return "frame:h offset:x size:x -> h"
        case .frameCreatePaged: return "size:x sender:h notify:h -> h"
        case .frameSupply: return "frame:h offset:x source:h source_offset:x -> -"
        case .frameCreatePhysical: return "resource:h address:x size:x -> h"
        case .faultHandlerSet: return "target:h sender:h -> -"
        case .receiverCreate, .replyCreate, .notifyCreate: return "-> h"
        case .senderCreate: return "receiver:h badge:x -> h"
        case .systemInfo: return "what:info -> n"
        case .processLoad: return "process:h frame:h name:p name_len:n -> p"
        case .senderCall, .receiverReply, .receiverReplyRecv, .replyReply:
            return "handle:h tag:tag w0:w w1:w w2:w w3:w -> tag"
        case .senderCallTimed, .receiverReplyRecvTimed: return "handle:h tag:tag w0:w w1:w w2:w timeout:ns -> tag"
        case .receiverRecv: return "receiver:h reply:h timeout:ns -> tag"
        case .notifyNotify: return "notify:h bits:x -> n"
        case .notifyWait: return "notify:h timeout:ns -> x"
        case .notifyPoll: return "notify:h -> x"
        case .futexWait: return "address:p expected:n timeout:ns -> -"
        case .futexWake: return "address:p count:n -> n"
        case .futexRequeue: return "address:p wake:n address2:p requeue:n -> n"
        case .threadSetIPCBuffer: return "thread:h address:p -> -"
        case .processSetLimit: return "process:h kind:limit value:n -> -"
        case .processGetUsage: return "process:h kind:limit -> n"
        case .clockGet: return "-> ns"
        case .resourceCreate: return "resource:h kind:res base:x size:x -> h"
        case .ioportCreate: return "resource:h base:x count:n -> h"
        case .irqCreate: return "resource:h number:n numbering:irqn options:x -> h"
        case .irqBind: return "irq:h notify:h bits:x -> -"
        case .irqAck: return "irq:h -> -"
        case .traceSet: return "process:h on:n -> -"
        case .threadGetID: return "thread:h -> n"
        case .threadSetAffinity: return "thread:h mask:x -> -"
        case .threadGetAffinity: return "thread:h -> x"
        case .threadGetState: return "thread:h -> n"
        case .receiverSetNotices: return "receiver:h on:n -> -"
        case .frameCreateContiguous: return "resource:h size:x -> h"
        case .framePhysical: return "frame:h offset:x -> x"
        case .processKill: return "process:h"
        case .trackerRead: return "buffer:p length:n -> n"
        case .logRead: return "ptr:p len:n cursor:p -> n"
        case .consoleAttach: return "ioport:h notify:h bits:x -> -"
        case .consoleWrite: return "ptr:p len:n state:n -> n"
        }
    }
}
