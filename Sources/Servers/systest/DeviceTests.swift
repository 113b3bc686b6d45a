// Device capabilities (issue 10): the machine's Resource, narrowing, IOPort objects and the per-process
// I/O bitmap, IRQ objects on the RTC's periodic interrupt, physical Frames over device memory (the HPET,
// the VGA window, the ACPI root table) and over RAM (refused), and rights.

let deviceTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("devices.machine_resource", testMachineResource),
    ("devices.resource_narrowing", testResourceNarrowing),
    ("devices.rights", testDeviceRights),
    ("devices.ioport_rtc_then_fault", testIOPortRTCThenFault),
    ("devices.ioport_closed_takes_ports_back", testIOPortClosedTakesPortsBack),
    ("devices.irq_errors", testIRQErrors),
    ("devices.irq_rtc_periodic", testIRQRTCPeriodic),
    ("devices.irq_shared_line", testIRQSharedLine),
    ("devices.physical_frame_refused_over_ram", testPhysicalFrameRefusedOverRAM),
    ("devices.physical_frame_hpet_vga_acpi", testPhysicalFrameDevices),
]

/// The machine's Resource: root gives init a duplicate, init gives systest one (`grant:resource`; systest's
/// programMain sets this).
var machineResource = Handle.invalid

/// CMOS RTC ports (index, data) and registers.
enum CMOS {
    static let index: UInt64 = 0x70
    static let registerA: UInt8 = 0x0a, registerB: UInt8 = 0x0b, registerC: UInt8 = 0x0c, registerD: UInt8 = 0x0d
    /// Bit 7 of the index port keeps NMIs off while a register is selected.
    static let noNMI: UInt8 = 0x80

    static func read(_ register: UInt8) -> UInt8 {
        port_out8(0x70, noNMI | register)
        return port_in8(0x71)
    }

    static func write(_ register: UInt8, _ value: UInt8) {
        port_out8(0x70, noNMI | register)
        port_out8(0x71, value)
    }
}

func testMachineResource() throws(SysError) {
    let (type, rights) = try handleIdentify(machineResource)
    check(type == .resource, "the startup block's resource handle is a \(text(type.name))")
    check(rights.contains(.manage), "the machine's Resource lacks .manage")
    let narrowed = try resourceCreate(machineResource, kind: .ioPort, base: 0x70, size: 2)
    check(try handleIdentify(narrowed).type == .resource, "resource_create did not make a resource")
    try handleClose(narrowed)
    expectError(.outOfRange, "ioport_create past port 0xffff") { () throws(SysError) in
        try ioportCreate(machineResource, base: 0xffff, count: 2)
    }
    expectError(.outOfRange, "resource_create past the physical limit") { () throws(SysError) in
        try resourceCreate(machineResource, kind: .physical, base: 1 << 52, size: pageSize)
    }
}

func testResourceNarrowing() throws(SysError) {
    let ports = try resourceCreate(machineResource, kind: .ioPort, base: 0x70, size: 2)
    let line = try resourceCreate(machineResource, kind: .irq, base: 8, size: 1)
    let vga = try resourceCreate(machineResource, kind: .physical, base: 0xa_0000, size: 0x2_0000)
    defer { closeAll(ports, line, vga) }
    step("inside")
    let io = try ioportCreate(ports, base: 0x71, count: 1)
    let sub = try resourceCreate(ports, kind: .ioPort, base: 0x70, size: 1)
    closeAll(io, sub)
    step("outside")
    expectError(.outOfRange, "ioport_create over 0x70-0x72") { () throws(SysError) in try ioportCreate(ports, base: 0x70, count: 3) }
    expectError(.outOfRange, "ioport_create of 0x6f") { () throws(SysError) in try ioportCreate(ports, base: 0x6f, count: 1) }
    expectError(.outOfRange, "ioport_create of 0x64") { () throws(SysError) in try ioportCreate(ports, base: 0x64, count: 1) }
    expectError(.outOfRange, "a port Resource making an IRQ") { () throws(SysError) in try irqCreate(ports, 8, .isa) }
    expectError(.outOfRange, "a port Resource making a Frame") { () throws(SysError) in
        try frameCreatePhysical(ports, address: 0xa_0000, size: pageSize)
    }
    expectError(.outOfRange, "widening a narrowed Resource") { () throws(SysError) in
        try resourceCreate(ports, kind: .ioPort, base: 0x70, size: 3)
    }
    expectError(.outOfRange, "another kind from a narrowed Resource") { () throws(SysError) in
        try resourceCreate(ports, kind: .irq, base: 0, size: 1)
    }
    expectError(.outOfRange, "an IRQ Resource for line 8 making line 1") { () throws(SysError) in try irqCreate(line, 1, .isa) }
    expectError(.outOfRange, "a VGA Resource making the HPET's Frame") { () throws(SysError) in
        try frameCreatePhysical(vga, address: 0xfed0_0000, size: pageSize)
    }
    expectError(.outOfRange, "a VGA Resource making a Frame past its end") { () throws(SysError) in
        try frameCreatePhysical(vga, address: 0xb_f000, size: 2 * pageSize)
    }
    step("bad arguments")
    expectError(.invalidArgument, "resource_create of size 0") { () throws(SysError) in
        try resourceCreate(machineResource, kind: .ioPort, base: 0x70, size: 0)
    }
    expectError(.invalidArgument, "resource_create of kind 7") { () throws(SysError) in
        try syscall(.resourceCreate, machineResource.word, 7, 0x70, 1)
    }
    expectError(.invalidArgument, "ioport_create of 0 ports") { () throws(SysError) in try ioportCreate(ports, base: 0x70, count: 0) }
}

