// `osh syscalls`: the kernel's syscall and method-call tracker (ABI TrackerLayout, at the kernel symbol
// `syscall_tracker`: one table per CPU, summed here), read from a running VM through QMP `memsave`. QMP
// is separate from the gdbstub, so this works while gdb is attached.

import ABI
import ArgumentParser
import Foundation
import KernelCore
#if canImport(Glibc)
import Glibc
#endif

/// One reading of the tracker table.
public struct TrackerSnapshot: Equatable, Sendable {
    /// Per syscall number (TrackerLayout.syscallSlots entries).
    public var syscalls: [UInt64]
    /// Per ObjectType raw value (TrackerLayout.objectSlots entries).
    public var objects: [UInt64]
    /// Calls with a number the kernel does not know.
    public var unknown: UInt64

    public struct FormatError: Error, Equatable, CustomStringConvertible {
        public var detail: String
        public var description: String { "not a tracker table (\(detail))" }
    }

    /// One CPU's table.
    public static var tableByteCount: Int { TrackerLayout.totalWords * 8 }
    /// Every CPU's table, as the kernel lays them out (what a reader reads).
    public static var byteCount: Int { tableByteCount * TrackerLayout.tables }

    /// Decodes and validates the bytes of one or more whole per-CPU tables (each: magic, version, slot
    /// counts) and sums their counts.
    public static func parse(_ bytes: [UInt8]) throws(FormatError) -> TrackerSnapshot {
        guard bytes.count >= tableByteCount else {
            throw FormatError(detail: "\(bytes.count) bytes read, \(tableByteCount) expected")
        }
        var sum = try parseTable(bytes, at: 0)
        for table in 1..<(bytes.count / tableByteCount) {
            let t = try parseTable(bytes, at: table * tableByteCount)
            for i in sum.syscalls.indices { sum.syscalls[i] &+= t.syscalls[i] }
            for i in sum.objects.indices { sum.objects[i] &+= t.objects[i] }
            sum.unknown &+= t.unknown
        }
        return sum
    }

