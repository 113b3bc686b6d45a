// `osh syscalls --trace`: the kernel's per-process syscall trace (ABI SyscallTraceLayout.swift: the ring at
// `syscall_trace`, the process table at `debug_processes`), read from a running VM through QMP memsave
// or from a core file (`osh dump`), decoded by each syscall's argument list (Syscall.signature) and
// printed like strace: one line per call with the process, decoded arguments (handles with their object
// type and rights), the result or the error by name, and the duration. Tracing is switched on through a
// kernel command-line word (`strace=all|NAME`) or, on a running VM, by osh writing the control word and
// the process table through the gdbstub.

import ABI
import Foundation
import KernelCore
#if canImport(Glibc)
import Glibc
#endif

/// Reads guest memory at kernel virtual addresses.
public protocol GuestMemoryReader {
    func read(address: UInt64, count: Int) throws -> [UInt8]
}

/// A live VM's memory through QMP memsave (one connection per read; QMP serves one client at a time).
public struct QMPMemoryReader: GuestMemoryReader {
    public let socket: String
    public func read(address: UInt64, count: Int) throws -> [UInt8] {
        let qmp = try QMPClient(path: socket, timeout: 10)
        defer { qmp.close() }
        return try qmp.readVirtualMemory(address: address, size: count)
    }
}

/// Memory through an open QMP connection (the profiler's own).
public struct QMPClientMemory: GuestMemoryReader {
    public let qmp: QMPClient
    public func read(address: UInt64, count: Int) throws -> [UInt8] { try qmp.readVirtualMemory(address: address, size: count) }
}

/// An ELF core's memory (QEMU dump-guest-memory with paging: PT_LOAD segments at virtual addresses).
public struct CoreMemoryReader: GuestMemoryReader {
    public let data: Data
    let segments: [ELFProgramHeader]

    public init(path: String) throws {
        guard let d = FileManager.default.contents(atPath: path) else { throw SyscallTraceError.unreadable(path) }
        data = d
        segments = try d.withUnsafeBytes { raw throws(ELFError) -> [ELFProgramHeader] in
            try ELFFile(raw).programHeaders().filter { $0.type == 1 && $0.fileSize > 0 }
        }
    }

    public func read(address: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let a = address &+ UInt64(done)
            guard let s = segments.first(where: { a >= $0.vaddr && a - $0.vaddr < $0.fileSize }) else {
                throw SyscallTraceError.notInCore(a)
            }
            let n = min(count - done, Int(s.fileSize - (a - s.vaddr)))
            let start = Int(s.offset + (a - s.vaddr))
            data.copyBytes(to: &out[done], from: start..<(start + n))
            done += n
        }
        return out
    }
}

public enum SyscallTraceError: Error, CustomStringConvertible {
    case unreadable(String)
    case notInCore(UInt64)
    case symbolMissing(String, String)
    case format(String)
    case noSuchProcess(String)

    public var description: String {
        switch self {
        case .unreadable(let p): return "cannot read \(p)"
        case .notInCore(let a): return "address 0x\(String(a, radix: 16)) is not in the core file"
        case .symbolMissing(let s, let p): return "symbol \(s) not found in \(p) (a kernel without syscall traces?)"
        case .format(let why): return "not a syscall trace buffer (\(why))"
        case .noSuchProcess(let p): return "no process \(p) in the kernel's process table"
        }
    }
}

func littleEndianWords(_ bytes: [UInt8]) -> [UInt64] {
    stride(from: 0, to: bytes.count - 7, by: 8).map { i in
        var v: UInt64 = 0
        for b in 0..<8 { v |= UInt64(bytes[i + b]) << (8 * b) }
        return v
    }
}

/// One process of the kernel's process table.
public struct TracedProcess: Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public var buildID: [UInt8]
    public var traced: Bool
    public var ended: Bool
    /// Its page-table root (physical; CR3 without PCID bits while it runs).
    public var pageTableRoot: UInt64
    /// Where the entry is in guest memory (for switching its traced word).
    public var tracedWordAddress: UInt64
}