func testDeviceRights() throws(SysError) {
    let weak = try handleDuplicate(machineResource, rights: [.duplicate, .transfer])
    let notify = try notifyCreate()
    let waitOnly = try handleDuplicate(notify, rights: [.wait])
    defer { closeAll(weak, notify, waitOnly) }
    expectError(.accessDenied, "resource_create without .manage") { () throws(SysError) in
        try resourceCreate(weak, kind: .ioPort, base: 0x70, size: 2)
    }
    expectError(.accessDenied, "ioport_create without .manage") { () throws(SysError) in try ioportCreate(weak, base: 0x70, count: 2) }
    expectError(.accessDenied, "irq_create without .manage") { () throws(SysError) in try irqCreate(weak, 8, .isa) }
    expectError(.accessDenied, "frame_create_physical without .manage") { () throws(SysError) in
        try frameCreatePhysical(weak, address: 0xa_0000, size: pageSize)
    }
    expectError(.wrongType, "ioport_create on a Notify") { () throws(SysError) in try ioportCreate(notify, base: 0x70, count: 2) }
    let irq = try irqCreate(machineResource, 8, .isa)
    let readOnly = try handleDuplicate(irq, rights: [.read])
    defer { closeAll(irq, readOnly) }
    expectError(.accessDenied, "irq_bind without .write") { () throws(SysError) in try irqBind(readOnly, notify: notify, bits: 1) }
    expectError(.accessDenied, "irq_ack without .write") { () throws(SysError) in try irqAck(readOnly) }
    expectError(.accessDenied, "irq_bind to a Notify without .signal") { () throws(SysError) in
        try irqBind(irq, notify: waitOnly, bits: 1)
    }
    expectError(.wrongType, "irq_bind to a Resource") { () throws(SysError) in try irqBind(irq, notify: machineResource, bits: 1) }
}

/// A child process with the RTC's ports: reads register D (0x80: valid RAM and time), then `in` on port
/// 0x64 (the keyboard controller), which it does not hold: a #GP ends it, root goes on. A child without
/// the ports faults on the RTC's.
func testIOPortRTCThenFault() throws(SysError) {
    let readD: [UInt8] = [0xb0, 0x8d, 0xe6, 0x70, 0xe4, 0x71, 0x0f, 0xb6, 0xf8]   // out 0x70 ← 0x8d; in 0x71; movzx edi, al
    let ports = try ioportCreate(machineResource, base: CMOS.index, count: 2)
    defer { closeAll(ports) }
    step("reads the RTC")
    var reader = try Child.create(code: readD + Code.exitSyscall)
    defer { reader.close() }
    _ = try processGive(reader.process, try handleDuplicate(ports, rights: [.read, .write, .transfer]))
    try reader.spawn()
    let value = try processWait(reader.process)
    check(value == 0x80, "the child read RTC register D as \(hex(value)), expected 0x80")
    step("faults on port 0x64")
    var faulter = try Child.create(code: readD + [0xe4, 0x64] + Code.exitSyscall)    // in al, 0x64
    defer { faulter.close() }
    _ = try processGive(faulter.process, try handleDuplicate(ports, rights: [.read, .transfer]))
    try faulter.spawn()
    let code = try processWait(faulter.process)
    check(code == ExitCode.fault(vector: 13), "in on port 0x64 ended the child with \(hex(code)), expected a #GP")
    step("no IOPort, no ports")
    let bare = try Child.run(code: readD + Code.exitSyscall)
    check(bare == ExitCode.fault(vector: 13), "a child without the IOPort ended with \(hex(bare)), expected a #GP")
    check(try Child.run(code: Code.exit(5)) == 5, "the system did not go on after the faults")
}

