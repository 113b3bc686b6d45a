import Foundation
import Testing
@testable import KernelCore

/// Collects written bytes for inspection.
struct ArraySink: ByteSink {
    var bytes: [UInt8] = []
    mutating func write(_ byte: UInt8) { bytes.append(byte) }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// A fixed-capacity sink, as the kernel's panic path would use (no allocation while writing).
struct FixedSink: ByteSink {
    var buffer: UnsafeMutableBufferPointer<UInt8>
    var count = 0
    mutating func write(_ byte: UInt8) {
        if count < buffer.count { buffer[count] = byte; count += 1 }
    }
}

func written(_ body: (inout ArraySink) -> Void) -> String {
    var sink = ArraySink()
    body(&sink)
    return sink.text
}

@Suite struct MarkupTests {
    @Test func numbers() {
        #expect(written { $0.writeHex(0) } == "0x0")
        #expect(written { $0.writeHex(0xabc) } == "0xabc")
        #expect(written { $0.writeHex(0x1000_0000_0000_0001) } == "0x1000000000000001")
        #expect(written { $0.writeHex(UInt64.max) } == "0xffffffffffffffff")
        #expect(written { $0.writeDecimal(UInt64(0)) } == "0")
        #expect(written { $0.writeDecimal(UInt64(10)) } == "10")
        #expect(written { $0.writeDecimal(UInt64(1_234_509)) } == "1234509")
        #expect(written { $0.writeDecimal(UInt64.max) } == "18446744073709551615")
        #expect(written { $0.writeDecimal(-42) } == "-42")
        #expect(written { $0.writeDecimal(Int.min) } == "-9223372036854775808")
        #expect(written { $0.writeHexBytes([0x00, 0x0f, 0xa0, 0xff]) } == "000fa0ff")
        #expect(written { $0.write("text"); $0.write(bytes: [0x21]) } == "text!")
    }