/// The process table's entries.
public func parseProcessTable(_ bytes: [UInt8], base: UInt64) -> [TracedProcess] {
    typealias L = ProcessTableLayout
    let w = littleEndianWords(bytes)
    var out: [TracedProcess] = []
    for e in 0..<min(L.entries, w.count / L.entryWords) {
        let entry = Array(w[(e * L.entryWords)..<((e + 1) * L.entryWords)])
        guard entry[0] != 0 else { continue }
        let off = e * L.entryWords * 8
        let nameLength = min(Int(entry[L.nameLengthWord]), L.maxName)
        let name = Array(bytes[(off + L.nameWord * 8)..<(off + L.nameWord * 8 + nameLength)])
        let idLength = min(Int(entry[L.buildIDLengthWord]), L.maxBuildID)
        let id = Array(bytes[(off + L.buildIDWord * 8)..<(off + L.buildIDWord * 8 + idLength)])
        out.append(TracedProcess(id: entry[0] - 1, name: String(decoding: name, as: UTF8.self), buildID: id,
                                 traced: entry[L.tracedWord] != 0, ended: entry[L.endedWord] != 0,
                                 pageTableRoot: entry[L.pageTableRootWord],
                                 tracedWordAddress: base + UInt64(off + L.tracedWord * 8)))
    }
    return out
}

/// One traced syscall.
public struct TraceRecord: Equatable, Sendable {
    public var sequence: UInt64
    public var process: UInt64
    public var thread: UInt64
    public var number: UInt64
    public var finished: Bool
    public var arguments: [UInt64]
    /// rax, rdx, rsi on return.
    public var error: UInt64, value: UInt64, tag: UInt64
    public var start: UInt64, end: UInt64
    /// HandleInfo of each argument (0: no handle).
    public var handles: [UInt16]

    public init(words w: [UInt64]) {
        sequence = w[0]
        process = w[1] & 0xffff_ffff
        thread = w[1] >> 32
        number = w[2] & 0xffff_ffff
        finished = (w[2] >> 32) & SyscallTraceLayout.RecordFlags.finished != 0
        arguments = Array(w[3...8])
        error = w[9]; value = w[10]; tag = w[11]
        start = w[12]; end = w[13]
        handles = (0..<6).map { i in UInt16(truncatingIfNeeded: (i < 4 ? w[14] : w[15]) >> (16 * UInt64(i % 4))) }
    }
}

/// The trace buffer as read at one moment.
public struct TraceSnapshot: Sendable {
    public var written: UInt64
    public var tscHz: UInt64
    public var control: UInt64
    public var names: [String]
    /// Records still in the ring, oldest first.
    public var records: [TraceRecord]

    public static var byteCount: Int { SyscallTraceLayout.totalWords * 8 }

    public static func parse(_ bytes: [UInt8]) throws -> TraceSnapshot {
        typealias L = SyscallTraceLayout
        guard bytes.count >= byteCount else { throw SyscallTraceError.format("\(bytes.count) bytes") }
        let w = littleEndianWords(bytes)
        guard w[0] == L.magic else { throw SyscallTraceError.format("magic 0x\(String(w[0], radix: 16))") }
        guard w[1] == L.version, w[2] == UInt64(L.records), w[3] == UInt64(L.recordWords) else {
            throw SyscallTraceError.format("version \(w[1]), \(w[2]) records of \(w[3]) words")
        }
        var names: [String] = []
        for slot in 0..<L.maxNames {
            let off = (L.namesWord * 8) + slot * L.nameBytes
            let raw = bytes[off..<(off + L.nameBytes)].prefix { $0 != 0 }
            if !raw.isEmpty { names.append(String(decoding: raw, as: UTF8.self)) }
        }
        var records: [TraceRecord] = []
        for i in 0..<L.records {
            let base = L.headerWords + i * L.recordWords
            guard w[base] != 0 else { continue }
            records.append(TraceRecord(words: Array(w[base..<(base + L.recordWords)])))
        }
        records.sort { $0.sequence < $1.sequence }
        return TraceSnapshot(written: w[L.recordsWrittenWord], tscHz: w[L.tscHzWord], control: w[L.controlWord],
                             names: names, records: records)
    }
}

/// Turns records into strace-like lines and JSON.
public struct TraceFormatter {
    public var processes: [UInt64: TracedProcess]
    public var tscHz: UInt64
    /// Which protocol's names message labels get: "file" (FileProtocol, the default; "vfs" is the same, vfs speaks it), "process".
    public var labels: String = "file"

