// Devices on the root hub's ports: enumeration (§4.3: port reset, Enable Slot, Address Device,
// GET_DESCRIPTOR device and configuration, SET_CONFIGURATION), HID set-up (SET_PROTOCOL boot for boot
// keyboards and mice, SET_IDLE, the report descriptor for other pointers such as usb-tablet), an
// interrupt IN endpoint per device (Configure Endpoint, §4.6.6) with Normal TRBs kept queued, and the
// reports that come back decoded into input events (Sources/Formats/USBHID.swift). Port status change
// events (a device plugged in later, QMP device_add) start an enumeration; a disconnect frees the slot.
//
// One thread (the hardware thread) runs all of it and hands each input event by IPC to the request
// loop, which publishes it (Main.swift).

enum HIDKind {
    case keyboard, mouse, tablet

    var name: String {
        switch self {
        case .keyboard: return "keyboard"
        case .mouse: return "mouse"
        case .tablet: return "tablet"
        }
    }
}

/// One configured HID device.
final class USBDevice {
    let port: Int
    let slot: Int
    let speed: UInt32
    /// Five DMA pages: output device context, input context, EP0 ring, interrupt ring, buffers.
    let pages: (virtual: UInt64, physical: UInt64)
    var control: ProducerRing
    var interrupt: ProducerRing
    var kind: HIDKind = .keyboard
    var interface: UInt8 = 0
    var endpointDCI = 0
    var reportLength = 8
    var layout = HIDPointerLayout.bootMouse
    var keyboard = BootKeyboardDecoder()
    /// A keyboard's held key repeated by usbd (a USB keyboard does not repeat), and its LEDs' mask.
    var keyRepeat = KeyRepeat()
    var leds: UInt8 = 0
    var reports: UInt64 = 0
    var failed = false

    static let pagesPerDevice = 5
    /// 32 TRBs: their 64-byte report slots fit after the 2 KiB of control data in one page.
    static let interruptTRBs = 32
    /// Normal TRBs kept queued on the interrupt endpoint.
    static let queued = 8
    static let reportSlot: UInt64 = 64

    init(port: Int, slot: Int, speed: UInt32, pages: (virtual: UInt64, physical: UInt64)) {
        self.port = port
        self.slot = slot
        self.speed = speed
        self.pages = pages
        control = ProducerRing(count: 64, physical: pages.physical + 2 * pageSize)
        interrupt = ProducerRing(count: USBDevice.interruptTRBs, physical: pages.physical + 3 * pageSize)
    }

    var outputContext: (virtual: UInt64, physical: UInt64) { (pages.virtual, pages.physical) }
    var inputContext: (virtual: UInt64, physical: UInt64) { (pages.virtual + pageSize, pages.physical + pageSize) }
    var controlTRBs: DMATRBs { DMATRBs(base: pages.virtual + 2 * pageSize) }
    var interruptTRBs: DMATRBs { DMATRBs(base: pages.virtual + 3 * pageSize) }
    /// Control transfers' data (2 KiB), then one 64-byte report slot per interrupt ring TRB.
    var buffer: (virtual: UInt64, physical: UInt64) { (pages.virtual + 4 * pageSize, pages.physical + 4 * pageSize) }
}

final class USBHost {
    let hc: Controller
    /// Where input events go (the request loop's Receiver, through a Sender of usbd's own).
    let events: Handle
    var devices: [USBDevice] = []
    /// Device page groups given back by unplugged devices, reused before new pages are taken.
    var freePages: [(virtual: UInt64, physical: UInt64)] = []

    init(hc: Controller, events: Handle) {
        self.hc = hc
        self.events = events
    }

    /// Enumerates what is plugged in now, then serves events forever.
    func run() -> Never {
        for port in 1...max(hc.maxPorts, 1) where hc.portSC(port) & PortSC.connected != 0 {
            attach(port)
        }
        print("usbd: \(devices.count) device\(devices.count == 1 ? "" : "s") ready; watching \(hc.maxPorts) ports")
        while true {
            while !hc.deferred.isEmpty { handle(hc.deferred.removeFirst()) }
            while let e = hc.nextEvent() { handle(e) }
            // Wake for the next key repeat when it comes before the 20 ms poll.
            let now = Clock.now()
            var wait: UInt64 = 20_000_000
            for d in devices where d.kind == .keyboard && !d.failed {
                for k in d.keyRepeat.repeats(at: now) { send(keyEvent(k, at: now)) }
                if let w = d.keyRepeat.wait(at: now) { wait = min(wait, max(w, 1_000_000)) }
            }
            hc.sleep(wait)
        }
    }

