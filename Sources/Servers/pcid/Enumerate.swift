// Finding the machine's PCI functions: bus 0 and the buses behind PCI-to-PCI bridges (depth first),
// every device's function 0 and, for a multi-function device, functions 1-7. For each function: IDs,
// class, header type, BARs with their sizes (PCI Local Bus 3.0 §6.2.5.1: decoding off, all ones
// written, the size read back, the value restored), interrupt pin and line, and the capability list.
//
// INTx routing (the GSI a function's pin reaches at the IOAPIC). ACPI describes it in _PRT, which is
// AML, so pcid uses the fixed routing of the two QEMU machines instead, told apart by the host bridge:
//   - pc (i440FX host bridge 8086:1237, PIIX3): the PIIX's PIRQ links feed ISA IRQs, which the firmware
//     (SeaBIOS) chose and wrote into each function's interrupt line register; in APIC mode QEMU wires
//     ISA IRQ n to IOAPIC input n, and the MADT's overrides make 5, 9, 10 and 11 level-triggered. pcid
//     asks the kernel for the ISA IRQ of the interrupt line (irq_create with IRQNumbering.isa).
//   - q35 (MCH host bridge 8086:29c0, ICH9): the ICH9's PIRQ A-H reach IOAPIC inputs 16-23 directly;
//     QEMU routes a bus-0 slot S (below 24), pin P (INTA = 0) to PIRQ E + (S + P) mod 4, i.e.
//     GSI 20 + (S + P) mod 4 (QEMU's ich9 default routing, the same as its DSDT's _PRT for those slots).
// Other host bridges, other slots and functions behind bridges: the interrupt line register as an ISA
// IRQ (what the firmware set up), named as a guess in the log.

struct PCIBar {
    var base: UInt64 = 0
    var size: UInt64 = 0
    var flags: PCIBARFlags = []
}

struct PCIFunction {
    let address: PCIAddress
    var word0: PCIFunctionWord0
    var word1: PCIFunctionWord1
    var capabilities: UInt64 = 0
    var bars: [PCIBar] = [PCIBar](repeating: PCIBar(), count: 6)
    /// How pcid reaches its interrupt: a GSI, or an ISA IRQ the kernel translates (nil: no interrupt).
    var irq: (number: UInt64, numbering: IRQNumbering)? = nil
    var driver: PCIDriverState = .none
    /// What its driver took already (`take`): bit n for BAR n, bit 6 for the interrupt.
    var taken: UInt8 = 0
}

enum Chipset { case i440fx, q35, other }

struct Enumerator {
    let config: ConfigSpace
    var functions: [PCIFunction] = []
    var chipset: Chipset = .other
    var visitedBuses: [UInt8] = []

    init(config: ConfigSpace) { self.config = config }

    mutating func scan() {
        scanBus(config.firstBus)
        for i in functions.indices {
            functions[i].irq = route(functions[i])
            if let irq = functions[i].irq { functions[i].word1.gsi = UInt16(irq.number) }
        }
    }

    mutating func scanBus(_ bus: UInt8) {
        guard config.reaches(bus), !visitedBuses.contains(bus), visitedBuses.count < 64 else { return }
        visitedBuses.append(bus)
        for device in UInt8(0)..<32 {
            let first = PCIAddress(bus: bus, device: device, function: 0)
            guard config.read(first, 0, width: 2) != 0xffff else { continue }
            let multi = config.read(first, 0x0e, width: 1) & 0x80 != 0
            for function in UInt8(0)..<(multi ? 8 : 1) {
                let a = PCIAddress(bus: bus, device: device, function: function)
                guard config.read(a, 0, width: 2) != 0xffff else { continue }
                addFunction(a)
            }
        }
    }

