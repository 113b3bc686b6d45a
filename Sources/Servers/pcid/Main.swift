// pcid: the PCI bus driver, a boot server (initfs:///sbin/pcid, exports `pci`). It finds every PCI
// function (ECAM from ACPI's MCFG when the kernel reports one, else ports 0xCF8/0xCFC: Config.swift),
// sizes their BARs, reads their interrupt pins and capabilities, routes INTx (Enumerate.swift), logs the
// list, and serves the PCI protocol (Sources/ABI/PCIProtocol.swift) on its Receiver: the list for
// everyone (lspci), and to a driver that claims a function exactly that function's BARs, interrupt and
// DMA memory (Server.swift).
//
// Startup: `export:pci`, and the narrowed Resources devices.conf lists for it (Resources.swift).

let programName: StaticString = "pcid"

func programMain(_ startup: Startup) -> Int32 {
    let resources = Resources(startup)
    guard !resources.handles.isEmpty else {
        print("pcid: no Resources (devices.conf grants); exiting")
        return 1
    }
    let config: ConfigSpace
    do throws(SysError) { config = try ConfigSpace(resources: resources) } catch {
        print("pcid: no configuration space access: \(error.name); exiting")
        return 1
    }
    guard let receiver = startup.exported("pci") else {
        print("pcid: no Receiver (export:pci); exiting")
        return 1
    }
    var enumerator = Enumerator(config: config)
    enumerator.scan()
    let how = config.access == .ecam ? "ECAM at 0x\(hex(config.ecamBase)), buses \(config.firstBus)-\(config.lastBus)" : "ports 0xcf8/0xcfc"
    print("pcid: \(enumerator.functions.count) functions through \(how)")
    for f in enumerator.functions { print("pcid: " + describe(f)) }
    let server = Server(config: config, functions: enumerator.functions, resources: resources, receiver: receiver)
    return server.run()
}

/// One line per function: location, IDs, class, BARs, interrupt, capabilities.
func describe(_ f: PCIFunction) -> String {
    let w0 = f.word0, w1 = f.word1
    func four(_ v: UInt16) -> String { String(repeating: "0", count: 4 - hex(UInt64(v)).count) + hex(UInt64(v)) }
    var s = location(f) + " " + four(w0.vendor) + ":" + four(w0.deviceID)
    s += " class \(hex(UInt64(w1.classCode))).\(hex(UInt64(w1.subclass))).\(hex(UInt64(w1.progIF))) ("
    s += staticText(PCIProtocol.className(w1.classCode, w1.subclass)) + ")"
    for (n, b) in f.bars.enumerated() where b.flags.contains(.present) {
        s += " bar\(n)=" + (b.flags.contains(.io) ? "io:" : "mem:") + "0x" + hex(b.base) + "+0x" + hex(b.size)
        if b.flags.contains(.wide) { s += ",64" }
        if b.flags.contains(.prefetchable) { s += ",pf" }
    }
    if w1.interruptPin != 0 {
        s += " INT" + String(UnicodeScalar(UInt8(64 + w1.interruptPin)))
        if let irq = f.irq { s += irq.numbering == .gsi ? " gsi \(irq.number)" : " isa-irq \(irq.number)" }
    }
    var caps: [String] = []
    if f.capabilities & 1 << UInt64(PCIProtocol.capabilityMSI) != 0 { caps.append("msi") }
    if f.capabilities & 1 << UInt64(PCIProtocol.capabilityMSIX) != 0 { caps.append("msi-x") }
    if f.capabilities & 1 << UInt64(PCIProtocol.capabilityPCIExpress) != 0 { caps.append("pcie") }
    if f.capabilities & 1 << UInt64(PCIProtocol.capabilityVendor) != 0 { caps.append("vendor") }
    if f.capabilities & 1 << UInt64(PCIProtocol.capabilityPowerManagement) != 0 { caps.append("pm") }
    if !caps.isEmpty { s += " caps " + caps.joined(separator: ",") }
    return s
}
