import Testing
@testable import OSH

@Suite("osh boot: options to QEMU argv")
struct BootPlanTests {
    func plan(_ mode: BootMode = .direct) -> QEMULaunchPlan {
        QEMULaunchPlan(qemu: "/usr/bin/qemu-system-x86_64", mode: mode, kernel: "/r/kernel.elf", iso: "/b/os.iso",
                       ovmf: "/fw/OVMF_CODE.fd", cmdline: "log=debug test", cpus: 2, memoryMB: 1024,
                       qmpSocket: "/r/qmp.sock", gdbSocket: "/r/gdb.sock")
    }

    /// The value after `flag`, for each occurrence.
    func values(_ args: [String], _ flag: String) -> [String] {
        args.indices.filter { args[$0] == flag && $0 + 1 < args.count }.map { args[$0 + 1] }
    }

    @Test func directBootUsesKernelAndAppend() {
        let args = BootPlanning.qemuArguments(plan())
        #expect(args.first == "/usr/bin/qemu-system-x86_64")
        #expect(values(args, "-kernel") == ["/r/kernel.elf"])
        #expect(values(args, "-append") == ["log=debug test"])
        #expect(values(args, "-cdrom").isEmpty)
    }

    @Test func everyRunHasDebugExitNoRebootMonitorNoneSerialAndSockets() {
        for mode in BootMode.allCases {
            let args = BootPlanning.qemuArguments(plan(mode))
            #expect(values(args, "-device").contains("isa-debug-exit,iobase=0xf4,iosize=0x04"))
            #expect(args.contains("-no-reboot"))
            #expect(values(args, "-monitor") == ["none"])
            #expect(values(args, "-serial") == ["stdio"])
            #expect(values(args, "-qmp") == ["unix:/r/qmp.sock,server=on,wait=off"])
            #expect(values(args, "-chardev") == ["socket,id=gdb0,path=/r/gdb.sock,server=on,wait=off"])
            #expect(values(args, "-gdb") == ["chardev:gdb0"])
            #expect(!args.contains("-S"))
        }
    }

    @Test func cpusMemoryAccelDisplay() {
        var p = plan()
        var args = BootPlanning.qemuArguments(p)
        #expect(values(args, "-smp") == ["2"])
        #expect(values(args, "-m") == ["1024M"])
        #expect(values(args, "-accel") == ["tcg,thread=multi"], "two CPUs under TCG: one host thread each")
        p.cpus = 1
        #expect(values(BootPlanning.qemuArguments(p), "-accel") == ["tcg"])
        p.cpus = 2
        p.multiThreadedTCG = false
        #expect(values(BootPlanning.qemuArguments(p), "-accel") == ["tcg"], "a recording stays single-threaded")
        #expect(values(BootPlanning.qemuArguments(p), "-cpu") == ["max"])
        p.x2APIC = false
        #expect(values(BootPlanning.qemuArguments(p), "-cpu") == ["max,-x2apic"], "a recording's CPU has no x2APIC")
        #expect(values(args, "-display") == ["none"])
        p.accel = .kvm
        p.display = .vnc
        args = BootPlanning.qemuArguments(p)
        #expect(values(args, "-accel") == ["kvm"])
        #expect(values(args, "-cpu") == ["host"])
        #expect(values(args, "-display") == ["vnc=127.0.0.1:0,to=99"])
        p.display = .gtk
        #expect(values(BootPlanning.qemuArguments(p), "-display") == ["gtk"])
    }

    @Test func machineTypeOnlyWhenAsked() throws {
        var p = plan()
        #expect(values(BootPlanning.qemuArguments(p), "-machine").isEmpty, "QEMU's default machine stays the default")
        p.machine = .q35
        #expect(values(BootPlanning.qemuArguments(p), "-machine") == ["q35"])
        p.machine = .pc
        #expect(values(BootPlanning.qemuArguments(p), "-machine") == ["pc"])
        #expect(try Boot.parse(["--machine", "q35", "--cpus", "4"]).machine == .q35)
        #expect(try Boot.parse([]).machine == nil)
        #expect(throws: (any Error).self) { try Boot.parse(["--machine", "virt"]) }
        #expect(BootPlanning.validCPUs.contains(1) && BootPlanning.validCPUs.contains(255))
        #expect(!BootPlanning.validCPUs.contains(0) && !BootPlanning.validCPUs.contains(256))
    }