    mutating func addFunction(_ a: PCIAddress) {
        let ids = config.read(a, 0)
        let classWord = config.read(a, 8)
        let headerType = UInt8(truncatingIfNeeded: config.read(a, 0x0e, width: 1))
        let interrupt = config.read(a, 0x3c, width: 2)
        var f = PCIFunction(
            address: a,
            word0: PCIFunctionWord0(bus: a.bus, device: a.device, function: a.function,
                                    vendor: UInt16(truncatingIfNeeded: ids), deviceID: UInt16(truncatingIfNeeded: ids >> 16),
                                    headerType: headerType & 0x7f),
            word1: PCIFunctionWord1(progIF: UInt8(truncatingIfNeeded: classWord >> 8), subclass: UInt8(truncatingIfNeeded: classWord >> 16),
                                    classCode: UInt8(truncatingIfNeeded: classWord >> 24), revision: UInt8(truncatingIfNeeded: classWord),
                                    interruptPin: UInt8(truncatingIfNeeded: interrupt >> 8), interruptLine: UInt8(truncatingIfNeeded: interrupt),
                                    gsi: PCIFunctionWord1.noGSI))
        if a.bus == 0 && a.device == 0 && a.function == 0 {
            chipset = ids == 0x1237_8086 ? .i440fx : ids == 0x29c0_8086 ? .q35 : .other
        }
        let type = headerType & 0x7f
        let barCount = type == 0 ? 6 : type == 1 ? 2 : 0
        var i = 0
        while i < barCount {
            let (bar, wide) = sizeBar(a, i)
            f.bars[i] = bar
            i += wide ? 2 : 1
        }
        f.capabilities = capabilityBits(a)
        functions.append(f)
        if type == 1 {      // a PCI-to-PCI bridge: its secondary bus
            let secondary = UInt8(truncatingIfNeeded: config.read(a, 0x19, width: 1))
            if secondary != 0 { scanBus(secondary) }
        }
    }

    /// BAR `i`: its base, size and kind; whether it is 64 bits wide (it takes BAR i + 1 too).
    func sizeBar(_ a: PCIAddress, _ i: Int) -> (PCIBar, Bool) {
        let offset = UInt16(0x10 + 4 * i)
        let command = config.read(a, 4, width: 2)
        config.write(a, 4, width: 2, command & ~3)          // decoding off while sizing
        defer { config.write(a, 4, width: 2, command) }
        let low = config.read(a, offset)
        config.write(a, offset, 0xffff_ffff)
        let lowMask = config.read(a, offset)
        config.write(a, offset, low)
        var bar = PCIBar()
        if low & 1 != 0 {
            let mask = lowMask & 0xffff_fffc
            guard mask != 0 else { return (bar, false) }
            bar.base = UInt64(low & 0xffff_fffc)
            bar.size = UInt64((~mask &+ 1) & 0xffff)
            bar.flags = [.present, .io]
            return (bar, false)
        }
        let wide = (low >> 1) & 3 == 2 && i < 5
        var mask = UInt64(lowMask & 0xffff_fff0)
        bar.base = UInt64(low & 0xffff_fff0)
        if wide {
            let high = config.read(a, offset + 4)
            config.write(a, offset + 4, 0xffff_ffff)
            let highMask = config.read(a, offset + 4)
            config.write(a, offset + 4, high)
            mask |= UInt64(highMask) << 32
            bar.base |= UInt64(high) << 32
        } else {
            mask |= 0xffff_ffff_0000_0000
        }
        guard mask & 0xffff_ffff_ffff_fff0 != 0, lowMask != 0 || wide else { return (bar, wide) }
        bar.size = ~mask &+ 1
        guard bar.size != 0 else { return (bar, wide) }
        bar.flags = [.present]
        if wide { bar.flags.insert(.wide) }
        if low & 8 != 0 { bar.flags.insert(.prefetchable) }
        return (bar, wide)
    }

    /// The capability IDs (below 64) on the function's list (status bit 4; at most 48 entries, so a
    /// looping list ends).
    func capabilityBits(_ a: PCIAddress) -> UInt64 {
        guard config.read(a, 6, width: 2) & 0x10 != 0 else { return 0 }
        var bits: UInt64 = 0
        var at = UInt16(config.read(a, 0x34, width: 1) & 0xfc)
        var steps = 0
        while at >= 0x40 && steps < 48 {
            let id = config.read(a, at, width: 1)
            if id < 64 { bits |= 1 << UInt64(id) }
            at = UInt16(config.read(a, at + 1, width: 1) & 0xfc)
            steps += 1
        }
        return bits
    }

    /// The interrupt of a function's INTx pin (see the file's header), or nil without a pin.
    func route(_ f: PCIFunction) -> (number: UInt64, numbering: IRQNumbering)? {
        let pin = f.word1.interruptPin
        guard pin >= 1 && pin <= 4 else { return nil }
        if chipset == .q35 && f.address.bus == 0 && f.address.device < 24 {
            return (20 + (UInt64(f.address.device) + UInt64(pin - 1)) % 4, .gsi)
        }
        let line = f.word1.interruptLine
        guard line > 0 && line < 16 else { return nil }
        return (UInt64(line), .isa)
    }
}
