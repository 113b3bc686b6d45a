// The kernel's use of the ACPI parser (Core/ACPI.swift) at boot: it reads the tables through the direct
// map, keeps the result in `Kernel.acpi` for the interrupt and timer code, logs one line per problem and
// a one-line summary, and with `acpi=dump` every table (its header, its bytes in hex, and the parsed
// MADT, HPET, MCFG and FADT contents).
//
// The `acpi-hex` lines of a dump are what scripts/acpi-testdata.sh turns into the host
// tests' data (Tests/KernelCoreTests/Resources/ACPI).

#if !KERNEL
import ABI
#endif

extension LogMessage {
    /// Adds another message's text (up to the capacity).
    mutating func append(_ other: LogMessage) {
        var sink = Sink(self)
        other.withBytes { for b in $0 { sink.write(b) } }
        if other.truncated { sink.message.truncated = true }
        self = sink.message
    }
}

extension Kernel {
    /// What the firmware's ACPI tables say about this machine; written once at boot, before any other
    /// CPU runs, and only read afterwards.
    static var acpi = ACPIInfo()
}

/// Physical memory the ACPI parser may read: the direct-mapped first 4 GiB, limited to the legacy BIOS
/// area (below 1 MiB) and to ranges the boot memory map lists (of any kind), so that a bad table
/// pointer never reaches a device's registers.
struct DirectMapACPIMemory: ACPIMemory {
    /// The boot memory map.
    let regions: [MemoryRegion]

    /// A copy of the bytes, when `ACPI.mayRead` allows them (below 4 GiB, in the BIOS area or the map).
    func read(_ address: UInt64, count: Int) -> [UInt8]? {
        guard ACPI.mayRead(address, count, limit: KernelMemory.directMapSize, regions: regions) else { return nil }
        let start = UnsafeRawPointer(KernelMemory.virtual(physical: address))
        return Array(UnsafeRawBufferPointer(start: start, count: count))
    }
}

enum ACPIBoot {
    /// Finds and parses the tables (the multiboot2 tag's RSDP, else the BIOS area scan), logs what was
    /// found, and keeps it in `Kernel.acpi`.
    static func initialize() {
        let memory = DirectMapACPIMemory(regions: Kernel.boot.memoryMap)
        let start = read_tsc()
        let info = ACPI.parse(rsdpCopy: Kernel.boot.acpiRSDP, memory: memory)
        Log.debug("acpi: found and parsed in \(read_tsc() &- start) TSC cycles")
        let dump = Kernel.commandLine.value(of: "acpi", is: "dump")
        for p in info.problems { logProblem(p) }
        if dump { ACPIDump.print(info, memory) }
        Kernel.acpi = info
        logSummary(info)
    }

    /// `acpi: rev 2 (multiboot2 tag 15), XSDT 6 tables, 4 CPUs, 1 IOAPIC @ 0xfec00000 gsi 0, 5 overrides,
    /// HPET @ 0xfed00000, MCFG 0xb0000000 bus 0-255`
    static func logSummary(_ info: ACPIInfo) {
        guard let rsdp = info.rsdp else { return Log.warn("acpi: no usable RSDP; no ACPI tables") }
        let tag = Kernel.boot.acpiTagType
        let cpus = info.madt?.enabledProcessorCount ?? 0, ioapics = info.madt?.ioAPICs ?? []
        var m: LogMessage = "acpi: rev \(rsdp.revision) (\(tag == 0 ? "BIOS scan" : tag == 14 ? "multiboot2 tag 14" : "multiboot2 tag 15")), \(info.usedXSDT ? "XSDT" : "RSDT") \(info.tables.count) tables, \(cpus) CPUs, \(ioapics.count) IOAPIC"
        if let first = ioapics.first { m.append(" @ \(hex: first.address) gsi \(first.gsiBase)") }
        m.append(", \(info.madt?.overrides.count ?? 0) overrides")
        if let h = info.hpet { m.append(", HPET @ \(hex: h.address.address)") } else { m.append(", no HPET") }
        if let e = info.mcfg.first { m.append(", MCFG \(hex: e.base) bus \(e.startBus)-\(e.endBus)") } else { m.append(", no MCFG") }
        Log.write(.info, m)
    }