    @Test func gdbWaitStartsPaused() {
        var p = plan()
        p.gdbWait = true
        #expect(BootPlanning.qemuArguments(p).contains("-S"))
    }

    @Test func isoBootUsesCdromWithoutKernel() {
        let args = BootPlanning.qemuArguments(plan(.iso))
        #expect(values(args, "-cdrom") == ["/b/os.iso"])
        #expect(values(args, "-kernel").isEmpty)
        #expect(values(args, "-append").isEmpty)
        #expect(values(args, "-drive").isEmpty)
    }

    @Test func uefiAddsOVMFPflash() {
        var p = plan(.iso)
        p.uefi = true
        let args = BootPlanning.qemuArguments(p)
        #expect(values(args, "-drive") == ["if=pflash,format=raw,readonly=on,file=/fw/OVMF_CODE.fd"])
        #expect(values(args, "-cdrom") == ["/b/os.iso"])
    }

    @Test func testModeAppendsTestOnce() {
        #expect(BootPlanning.kernelCommandLine(user: nil, test: false) == "")
        #expect(BootPlanning.kernelCommandLine(user: nil, test: true) == "test")
        #expect(BootPlanning.kernelCommandLine(user: "log=debug  panic=halt", test: true) == "log=debug panic=halt test")
        #expect(BootPlanning.kernelCommandLine(user: "test log=warn", test: true) == "test log=warn")
    }

    @Test func memoryAcceptsMegabytesAndSuffixes() {
        #expect(BootPlanning.parseMemory("512") == 512)
        #expect(BootPlanning.parseMemory("512M") == 512)
        #expect(BootPlanning.parseMemory("256mb") == 256)
        #expect(BootPlanning.parseMemory("1G") == 1024)
        #expect(BootPlanning.parseMemory("2GiB") == 2048)
        #expect(BootPlanning.parseMemory("0") == nil)
        #expect(BootPlanning.parseMemory("-5") == nil)
        #expect(BootPlanning.parseMemory("1X") == nil)
        #expect(BootPlanning.parseMemory("M") == nil)
    }

    @Test func isoIsRebuiltOnlyForACommandLine() {
        #expect(!BootPlanning.needsPerRunISO(mode: .iso, cmdline: ""))
        #expect(BootPlanning.needsPerRunISO(mode: .iso, cmdline: "test"))
        #expect(!BootPlanning.needsPerRunISO(mode: .direct, cmdline: "test"))
    }

    @Test func grubConfigBootsKernelWithQuotedCommandLine() {
        let cfg = BootPlanning.grubConfig(cmdline: "log=debug test it's")
        #expect(cfg.contains("multiboot2 /boot/kernel.elf log=debug test 'it'\\''s'\n"))
        #expect(cfg.contains("set timeout=0"))
        #expect(cfg.contains("boot\n"))
    }

    @Test func commandLineParsing() throws {
        let boot = try Boot.parse(["--uefi", "--test", "--cpus", "4", "--cmdline", "log=trace"])
        #expect(boot.mode == .iso)
        #expect(boot.resolvedTimeout == 300)
        #expect(boot.cpus == 4)
        #expect(try Boot.parse([]).resolvedTimeout == nil)
        #expect(try Boot.parse(["--timeout", "7"]).resolvedTimeout == 7)
        #expect(try Boot.parse(["--test", "--timeout", "0"]).resolvedTimeout == nil)
        #expect(try Boot.parse([]).mode == .direct)
        #expect(try Boot.parse(["--boot", "iso"]).mode == .iso)
        #expect(throws: (any Error).self) { try Boot.parse(["--accel", "hvf"]) }
    }

    @Test func bootIsASubcommandOfOSH() throws {
        let command = try OSH.parseAsRoot(["boot", "--accel", "tcg"])
        #expect(command is Boot)
    }
}
