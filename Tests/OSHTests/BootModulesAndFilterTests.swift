import Foundation
import Testing
@testable import OSH

@Suite("osh boot: modules and inline symbolization")
struct BootModulesAndFilterTests {
    @Test func moduleSpecParsing() {
        #expect(ModuleSpec.parse("build/servers/root.elf") == ModuleSpec(path: "build/servers/root.elf", name: "root"))
        #expect(ModuleSpec.parse("/x/init.elf:root") == ModuleSpec(path: "/x/init.elf", name: "root"))
        #expect(ModuleSpec.parse("/a:b/c.elf") == ModuleSpec(path: "/a:b/c.elf", name: "c"), "a colon in a directory")
        #expect(ModuleSpec.parse("x.elf:") == nil)
        #expect(ModuleSpec.parse("x.elf:two words") == nil)
        #expect(ModuleSpec.parse("kernel.elf") == nil, "kernel.elf is the kernel's own copy")
        #expect(ModuleSpec.parse(":root") == nil)
    }

    @Test func directBootPassesModulesWithInitrd() {
        var plan = QEMULaunchPlan(qemu: "q", mode: .direct, kernel: "/r/kernel.elf", qmpSocket: "/r/q", gdbSocket: "/r/g")
        #expect(!BootPlanning.qemuArguments(plan).contains("-initrd"))
        plan.modules = [ModuleSpec(path: "/r/root.elf", name: "root"), ModuleSpec(path: "/r,x/fs.elf", name: "fs")]
        let args = BootPlanning.qemuArguments(plan)
        let i = args.firstIndex(of: "-initrd")
        #expect(i.map { args[$0 + 1] } == "/r/root.elf root,/r,,x/fs.elf fs")
        plan.mode = .iso
        #expect(!BootPlanning.qemuArguments(plan).contains("-initrd"), "ISO boots have them in grub.cfg")
    }

    @Test func perRunISOCarriesModules() {
        #expect(BootPlanning.needsPerRunISO(mode: .iso, cmdline: "", explicitModules: true))
        #expect(!BootPlanning.needsPerRunISO(mode: .iso, cmdline: "", explicitModules: false))
        #expect(!BootPlanning.needsPerRunISO(mode: .direct, cmdline: "x", explicitModules: true))
        let cfg = BootPlanning.grubConfig(cmdline: "log=debug", modules: [ModuleSpec(path: "/r/root.elf", name: "root")])
        #expect(cfg.contains("    multiboot2 /boot/kernel.elf log=debug\n    module2 /boot/root.elf root\n    boot\n"))
    }

    @Test func moduleOptionIsRepeatable() throws {
        let boot = try Boot.parse(["--module", "a.elf", "--module", "b.elf:root", "--raw"])
        #expect(boot.modules == ["a.elf", "b.elf:root"])
        #expect(boot.raw)
    }

    func filter() -> SymbolizingSerialFilter {
        SymbolizingSerialFilter(rewriteLine: { "<" + $0 + ">" + ($0.hasPrefix("{{{bt") ? "\nsecond" : "") })
    }

    @Test func markupLinesAreRewrittenOthersPassAtOnce() {
        var f = filter()
        #expect(f.process(Array("hello\r\nosh> ".utf8)) == Array("hello\r\nosh> ".utf8), "a prompt is not held back")
        #expect(f.process(Array("x\r\n{{".utf8)) == Array("x\r\n".utf8), "a possible opener waits")
        #expect(f.process(Array("{bt:0:0x1:ra}}}".utf8)) == [], "a markup line waits for its end")
        #expect(f.process(Array("\r\n{a}\r\n".utf8)) == Array("<{{{bt:0:0x1:ra}}}>\r\nsecond\r\n{a}\r\n".utf8))
        #expect(f.process(Array("{{{reset}}}\n".utf8)) == Array("<{{{reset}}}>\n".utf8))
        #expect(f.process(Array(" {{{reset}}}\n".utf8)) == Array(" {{{reset}}}\n".utf8), "only lines starting with {{{")
        #expect(f.process(Array("{{{reset}}}".utf8)) == [])
        #expect(f.finish() == Array("<{{{reset}}}>".utf8))
    }

    @Test func heldPrefixIsFlushedAtTheEnd() {
        var f = filter()
        #expect(f.process(Array("{{".utf8)) == [])
        #expect(f.finish() == Array("{{".utf8))
        var g = filter()
        let long = Array("{{{".utf8) + [UInt8](repeating: 0x61, count: SymbolizingSerialFilter.maxLine)
        #expect(g.process(long) == long, "an endless line is let through")
    }

    @Test func rawChoosesPassthrough() {
        let dir = RunDirectory(id: "x", url: URL(fileURLWithPath: "/nonexistent"))
        #expect(BootRunner.makeConsoleFilter(runDir: dir, files: [], raw: true) is PassthroughSerialFilter)
        #expect(BootRunner.makeConsoleFilter(runDir: dir, files: [], raw: false) is SymbolizingSerialFilter)
    }
}
