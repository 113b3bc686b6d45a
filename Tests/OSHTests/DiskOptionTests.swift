import Testing
@testable import OSH

@Suite("osh boot --disk: virtio-blk devices")
struct DiskOptionTests {
    func values(_ args: [String], _ flag: String) -> [String] {
        args.indices.filter { args[$0] == flag && $0 + 1 < args.count }.map { args[$0 + 1] }
    }

    @Test func noDiskNoDrive() {
        let plan = QEMULaunchPlan(qemu: "q", mode: .direct, kernel: "k", qmpSocket: "/r/q", gdbSocket: "/r/g")
        let args = BootPlanning.qemuArguments(plan)
        #expect(values(args, "-drive").isEmpty)
        #expect(!values(args, "-device").contains { $0.hasPrefix("virtio-blk-pci") })
    }

    @Test func eachDiskIsAModernVirtioBlkDeviceInOrder() {
        var plan = QEMULaunchPlan(qemu: "q", mode: .direct, kernel: "k", qmpSocket: "/r/q", gdbSocket: "/r/g")
        plan.disks = ["/img/a.img", "/img/b,c.img"]
        let args = BootPlanning.qemuArguments(plan)
        #expect(values(args, "-drive") == ["file=/img/a.img,format=raw,if=none,id=disk0",
                                           "file=/img/b,,c.img,format=raw,if=none,id=disk1"])
        #expect(values(args, "-device").filter { $0.hasPrefix("virtio-blk-pci") }
                == ["virtio-blk-pci,drive=disk0,disable-legacy=on", "virtio-blk-pci,drive=disk1,disable-legacy=on"])
    }
}
