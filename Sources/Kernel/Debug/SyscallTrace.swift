// Per-process syscall traces and the process table (issue 18). Both are plain words in .bss
// (Debug/trace.S, layouts in ABI SyscallTraceLayout.swift) so osh reads them from a running VM or a core.
//
// The syscall path pays one load and one branch while nobody traces (SyscallTrace.active, the header's
// control word). When tracing is on, a syscall of a traced process skips the IPC fast path and is
// recorded twice in the same ring slot: at entry (number, arguments, what each argument names in the
// handle table, the TSC) and at return (rax, rdx, rsi, the TSC). A process is traced when the control
// word says `all`, or `selected` and its process-table entry's traced word is set (trace_set, a program
// name from `strace=NAME` or osh's, or osh writing the word through the gdbstub).
//
// Guarded by: the kernel lock (one CPU runs kernel code at a time), and the ring's sequence counter is
// taken with an atomic increment, so records from two CPUs never share a number (or, while the ring has
// not wrapped past it, a slot) once the kernel lock is split. The process table still needs a lock then.

#if !KERNEL
import ABI
#endif

enum SyscallTrace {
    typealias L = SyscallTraceLayout

    static var header: UnsafeMutablePointer<UInt64> { symbol_syscall_trace()! }
    static var records: UnsafeMutablePointer<UInt64> { symbol_syscall_trace()! + L.headerWords }

    /// Writes the header and applies `strace=all|NAME[,NAME…]`; after the clock is calibrated.
    static func initialize() {
        header[0] = L.magic
        header[1] = L.version
        header[2] = UInt64(L.records)
        header[3] = UInt64(L.recordWords)
        header[L.tscHzWord] = TSC.frequency
        guard let value = Kernel.commandLine.value(of: .strace) else { return }
        var names = 0
        for name in value.split(separator: UInt8(ascii: ",")) where !name.isEmpty {
            if name.elementsEqual(bytes("all")) {
                header[L.controlWord] |= L.ControlBits.all
            } else if names < L.maxNames {
                setName(names, name)
                names += 1
                header[L.controlWord] |= L.ControlBits.selected
            }
        }
        Log.info("strace: control word \(header[L.controlWord]) (1 every process, 2 named programs), \(names) names")
    }

    /// Stores name slot `slot` (at most 15 bytes, NUL-padded).
    static func setName(_ slot: Int, _ name: ArraySlice<UInt8>) {
        let base = UnsafeMutableRawPointer(header + L.namesWord + slot * L.nameBytes / 8).assumingMemoryBound(to: UInt8.self)
        for i in 0..<L.nameBytes { base[i] = 0 }
        for (i, b) in name.prefix(L.nameBytes - 1).enumerated() { base[i] = b }
    }

    /// True when `name` is one of the header's program names.
    static func named(_ name: [UInt8]) -> Bool {
        for slot in 0..<L.maxNames {
            let base = UnsafeMutableRawPointer(header + L.namesWord + slot * L.nameBytes / 8).assumingMemoryBound(to: UInt8.self)
            guard base[0] != 0 else { continue }
            var length = 0
            while length < L.nameBytes && base[length] != 0 { length += 1 }
            if length == name.count && (0..<length).allSatisfy({ base[$0] == name[$0] }) { return true }
        }
        return false
    }

    /// The one test on the syscall path: is anything traced at all?
    @inline(__always) static var active: Bool { symbol_syscall_trace()![L.controlWord] != 0 }

    /// True when `p`'s syscalls go to the trace.
    static func traces(_ p: Process) -> Bool {
        let control = header[L.controlWord]
        if control & L.ControlBits.all != 0 { return true }
        guard control & L.ControlBits.selected != 0, let entry = p.debugEntry else { return false }
        return entry[ProcessTableLayout.tracedWord] != 0
    }

    /// A syscall while tracing is on: recorded around the slow path when the caller is traced.
    static func syscall(_ frame: UnsafeMutablePointer<trap_frame>) {
        guard traces(Syscalls.process) else {
            untracedSyscall(frame)
            return
        }
        let (record, sequence) = begin(frame)
        handleSyscall(frame)
        finish(record, sequence, frame)
    }

