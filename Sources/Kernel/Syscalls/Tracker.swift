// The syscall tracker and method-call tracker: counts of every syscall by number and of every object
// method by object type, in per-CPU tables at `syscall_tracker` (entry.S) laid out as ABI TrackerLayout
// says, so osh reads them from guest memory and sums them. Each CPU counts in its own table (reached
// through its PerCPU index), so two CPUs never add to one word and no increment is lost whatever lock
// the syscall path holds. tracker_read and the shutdown print sum the tables.

#if !KERNEL
import ABI
#endif

/// Guarded by: per CPU (each CPU writes only its own table, with interrupts off); readers sum the tables
/// and may see a count a moment old, never a lost one.
enum Tracker {
    static var ticks: UInt64 = 0
    /// This CPU's table. Any CPU, in kernel mode.
    @inline(__always) static var table: UnsafeMutablePointer<UInt64> { table(PerCPU.index) }
    /// CPU `cpu`'s table.
    @inline(__always) static func table(_ cpu: Int) -> UnsafeMutablePointer<UInt64> {
        symbol_syscall_tracker()! + cpu * TrackerLayout.totalWords
    }

    /// Every CPU's table zeroed, with its header.
    static func initialize() {
        for cpu in 0..<TrackerLayout.tables {
            let t = table(cpu)
            t.initialize(repeating: 0, count: TrackerLayout.totalWords)
            t[0] = TrackerLayout.magic
            t[1] = TrackerLayout.version
            t[2] = UInt64(TrackerLayout.syscallSlots)
            t[3] = UInt64(TrackerLayout.objectSlots)
        }
    }

    /// One table of the sums over every CPU's table (header included, as each table's).
    static func summed() -> [UInt64] {
        var sum = [UInt64](repeating: 0, count: TrackerLayout.totalWords)
        for i in 0..<TrackerLayout.headerWords { sum[i] = table(0)[i] }
        for cpu in 0..<TrackerLayout.tables {
            let t = table(cpu)
            for i in TrackerLayout.headerWords..<TrackerLayout.totalWords { sum[i] &+= t[i] }
        }
        return sum
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
        let sum = summed()
        var bytes = [UInt8](repeating: 0, count: Int(count))
        for i in 0..<Int(count) { bytes[i] = UInt8(truncatingIfNeeded: sum[i / 8] >> (8 * UInt64(i % 8))) }
        try Syscalls.copyOut(&bytes, to: buffer)
        return size
    }

    /// The table as text on the log: one line per syscall and per object type with a non-zero count.
    static func print() {
        let table = summed()
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
