// drivers.conf (Sources/Formats/DriverTable.swift): its rules, the lines it refuses, and which PCI
// functions get a driver instance under which name.

import Testing
@testable import Formats

@Suite("drivers.conf") struct DriverTableTests {
    func function(_ index: UInt64, _ vendor: UInt16, _ device: UInt16, class c: UInt8 = 1, sub: UInt8 = 0, progIF: UInt8 = 0,
                  claimed: Bool = false) -> DriverFunction {
        DriverFunction(index: index, vendor: vendor, device: device, classCode: c, subclass: sub, progIF: progIF, claimed: claimed)
    }

    @Test func parsesRulesAndRefusesBadLines() {
        let text = """
        # comment
        1af4:1042   block   initfs:///sbin/virtio-blk   queue=2   # trailing comment
        class=01.08.02\tnvme\tinitfs:///sbin/nvme

        1af4:1042 block
        xyz:1 block p
        1af4:10420 block p
        class=1 block p
        class=01.06.zz block p
        1af4:1001 Block p
        1af4:1001 block1 p
        1af4:1001 b/x p
        """
        let (rules, problems) = DriverTable.parse(Array(text.utf8))
        #expect(rules.count == 2)
        #expect(rules[0] == DriverRule(match: .ids(vendor: 0x1af4, device: 0x1042), service: "block",
                                       program: "initfs:///sbin/virtio-blk", arguments: ["queue=2"], line: 2))
        #expect(rules[1].match == .classCode(1, subclass: 8, progIF: 2))
        #expect(rules[1].service == "nvme" && rules[1].arguments.isEmpty && rules[1].line == 3)
        #expect(problems.map { $0.line } == [5, 6, 7, 8, 9, 10, 11, 12])
        #expect(problems[0].reason.contains("MATCH SERVICE PROGRAM"))
        #expect(problems[1].reason.contains("bad match"))
        #expect(problems[5].reason.contains("service name"))
        #expect(DriverTable.parse(Array("class=01.00 disk p".utf8)).rules[0].match == .classCode(1, subclass: 0, progIF: nil))
    }

    @Test func numbersInstancesPerServiceAndSkipsClaimedFunctions() {
        let rules = DriverTable.parse(Array("""
        1af4:1042 block initfs:///sbin/virtio-blk
        1af4:1001 block initfs:///sbin/virtio-blk legacy=1
        class=01.08 nvme initfs:///sbin/nvme
        """.utf8)).rules
        let functions = [
            function(0, 0x8086, 0x1237, class: 6),                       // host bridge: no rule
            function(1, 0x1af4, 0x1042, claimed: true),                  // the boot server's disk: block0, not started
            function(2, 0x1af4, 0x1000, class: 2),                       // virtio-net: no rule
            function(3, 0x1af4, 0x1042),                                 // block1
            function(4, 0x1b36, 0x0010, class: 1, sub: 8, progIF: 2),    // NVMe by class: nvme0
            function(5, 0x1af4, 0x1001),                                 // block2 (the second rule)
        ]
        let instances = DriverTable.instances(rules, functions)
        #expect(instances.map { $0.function } == [3, 4, 5])
        #expect(instances.map { $0.name } == ["block1", "nvme0", "block2"])
        #expect(instances.map { $0.number } == [1, 0, 2])
        #expect(instances[2].rule.arguments == ["legacy=1"])
        // The first matching rule counts; nothing matches, nothing starts.
        let both = DriverTable.parse(Array("class=01.00 disk p\n1af4:1042 block q".utf8)).rules
        #expect(DriverTable.instances(both, [function(7, 0x1af4, 0x1042)]).map { $0.name } == ["disk0"])
        #expect(DriverTable.instances(rules, [function(0, 0x8086, 0x1237, class: 6)]).isEmpty)
        #expect(DriverTable.instances([], functions).isEmpty)
    }
}