/// A child reads the RTC through its IOPort, closes that handle (its value comes as the thread's
/// argument) and reads again: the second `in` is a #GP, and its registers show the first read's value and
/// the faulting instruction.
func testIOPortClosedTakesPortsBack() throws(SysError) {
    let code: [UInt8] = [0x48, 0x89, 0xfb,                       // mov rbx, rdi (the IOPort handle)
                         0xb0, 0x8d, 0xe6, 0x70, 0xe4, 0x71,     // out 0x70 ← 0x8d; in al, 0x71
                         0x44, 0x0f, 0xb6, 0xe0,                 // movzx r12d, al
                         0x48, 0x89, 0xdf, 0xb8, 0x03, 0, 0, 0, 0x0f, 0x05,   // handle_close(rbx)
                         0xe4, 0x71] + Code.exit(0)               // in al, 0x71: must fault
    let ports = try ioportCreate(machineResource, base: CMOS.index, count: 2)
    var child = try Child.create(code: code)
    defer { child.close(); closeAll(ports) }
    let given = try processGive(child.process, try handleDuplicate(ports, rights: [.read, .write, .transfer]))
    try child.spawn(argument: UInt64(given.raw))
    let exit = try processWait(child.process)
    check(exit == ExitCode.fault(vector: 13), "the child ended with \(hex(exit)), expected a #GP after closing its IOPort")
    let registers = try threadReadRegisters(child.thread)
    check(registers[RegisterIndex.r12.rawValue] == 0x80, "the read before the close gave \(hex(registers[RegisterIndex.r12.rawValue]))")
    check(registers[RegisterIndex.rip.rawValue] == Code.base + 23, "the fault was at \(hex(registers[RegisterIndex.rip.rawValue]))")
}

func testIRQErrors() throws(SysError) {
    let notify = try notifyCreate()
    defer { closeAll(notify) }
    // The kernel keeps the PIT's line (ISA IRQ 0); the MADT's override puts it on GSI 2, so asking by GSI
    // is refused too (the 8259 cascade no longer exists: the 8259s are masked for good).
    expectError(.inUse, "irq_create of ISA IRQ 0 (the PIT's line)") { () throws(SysError) in try irqCreate(machineResource, 0, .isa) }
    expectError(.inUse, "irq_create of GSI 2 (ISA IRQ 0 through the override)") { () throws(SysError) in try irqCreate(machineResource, 2) }
    expectError(.outOfRange, "irq_create of GSI 200") { () throws(SysError) in try irqCreate(machineResource, 200) }
    expectError(.outOfRange, "irq_create of ISA IRQ 16") { () throws(SysError) in try irqCreate(machineResource, 16, .isa) }
    expectError(.invalidArgument, "irq_create with numbering 2") { () throws(SysError) in
        try syscall(.irqCreate, machineResource.word, 8, 2)
    }
    let irq = try irqCreate(machineResource, 8, .isa)
    expectError(.inUse, "a second irq_create of line 8") { () throws(SysError) in try irqCreate(machineResource, 8) }
    expectError(.badState, "irq_ack before irq_bind") { () throws(SysError) in try irqAck(irq) }
    expectError(.invalidArgument, "irq_bind with no bits") { () throws(SysError) in try irqBind(irq, notify: notify, bits: 0) }
    try handleClose(irq)
    let again = expectSuccess("irq_create of line 8 after the first was closed") { () throws(SysError) in
        try irqCreate(machineResource, 8, .isa)
    }
    if let again { closeAll(again) }
}

/// Polls `notify` (yielding) until it has bits or 2 s pass on the clock; the bits (0 on time-out).
func pollNotify(_ notify: Handle) throws(SysError) -> UInt64 {
    let start = Clock.now()
    while Clock.now() - start < 2_000_000_000 {
        let bits = try notifyPoll(notify)
        if bits != 0 { return bits }
        threadYield()
    }
    return 0
}