    /// One table, at byte `offset`.
    static func parseTable(_ bytes: [UInt8], at offset: Int) throws(FormatError) -> TrackerSnapshot {
        func word(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(bytes[offset + i * 8 + b]) << (8 * b) }
            return v
        }
        guard word(0) == TrackerLayout.magic else {
            throw FormatError(detail: "magic 0x\(String(word(0), radix: 16)), expected 0x\(String(TrackerLayout.magic, radix: 16)) \"SYSTRACK\"")
        }
        guard word(1) == TrackerLayout.version else {
            throw FormatError(detail: "version \(word(1)), osh reads version \(TrackerLayout.version)")
        }
        guard word(2) == UInt64(TrackerLayout.syscallSlots), word(3) == UInt64(TrackerLayout.objectSlots) else {
            throw FormatError(detail: "\(word(2)) syscall and \(word(3)) object slots, expected \(TrackerLayout.syscallSlots) and \(TrackerLayout.objectSlots)")
        }
        let s = TrackerLayout.headerWords
        let o = s + TrackerLayout.syscallSlots
        return TrackerSnapshot(syscalls: (s..<o).map(word), objects: (o..<o + TrackerLayout.objectSlots).map(word),
                               unknown: word(TrackerLayout.totalWords - 1))
    }

    public struct Row: Equatable, Sendable {
        public var name: String
        public var count: UInt64
        /// Per second since the previous reading (watch mode).
        public var rate: Double?
    }

    static func string(_ s: StaticString) -> String { s.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }

    /// The name of syscall slot `number` (`#N` for a slot the ABI does not name).
    public static func syscallName(_ number: Int) -> String {
        Syscall(rawValue: UInt64(number)).map { string($0.name) } ?? "#\(number)"
    }

    public static func objectName(_ type: Int) -> String {
        ObjectType(rawValue: UInt32(type)).map { string($0.name) } ?? "type \(type)"
    }

    /// Rows with a non-zero count, by count descending then name; rates against `previous` over `seconds`.
    static func rows(_ counts: [UInt64], previous: [UInt64]?, seconds: Double?, name: (Int) -> String) -> [Row] {
        var rows: [Row] = []
        for (i, n) in counts.enumerated() where n > 0 {
            var rate: Double?
            if let previous, let seconds, seconds > 0, i < previous.count {
                // A count below the previous one (the VM was reset) has no meaningful rate: 0.
                rate = n >= previous[i] ? Double(n - previous[i]) / seconds : 0
            }
            rows.append(Row(name: name(i), count: n, rate: rate))
        }
        return rows.sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }
    }

    public func syscallRows(previous: TrackerSnapshot? = nil, seconds: Double? = nil) -> [Row] {
        Self.rows(syscalls, previous: previous?.syscalls, seconds: seconds, name: Self.syscallName)
    }

    public func objectRows(previous: TrackerSnapshot? = nil, seconds: Double? = nil) -> [Row] {
        Self.rows(objects, previous: previous?.objects, seconds: seconds, name: Self.objectName)
    }

    public var total: UInt64 { syscalls.reduce(0, &+) &+ unknown }

    /// The table as text: syscalls by count, then methods by object type, then unknown numbers.
    public func format(previous: TrackerSnapshot? = nil, seconds: Double? = nil) -> String {
        let withRates = previous != nil && seconds != nil
        let sys = syscallRows(previous: previous, seconds: seconds)
        let obj = objectRows(previous: previous, seconds: seconds)
        let width = max(24, (sys + obj).map(\.name.count).max() ?? 0)
        func line(_ name: String, _ count: String, _ rate: String?) -> String {
            var s = name.padding(toLength: width, withPad: " ", startingAt: 0) + String(repeating: " ", count: max(0, 12 - count.count)) + count
            if let rate { s += String(repeating: " ", count: max(0, 12 - rate.count)) + rate }
            return s
        }
        func rate(_ r: Row) -> String? { withRates ? String(format: "%.1f", r.rate ?? 0) : nil }
        var out: [String] = []
        out.append(line("syscall", "count", withRates ? "per second" : nil))
        if sys.isEmpty { out.append("  (none yet)") }
        for r in sys { out.append(line(r.name, String(r.count), rate(r))) }
        out.append("")
        out.append(line("methods of object type", "count", withRates ? "per second" : nil))
        if obj.isEmpty { out.append("  (none yet)") }
        for r in obj { out.append(line(r.name, String(r.count), rate(r))) }
        out.append("")
        var unknownRate: String?
        if withRates, let previous, let seconds, seconds > 0 {
            unknownRate = String(format: "%.1f", unknown >= previous.unknown ? Double(unknown - previous.unknown) / seconds : 0)
        }
        out.append(line("unknown syscall numbers", String(unknown), unknownRate))
        out.append(line("total", String(total), nil))
        return out.joined(separator: "\n") + "\n"
    }

    /// One JSON object: every named syscall and object type with its count (zeros included), the
    /// unknown-number count, the total, and rates when a previous reading is given.
    public func json(run: String?, previous: TrackerSnapshot? = nil, seconds: Double? = nil) -> JSON {
        var sys: [String: JSON] = [:]
        for call in Syscall.allCases where Int(call.rawValue) < syscalls.count {
            sys[Self.string(call.name)] = .int(Int64(bitPattern: syscalls[Int(call.rawValue)]))
        }
        for (i, n) in syscalls.enumerated() where n > 0 && Syscall(rawValue: UInt64(i)) == nil {
            sys["#\(i)"] = .int(Int64(bitPattern: n))
        }
        var obj: [String: JSON] = [:]
        for type in ObjectType.allCases where type != .none && Int(type.rawValue) < objects.count {
            obj[Self.string(type.name)] = .int(Int64(bitPattern: objects[Int(type.rawValue)]))
        }
        var o: [String: JSON] = [
            "syscalls": .object(sys), "objects": .object(obj),
            "unknown": .int(Int64(bitPattern: unknown)), "total": .int(Int64(bitPattern: total)),
        ]
        if let run { o["run"] = .string(run) }
        if let previous, let seconds, seconds > 0 {
            var rates: [String: JSON] = [:]
            for r in syscallRows(previous: previous, seconds: seconds) { rates[r.name] = .double(r.rate ?? 0) }
            o["rates"] = .object(rates)
            o["interval"] = .double(seconds)
        }
        return .object(o)
    }
}

