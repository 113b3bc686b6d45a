// The syscall tracker and method-call tracker: counts of every syscall by number and of every object
// method by object type, in the table `syscall_tracker` (entry.S) laid out as ABI TrackerLayout says,
// so osh reads it from guest memory. Printed with `syscalls` on the command line at shutdown.

#if !KERNEL
import ABI
#endif

/// Guarded by: the kernel lock, held by every syscall on every CPU (LOCKS.md), so no count is lost; per-CPU tables summed
/// by osh when every CPU runs threads.
enum Tracker {
    static var ticks: UInt64 = 0
    static var table: UnsafeMutablePointer<UInt64> { symbol_syscall_tracker()! }

    static func initialize() {
        table.initialize(repeating: 0, count: TrackerLayout.totalWords)
        table[0] = TrackerLayout.magic
        table[1] = TrackerLayout.version
        table[2] = UInt64(TrackerLayout.syscallSlots)
        table[3] = UInt64(TrackerLayout.objectSlots)
    }

    static func count(_ number: UInt64) {
        guard let call = Syscall(rawValue: number), Int(number) < TrackerLayout.syscallSlots else {
            table[TrackerLayout.totalWords - 1] &+= 1
            return
        }
        table[TrackerLayout.headerWords + Int(number)] &+= 1
        let type = Int(call.objectType.rawValue)
        if call.objectType != .none && type < TrackerLayout.objectSlots {
            table[TrackerLayout.headerWords + TrackerLayout.syscallSlots + type] &+= 1
        }
    }

    /// tracker_read: the first `length` bytes of the table (at most all of it) copied to the caller's
    /// `buffer`; the table's size in bytes.
    static func read(into buffer: UInt64, length: UInt64) throws(SysError) -> UInt64 {
        let size = UInt64(TrackerLayout.totalWords * 8)
        let count = min(length, size)
        guard count > 0 else { return size }
        var bytes = [UInt8](repeating: 0, count: Int(count))
        bytes.withUnsafeMutableBytes { b in b.copyMemory(from: UnsafeRawBufferPointer(start: table, count: Int(count))) }
        try Syscalls.copyOut(&bytes, to: buffer)
        return size
    }

    /// The table as text on the log: one line per syscall and per object type with a non-zero count.
    static func print() {
        Console.write("syscall tracker:\n")
        for call in Syscall.allCases {
            let n = table[TrackerLayout.headerWords + Int(call.rawValue)]
            guard n > 0 else { continue }
            Console.write("  ")
            Console.write(call.name)
            Console.write(" ")
            Console.writeDecimal(n)
            Console.write(10)
        }
        for type in ObjectType.allCases where type != .none {
            let n = table[TrackerLayout.headerWords + TrackerLayout.syscallSlots + Int(type.rawValue)]
            guard n > 0 else { continue }
            Console.write("  methods of ")
            Console.write(type.name)
            Console.write(" ")
            Console.writeDecimal(n)
            Console.write(10)
        }
        let unknown = table[TrackerLayout.totalWords - 1]
        if unknown > 0 {
            Console.write("  unknown numbers ")
            Console.writeDecimal(unknown)
            Console.write(10)
        }
    }
}