    /// One warning line per skipped structure.
    static func logProblem(_ p: ACPIProblem) {
        switch p {
        case .noRSDP: Log.warn("acpi: no RSDP in the multiboot tags or the BIOS areas")
        case .rsdpChecksum(let a): Log.warn("acpi: skipped RSDP at \(hex: a): bad checksum or signature")
        case .rsdpExtended(let a): Log.warn("acpi: RSDP at \(hex: a): bad extended checksum or length; using the RSDT")
        case .unreadable(let a): Log.warn("acpi: skipped table at \(hex: a): outside readable memory")
        case .badLength(let s, let a, let l): Log.warn("acpi: skipped \(text: s.bytes) at \(hex: a): bad length \(l)")
        case .badChecksum(let s, let a): Log.warn("acpi: skipped \(text: s.bytes) at \(hex: a): bad checksum")
        case .wrongSignature(let e, let f, let a): Log.warn("acpi: skipped \(text: e.bytes) at \(hex: a): signature is \(text: f.bytes)")
        case .duplicate(let s, let a): Log.warn("acpi: skipped \(text: s.bytes) at \(hex: a): a second one")
        case .tooManyTables(let n): Log.warn("acpi: root table lists \(n) tables; only \(ACPI.maxTables) read")
        case .badEntry(let t, let o, let l): Log.warn("acpi: MADT entry type \(t) at offset \(o): bad length \(l); rest skipped")
        case .unknownEntry(let t, let o): Log.warn("acpi: MADT entry type \(t) at offset \(o): unknown type, skipped")
        }
    }
}

/// `acpi=dump`: everything found, table by table.
enum ACPIDump {
    /// The RSDP, each table's header and bytes, then the parsed MADT, HPET, MCFG and FADT.
    static func print(_ info: ACPIInfo, _ memory: DirectMapACPIMemory) {
        if let r = info.rsdp {
            Log.info("acpi: RSDP at \(hex: r.address) rev \(r.revision) OEM \"\(text: r.oemID)\" RSDT \(hex: r.rsdtAddress) XSDT \(hex: r.xsdtAddress)")
            let bytes = Kernel.boot.acpiRSDP ?? memory.read(r.address, count: r.revision >= 2 ? 36 : 20) ?? []
            hex("rsdp ", address: r.address, bytes)
            if r.address != 0 { hex("mem ", address: r.address, bytes) }
        }
        if let ebda = memory.read(0x40E, count: 2) { hex("mem ", address: 0x40E, ebda) }
        // The RSDT too when the XSDT was used, so that the tests can try the fallback on real tables.
        if let r = info.rsdp, info.usedXSDT, let h = memory.read(UInt64(r.rsdtAddress), count: ACPI.headerLength),
           let rsdt = memory.read(UInt64(r.rsdtAddress), count: Int(UInt32(h[4]) | UInt32(h[5]) << 8)) {
            hex("mem ", address: UInt64(r.rsdtAddress), rsdt)
        }
        for t in info.tables {
            Log.info("acpi: table \(text: t.signature.bytes) at \(hex: t.address) length \(t.length) rev \(t.revision) OEM \"\(text: t.oemID)\" \"\(text: t.oemTableID)\" \(hex: t.oemRevision)")
            hex("mem ", address: t.address, memory.read(t.address, count: Int(t.length)) ?? [])
        }
        if let m = info.madt { madt(m) }
        if let h = info.hpet {
            Log.info("acpi: HPET at \(hex: h.address.address) (space \(h.address.addressSpace)) number \(h.number) vendor \(hex: h.vendorID) \(h.comparatorCount) comparators, \(h.counterIs64Bit ? "64" : "32")-bit, min tick \(h.minimumTick)")
        }
        for e in info.mcfg {
            Log.info("acpi: MCFG segment \(e.segment) buses \(e.startBus)-\(e.endBus) at \(hex: e.base)")
        }
        if let f = info.fadt { fadt(f) }
    }