/// Errors of `osh syscalls`, one line each.
public enum SyscallsError: Error, CustomStringConvertible {
    case noKernel(String)
    case unreadableKernel(String, String)
    case symbolMissing(String)
    case vmGone(String)
    case read(String)

    public var description: String {
        switch self {
        case .noKernel(let d): return "the manifest of run \(d) lists no kernel ELF"
        case .unreadableKernel(let p, let why): return "cannot read the kernel ELF \(p): \(why)"
        case .symbolMissing(let p): return "symbol \(TrackerLayout.symbol) not found in \(p)'s symbol table (a kernel without the tracker, or stripped)"
        case .vmGone(let d): return "the VM of run \(d) is not running"
        case .read(let why): return "cannot read the tracker table: \(why)"
        }
    }
}

/// Reads the tracker table of a run's VM.
public struct TrackerReader {
    public let run: VMRun
    public let address: UInt64
    public var timeout: Double = 3

    /// Finds `syscall_tracker` in the run's kernel.elf.
    public init(run: VMRun) throws {
        self.run = run
        guard let kernel = run.manifest.kernel else { throw SyscallsError.noKernel(run.url.path) }
        let path = run.path(of: kernel)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SyscallsError.unreadableKernel(path, "missing or unreadable")
        }
        let found: ELFSymbol?
        do {
            found = try data.withUnsafeBytes { raw throws(ELFError) -> ELFSymbol? in
                try ELFFile(raw).symbol(named: Array(TrackerLayout.symbol.utf8))
            }
        } catch {
            throw SyscallsError.unreadableKernel(path, "malformed ELF (\(error))")
        }
        guard let symbol = found, symbol.value != 0 else { throw SyscallsError.symbolMissing(path) }
        address = symbol.value
    }

    /// One reading: connect to QMP, memsave, disconnect (QMP serves one client at a time).
    public func read() throws -> TrackerSnapshot {
        guard run.qemuAlive else { throw SyscallsError.vmGone(run.url.path) }
        let qmp: QMPClient
        do {
            qmp = try QMPClient(path: run.qmpSocket, timeout: timeout)
        } catch QMPError.socket(.notListening) {
            throw SyscallsError.vmGone(run.url.path)
        } catch QMPError.socket(.closed) {
            throw SyscallsError.vmGone(run.url.path)
        }
        defer { qmp.close() }
        let bytes: [UInt8]
        do {
            bytes = try qmp.readVirtualMemory(address: address, size: TrackerSnapshot.byteCount)
        } catch QMPError.socket(.closed) {
            throw SyscallsError.vmGone(run.url.path)
        } catch {
            throw SyscallsError.read("\(error)")
        }
        return try TrackerSnapshot.parse(bytes)
    }
}

