// Kernel object types, handle rights and errors: one declaration for kernel, servers and osh.

/// The kinds of kernel object a handle can reach.
public enum ObjectType: UInt32, CaseIterable, Sendable {
    case none = 0
    case process = 1
    case thread = 2
    case vmem = 3
    case frame = 4
    case receiver = 5
    case reply = 6
    case sender = 7
    case notify = 8
    case ioPort = 9
    case irq = 10
    /// A range of the machine (I/O ports, interrupt lines or physical addresses) that device objects are
    /// created from (resource_create, ioport_create, irq_create, frame_create_physical).
    case resource = 11

    public var name: StaticString {
        switch self {
        case .none: return "none"
        case .process: return "process"
        case .thread: return "thread"
        case .vmem: return "vmem"
        case .frame: return "frame"
        case .receiver: return "receiver"
        case .reply: return "reply"
        case .sender: return "sender"
        case .notify: return "notify"
        case .ioPort: return "ioport"
        case .irq: return "irq"
        case .resource: return "resource"
        }
    }
}

/// What a handle allows. Checked on every syscall; a duplicate may only keep or drop rights.
public struct Rights: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Read the object's contents or state (frame_read, vmem_read, thread_read_registers, …).
    public static let read = Rights(rawValue: 1 << 0)
    /// Change contents or state (frame_write, vmem_write, thread_write_registers, …).
    public static let write = Rights(rawValue: 1 << 1)
    /// Map a Frame executable.
    public static let exec = Rights(rawValue: 1 << 2)
    /// Map a Frame into a Vmem, or map into / unmap from a Vmem.
    public static let map = Rights(rawValue: 1 << 3)
    /// handle_duplicate.
    public static let duplicate = Rights(rawValue: 1 << 4)
    /// Move the handle to another process (process_give, IPC transfer).
    public static let transfer = Rights(rawValue: 1 << 5)
    /// Control: start/stop/priority of threads, set_size of frames, create threads in a process.
    public static let manage = Rights(rawValue: 1 << 6)
    /// Wait on the object (thread_wait, notify_wait, receiver_recv).
    public static let wait = Rights(rawValue: 1 << 7)
    /// Signal the object (notify_notify, sender_call).
    public static let signal = Rights(rawValue: 1 << 8)

    public static let all: Rights = [.read, .write, .exec, .map, .duplicate, .transfer, .manage, .wait, .signal]

    /// The rights a freshly created object's handle carries.
    public static func defaults(for type: ObjectType) -> Rights {
        switch type {
        case .frame: return [.read, .write, .exec, .map, .duplicate, .transfer, .manage]
        case .vmem: return [.read, .write, .map, .duplicate, .transfer, .manage]
        case .process: return [.read, .write, .duplicate, .transfer, .manage, .wait]
        case .thread: return [.read, .write, .duplicate, .transfer, .manage, .wait]
        case .receiver: return [.wait, .duplicate, .transfer]
        case .sender: return [.signal, .duplicate, .transfer]
        case .reply: return [.signal, .transfer]
        case .notify: return [.wait, .signal, .duplicate, .transfer]
        case .ioPort, .irq: return [.read, .write, .wait, .duplicate, .transfer]
        case .resource: return [.manage, .duplicate, .transfer]
        case .none: return []
        }
    }
}

/// Why a syscall failed. Returned in rax (0 means success); a bad argument never panics the kernel.
public enum SysError: UInt64, Error, CaseIterable, Sendable {
    case invalidHandle = 1
    case wrongType = 2
    case accessDenied = 3
    case badAddress = 4
    case misaligned = 5
    case invalidArgument = 6
    case overlapping = 7
    case notMapped = 8
    case outOfMemory = 9
    case outOfVirtualMemory = 10
    case badState = 11
    case unknownSyscall = 12
    case tooLarge = 13
    case noHandles = 14
    case peerClosed = 15
    case wouldBlock = 16
    case timedOut = 17
    case badELF = 18
    /// A resource limit of the calling process (or of an ancestor) would be exceeded (process_set_limit).
    case limitExceeded = 19
    /// Outside the range of the Resource used (or of the machine: no such port, line or address).
    case outOfRange = 20
    /// Already taken: an interrupt line with an IRQ object (or the kernel's own), RAM the kernel manages.
    case inUse = 21
    /// A page of a pager-backed Frame that its pager has not supplied (yet): kernel copies do not wait.
    case notSupplied = 22

