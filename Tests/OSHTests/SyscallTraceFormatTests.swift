import ABI
import Foundation
import Testing
@testable import OSH

/// `osh syscalls --trace`: decoding the kernel's trace records and process table (layouts in
/// Sources/ABI/SyscallTraceLayout.swift) into strace-like lines.
@Suite("osh syscalls --trace: records, process table, decoding")
struct SyscallTraceFormatTests {
    typealias L = SyscallTraceLayout

    static func bytes(_ words: [UInt64]) -> [UInt8] {
        words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    }

    /// A record as the kernel writes it.
    static func record(seq: UInt64, process: UInt64, thread: UInt64, call: Syscall, args: [UInt64], finished: Bool = true,
                       error: UInt64 = 0, value: UInt64 = 0, tag: UInt64 = 0, start: UInt64 = 1000, end: UInt64 = 3000,
                       handles: [UInt16] = [0, 0, 0, 0, 0, 0]) -> [UInt64] {
        var w = [seq, process | thread << 32, call.rawValue | (finished ? L.RecordFlags.finished << 32 : 0)]
        w += args + [UInt64](repeating: 0, count: 6 - args.count)
        w += [error, value, tag, start, end]
        w.append((0..<4).reduce(UInt64(0)) { $0 | UInt64(handles[$1]) << (16 * UInt64($1)) })
        w.append(UInt64(handles[4]) | UInt64(handles[5]) << 16)
        return w
    }

    static func buffer(_ records: [[UInt64]], written: UInt64, names: [String] = []) -> [UInt8] {
        var header = [UInt64](repeating: 0, count: L.headerWords)
        header[0] = L.magic; header[1] = L.version; header[2] = UInt64(L.records); header[3] = UInt64(L.recordWords)
        header[L.recordsWrittenWord] = written
        header[L.tscHzWord] = 1_000_000_000
        header[L.controlWord] = L.ControlBits.selected
        var out = bytes(header)
        for (i, n) in names.enumerated() {
            let off = L.namesWord * 8 + i * L.nameBytes
            for (k, b) in n.utf8.enumerated() { out[off + k] = b }
        }
        var ring = [UInt64](repeating: 0, count: L.records * L.recordWords)
        for r in records {
            let slot = Int((r[0] - 1) % UInt64(L.records))
            for (k, w) in r.enumerated() { ring[slot * L.recordWords + k] = w }
        }
        return out + bytes(ring)
    }

    @Test func recordsComeBackInSequenceOrderAcrossTheRingsWrap() throws {
        let n = UInt64(L.records)
        let a = Self.record(seq: n + 1, process: 3, thread: 4, call: .clockGet, args: [])
        let b = Self.record(seq: n, process: 3, thread: 4, call: .threadYield, args: [])
        let snapshot = try TraceSnapshot.parse(Self.buffer([a, b], written: n + 1, names: ["tracecat"]))
        #expect(snapshot.records.map(\.sequence) == [n, n + 1])
        #expect(snapshot.names == ["tracecat"])
        #expect(snapshot.written == n + 1)
        #expect(snapshot.tscHz == 1_000_000_000)
    }

    @Test func wrongMagicOrShortBufferIsAnError() {
        var bad = Self.buffer([], written: 0)
        bad[0] ^= 0xff
        #expect(throws: SyscallTraceError.self) { try TraceSnapshot.parse(bad) }
        #expect(throws: SyscallTraceError.self) { try TraceSnapshot.parse([1, 2, 3]) }
    }

    @Test func handlesShowTheirTypeAndRightsAndErrorsTheirName() throws {
        let sender = L.HandleInfo.encode(type: ObjectType.sender.rawValue, rights: Rights([.signal, .duplicate]).rawValue)
        let open = IPCTag(words: 2, bytes: 22, handles: 0, label: FileLabel.open.rawValue).raw
        let reply = IPCTag(words: 3).raw
        let call = TraceRecord(words: Self.record(seq: 1, process: 7, thread: 9, call: .senderCall,
                                                  args: [0x10002, open, 1, 0, 0, 0], value: 5, tag: reply,
                                                  start: 2_000_000_000, end: 2_000_004_000, handles: [sender, 0, 0, 0, 0, 0]))
        let process = TracedProcess(id: 7, name: "tracecat", buildID: [0xab], traced: true, ended: false,
                                    pageTableRoot: 0x1000, tracedWordAddress: 0)
        let f = TraceFormatter(processes: [process], tscHz: 1_000_000_000)
        let line = f.line(call)
        #expect(line.contains("tracecat[7:9] sender_call(handle=0x10002 sender[duplicate|signal], tag={file.open 2w 22b}, w0=0x1"), "\(line)")
        #expect(line.contains("= {0 3w} w0=0x5"), "\(line)")
        #expect(line.contains("<4.0 us, 4000 ticks>"), "\(line)")
        #expect(line.hasPrefix("    2.000000 "), "\(line)")

        let closed = TraceRecord(words: Self.record(seq: 2, process: 7, thread: 9, call: .handleClose, args: [0x30001],
                                                    error: SysError.invalidHandle.rawValue))
        #expect(f.line(closed).contains("handle_close(handle=0x30001 (no handle)) = -1 invalidHandle (invalid handle)"), "\(f.line(closed))")

        let exit = TraceRecord(words: Self.record(seq: 3, process: 8, thread: 1, call: .processExit, args: [0], finished: false))
        #expect(f.line(exit).contains("process 8[8:1] process_exit(code=0) = ? (unfinished)"), "\(f.line(exit))")

        let json = f.json(call)
        #expect(json["syscall"]?.string == "sender_call")
        #expect(json["process_name"]?.string == "tracecat")
        #expect(json["ticks"]?.int == 4000)
        #expect(f.json(closed)["error"]?.string == "invalidHandle")
    }

    @Test func everySyscallHasASignatureOfKnownKindsMatchingItsRegisters() {
        let kinds: Set<String> = ["h", "p", "n", "x", "tag", "w", "ns", "info", "limit", "map", "prot", "res", "irqn", "-"]
        for call in Syscall.allCases {
            let s = TraceFormatter.signature(call)
            #expect(s.arguments.count <= 6, "\(call)")
            #expect(s.arguments.allSatisfy { kinds.contains($0.kind) && !$0.name.isEmpty }, "\(call): \(s)")
            #expect(kinds.contains(s.result), "\(call): \(s.result)")
        }
        #expect(TraceFormatter.signature(.vmemMap).arguments.map(\.name) == ["vmem", "frame", "address", "offset", "length", "flags"])
    }

    @Test func processTableEntriesDecode() {
        typealias P = ProcessTableLayout
        var words = [UInt64](repeating: 0, count: P.totalWords)
        let e = 3 * P.entryWords
        words[e] = 42 + 1
        words[e + P.nameLengthWord] = 8
        words[e + P.buildIDLengthWord] = 2
        words[e + P.tracedWord] = 1
        words[e + P.endedWord] = 2
        words[e + P.pageTableRootWord] = 0x7000
        var raw = Self.bytes(words)
        for (k, b) in "tracecat".utf8.enumerated() { raw[(e + P.nameWord) * 8 + k] = b }
        raw[(e + P.buildIDWord) * 8] = 0xde
        raw[(e + P.buildIDWord) * 8 + 1] = 0xad
        let table = parseProcessTable(raw, base: 0x1000)
        #expect(table == [TracedProcess(id: 42, name: "tracecat", buildID: [0xde, 0xad], traced: true, ended: true,
                                        pageTableRoot: 0x7000, tracedWordAddress: 0x1000 + UInt64((e + P.tracedWord) * 8))])
    }
}