    func handle(_ e: TRB) {
        switch e.type {
        case .transferEvent: report(e)
        case .portStatusChange: portChanged(Int(e.portID))
        default: break
        }
    }

    /// A port's status changed: clear the change bits; a new connection is enumerated, a lost one freed.
    func portChanged(_ port: Int) {
        guard port >= 1, port <= hc.maxPorts else { return }
        let sc = hc.portSC(port)
        hc.setPortSC(port, sc & PortSC.changes & ~PortSC.resetChange)
        let present = devices.firstIndex { $0.port == port }
        if sc & PortSC.connected == 0, let i = present {
            detach(i)
        } else if sc & PortSC.connected != 0 && sc & PortSC.connectChange != 0 && present == nil {
            attach(port)
        }
    }

    func detach(_ i: Int) {
        let d = devices.remove(at: i)
        _ = try? hc.command(TRB.disableSlot(UInt8(d.slot)), "Disable Slot")
        mmio_write64(hc.dcbaa + UInt64(d.slot) * 8, 0)
        // The pages are zeroed again before reuse.
        release(d.pages)
        print("usbd: port \(d.port): \(d.kind.name) unplugged (slot \(d.slot))")
    }

    /// Zeroes a device's pages and keeps them for the next device.
    func release(_ pages: (virtual: UInt64, physical: UInt64)) {
        for k in 0..<UInt64(USBDevice.pagesPerDevice) * pageSize / 8 { mmio_write64(pages.virtual + k * 8, 0) }
        freePages.append(pages)
    }

    /// Resets the port and enumerates its device; logs the outcome.
    func attach(_ port: Int) {
        do throws(USBError) {
            let d = try enumerate(port)
            devices.append(d)
            print("usbd: port \(port): \(d.kind.name) on slot \(d.slot), \(speedName(d.speed)), endpoint \(d.endpointDCI / 2) IN, "
                  + "\(d.reportLength)-byte reports" + (d.kind == .tablet ? " (absolute)" : ""))
        } catch {
            print("usbd: port \(port): not enumerated: " + describe(error))
        }
    }

    func enumerate(_ port: Int) throws(USBError) -> USBDevice {
        try resetPort(port)
        let speed = PortSC.speed(hc.portSC(port))
        let slot = Int(try hc.command(TRB.enableSlot(), "Enable Slot").slotID)
        guard slot >= 1 && slot <= hc.maxSlots else { throw .refused("a slot ID out of range") }
        let pages: (virtual: UInt64, physical: UInt64)
        if let reused = freePages.popLast() { pages = reused } else { pages = try hc.dma.take(USBDevice.pagesPerDevice) }
        let d = USBDevice(port: port, slot: slot, speed: speed, pages: pages)
        var ok = false
        defer {
            if !ok {
                _ = try? hc.command(TRB.disableSlot(UInt8(slot)), "Disable Slot")
                release(pages)
            }
        }
        mmio_write64(hc.dcbaa + UInt64(slot) * 8, d.outputContext.physical)
        try writeInput(d, InputContext.addressDevice(contextSize: hc.contextSize, speed: speed, rootPort: UInt8(port), ring: d.control.physical))
        _ = try hc.command(TRB.addressDevice(UInt8(slot), inputContext: d.inputContext.physical), "Address Device")

        let dd = try controlIn(d, .getDescriptor(1, length: 18))
        guard let device = USBDeviceDescriptor(dd) else { throw .refused("a malformed device descriptor") }
        if UInt32(device.maxPacketSize0) != USBSpeed.defaultControlPacketSize(speed) && speed != USBSpeed.superSpeed && device.maxPacketSize0 >= 8 {
            try writeInput(d, InputContext.controlPacketSize(contextSize: hc.contextSize, maxPacket: UInt32(device.maxPacketSize0), ring: d.control.physical))
            _ = try hc.command(TRB.evaluateContext(UInt8(slot), inputContext: d.inputContext.physical), "Evaluate Context")
        }
        let head = try controlIn(d, .getDescriptor(2, length: 9))
        guard let total = USBConfiguration.totalLength(head), total >= 9 else { throw .refused("a malformed configuration descriptor") }
        guard let configuration = USBConfiguration(try controlIn(d, .getDescriptor(2, length: min(total, 2048)))) else {
            throw .refused("a malformed configuration descriptor")
        }
        try setUpHID(d, configuration)
        ok = true
        return d
    }