/// ISA IRQ 8, bound to a Notify, fires on the RTC's periodic interrupt (programmed through an IOPort
/// for 0x70-0x71): once, not again until acknowledged, then again after irq_ack.
func testIRQRTCPeriodic() throws(SysError) {
    let ports = try ioportCreate(machineResource, base: CMOS.index, count: 2)
    let notify = try notifyCreate()
    let irq = try irqCreate(machineResource, 8, .isa)
    defer {
        CMOS.write(CMOS.registerB, CMOS.read(CMOS.registerB) & ~0x40)      // periodic interrupt off
        _ = CMOS.read(CMOS.registerC)
        closeAll(irq, notify, ports)
    }
    try irqBind(irq, notify: notify, bits: 0x100)
    CMOS.write(CMOS.registerA, (CMOS.read(CMOS.registerA) & 0xf0) | 0x06)   // 1,024 Hz
    _ = CMOS.read(CMOS.registerC)
    CMOS.write(CMOS.registerB, CMOS.read(CMOS.registerB) | 0x40)            // periodic interrupt on
    step("first interrupt")
    let first = try pollNotify(notify)
    check(first == 0x100, "the first RTC interrupt gave bits \(hex(first)), expected 0x100")
    check(CMOS.read(CMOS.registerC) & 0x40 != 0, "register C does not say periodic interrupt")
    step("masked until acknowledged")
    let start = Clock.now()
    while Clock.now() - start < 50_000_000 { threadYield() }
    check(try notifyPoll(notify) == 0, "a second interrupt arrived before irq_ack")
    step("after irq_ack")
    _ = CMOS.read(CMOS.registerC)
    try irqAck(irq)
    let second = try pollNotify(notify)
    check(second == 0x100, "after irq_ack the RTC interrupt gave bits \(hex(second)), expected 0x100")
}

/// Two IRQ objects share ISA IRQ 8 (IRQOptions.shared): the RTC's interrupt signals both Notifies, and
/// the line stays masked until both acknowledged it. A non-shared object does not join a shared line,
/// nor a shared one a line held alone; unknown options are refused.
func testIRQSharedLine() throws(SysError) {
    expectError(.invalidArgument, "irq_create with an unknown option") { () throws(SysError) in
        try syscall(.irqCreate, machineResource.word, 8, IRQNumbering.isa.rawValue, 2)
    }
    let alone = try irqCreate(machineResource, 8, .isa)
    expectError(.inUse, "a shared irq_create on a line held alone") { () throws(SysError) in
        try irqCreate(machineResource, 8, .isa, shared: true)
    }
    closeAll(alone)
    let ports = try ioportCreate(machineResource, base: CMOS.index, count: 2)
    let (n1, n2) = (try notifyCreate(), try notifyCreate())
    let a = try irqCreate(machineResource, 8, .isa, shared: true)
    let b = try irqCreate(machineResource, 8, .isa, shared: true)
    defer {
        CMOS.write(CMOS.registerB, CMOS.read(CMOS.registerB) & ~0x40)      // periodic interrupt off
        _ = CMOS.read(CMOS.registerC)
        closeAll(a, b, n1, n2, ports)
    }
    expectError(.inUse, "a non-shared irq_create on a shared line") { () throws(SysError) in try irqCreate(machineResource, 8, .isa) }
    try irqBind(a, notify: n1, bits: 0x1)
    try irqBind(b, notify: n2, bits: 0x2)
    CMOS.write(CMOS.registerA, (CMOS.read(CMOS.registerA) & 0xf0) | 0x06)   // 1,024 Hz
    _ = CMOS.read(CMOS.registerC)
    CMOS.write(CMOS.registerB, CMOS.read(CMOS.registerB) | 0x40)            // periodic interrupt on
    step("one interrupt, both objects")
    check(try pollNotify(n1) == 0x1, "the first object's Notify got no interrupt")
    check(try pollNotify(n2) == 0x2, "the second object's Notify got no interrupt")
    step("masked until both acknowledged")
    _ = CMOS.read(CMOS.registerC)
    try irqAck(a)
    let start = Clock.now()
    while Clock.now() - start < 50_000_000 { threadYield() }
    let early = (try notifyPoll(n1), try notifyPoll(n2))
    check(early == (0, 0), "an interrupt arrived with one object not acknowledged")
    try irqAck(b)
    let after = (try pollNotify(n1), try pollNotify(n2))
    check(after == (0x1, 0x2), "no interrupt after both acknowledged: \(hex(after.0)), \(hex(after.1))")
    step("the other object closed")
    _ = CMOS.read(CMOS.registerC)
    try irqAck(a)
    try handleClose(b)
    check(try pollNotify(n1) == 0x1, "the remaining object got no interrupt after the other was closed")
}

