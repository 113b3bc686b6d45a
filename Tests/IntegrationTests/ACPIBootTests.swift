import Foundation
import Testing

/// Boots on both QEMU machine types and CPU counts, checking the kernel's ACPI summary line against what
/// QEMU was asked for, and `acpi=dump`'s listing.
@Suite(.serialized) struct ACPIBootTests {
    @Test(arguments: [("q35", 1), ("q35", 4), ("pc", 1), ("pc", 4)])
    func summaryMatchesMachineAndCPUs(machine: String, cpus: Int) throws {
        let b = try BootTests.boot(["--machine", machine, "--cpus", String(cpus), "--test"])
        #expect(b.result.status == 0, "osh boot --machine \(machine) --cpus \(cpus) --test: \(b.result.stderr)")
        let line = try #require(b.serial.split(whereSeparator: \.isNewline).first { $0.contains("] acpi: rev ") }, "no summary line")
        // -kernel boots go through SeaBIOS, whose ACPI 1.0 RSDP the kernel finds by the BIOS area scan.
        #expect(line.contains("acpi: rev 0 (BIOS scan), RSDT "))
        #expect(line.contains(" \(cpus) CPUs, 1 IOAPIC @ 0xfec00000 gsi 0, 5 overrides, HPET @ 0xfed00000"))
        #expect(line.hasSuffix(machine == "q35" ? ", MCFG 0xb0000000 bus 0-255" : ", no MCFG"), "\(line)")
        #expect(b.serial.contains("ok   acpi.madt_matches_this_cpu"))
        #expect(!b.serial.contains("[warn] acpi:"))
        #expect(!b.serial.contains("acpi: table "), "tables are listed only with acpi=dump")
    }

    @Test func dumpListsTablesAndParsedContents() throws {
        let b = try BootTests.boot(["--machine", "q35", "--cpus", "2", "--test", "--cmdline", "acpi=dump"])
        #expect(b.result.status == 0, "\(b.result.stderr)")
        for expected in ["acpi: table APIC at 0x", "acpi: table FACP at 0x", "OEM \"BOCHS \" \"BXPC    \"",
                         "acpi: MADT local APIC id 1 processor 1 enabled", "acpi: MADT IOAPIC id 0 at 0xfec00000 gsi base 0",
                         "acpi: MADT override bus 0 irq 0 -> gsi 2", "acpi: HPET at 0xfed00000",
                         "acpi: MCFG segment 0 buses 0-255 at 0xb0000000", "acpi: FADT PM timer port 0x608",
                         "8042 yes", "acpi: FADT reset register space 1 at 0xcf9 value 0xf", "acpi-hex rsdp 0x000f"] {
            #expect(b.serial.contains(expected), "missing: \(expected)")
        }
    }
}