    public init(processes: [TracedProcess], tscHz: UInt64, labels: String = "file") {
        self.processes = Dictionary(processes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.tscHz = tscHz
        self.labels = labels
    }

    static func string(_ s: StaticString) -> String { s.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }
    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// `name:kind` pairs and the result kind of a syscall's signature.
    public static func signature(_ call: Syscall) -> (arguments: [(name: String, kind: String)], result: String) {
        let text = string(call.signature)
        let parts = text.components(separatedBy: "->")
        let args = parts[0].split(separator: " ").map { item -> (name: String, kind: String) in
            let pair = item.split(separator: ":", maxSplits: 1)
            return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "x")
        }
        return (args, parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "-")
    }

    public static func rightsNames(_ raw: UInt32) -> String {
        let names: [(Rights, String)] = [(.read, "read"), (.write, "write"), (.exec, "exec"), (.map, "map"),
                                         (.duplicate, "duplicate"), (.transfer, "transfer"), (.manage, "manage"),
                                         (.wait, "wait"), (.signal, "signal")]
        let r = Rights(rawValue: raw)
        let s = names.filter { r.contains($0.0) }.map(\.1)
        return s.isEmpty ? "none" : s.joined(separator: "|")
    }

    public static func errorName(_ raw: UInt64) -> String {
        guard let e = SysError(rawValue: raw) else { return "error \(raw)" }
        return "\(e) (\(string(e.name)))"
    }

    /// A message label by name: fault and pager messages, else the chosen protocol's request names.
    public func labelName(_ label: UInt32) -> String {
        if label == FaultMessage.label { return "fault" }
        if label == PagerMessage.label { return "page" }
        switch labels {
        case "process": if let op = ProcessOp(rawValue: label) { return "process.\(op)" }
        default: if let l = FileLabel(rawValue: label) { return "file.\(Self.string(l.name))" }
        }
        return String(label)
    }

    public func tag(_ raw: UInt64) -> String {
        let t = IPCTag(raw: raw)
        var s = "{\(labelName(t.label))"
        if t.words > 0 { s += " \(t.words)w" }
        if t.bytes > 0 { s += " \(t.bytes)b" }
        if t.handles > 0 { s += " \(t.handles)h" }
        return s + "}"
    }

    func value(_ v: UInt64, kind: String, handle: UInt16 = 0) -> String {
        switch kind {
        case "h":
            guard v != 0 else { return "0" }
            guard handle & SyscallTraceLayout.HandleInfo.valid != 0 else { return "\(Self.hex(v)) (no handle)" }
            let type = ObjectType(rawValue: SyscallTraceLayout.HandleInfo.type(handle)).map { Self.string($0.name) } ?? "type?"
            return "\(Self.hex(v)) \(type)[\(Self.rightsNames(SyscallTraceLayout.HandleInfo.rights(handle)))]"
        case "n": return String(v)
        case "ns": return v == 0 ? "0" : "\(v)ns"
        case "tag": return tag(v)
        case "info": return SystemInfo(rawValue: v).map { "\($0)" } ?? String(v)
        case "limit": return LimitKind(rawValue: v).map { "\($0)" } ?? String(v)
        case "res": return ResourceKind(rawValue: v).map { "\($0)" } ?? String(v)
        case "irqn": return IRQNumbering(rawValue: v).map { "\($0)" } ?? String(v)
        case "prot", "map":
            var f = ""
            if v & 1 != 0 { f += "r" }
            if v & 2 != 0 { f += "w" }
            if v & 4 != 0 { f += "x" }
            var s = f.isEmpty ? "-" : f
            if kind == "map" {
                if let c = CacheMode(rawValue: UInt8(truncatingIfNeeded: v >> 8)) { s += "|\(c)" }
                if v & VmemMapOptions.anywhere != 0 { s += "|anywhere" }
            }
            return s + (v & ~UInt64(0xffff) & ~VmemMapOptions.anywhere != 0 ? " (\(Self.hex(v)))" : "")
        default: return Self.hex(v)
        }
    }

    public func processName(_ id: UInt64) -> String {
        guard let p = processes[id], !p.name.isEmpty else { return "process \(id)" }
        return p.name
    }