    /// Picks the first HID keyboard or pointer interface with an interrupt IN endpoint, configures the
    /// device, sets the boot protocol (or reads the report descriptor), configures the endpoint and
    /// queues the first transfers.
    func setUpHID(_ d: USBDevice, _ c: USBConfiguration) throws(USBError) {
        guard let i = c.interfaces.first(where: { $0.isHID && $0.alternate == 0 && $0.endpoints.contains { $0.isInterruptIn } }),
              let ep = i.endpoints.first(where: { $0.isInterruptIn }) else { throw .refused("no HID interface with an interrupt IN endpoint") }
        d.interface = i.number
        try controlOut(d, .setConfiguration(c.value))
        if i.isBootKeyboard || i.isBootMouse {
            d.kind = i.isBootKeyboard ? .keyboard : .mouse
            try controlOut(d, .setProtocol(interface: i.number, boot: true))
            d.layout = .bootMouse
        } else {
            guard i.reportDescriptorLength > 0 else { throw .refused("a HID pointer without a report descriptor") }
            let rd = try controlIn(d, .getReportDescriptor(interface: i.number, length: min(i.reportDescriptorLength, 2048)))
            guard let layout = HIDPointerLayout.parse(rd) else { throw .refused("a HID report descriptor without X and Y") }
            d.layout = layout
            d.kind = layout.absolute ? .tablet : .mouse
        }
        // Only on change (the keyboard's default idle would repeat reports); a device may stall it.
        _ = try? controlOut(d, .setIdle(interface: i.number))
        d.reportLength = min(Int(ep.maxPacketSize), Int(USBDevice.reportSlot))
        d.endpointDCI = Int(ep.number) * 2 + 1
        try writeInput(d, InputContext.interruptIn(contextSize: hc.contextSize, speed: d.speed, rootPort: UInt8(d.port), endpoint: ep.number,
                                                   maxPacket: UInt32(ep.maxPacketSize), bInterval: ep.interval, ring: d.interrupt.physical))
        _ = try hc.command(TRB.configureEndpoint(UInt8(d.slot), inputContext: d.inputContext.physical), "Configure Endpoint")
        for _ in 0..<USBDevice.queued { queueReport(d) }
    }

    /// Puts one Normal TRB for a report on the interrupt ring (its buffer is the slot of its index).
    func queueReport(_ d: USBDevice) {
        let index = d.interrupt.enqueue
        d.interrupt.push(TRB.normal(buffer: d.buffer.physical + 2048 + UInt64(index) * USBDevice.reportSlot, length: UInt32(d.reportLength)),
                         d.interruptTRBs)
        hc.ring(d.slot, UInt32(d.endpointDCI))
    }

    /// A transfer event on an interrupt endpoint: decode the report and queue the next transfer.
    func report(_ e: TRB) {
        guard let d = devices.first(where: { $0.slot == Int(e.slotID) }), Int(e.endpointID) == d.endpointDCI, !d.failed,
              let index = d.interrupt.index(of: e.parameter) else { return }
        let code = e.completionCode
        guard code == CompletionCode.success || code == CompletionCode.shortPacket else {
            d.failed = true
            print("usbd: port \(d.port): \(d.kind.name) endpoint stopped (completion code \(code)); its reports end")
            return
        }
        let length = d.reportLength - min(Int(e.residualLength), d.reportLength)
        let at = d.buffer.virtual + 2048 + UInt64(index) * USBDevice.reportSlot
        let bytes = (0..<length).map { mmio_read8(at + UInt64($0)) }
        d.reports += 1
        decode(d, bytes)
        queueReport(d)
    }

    func decode(_ d: USBDevice, _ report: [UInt8]) {
        let now = Clock.now()
        switch d.kind {
        case .keyboard:
            for k in d.keyboard.feed(report) {
                send(keyEvent(k, at: now))
                d.keyRepeat.note(k, at: now)
            }
            setLEDs(d)
        case .mouse, .tablet:
            guard let r = d.layout.decode(report) else { return }
            send(InputEvent(time: now, kind: d.kind == .tablet ? .position : .motion, flags: r.buttons, wheel: r.wheel, a: r.x, b: r.y))
        }
    }

    func keyEvent(_ k: KeyEvent, at now: UInt64) -> InputEvent {
        InputEvent(time: now, kind: .key, flags: k.flags, usage: k.usage, modifiers: k.modifiers.rawValue,
                   a: Int32(bitPattern: k.character))
    }

