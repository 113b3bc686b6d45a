import Foundation
import Testing
@testable import OSH

@Suite("osh profile: folded stacks, the top table, diffs, the flame graph")
struct ProfileTests {
    static let sample = FoldedProfile.parse("""
        kmain;Scheduler.run;FastPath.call 6
        kmain;Scheduler.run 2
        kmain;idle 2
        not a line
        """)

    @Test func foldsLeafFirstStacksRootFirst() {
        var p = FoldedProfile()
        p.add(leafFirst: ["c", "b", "a"])
        p.add(leafFirst: ["c", "b", "a"])
        p.add(leafFirst: ["x;y", "a"])
        p.add(leafFirst: [])
        #expect(p.stacks == ["a;b;c": 2, "a;x,y": 1])
        #expect(p.text == "a;b;c 2\na;x,y 1\n")
        #expect(FoldedProfile.parse(p.text) == p)
        #expect(p.total == 3)
    }

    @Test func functionsCountSelfAndTotalOncePerSample() {
        let f = Self.sample.functions()
        #expect(f.first == .init(name: "FastPath.call", selfSamples: 6, totalSamples: 6))
        #expect(f.contains(.init(name: "kmain", selfSamples: 0, totalSamples: 10)))
        var recursive = FoldedProfile()
        recursive.add(leafFirst: ["f", "f", "f"])
        #expect(recursive.functions() == [.init(name: "f", selfSamples: 1, totalSamples: 1)])
        let table = Self.sample.topTable(limit: 2)
        #expect(table.split(separator: "\n").count == 3)
        #expect(table.contains("60.0%   60.0%  FastPath.call"))
    }

    @Test func diffOrdersByLargestChangeOfShare() {
        let after = FoldedProfile.parse("kmain;Scheduler.run;FastPath.call 2\nkmain;idle 8\n")
        let changes = FoldedProfile.diff(Self.sample, after)
        #expect(changes.first?.name == "idle" || changes.first?.name == "Scheduler.run")
        #expect(changes.contains { $0.name == "idle" && $0.before == 20 && $0.after == 80 })
        #expect(!changes.contains { $0.name == "kmain" })     // 100% in both
        #expect(FoldedProfile.diffTable(changes).contains("+60.0%  idle"))
        #expect(FoldedProfile.diff(after, after).isEmpty)
    }

    @Test func flameGraphIsSelfContainedSVG() {
        let svg = FlameGraph.svg(Self.sample, title: "t <1>")
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("<title>FastPath.call (6 samples, 60.00%)</title>"))
        #expect(svg.contains("<title>all (10 samples, 100.00%)</title>"))
        #expect(svg.contains("t &lt;1&gt;"))
        #expect(svg.contains(">FastPath.call</text>"))           // labels without the script
        #expect(FlameGraph.label("Kernel.FastPath.call", width: 90) == "Kernel.Fas..")
        #expect(FlameGraph.label("x", width: 10) == "")
        #expect(svg.contains("<script><![CDATA[") && svg.contains("function zoom") && svg.contains("function search"))
        #expect(!svg.contains("href=\"http"))          // nothing outside the file
        #expect(svg.components(separatedBy: "<rect x=").count - 1 == 6)   // all, kmain, run, call, idle + background
        #expect(FlameGraph.svg(Self.sample, title: "t") == FlameGraph.svg(Self.sample, title: "t"))
    }

    @Test func hmpWordsAndShortNames() {
        #expect(GuestSampler.parseHMPWords("ffffffff80100000: 0x0000000000000001 0xffffffff80101234\n") == [1, 0xffffffff80101234])
        #expect(GuestSampler.parseHMPWords("Cannot access memory\n") == [])
        #expect(FrameNamer.short("static Kernel.FastPath.call(Swift.UnsafeMutablePointer<__C.trap_frame>) -> Swift.Bool") == "static Kernel.FastPath.call")
        #expect(FrameNamer.short("static Kernel.Scheduler.(handOff in _6F2A)(to: Kernel.Thread) -> ()") == "static Kernel.Scheduler.handOff")
        #expect(FrameNamer.short("swift_release") == "swift_release")
        #expect(FrameNamer.short("generic specialization <Kernel.ConsoleSink> of (extension in Kernel):Kernel.Sink.write(Swift.StaticString) -> ()")
                == "generic specialization <Kernel.ConsoleSink> of Kernel.Sink.write")
        let namer = FrameNamer(kernelELF: nil, userELF: nil)
        #expect(namer.name(0xffffffff80100000, isReturnAddress: false) == "[kernel]")
        #expect(namer.name(0x400001, isReturnAddress: true) == "[user]")
        #expect(namer.name(0x100000, isReturnAddress: false) == "[low memory]")
    }
}