    public var name: StaticString {
        switch self {
        case .invalidHandle: return "invalid handle"
        case .wrongType: return "wrong object type"
        case .accessDenied: return "missing right"
        case .badAddress: return "bad address"
        case .misaligned: return "misaligned address or length"
        case .invalidArgument: return "invalid argument"
        case .overlapping: return "overlapping mapping"
        case .notMapped: return "no mapping there"
        case .outOfMemory: return "out of memory"
        case .outOfVirtualMemory: return "out of virtual memory"
        case .badState: return "object in the wrong state"
        case .unknownSyscall: return "unknown syscall"
        case .tooLarge: return "too large"
        case .noHandles: return "handle table full"
        case .peerClosed: return "peer closed"
        case .wouldBlock: return "would block"
        case .timedOut: return "timed out"
        case .badELF: return "bad ELF image"
        case .limitExceeded: return "resource limit exceeded"
        case .outOfRange: return "outside the resource's range"
        case .inUse: return "already in use"
        case .notSupplied: return "page not supplied by its pager"
        }
    }
}

/// Cache modes of a mapping, programmed through the PAT (Arch sets PAT entries to match these indexes).
public enum CacheMode: UInt8, CaseIterable, Sendable {
    case writeBack = 0
    case writeThrough = 1
    case uncachedMinus = 2
    case uncacheable = 3
    case writeCombining = 4
    case writeProtect = 5
}

/// Mapping permissions for vmem_map.
public struct MapFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = MapFlags(rawValue: 1 << 0)
    public static let write = MapFlags(rawValue: 1 << 1)
    public static let exec = MapFlags(rawValue: 1 << 2)
}

/// Bits of vmem_map's flags word above the flags (bits 0-7) and the cache mode (bits 8-15).
public enum VmemMapOptions {
    /// The kernel chooses the address (the address argument is the lowest to consider) and returns it.
    public static let anywhere: UInt64 = 1 << 16
    /// Where an `anywhere` mapping is placed when the address argument is 0.
    public static let defaultBase: UInt64 = 0x10_0000
}

/// Page size of every mapping and Frame.
public let pageSize: UInt64 = 4096
/// User addresses are below this (the lower canonical half, less the kernel's heap window slot 255).
public let userAddressLimit: UInt64 = 0x0000_7f80_0000_0000

/// Exit codes the kernel gives, beside the ones programs pass to process_exit/thread_exit.
public enum ExitCode {
    /// A thread ended by thread_stop.
    public static let stopped: UInt64 = UInt64.max
    /// A process ended by a CPU exception in user mode: the high bit and the vector.
    public static func fault(vector: UInt64) -> UInt64 { 0x8000_0000_0000_0000 | vector }
    public static func isFault(_ code: UInt64) -> Bool { code != stopped && code & 0x8000_0000_0000_0000 != 0 }
}

/// The resources a process's limits bound (process_set_limit, process_get_usage). Each counts for the
/// process and its descendants, except handles (the process's own table only).
public enum LimitKind: UInt64, CaseIterable, Sendable {
    /// Physical pages of the Frames the process created, counted when first touched.
    case frames = 0
    /// Bytes of kernel memory for the process's Frame objects and their page trees.
    case kernelMemory = 1
    /// Handles in the process's own handle table.
    case handles = 2
    /// Threads created in the process and not yet freed.
    case threads = 3
}

/// What a Resource (ObjectType.resource) covers, and the `kind` argument of resource_create. The
/// machine's Resource (root's) covers every kind; a narrowed one covers one range of one kind.
public enum ResourceKind: UInt64, CaseIterable, Sendable {
    /// I/O ports 0...0xFFFF (ioport_create).
    case ioPort = 0
    /// Interrupt lines by GSI (irq_create).
    case irq = 1
    /// Physical addresses outside the RAM the kernel manages (frame_create_physical).
    case physical = 2
    /// DMA memory (frame_create_contiguous): one value, 0 (base 0, size 1). A device that does DMA can
    /// reach all of RAM (there is no IOMMU), so this is a strong right; it grants no ports, lines or
    /// device memory, which is what makes it narrower than the machine's Resource (pcid holds one).
    case dma = 3

    /// One past the largest value of this kind: 64 Ki ports, 256 lines, 2^52 bytes of physical address,
    /// one DMA right.
    public var limit: UInt64 {
        switch self {
        case .ioPort: return 0x1_0000
        case .irq: return 256
        case .physical: return 1 << 52
        case .dma: return 1
        }
    }
}

/// How irq_create names its line (its third argument).
/// irq_create's options (its fourth argument).
public enum IRQOptions {
    /// The line may hold other IRQ objects created with this option too (a level-triggered PCI INTx line
    /// several functions share): each interrupt signals every bound one, and the line stays masked until
    /// each of them acknowledged it. A line holds a non-shared object alone.
    public static let shared: UInt64 = 1 << 0
    public static let all: UInt64 = shared
}

public enum IRQNumbering: UInt64, CaseIterable, Sendable {
    /// A global system interrupt number.
    case gsi = 0
    /// A legacy ISA IRQ (0-15), translated to its GSI by the kernel.
    case isa = 1
}