    public func name(_ r: TraceRecord) -> String {
        Syscall(rawValue: r.number).map { Self.string($0.name) } ?? "syscall_\(r.number)"
    }

    /// The decoded arguments (`name=value`).
    public func arguments(_ r: TraceRecord) -> [(name: String, value: String)] {
        guard let call = Syscall(rawValue: r.number) else {
            return r.arguments.enumerated().map { ("a\($0.offset)", Self.hex($0.element)) }
        }
        return Self.signature(call).arguments.enumerated().map { i, a in
            (a.name, value(r.arguments[i], kind: a.kind, handle: r.handles[i]))
        }
    }

    public func result(_ r: TraceRecord) -> String {
        guard r.finished else { return "? (unfinished)" }
        if r.error != 0 { return "-1 \(Self.errorName(r.error))" }
        guard let call = Syscall(rawValue: r.number) else { return Self.hex(r.value) }
        let kind = Self.signature(call).result
        switch kind {
        case "-": return "0"
        case "tag": return tag(r.tag) + (IPCTag(raw: r.tag).words > 0 ? " w0=\(Self.hex(r.value))" : "")
        case "h": return Self.hex(r.value)
        default: return value(r.value, kind: kind)
        }
    }

    public func seconds(_ ticks: UInt64) -> Double { tscHz > 0 ? Double(ticks) / Double(tscHz) : 0 }

    /// One strace-like line.
    public func line(_ r: TraceRecord) -> String {
        let args = arguments(r).map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
        var s = String(format: "%12.6f ", seconds(r.start))
        s += "\(processName(r.process))[\(r.process):\(r.thread)] \(name(r))(\(args)) = \(result(r))"
        if r.finished && r.end >= r.start {
            s += String(format: " <%.1f us, %llu ticks>", seconds(r.end - r.start) * 1e6, r.end - r.start)
        }
        return s
    }

    public func json(_ r: TraceRecord) -> JSON {
        var o: [String: JSON] = [
            "seq": .int(Int64(bitPattern: r.sequence)), "process": .int(Int64(r.process)),
            "process_name": .string(processName(r.process)), "thread": .int(Int64(r.thread)),
            "syscall": .string(name(r)), "number": .int(Int64(r.number)), "finished": .bool(r.finished),
            "tsc_start": .int(Int64(bitPattern: r.start)),
            "args": .array(arguments(r).map { .object(["name": .string($0.name), "value": .string($0.value)]) }),
            "raw_args": .array(r.arguments.map { .int(Int64(bitPattern: $0)) }),
        ]
        if r.finished {
            o["tsc_end"] = .int(Int64(bitPattern: r.end))
            o["ticks"] = .int(Int64(bitPattern: r.end &- r.start))
            o["result"] = .string(result(r))
            if r.error != 0 {
                o["error"] = .string(SysError(rawValue: r.error).map { "\($0)" } ?? String(r.error))
            } else {
                o["value"] = .int(Int64(bitPattern: r.value))
            }
        }
        return .object(o)
    }
}

/// Where the trace and process table are, and reading them.
public struct SyscallTraceSource {
    public let memory: GuestMemoryReader
    public let traceAddress: UInt64
    public let processesAddress: UInt64

    /// Finds the two symbols in a kernel ELF.
    public init(memory: GuestMemoryReader, kernelPath: String) throws {
        self.memory = memory
        guard let data = FileManager.default.contents(atPath: kernelPath) else { throw SyscallTraceError.unreadable(kernelPath) }
        func symbol(_ name: String) throws -> UInt64 {
            let found = try data.withUnsafeBytes { raw throws(ELFError) -> ELFSymbol? in
                try ELFFile(raw).symbol(named: Array(name.utf8))
            }
            guard let s = found, s.value != 0 else { throw SyscallTraceError.symbolMissing(name, kernelPath) }
            return s.value
        }
        traceAddress = try symbol(SyscallTraceLayout.symbol)
        processesAddress = try symbol(ProcessTableLayout.symbol)
    }

    public func readTrace() throws -> TraceSnapshot {
        try TraceSnapshot.parse(try memory.read(address: traceAddress, count: TraceSnapshot.byteCount))
    }

    public func readProcesses() throws -> [TracedProcess] {
        parseProcessTable(try memory.read(address: processesAddress, count: ProcessTableLayout.totalWords * 8),
                          base: processesAddress)
    }
}