public struct SyscallsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "syscalls",
        abstract: "Show the kernel's syscall and method-call counts from a running VM.",
        discussion: """
            Reads the tracker table at the kernel symbol syscall_tracker through QMP memsave (works while \
            gdb is attached). --trace prints the kernel's per-process syscall trace instead, like strace \
            (tracing starts with `strace=all|NAME` on the kernel command line, or on a live VM with \
            --trace [--process NAME|ID], which osh switches on through the gdbstub); --core FILE reads it \
            from an `osh dump` core. --watch refreshes every --interval seconds with per-second rates until \
            Ctrl-C (status 0) or until the VM exits (a note on standard error, status 0). Errors (no run, \
            VM not running, symbol missing, not a tracker table) are one line on standard error, status 1.
            """)

    @Option(name: .customLong("run"), help: "The run: a run directory or a run id (default: BUILD/run/latest).")
    var runSpec: String?

    @Flag(name: .long, help: "Refresh until Ctrl-C or the VM exits.")
    var watch = false

    @Option(name: .long, help: "Seconds between refreshes with --watch.")
    var interval: Double = 1

    @Flag(name: .long, help: "Print a JSON object (one line per refresh with --watch).")
    var json = false

    @Option(name: .long, help: "Build directory (default: the osh executable's directory if it holds kernel.elf, else ./build).")
    var buildDir: String?

    @Flag(name: .long, help: "Print the kernel's per-process syscall trace (strace-like) instead of the counts.")
    var trace = false

    @Option(name: .long, help: "With --trace: only this process (a program name or a process id); on a live VM it is switched on.")
    var process: String?

    @Flag(name: .long, help: "With --trace: keep printing new calls until Ctrl-C or the VM exits.")
    var follow = false

    @Option(name: .long, help: "With --trace: read a core file (osh dump) instead of the live VM.")
    var core: String?

    @Flag(name: .long, help: "With --trace: switch tracing off in the live VM (every process) and exit.")
    var off = false

    @Flag(name: .long, help: "With --trace: one line on the trace's state (control word, records written, names, traced processes); switches nothing.")
    var status = false

    @Option(name: .long, help: "With --trace: name message labels by this protocol: file (default; vfs speaks it too), vfs (the same) or process.")
    var labels: String = "file"

    public init() {}

    static func fail(_ message: String) -> ArgumentParser.ExitCode {
        FD.writeAll(STDERR_FILENO, "osh: error: \(message)\n")
        return ArgumentParser.ExitCode(1)
    }

    func emit(_ text: String) {
        FD.writeAll(STDOUT_FILENO, text)
    }

    public func run() throws {
        guard interval > 0, interval.isFinite else { throw Self.fail("--interval must be a positive number of seconds") }
        if trace || off || core != nil || follow || process != nil || status {
            guard ["file", "vfs", "process"].contains(labels) else { throw Self.fail("--labels must be file, vfs or process") }
            do {
                try SyscallTraceCommand(runSpec: runSpec, buildDir: buildDir, process: process, follow: follow,
                                        core: core, off: off, status: status, json: json, interval: interval,
                                        labels: labels).run()
            } catch let e as ArgumentParser.ExitCode {
                throw e
            } catch {
                throw Self.fail("\(error)")
            }
            return
        }
        let reader: TrackerReader
        let first: TrackerSnapshot
        do {
            let r = try VMRun.resolve(runSpec, buildDirectory: buildDir.map { URL(fileURLWithPath: $0) })
            reader = try TrackerReader(run: r)
            first = try reader.read()
        } catch {
            throw Self.fail("\(error)")
        }
        let runID = reader.run.manifest.id ?? reader.run.url.lastPathComponent
        if !watch {
            emit(json ? first.json(run: runID).serialized() + "\n" : first.format())
            return
        }
        let tty = isatty(STDOUT_FILENO) != 0
        let signalFD = SignalPipe.install()
        defer { SignalPipe.uninstall(readEnd: signalFD) }
        var previous = first
        var previousTime = FD.now()
        func show(_ s: TrackerSnapshot, _ prev: TrackerSnapshot?, _ seconds: Double?) {
            if json {
                emit(s.json(run: runID, previous: prev, seconds: seconds).serialized() + "\n")
            } else {
                let header = "run \(runID), every \(interval) s (Ctrl-C stops)\n\n"
                emit((tty ? "\u{1b}[H\u{1b}[2J" : "") + header + s.format(previous: prev, seconds: seconds) + (tty ? "" : "\n"))
            }
        }
        show(first, nil, nil)
        while true {
            var pfd = pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32((interval * 1000).rounded()))
            if ready > 0 { return }  // Ctrl-C (or TERM/HUP): a normal end of watching
            let now: Double
            let snapshot: TrackerSnapshot
            do {
                snapshot = try reader.read()
                now = FD.now()
            } catch SyscallsError.vmGone {
                FD.writeAll(STDERR_FILENO, "osh: the VM of run \(runID) went away; stopped watching\n")
                return
            } catch {
                if !reader.run.qemuAlive {
                    FD.writeAll(STDERR_FILENO, "osh: the VM of run \(runID) went away; stopped watching\n")
                    return
                }
                throw Self.fail("\(error)")
            }
            show(snapshot, previous, now - previousTime)
            previous = snapshot
            previousTime = now
        }
    }
}