@Suite("osh record/replay and dump: QEMU arguments")
struct RecordReplayTests {
    @Test func replayStoppedAtTheRecordedShutdownTakesTheRecordingsStatus() {
        let stopped = RunOutcome.vmStopped(cause: .guestPoweredOff, registers: nil)
        #expect(RecordReplay.replayOutcome(stopped, recordedGuestStatus: 2, serialMatches: true)
                == .qemuExited(status: 5, errorLine: nil))
        // Not when the serial output differs, the recording had no status, or the stop was another one.
        #expect(RecordReplay.replayOutcome(stopped, recordedGuestStatus: 2, serialMatches: false) == nil)
        #expect(RecordReplay.replayOutcome(stopped, recordedGuestStatus: nil, serialMatches: true) == nil)
        #expect(RecordReplay.replayOutcome(.vmStopped(cause: .guestReset, registers: nil), recordedGuestStatus: 2,
                                           serialMatches: true) == nil)
        #expect(RecordReplay.replayOutcome(.qemuExited(status: 5, errorLine: nil), recordedGuestStatus: 2,
                                           serialMatches: true) == nil)
    }

    @Test func recordAndReplayArguments() {
        let rec = RecordReplay.recordArguments(runDir: "/r/1")
        #expect(rec == ["-icount", "shift=auto,rr=record,rrfile=/r/1/replay.bin,rrsnapshot=init", "-drive", "file=/r/1/rr.qcow2,if=none,id=rr",
                        "-global", "apic-common.vapic=off"])
        #expect(RecordReplay.hasNoVAPIC(rec) && !RecordReplay.hasNoVAPIC(["-global", "apic-common.vapic=on"]))
        let argv = ["qemu", "-qmp", "unix:/r/1/qmp.sock,server=on,wait=off", "-kernel", "/r/1/kernel.elf"] + rec
        #expect(RecordReplay.isRecording(argv))
        let replay = RecordReplay.replayArguments(recorded: argv, sockets: ["/r/1/qmp.sock": "/r/2/qmp.sock"], gdbWait: true)
        #expect(replay.contains("unix:/r/2/qmp.sock,server=on,wait=off"))
        #expect(replay.contains("/r/1/kernel.elf"))                // the recording's own copies
        #expect(replay.contains("shift=auto,rr=replay,rrfile=/r/1/replay.bin,rrsnapshot=init"))
        #expect(replay.last == "-S")
        #expect(!RecordReplay.isRecording(replay))
    }

    @Test func dumpOnPanicBootsWithPanicHalt() {
        #expect(BootPlanning.kernelCommandLine(user: "panic_test", test: false, panicHalt: true) == "panic_test panic=halt")
        #expect(BootPlanning.kernelCommandLine(user: "panic=halt", test: false, panicHalt: true) == "panic=halt")
        let ok = BootStatusMapping.verdict(for: .panicDumped(core: "/r/core.elf", error: nil))
        #expect(ok.exitCode == 2 && ok.guestStatus == 2 && !ok.isError && ok.message.contains("/r/core.elf"))
        let failed = BootStatusMapping.verdict(for: .panicDumped(core: nil, error: "no space"))
        #expect(failed.exitCode == 2 && failed.isError && failed.message.contains("no space"))
    }
}