func testPhysicalFrameRefusedOverRAM() throws(SysError) {
    expectError(.inUse, "frame_create_physical at 1 MiB (RAM)") { () throws(SysError) in
        try frameCreatePhysical(machineResource, address: 0x10_0000, size: pageSize)
    }
    expectError(.inUse, "frame_create_physical over the kernel's RAM at 16 MiB") { () throws(SysError) in
        try frameCreatePhysical(machineResource, address: 0x100_0000, size: 16 * pageSize)
    }
    expectError(.inUse, "frame_create_physical from the BIOS area into RAM") { () throws(SysError) in
        try frameCreatePhysical(machineResource, address: 0xf_f000, size: 2 * pageSize)
    }
    expectError(.misaligned, "frame_create_physical at an unaligned address") { () throws(SysError) in
        try frameCreatePhysical(machineResource, address: 0xa_0010, size: pageSize)
    }
    expectError(.invalidArgument, "frame_create_physical of size 0") { () throws(SysError) in
        try frameCreatePhysical(machineResource, address: 0xa_0000, size: 0)
    }
}

/// The HPET's capabilities register read through an uncached mapping (QEMU: a period of 10 ns, vendor
/// 0x8086), VGA text memory written and read back, the ACPI root table's signature; device Frames refuse
/// kernel copies, resizing and exec.
func testPhysicalFrameDevices() throws(SysError) {
    step("HPET")
    // 0 only on a machine without an ACPI HPET table (PlatformTests boots one; the other boots expect the
    // HPET part to run).
    let hpetAddress = try systemInfo(.hpetAddress)
    if hpetAddress == 0 { print("devices: no HPET address (no ACPI HPET table): the HPET part is skipped") }
    if hpetAddress != 0 {
        let hpet = try frameCreatePhysical(machineResource, address: hpetAddress & ~(pageSize - 1), size: pageSize)
        defer { closeAll(hpet) }
        let at = Scratch.take(pages: 1)
        try vmemMap(Runtime.vmem, frame: hpet, address: at, length: pageSize, flags: [.read], cache: .uncacheable)
        let capabilities = pointer(at + hpetAddress % pageSize).load(as: UInt64.self)
        check(capabilities >> 32 == 10_000_000, "HPET period \(capabilities >> 32) fs, expected 10,000,000")
        check((capabilities >> 16) & 0xffff == 0x8086, "HPET vendor \(hex((capabilities >> 16) & 0xffff))")
        try vmemUnmap(Runtime.vmem, address: at, length: pageSize)
        expectError(.badState, "frame_read of device memory") { () throws(SysError) in try frameRead(hpet, offset: 0, address: at, length: 8) }
        expectError(.accessDenied, "frame_set_size of device memory (no .manage)") { () throws(SysError) in try frameSetSize(hpet, 2 * pageSize) }
        let rights = try handleIdentify(hpet).rights
        check(!rights.contains(.exec) && !rights.contains(.manage), "a device Frame carries .exec or .manage")
    }
    step("VGA text memory")
    let vga = try frameCreatePhysical(machineResource, address: 0xb_8000, size: pageSize)
    defer { closeAll(vga) }
    let text = Scratch.take(pages: 1)
    try vmemMap(Runtime.vmem, frame: vga, address: text, length: pageSize, flags: [.read, .write], cache: .uncacheable)
    pointer(text + 3998).storeBytes(of: UInt16(0x1f21), as: UInt16.self)        // '!' in the last cell
    let back = pointer(text + 3998).load(as: UInt16.self)
    check(back == 0x1f21, "VGA text memory read back \(hex(UInt64(back)))")
    expectError(.badAddress, "debug_log from device memory") { () throws(SysError) in try debugLog(address: text, length: 4) }
    // Never cloned or shared copy on write (as boot memory), never a pager's source.
    expectError(.badState, "frame_clone of device memory") { () throws(SysError) in _ = try frameClone(vga, size: pageSize) }
    let receiver = try receiverCreate()
    let pager = try senderCreate(receiver)
    let paged = try frameCreatePaged(size: pageSize, pager: pager)
    expectError(.badState, "frame_supply from device memory") { () throws(SysError) in try frameSupply(paged, offset: 0, from: vga) }
    closeAll(paged, pager, receiver)
    try vmemUnmap(Runtime.vmem, address: text, length: pageSize)
    step("ACPI root table")
    let root = try systemInfo(.acpiRootTable)
    check(root != 0, "system_info gives no ACPI root table")
    guard root != 0 else { return }
    let table = try frameCreatePhysical(machineResource, address: root & ~(pageSize - 1), size: pageSize)
    defer { closeAll(table) }
    let at = Scratch.take(pages: 1)
    try vmemMap(Runtime.vmem, frame: table, address: at, length: pageSize, flags: [.read], cache: .uncacheable)
    let signature = pointer(at + root % pageSize).loadUnaligned(as: UInt32.self)   // q35 puts it at an odd address
    check(signature == 0x5444_5352 || signature == 0x5444_5358, "the ACPI root table's signature is \(hex(UInt64(signature)))")
    try vmemUnmap(Runtime.vmem, address: at, length: pageSize)
}