/// Switching tracing on or off in a running VM through its gdbstub (QEMU pauses the VM while osh is
/// connected and resumes it at the detach).
public enum TraceSwitch {
    static func bytes(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// Traces `process` (a name or id) from now on: its table entries' traced words, its name for
    /// programs loaded later, and the control word's `selected` bit; every process when `process` is nil.
    public static func enable(gdbSocket: String, source: SyscallTraceSource, process: String?, on: Bool = true) throws {
        let gdb = try GDBRemoteClient(path: gdbSocket, timeout: 10)
        var detached = false
        defer { if !detached { try? gdb.detach() } }
        typealias L = SyscallTraceLayout
        let controlAddress = source.traceAddress + UInt64(L.controlWord * 8)
        let control = littleEndianWords(try gdb.readMemory(address: controlAddress, count: 8))[0]
        guard on else {
            try gdb.writeMemory(address: controlAddress, bytes: bytes(0))
            try gdb.detach()
            detached = true
            return
        }
        guard let process else {
            try gdb.writeMemory(address: controlAddress, bytes: bytes(control | L.ControlBits.all))
            try gdb.detach()
            detached = true
            return
        }
        let table = parseProcessTable(try gdb.readMemory(address: source.processesAddress, count: ProcessTableLayout.totalWords * 8),
                                      base: source.processesAddress)
        let matches = table.filter { !$0.ended && ($0.name == process || String($0.id) == process) }
        for p in matches { try gdb.writeMemory(address: p.tracedWordAddress, bytes: bytes(1)) }
        if UInt64(process) == nil {
            // The name also marks programs loaded from now on: the first free (or same) name slot.
            let header = try gdb.readMemory(address: source.traceAddress, count: L.headerWords * 8)
            var slot: Int? = nil
            for s in 0..<L.maxNames {
                let off = L.namesWord * 8 + s * L.nameBytes
                let name = header[off..<(off + L.nameBytes)].prefix { $0 != 0 }
                if name.isEmpty || String(decoding: name, as: UTF8.self) == process { slot = slot ?? s }
            }
            if let slot {
                var name = Array(process.utf8.prefix(L.nameBytes - 1))
                name += [UInt8](repeating: 0, count: L.nameBytes - name.count)
                try gdb.writeMemory(address: source.traceAddress + UInt64(L.namesWord * 8 + slot * L.nameBytes), bytes: name)
            }
        } else if matches.isEmpty {
            throw SyscallTraceError.noSuchProcess(process)
        }
        try gdb.writeMemory(address: controlAddress, bytes: bytes(control | L.ControlBits.selected))
        try gdb.detach()
        detached = true
    }
}

/// `osh syscalls --trace [--process NAME|ID] [--follow] [--core FILE] [--off] [--json]`.
struct SyscallTraceCommand {
    var runSpec: String?
    var buildDir: String?
    var process: String?
    var follow: Bool
    var core: String?
    var off: Bool
    var status: Bool
    var json: Bool
    var interval: Double
    var labels: String

    func emit(_ text: String) { FD.writeAll(STDOUT_FILENO, text) }

    func run() throws {
        let run = try VMRun.resolve(runSpec, buildDirectory: buildDir.map { URL(fileURLWithPath: $0) })
        guard let kernel = run.manifest.kernel else { throw SyscallsError.noKernel(run.url.path) }
        let kernelPath = run.path(of: kernel)
        let memory: GuestMemoryReader
        if let core {
            memory = try CoreMemoryReader(path: core.contains("/") || FileManager.default.fileExists(atPath: core)
                                          ? core : run.url.appendingPathComponent(core).path)
        } else {
            guard run.qemuAlive else { throw SyscallsError.vmGone(run.url.path) }
            memory = QMPMemoryReader(socket: run.qmpSocket)
        }
        let source = try SyscallTraceSource(memory: memory, kernelPath: kernelPath)
        if status {
            emit(try statusLine(source) + "\n")
            return
        }
        if core == nil {
            if off {
                try TraceSwitch.enable(gdbSocket: run.gdbSocket, source: source, process: nil, on: false)
                FD.writeAll(STDERR_FILENO, "osh: syscall tracing switched off\n")
                return
            }
            try switchOnIfNeeded(run, source)
        }
        var last: UInt64 = 0
        var pending = Set<UInt64>()
        last = try show(source, after: last, pending: &pending)
        guard follow, core == nil else { return }
        let signalFD = SignalPipe.install()
        defer { SignalPipe.uninstall(readEnd: signalFD) }
        while true {
            var pfd = pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, Int32((interval * 1000).rounded())) > 0 { return }
            do {
                last = try show(source, after: last, pending: &pending)
            } catch {
                if !run.qemuAlive {
                    FD.writeAll(STDERR_FILENO, "osh: the VM went away; stopped following\n")
                    return
                }
                throw error
            }
        }
    }

