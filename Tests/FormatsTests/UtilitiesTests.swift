import Foundation
import Testing
import ABI
@testable import Formats

/// The core utilities' logic (Sources/Formats/Utilities*.swift): argument parsing, paths, formatting, and
/// hexdump/wc/grep/head/tail checked against the host's util-linux hexdump and GNU wc and grep.
@Suite struct UtilitiesTests {
    /// Runs a host tool with `input` on stdin; its stdout.
    static func host(_ tool: String, _ arguments: [String], input: [UInt8]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        try p.run()
        stdin.fileHandleForWriting.write(Data(input))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self)
    }

    static let samples: [[UInt8]] = [
        [], Array("Hello, world\n".utf8), Array("abc".utf8), [UInt8](repeating: 0, count: 64),
        Array(0...255).map(UInt8.init), [UInt8](repeating: 0x41, count: 16) + [UInt8](repeating: 0x41, count: 33) + [1, 2, 3],
        Array("line one\n  two words\n\n\tthree\tfour five\nno newline".utf8),
    ]

    @Test func parsesCombinedFlagsValuesAndOperands() throws {
        let a = try UtilityArguments.parse(["-la", "fs:///x", "-n", "5", "-c", "--", "-v"], flags: "lac", valued: "n")
        #expect(a.has("l") && a.has("a") && a.has("c") && !a.has("v"))
        #expect(a.value("n") == "5")
        #expect(a.operands == ["fs:///x", "-v"])
        #expect(try UtilityArguments.parse(["-n12", "-"], flags: "", valued: "n").value("n") == "12")
        #expect(try UtilityArguments.parse(["-5", "f"], flags: "", valued: "n", digitOption: "n").value("n") == "5")
        #expect(throws: UtilityUsageError.unknownOption("x")) { try UtilityArguments.parse(["-lx"], flags: "l") }
        #expect(throws: UtilityUsageError.missingValue("n")) { try UtilityArguments.parse(["-n"], flags: "", valued: "n") }
        #expect(UtilityUsageError.unknownOption("x").message == "invalid option -- 'x'")
    }

    @Test func pathsAndURIs() {
        #expect(UtilityPath.scheme("initfs:///etc/motd") == "initfs://")
        #expect(UtilityPath.scheme("/tmp/a") == "")
        #expect(UtilityPath.scheme("a:b/c") == "")
        #expect(UtilityPath.local("fs:///a/b") == "/a/b")
        #expect(UtilityPath.basename("fs:///a/b/") == "b")
        #expect(UtilityPath.basename("fs:///") == "/")
        #expect(UtilityPath.dirname("fs:///a/b") == "fs:///a")
        #expect(UtilityPath.dirname("fs:///a") == "fs:///")
        #expect(UtilityPath.join("fs:///", "x") == "fs:///x")
        #expect(UtilityPath.join("fs:///d", "x") == "fs:///d/x")
        #expect(UtilityPath.resolve("b/../c/./d", cwd: "fs:///a") == "fs:///a/c/d")
        #expect(UtilityPath.resolve("initfs:///etc/../bin", cwd: "fs:///a") == "initfs:///bin")
        #expect(UtilityPath.resolve("../../..", cwd: "/a") == "/")
        #expect(UtilityPath.parents("fs:///a/b/c") == ["fs:///a", "fs:///a/b", "fs:///a/b/c"])
        #expect(UtilityPath.parents("/x//y/") == ["/x", "/x/y"])
        #expect(UtilityPath.target(source: "fs:///a/f", destination: "fs:///d", destinationIsDirectory: true) == "fs:///d/f")
        #expect(UtilityPath.target(source: "fs:///a/f", destination: "fs:///g", destinationIsDirectory: false) == "fs:///g")
    }

    @Test func numbersAndDurations() {
        #expect(UtilityFormat.hex(0xd, digits: 8) == "0000000d")
        #expect(UtilityFormat.hex(0x1234abcd, digits: 2) == "1234abcd")
        #expect(UtilityFormat.right("7", 3) == "  7" && UtilityFormat.left("ab", 4) == "ab  ")
        #expect(UtilityFormat.human(512) == "512")
        #expect(UtilityFormat.human(1536) == "1.5K")
        #expect(UtilityFormat.human(12 << 20) == "12M")
        #expect(UtilityFormat.human(3 << 30) == "3.0G")
        #expect(UtilityFormat.count("10") == 10)
        #expect(UtilityFormat.count("1x") == nil && UtilityFormat.count("") == nil && UtilityFormat.count("-1") == nil)
        #expect(UtilityFormat.duration("1") == 1_000_000_000)
        #expect(UtilityFormat.duration("0.25") == 250_000_000)
        #expect(UtilityFormat.duration("2m") == 120_000_000_000)
        #expect(UtilityFormat.duration("1.5h") == 5_400_000_000_000)
        #expect(UtilityFormat.duration("x") == nil && UtilityFormat.duration("1.2.3") == nil && UtilityFormat.duration("") == nil)
        #expect(UtilityFormat.duration("400d") == nil)
    }

    @Test(arguments: [true, false]) func hexdumpMatchesUtilLinux(canonical: Bool) throws {
        for sample in Self.samples {
            var dump = HexDump(canonical: canonical)
            var out = ""
            // Fed in uneven pieces, as a file read in chunks would be.
            var at = 0, step = 1
            while at < sample.count {
                let end = min(sample.count, at + step)
                out += dump.feed(Array(sample[at..<end]))
                at = end
                step = step * 3 % 37 + 1
            }
            out += dump.finish()
            let expected = try Self.host("/usr/bin/hexdump", canonical ? ["-C"] : [], input: sample)
            #expect(out == expected, "\(sample.count) bytes")
        }
    }

    @Test func wordCountMatchesGNUWc() throws {
        for sample in Self.samples {
            var count = WordCount()
            for piece in stride(from: 0, to: sample.count, by: 5) { count.feed(Array(sample[piece..<min(sample.count, piece + 5)])) }
            let fields = try Self.host("/usr/bin/wc", [], input: sample).split(separator: " ", omittingEmptySubsequences: true)
                .map { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
            #expect([count.lines, count.words, count.bytes] == fields)
            #expect(count.line(lines: true, words: false, bytes: false, name: nil, width: 7) == "\(count.lines)")
        }
        var c = WordCount()
        c.feed(Array("a b\nc\n".utf8))
        #expect(c.line(lines: false, words: false, bytes: false, name: "f", width: WordCount.width(c)) == "2 3 6 f")
        #expect((c + c).bytes == 12)
    }

    @Test func grepFixedStringsMatchGNUGrep() throws {
        let text = Array("alpha\nBeta\ngamma beta\n\nALPHABET\nnone\n".utf8)
        for (pattern, flags) in [("beta", ""), ("beta", "i"), ("alpha", "v"), ("ALPHA", "iv"), ("", ""), ("a", "")] {
            let matcher = FixedMatcher(pattern, ignoreCase: flags.contains("i"), invert: flags.contains("v"))
            var splitter = LineSplitter()
            var ours = ""
            for (n, line) in splitter.feed(text).enumerated() where matcher.selects(line) {
                ours += "\(n + 1):" + String(decoding: line, as: UTF8.self) + "\n"
            }
            let expected = try Self.host("/usr/bin/grep", ["-F", "-n"] + (flags.isEmpty ? [] : ["-" + flags]) + ["--", pattern], input: text)
            #expect(ours == expected, "\(pattern) -\(flags)")
        }
    }

    @Test func linesHeadAndTail() {
        var s = LineSplitter()
        #expect(s.feed(Array("a\nb".utf8)) == [[97]])
        #expect(s.feed(Array("c\nd".utf8)) == [[98, 99]])
        #expect(s.finish() == [100])
        #expect(s.finish() == nil)
        var ring = TailRing(limit: 3)
        for i in 0..<10 { ring.add([UInt8(i)]) }
        #expect(ring.contents == [[7], [8], [9]])
        var short = TailRing(limit: 5)
        short.add([1]); short.add([2])
        #expect(short.contents == [[1], [2]])
        var none = TailRing(limit: 0)
        none.add([1])
        #expect(none.contents.isEmpty)
    }

    @Test func longListingLines() {
        #expect(LongListing.modeString(directory: true, mode: 0o755) == "drwxr-xr-x")
        #expect(LongListing.modeString(directory: false, mode: 0o640) == "-rw-r-----")
        #expect(LongListing.time(1_795_773_955) == "2026-11-27 10:05")
        #expect(LongListing.line(directory: false, mode: 0o444, size: 42, modified: 0, name: "motd", sizeWidth: 5)
                == "-r--r--r--    42                  motd")
    }

    @Test func systemFormats() {
        let r = ProcessRecord(id: 7, parent: 1, state: .running, threads: 2, pages: 30, status: 0, name: Array("vfs".utf8))
        #expect(SystemFormat.psLine(r) == "    7     1 R   2   120K vfs")
        #expect(SystemFormat.psHeader.hasPrefix("  PID"))
        #expect(SystemFormat.uptime(nanoseconds: 3_723_000_000_000) == "up 1:02:03")
        #expect(SystemFormat.uptime(nanoseconds: 90_061_000_000_000) == "up 1 day, 1:01:01")
        #expect(SystemFormat.date(unixSeconds: 1_795_773_955) == "Fri Nov 27 10:05:55 UTC 2026")
        #expect(SystemFormat.date(unixSeconds: 0) == "Thu Jan  1 00:00:00 UTC 1970")
        #expect(SystemFormat.isoDate(unixSeconds: 1_795_773_955) == "2026-11-27T10:05:55Z")
        #expect(SystemFormat.dfHeader(human: false) == "Filesystem      1K-blocks       Used  Available Use% Mounted on")
        #expect(SystemFormat.dfLine(source: "none", size: 1 << 20, free: 1 << 19, point: "/tmp", human: false)
                == "none                 1024        512        512  50% /tmp")
        #expect(SystemFormat.dfLine(source: "LABEL=OSDISK", size: 3 << 20, free: 1 << 20, point: "/", human: true)
                == "LABEL=OSDISK    3.0M  2.0M  1.0M  67% /")
        #expect(SystemFormat.dfLine(source: "a-source-longer-than-14", size: 0, free: 0, point: "initfs:///", human: false)
                == "a-source-longer-than-14          0          0          0    - initfs:///")
        #expect(SystemFormat.free(freeFrames: 256, heapPages: 8, human: false)[1] == "Mem:        1024              32")
        #expect(SystemFormat.lspciLine(bus: 0, device: 0x1f, function: 2, cls: 1, sub: 6, vendor: 0x8086, deviceID: 0x2922, revision: 2)
                == "00:1f.2 SATA controller [0106]: 8086:2922 (rev 02)")
        #expect(SystemFormat.pciClassName(0x0b, 0x40) == "Class 0b40")
    }

    @Test func trackerTableLines() {
        var table = [UInt64](repeating: 0, count: TrackerLayout.totalWords)
        #expect(SystemFormat.trackerLines(table) == nil)
        table[0] = TrackerLayout.magic
        table[1] = TrackerLayout.version
        table[TrackerLayout.headerWords + Int(Syscall.debugLog.rawValue)] = 3
        table[TrackerLayout.headerWords + Int(Syscall.senderCall.rawValue)] = 9
        table[TrackerLayout.headerWords + TrackerLayout.syscallSlots + Int(ObjectType.sender.rawValue)] = 9
        let lines = SystemFormat.trackerLines(table)!
        #expect(lines == ["sender_call          9", "debug_log            3", "methods of sender 9"])
    }
}