    /// One line per MADT entry taken.
    static func madt(_ m: MADT) {
        Log.info("acpi: MADT local APIC at \(hex: m.localAPICAddress), flags \(hex: m.flags)\(m.hasLegacyPICs ? " (8259 PICs present)" : "")")
        for p in m.processors {
            Log.info("acpi: MADT \(p.isX2APIC ? "x2APIC" : "local APIC") id \(p.apicID) processor \(p.processorUID) \(p.enabled ? "enabled" : p.onlineCapable ? "online-capable" : "disabled")")
        }
        for io in m.ioAPICs { Log.info("acpi: MADT IOAPIC id \(io.id) at \(hex: io.address) gsi base \(io.gsiBase)") }
        for o in m.overrides {
            Log.info("acpi: MADT override bus \(o.bus) irq \(o.source) -> gsi \(o.gsi) flags \(hex: o.flags) (\(o.activeLow ? "low" : "high"), \(o.levelTriggered ? "level" : "edge"))")
        }
        for n in m.nmiSources { Log.info("acpi: MADT NMI source gsi \(n.gsi) flags \(hex: n.flags)") }
        for n in m.localNMIs where n.allProcessors {
            Log.info("acpi: MADT local APIC NMI on every processor: LINT\(n.lint) flags \(hex: n.flags)")
        }
        for n in m.localNMIs where !n.allProcessors {
            Log.info("acpi: MADT local APIC NMI on processor \(n.processorUID): LINT\(n.lint) flags \(hex: n.flags)")
        }
    }

    /// The FADT fields the kernel keeps.
    static func fadt(_ f: FADT) {
        let timer = f.pmTimer
        Log.info("acpi: FADT rev \(f.revision) SCI \(f.sciInterrupt) SMI \(hex: f.smiCommand) DSDT \(hex: f.dsdt) century \(f.century) flags \(hex: f.flags)")
        Log.info("acpi: FADT PM timer \(timer == nil ? "none" : timer!.addressSpace == GenericAddress.systemIO ? "port" : "memory") \(hex: timer?.address ?? 0) \(f.pmTimerIs32Bit ? 32 : 24)-bit")
        Log.info("acpi: FADT boot flags \(hex: f.bootFlags ?? 0)\(f.bootFlags == nil ? " (none in ACPI 1.0)" : ""): legacy devices \(f.hasLegacyDevices ? "yes" : "no"), 8042 \(f.has8042 ? "yes" : "no"), CMOS RTC \(f.cmosRTCAbsent ? "absent" : "present")")
        if let r = f.resetRegister {
            Log.info("acpi: FADT reset register space \(r.addressSpace) at \(hex: r.address) value \(hex: f.resetValue)")
        } else {
            Log.info("acpi: FADT reset register: none")
        }
    }

    /// `acpi-hex mem ADDRESS BYTES` (memory as read) or `acpi-hex rsdp ADDRESS BYTES` (the RSDP the
    /// parse started from; address 0 for a multiboot2 tag's copy): one line each, for scripts/acpi-testdata.sh.
    static func hex(_ kind: StaticString, address: UInt64, _ bytes: [UInt8]) {
        Console.write("acpi-hex ")
        Console.write(kind)
        Console.writeHex(address, digits: 8)
        Console.write(" ")
        var sink = ConsoleSink()
        sink.writeHexBytes(bytes)
        Console.write(10)
    }
}

/// In-kernel test: the tables were found without problems, and the MADT agrees with the CPU the kernel
/// runs on (its initial APIC ID is an enabled processor; the local APIC base MSR holds the MADT's address).
func acpiMatchesThisCPU() -> Bool {
    let acpi = Kernel.acpi
    guard check(acpi.rsdp != nil, "no RSDP"), check(acpi.problems.isEmpty, "problems while parsing"),
          let madt = acpi.madt, check(madt.enabledProcessorCount >= 1, "no enabled processor in the MADT"),
          check(!madt.ioAPICs.isEmpty, "no IOAPIC in the MADT") else { return false }
    let apicID = cpuid_register(1, 0, 1) >> 24
    let base = read_msr(0x1B) & 0xF_FFFF_F000
    return check(madt.processors.contains { $0.enabled && $0.apicID == apicID }, "this CPU's APIC ID is not in the MADT")
        && check(base == madt.localAPICAddress, "IA32_APIC_BASE differs from the MADT's local APIC address")
}