    /// Takes the next ring slot and fills it with the call as it starts.
    static func begin(_ frame: UnsafeMutablePointer<trap_frame>) -> (UnsafeMutablePointer<UInt64>, UInt64) {
        // One atomic increment hands out each sequence number once, so two CPUs never fill one slot
        // for the same number (the kernel lock makes this exact today; the split locks will need it).
        let sequence = atomic_fetch_add64(header + L.recordsWrittenWord, 1) &+ 1
        let r = records + Int((sequence - 1) % UInt64(L.records)) * L.recordWords
        let f = frame.pointee
        r[0] = 0
        r[1] = Syscalls.process.id & 0xffff_ffff | Syscalls.caller.id << 32
        r[2] = f.rax
        r[3] = f.rdi; r[4] = f.rsi; r[5] = f.rdx; r[6] = f.r10; r[7] = f.r8; r[8] = f.r9
        var info0: UInt64 = 0, info1: UInt64 = 0
        for i in 0..<6 {
            let info = UInt64(handleInfo(r[3 + i]))
            if i < 4 { info0 |= info << (16 * UInt64(i)) } else { info1 |= info << (16 * UInt64(i - 4)) }
        }
        r[9] = 0; r[10] = 0; r[11] = 0
        r[12] = read_tsc()
        r[13] = 0
        r[14] = info0
        r[15] = info1
        r[0] = sequence
        return (r, sequence)
    }

    /// What `value` names in the caller's handle table (HandleInfo), 0 for nothing.
    static func handleInfo(_ value: UInt64) -> UInt16 {
        guard value != 0, value <= UInt64(UInt32.max), let e = Syscalls.process.handles.entry(UInt32(value)) else { return 0 }
        return L.HandleInfo.encode(type: e.object.type.rawValue, rights: e.rights.rawValue)
    }

    /// Completes a record with the call's result, unless its slot was taken again meanwhile.
    static func finish(_ r: UnsafeMutablePointer<UInt64>, _ sequence: UInt64, _ frame: UnsafeMutablePointer<trap_frame>) {
        guard r[0] == sequence else { return }
        let f = frame.pointee
        r[9] = f.rax
        r[10] = f.rdx
        r[11] = f.rsi
        r[13] = read_tsc()
        r[2] |= L.RecordFlags.finished << 32
    }
}

/// The process table debuggers read (`debug_processes`): each live process with its program's name and
/// build ID and its traced flag.
enum ProcessTable {
    typealias L = ProcessTableLayout

    /// Takes a free entry for `p` (nil when the table is full; counted in debug_processes_dropped).
    /// A free entry is taken first, else the entry of a freed process (kept so osh can still name the
    /// records of processes that are gone).
    static func add(_ p: Process) -> UnsafeMutablePointer<UInt64>? {
        let table = symbol_debug_processes()!
        var reusable: UnsafeMutablePointer<UInt64>? = nil
        for slot in 0..<L.entries {
            let entry = table + slot * L.entryWords
            if entry[0] == 0 { reusable = entry; break }
            if reusable == nil && entry[L.endedWord] == 2 { reusable = entry }
        }
        guard let entry = reusable else {
            symbol_debug_processes_dropped()!.pointee += 1
            return nil
        }
        for w in 1..<L.entryWords { entry[w] = 0 }
        entry[L.pageTableRootWord] = p.vmem.root
        entry[0] = p.id + 1
        return entry
    }

    /// Records the program loaded into the entry's process, and marks it traced when its name was asked for.
    static func describe(_ entry: UnsafeMutablePointer<UInt64>?, name: [UInt8], buildID: [UInt8]) {
        guard let entry else { return }
        store(name, max: L.maxName, at: entry + L.nameWord, length: entry + L.nameLengthWord)
        store(buildID, max: L.maxBuildID, at: entry + L.buildIDWord, length: entry + L.buildIDLengthWord)
        if SyscallTrace.header[SyscallTraceLayout.controlWord] & SyscallTraceLayout.ControlBits.selected != 0
            && SyscallTrace.named(name) {
            entry[L.tracedWord] = 1
        }
    }

    private static func store(_ bytes: [UInt8], max: Int, at words: UnsafeMutablePointer<UInt64>, length: UnsafeMutablePointer<UInt64>) {
        let n = bytes.count < max ? bytes.count : max
        let base = UnsafeMutableRawPointer(words).assumingMemoryBound(to: UInt8.self)
        for i in 0..<max { base[i] = i < n ? bytes[i] : 0 }
        length.pointee = UInt64(n)
    }

    /// Marks the entry's process as ended.
    static func ended(_ entry: UnsafeMutablePointer<UInt64>?) { entry?[L.endedWord] = 1 }

    /// Marks the entry free for reuse; its id and name stay until then.
    static func remove(_ entry: UnsafeMutablePointer<UInt64>?) { entry?[L.endedWord] = 2 }
}

extension Syscalls {
    /// trace_set(process, on): traces that process's syscalls from now on (1) or no longer (0).
    static func traceSet(_ raw: UInt64, _ on: UInt64) throws(SysError) -> UInt64 {
        let p = try processObject(raw, .manage)
        guard on <= 1 else { throw .invalidArgument }
        guard !p.exited, let entry = p.debugEntry else { throw .badState }
        entry[ProcessTableLayout.tracedWord] = on
        if on == 1 { SyscallTrace.header[SyscallTraceLayout.controlWord] |= SyscallTraceLayout.ControlBits.selected }
        return 0
    }
}
