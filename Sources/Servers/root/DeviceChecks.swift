// `devtest=kbd|fb`: root drives a device with its machine Resource for a host integration test
// (Tests/IntegrationTests/DeviceTests.swift), which acts on the VM through QMP.
//  - kbd: an IRQ object on ISA IRQ 1 (the PS/2 keyboard) bound to a Notify, IOPorts 0x60 and 0x64;
//    prints `devtest: kbd ready`, waits up to 60 s for the interrupt the host's `send-key` raises, then
//    prints `devtest: kbd irq scancode 0xNN` and exits with 0.
//  - fb: a physical Frame over the boot framebuffer (32 bpp RGB), mapped write-combining, filled with
//    `framebufferColor`; prints `devtest: fb painted WxH` and waits for the host's screendump.

/// The colour the fb check paints (0x00RRGGBB).
let framebufferColor: UInt32 = 0x00c0_3010

/// Where root maps the framebuffer (nothing else of root's is mapped there).
let framebufferMapping: UInt64 = 0x20_0000_0000

func runDeviceCheck(_ startup: Startup, _ value: Substring) -> Int32 {
    do throws(SysError) {
        switch value {
        case "kbd": return try keyboardCheck(startup.resource)
        case "fb": return try framebufferCheck(startup.resource)
        default:
            print("devtest: unknown check '\(value)' (kbd or fb)")
            return 1
        }
    } catch {
        print("devtest: FAIL: \(staticText(error.name))")
        return 1
    }
}

func keyboardCheck(_ machine: Handle) throws(SysError) -> Int32 {
    let data = try ioportCreate(machine, base: 0x60, count: 1)
    let status = try ioportCreate(machine, base: 0x64, count: 1)
    let notify = try notifyCreate()
    let irq = try irqCreate(machine, 1, .isa)
    defer { for h in [irq, notify, status, data] { _ = try? handleClose(h) } }
    while port_in8(0x64) & 1 != 0 { _ = port_in8(0x60) }       // drain what the firmware left
    try irqBind(irq, notify: notify, bits: 0x2)
    print("devtest: kbd ready")
    let start = Clock.now()
    while Clock.now() - start < 60_000_000_000 {
        let bits = try notifyPoll(notify)
        if bits != 0 {
            let code = port_in8(0x60)
            try irqAck(irq)
            print("devtest: kbd irq bits \(hex(bits)) scancode \(hex(UInt64(code)))")
            return 0
        }
        threadYield()
    }
    print("devtest: FAIL: no keyboard interrupt within 60 s")
    return 1
}

func framebufferCheck(_ machine: Handle) throws(SysError) -> Int32 {
    let address = try systemInfo(.framebufferAddress)
    let pitch = try systemInfo(.framebufferPitch), width = try systemInfo(.framebufferWidth)
    let height = try systemInfo(.framebufferHeight), format = try systemInfo(.framebufferFormat)
    guard address != 0, format == 32 | 1 << 8 else {
        print("devtest: FAIL: no 32 bpp RGB framebuffer (address \(hex(address)), format \(hex(format)))")
        return 1
    }
    let size = (pitch * height + pageSize - 1) & ~(pageSize - 1)
    let frame = try frameCreatePhysical(machine, address: address, size: size)
    defer { _ = try? handleClose(frame) }
    let at = framebufferMapping
    try vmemMap(Runtime.vmem, frame: frame, address: at, length: size, flags: [.read, .write], cache: .writeCombining)
    for y in 0..<height {
        let line = UnsafeMutablePointer<UInt32>(bitPattern: UInt(at + y * pitch))!
        for x in 0..<Int(width) { line[x] = framebufferColor }
    }
    print("devtest: fb painted \(width)x\(height) at \(hex(address))")
    if let idle = try? notifyCreate() { _ = try? notifyWait(idle) }
    return 0
}