    /// The keyboard's lock LEDs follow its locks (SET_REPORT of the one-byte output report); one line
    /// when they changed, or when the keyboard refused.
    func setLEDs(_ d: USBDevice) {
        let mask = d.keyboard.modifiers.hidLEDs
        guard mask != d.leds else { return }
        d.leds = mask
        mmio_write8(d.buffer.virtual, mask)
        do throws(USBError) {
            try controlOut(d, .setOutputReport(interface: d.interface, length: 1))
            print("usbd: port \(d.port): LEDs: \(d.keyboard.modifiers.locksText)")
        } catch {
            print("usbd: port \(d.port): the keyboard refused its LEDs: \(describe(error))")
        }
    }

    /// Hands an event to the request loop (label 2; words: time, kind | flags << 8 | usage << 16 |
    /// modifiers << 32 | wheel << 48, a | b << 32).
    func send(_ e: InputEvent) {
        let w1 = UInt64(e.kind.rawValue) | UInt64(e.flags) << 8 | UInt64(e.usage) << 16 | UInt64(e.modifiers) << 32
            | UInt64(UInt16(bitPattern: e.wheel)) << 48
        let w2 = UInt64(UInt32(bitPattern: e.a)) | UInt64(UInt32(bitPattern: e.b)) << 32
        _ = try? senderCall(events, IPCMessage(label: USBEvents.eventLabel, e.time, w1, w2))
    }

    // MARK: ports and control transfers

    /// Resets a port (§4.3.1) and waits until it is enabled.
    func resetPort(_ port: Int) throws(USBError) {
        hc.setPortSC(port, PortSC.resetChange)          // an old reset's change bit would end the wait at once
        hc.setPortSC(port, PortSC.reset)
        try hc.spin(500, "port reset") { hc.portSC(port) & PortSC.resetChange != 0 || hc.portSC(port) & (PortSC.reset | PortSC.enabled) == PortSC.enabled }
        hc.setPortSC(port, PortSC.resetChange | PortSC.connectChange)
        guard hc.portSC(port) & PortSC.enabled != 0 else { throw .refused("the port is not enabled after its reset") }
        threadSleep(nanoseconds: 10_000_000)             // TRSTRCY: 10 ms before the first request
    }

    func writeInput(_ d: USBDevice, _ c: InputContext) throws(USBError) {
        guard c.byteCount <= Int(pageSize) else { throw .refused("an input context larger than a page") }
        for (i, w) in c.words.enumerated() { mmio_write32(d.inputContext.virtual + UInt64(i) * 4, w) }
    }

    /// A control transfer on endpoint 0; its data stage (when IN) read back from the buffer.
    func controlTransfer(_ d: USBDevice, _ setup: USBSetupPacket) throws(USBError) -> [UInt8] {
        guard setup.length <= 2048 else { throw .refused("a control transfer above 2 KiB") }
        var last: UInt64 = 0
        for t in TRB.controlTransfer(setup, buffer: d.buffer.physical) { last = d.control.push(t, d.controlTRBs) }
        hc.ring(d.slot, 1)
        let slot = d.slot
        let e = try hc.waitFor("a control transfer") { $0.type == .transferEvent && Int($0.slotID) == slot && $0.endpointID == 1 }
        guard e.completionCode == CompletionCode.success || e.completionCode == CompletionCode.shortPacket else {
            throw .completion("a control transfer", e.completionCode)
        }
        _ = last
        return (0..<Int(setup.length)).map { mmio_read8(d.buffer.virtual + UInt64($0)) }
    }

    func controlIn(_ d: USBDevice, _ setup: USBSetupPacket) throws(USBError) -> [UInt8] { try controlTransfer(d, setup) }
    func controlOut(_ d: USBDevice, _ setup: USBSetupPacket) throws(USBError) { _ = try controlTransfer(d, setup) }
}

/// The labels the hardware thread uses towards the request loop.
enum USBEvents {
    static let badge: UInt64 = 0xffff_ffff_ffff_fe00
    static let eventLabel: UInt32 = 2
}

func speedName(_ s: UInt32) -> String {
    switch s {
    case USBSpeed.low: return "low speed"
    case USBSpeed.full: return "full speed"
    case USBSpeed.high: return "high speed"
    case USBSpeed.superSpeed: return "SuperSpeed"
    default: return "speed \(s)"
    }
}

func describe(_ e: USBError) -> String {
    switch e {
    case .system(let s): return "\(s.name)"
    case .timeout(let what): return "timed out waiting for " + staticText(what)
    case .completion(let what, let code): return staticText(what) + " failed with completion code \(code)"
    case .refused(let why): return staticText(why)
    }
}