    @Test func elements() {
        #expect(written { Markup.reset(&$0) } == "{{{reset}}}\n")
        #expect(written { Markup.module(&$0, id: 0, name: "kernel", buildID: [0x01, 0x23, 0xab]) }
            == "{{{module:0:kernel:elf:0123ab}}}\n")
        #expect(written { Markup.module(&$0, id: 12, name: Array("init".utf8), buildID: [UInt8]()) }
            == "{{{module:12:init:elf:}}}\n")
        #expect(written { Markup.mmap(&$0, start: 0xffff_ffff_8000_0000, size: 0x2000, module: 0, flags: 5, relativeAddress: 0x20_0000) }
            == "{{{mmap:0xffffffff80000000:0x2000:load:0:rx:0x200000}}}\n")
        #expect(written { Markup.mmap(&$0, start: 0x1000, size: 1, module: 3, flags: 6, relativeAddress: 0) }
            == "{{{mmap:0x1000:0x1:load:3:rw:0x0}}}\n")
        #expect(written { Markup.mmap(&$0, start: 0, size: 0x10, module: 0, flags: 7, relativeAddress: 0) }
            == "{{{mmap:0x0:0x10:load:0:rwx:0x0}}}\n")
        #expect(written { Markup.backtrace(&$0, frame: 0, address: 0xffff_ffff_8010_2030, kind: .preciseCode) }
            == "{{{bt:0:0xffffffff80102030:pc}}}\n")
        #expect(written { Markup.backtrace(&$0, frame: 7, address: 0x1234, kind: .returnAddress) } == "{{{bt:7:0x1234:ra}}}\n")
        #expect(written { Markup.backtrace(&$0, frame: 1, address: 0x1234, kind: .unspecified) } == "{{{bt:1:0x1234}}}\n")
        #expect(written { Markup.pc(&$0, address: 0x42) } == "{{{pc:0x42:pc}}}\n")
        #expect(written { Markup.pc(&$0, address: 0x42, kind: .returnAddress) } == "{{{pc:0x42:ra}}}\n")
    }

    @Test func wholeBacktraceIntoFixedBuffer() {
        let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 256)
        defer { storage.deallocate() }
        var sink = FixedSink(buffer: storage)
        let addresses: [UInt64] = [0x2000, 0x3000]
        addresses.withUnsafeBufferPointer { Markup.backtrace(&sink, pc: 0x1000, returnAddresses: $0) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: storage[0..<sink.count]), as: UTF8.self)
        #expect(text == "{{{bt:0:0x1000:pc}}}\n{{{bt:1:0x2000:ra}}}\n{{{bt:2:0x3000:ra}}}\n")
        #expect(written { s in addresses.withUnsafeBufferPointer { Markup.backtrace(&s, pc: nil, returnAddresses: $0) } }
            == "{{{bt:0:0x2000:ra}}}\n{{{bt:1:0x3000:ra}}}\n")
    }

    /// Walks a chain in a simulated stack: address -> 8-byte value.
    func walk(_ memory: [UInt64: UInt64], rbp: UInt64, maxFrames: Int = 16, capacity: Int = 16) -> [UInt64] {
        let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        let n = walkFramePointers(rbp: rbp, maxFrames: maxFrames, read: { memory[$0] }, into: buffer)
        return Array(buffer[0..<n])
    }

    @Test func framePointerWalk() {
        // Three frames, the outermost with a zero saved rbp.
        let chain: [UInt64: UInt64] = [
            0x1000: 0x1100, 0x1008: 0xa1,
            0x1100: 0x1200, 0x1108: 0xa2,
            0x1200: 0, 0x1208: 0xa3,
        ]
        #expect(walk(chain, rbp: 0x1000) == [0xa1, 0xa2, 0xa3])
        #expect(walk(chain, rbp: 0x1000, maxFrames: 2) == [0xa1, 0xa2])
        #expect(walk(chain, rbp: 0x1000, capacity: 1) == [0xa1])
        #expect(walk(chain, rbp: 0x1000, maxFrames: 0) == [])
        #expect(walk(chain, rbp: 0) == [])
        #expect(walk(chain, rbp: 0x1004) == [])  // misaligned
        #expect(walk(chain, rbp: 0x5000) == [])  // unreadable
        // A loop, a chain going down, a misaligned link, an unreadable link, a zero return address.
        #expect(walk([0x1000: 0x1000, 0x1008: 0xa1], rbp: 0x1000) == [0xa1])
        #expect(walk([0x1000: 0x1100, 0x1008: 0xa1, 0x1100: 0x0f00, 0x1108: 0xa2, 0xf00: 0, 0xf08: 0xa3], rbp: 0x1000)
            == [0xa1, 0xa2])
        #expect(walk([0x1000: 0x1103, 0x1008: 0xa1, 0x1103: 0, 0x110b: 0xa2], rbp: 0x1000) == [0xa1])
        #expect(walk([0x1000: 0x1100, 0x1008: 0xa1, 0x1108: 0xa2], rbp: 0x1000) == [0xa1, 0xa2])
        #expect(walk([0x1000: 0x1100, 0x1008: 0xa1, 0x1100: 0x1200, 0x1108: 0], rbp: 0x1000) == [0xa1])
        // At the very top of the address space the return address slot would overflow.
        #expect(walk([:], rbp: UInt64.max - 7) == [])
    }

    /// Markup for a real ELF with DWARF, fed to llvm-symbolizer: it names the function and its line.
    @Test func symbolizerResolvesMarkup() throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("markuptest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        let source = dir.appendingPathComponent("probe.c")
        try """
        volatile int sink;

        __attribute__((noinline)) int markup_probe_target(int x) {
            sink = x;
            return x * 3 + 1;
        }

        int _start(void) {
            return markup_probe_target(4);
        }

        """.write(to: source, atomically: true, encoding: .utf8)
        let object = dir.appendingPathComponent("probe.o"), elfPath = dir.appendingPathComponent("probe.elf")
        _ = try Self.run(["clang", "-g", "-O0", "-target", "x86_64-unknown-none-elf", "-c", "-o", object.path, source.path])
        _ = try Self.run(["ld.lld", "--build-id=sha1", "-o", elfPath.path, object.path])

        let image = Array(try Data(contentsOf: elfPath))
        let (buildID, loads) = try image.withUnsafeBytes { raw in
            let elf = try ELFFile(raw)
            return (try #require(try elf.buildID()), try elf.programHeaders().filter { $0.type == ELFProgramHeader.load })
        }
        let symbols = try Self.run(["llvm-nm", elfPath.path])
        let target = try #require(symbols.split(separator: "\n").first { $0.hasSuffix(" markup_probe_target") })
        let start = try #require(UInt64(target.split(separator: " ")[0], radix: 16))
        let caller = try #require(symbols.split(separator: "\n").first { $0.hasSuffix(" _start") })
        let callerAddress = try #require(UInt64(caller.split(separator: " ")[0], radix: 16))

        // The debug file where --debug-file-directory looks: .build-id/xx/rest.debug.
        let hex = hexString(buildID)
        let debugDir = dir.appendingPathComponent("debug")
        let idDir = debugDir.appendingPathComponent(".build-id").appendingPathComponent(String(hex.prefix(2)))
        try fm.createDirectory(at: idDir, withIntermediateDirectories: true)
        try fm.copyItem(at: elfPath, to: idDir.appendingPathComponent(String(hex.dropFirst(2)) + ".debug"))

        var sink = ArraySink()
        Markup.reset(&sink)
        Markup.module(&sink, id: 0, name: "kernel", buildID: buildID)
        // As if loaded 1 GiB higher than linked, so the mmap's relative address matters.
        let slide: UInt64 = 0x4000_0000
        for load in loads {
            Markup.mmap(&sink, start: load.vaddr + slide, size: load.memorySize, module: 0, flags: load.flags,
                        relativeAddress: load.vaddr)
        }
        Markup.backtrace(&sink, frame: 0, address: start + slide, kind: .preciseCode)
        // A return address one past _start's first instruction byte: the symbolizer looks one byte back.
        Markup.backtrace(&sink, frame: 1, address: callerAddress + slide + 1, kind: .returnAddress)
        let markupFile = dir.appendingPathComponent("markup.txt")
        try Data(sink.bytes).write(to: markupFile)

        let output = try Self.run(["llvm-symbolizer", "--filter-markup", "--debug-file-directory", debugDir.path],
                                  stdin: markupFile)
        let lines = output.split(separator: "\n").map(String.init)
        let frame0 = try #require(lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("#0 ") })
        let frame1 = try #require(lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("#1 ") })
        #expect(frame0.contains("markup_probe_target"), "\(output)")
        #expect(frame0.contains("probe.c:3"), "\(output)")
        #expect(frame1.contains("_start"), "\(output)")
        #expect(frame1.contains("probe.c:8"), "\(output)")
    }

    /// Runs a tool found on PATH and returns its standard output; a non-zero exit fails the test.
    static func run(_ args: [String], stdin: URL? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        if let stdin { p.standardInput = try FileHandle(forReadingFrom: stdin) }
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(args.joined(separator: " ")) failed")
        return String(decoding: data, as: UTF8.self)
    }
}