    /// `control N (…); records written N; names …; traced: name[id] …`.
    func statusLine(_ source: SyscallTraceSource) throws -> String {
        let t = try source.readTrace()
        let traced = try source.readProcesses().filter { $0.traced && !$0.ended }
        var mode: [String] = []
        if t.control & SyscallTraceLayout.ControlBits.all != 0 { mode.append("every process") }
        if t.control & SyscallTraceLayout.ControlBits.selected != 0 { mode.append("selected processes") }
        return "control \(t.control) (\(mode.isEmpty ? "off" : mode.joined(separator: ", "))); records written \(t.written); "
            + "names: \(t.names.isEmpty ? "none" : t.names.joined(separator: ",")); "
            + "traced: \(traced.isEmpty ? "none" : traced.map { "\($0.name)[\($0.id)]" }.joined(separator: " "))"
    }

    /// On a live VM: the chosen process (or every one) is traced from now on, through the gdbstub.
    func switchOnIfNeeded(_ run: VMRun, _ source: SyscallTraceSource) throws {
        let snapshot = try source.readTrace()
        if snapshot.control & SyscallTraceLayout.ControlBits.all != 0 { return }
        if let process {
            let table = try source.readProcesses()
            let chosen = table.filter { $0.name == process || String($0.id) == process }
            if snapshot.control & SyscallTraceLayout.ControlBits.selected != 0,
               !chosen.isEmpty, chosen.allSatisfy({ $0.traced || $0.ended }) || snapshot.names.contains(process) { return }
        }
        do {
            try TraceSwitch.enable(gdbSocket: run.gdbSocket, source: source, process: process)
        } catch let e as SyscallTraceError {
            throw e
        } catch {
            throw SyscallTraceError.format("cannot switch tracing on through the gdbstub (\(error)); is a debugger attached? Boot with strace=\(process ?? "all") instead")
        }
        FD.writeAll(STDERR_FILENO, "osh: syscall tracing switched on for \(process ?? "every process")\n")
    }

    /// Prints the records after sequence `after` of the chosen process; returns the last sequence seen.
    /// Calls printed unfinished (in `pending`) get a `<... resumed>` line once they return.
    func show(_ source: SyscallTraceSource, after: UInt64, pending: inout Set<UInt64>) throws -> UInt64 {
        let snapshot = try source.readTrace()
        let processes = try source.readProcesses()
        let formatter = TraceFormatter(processes: processes, tscHz: snapshot.tscHz, labels: labels)
        let ids: Set<UInt64>? = process.map { p in
            Set(processes.filter { $0.name == p }.map(\.id) + (UInt64(p).map { [$0] } ?? []))
        }
        let fresh = snapshot.records.filter { $0.sequence > after }
        if let first = fresh.first, first.sequence > after + 1, after > 0 || first.sequence > 1 {
            let lost = first.sequence - after - 1
            emit(json ? "{\"lost\":\(lost)}\n" : "... \(lost) earlier records were overwritten (the ring holds \(SyscallTraceLayout.records))\n")
        }
        var out = ""
        for r in snapshot.records where pending.contains(r.sequence) && r.finished {
            pending.remove(r.sequence)
            out += (json ? formatter.json(r).serialized() : "<... \(formatter.name(r)) resumed> " + formatter.line(r)) + "\n"
        }
        for r in fresh where ids?.contains(r.process) ?? true {
            out += (json ? formatter.json(r).serialized() : formatter.line(r)) + "\n"
            if !r.finished && follow { pending.insert(r.sequence) }
        }
        emit(out)
        return max(after, snapshot.written)
    }
}
