// usbd: the xHCI USB host controller driver (QEMU's qemu-xhci; Controller.swift) with USB HID boot
// keyboards and mice and report-protocol pointers such as usb-tablet (Devices.swift). It publishes
// their input events over the input protocol (Sources/ABI/InputProtocol.swift), the same events kbd
// and moused publish (a tablet's are `position` events), as the service `usbinput`.
//
// A boot server (imports `pci`, exports `usbinput`): it claims QEMU's xHCI function (qemu-xhci,
// 1b36:000d) from pcid and takes exactly that function's register BAR (a Frame) and its INTx line's IRQ
// object (when no other driver holds the line); its DMA memory comes from pcid too. Without such a
// controller it still serves `usbinput` (no device ever becomes ready). Two threads: the hardware thread
// owns the controller and the devices and sends each decoded event by IPC to the request loop, which
// alone owns the subscriptions.

let programName: StaticString = "usbd"

/// DMA memory: the controller's structures, scratchpads, and five pages for each of up to 12 devices.
let dmaBytes: UInt64 = 96 * pageSize

/// QEMU's xHCI controller (`-device qemu-xhci`): Red Hat's vendor ID and its device ID.
let xhciVendor: UInt16 = 0x1b36, xhciDevice: UInt16 = 0x000d

func programMain(_ startup: Startup) -> Int32 {
    guard let pci = startup.imported("pci"), let receiver = startup.exported("usbinput") else {
        print("usbd: started without import:pci and export:usbinput; exiting")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("usbd: no IPC buffer page; exiting")
        return 1
    }
    let claim: PCIClaim
    do throws(PCIError) { claim = try PCIClaim(pci, vendor: xhciVendor, device: xhciDevice, page: page) } catch {
        if error != .noDevice { print("usbd: claiming the xHCI controller: \(staticText(error.name))") }
        print("usbd: no xHCI controller; serving usbinput without devices")
        let idle = InputPublisher(kind: .mixed, page: page)
        return serveRequests(receiver, name: "usbd") { idle.answer($0) }
    }
    let index = claim.index
    let host: USBHost
    do throws(USBError) {
        let barFrame: Handle
        do throws(PCIError) { barFrame = try claim.takeBar(0) } catch { throw .refused("pcid gave no register BAR") }
        let interrupt = try? claim.takeInterrupt()
        let bar = try mapBAR(pci: pci, index: index, frame: barFrame)
        let dma = try dmaPages(pci: claim.sender, page: page)
        let hc = try Controller(bar: bar, dma: dma, irq: interrupt?.irq)
        try hc.start()
        let sender: Handle
        do throws(SysError) { sender = try senderCreate(receiver, badge: USBEvents.badge) } catch { throw .system(error) }
        host = USBHost(hc: hc, events: sender)
        let irqText = interrupt.map { ($0.numbering == .gsi ? "gsi " : "isa-irq ") + String($0.number) } ?? "no interrupt (polling)"
        print("usbd: function \(index): xHCI \(hex(UInt64(mmio_read32(bar) >> 16))), \(hc.maxSlots) slots, \(hc.maxPorts) ports, "
              + "\(hc.contextSize)-byte contexts, \(irqText)")
    } catch {
        print("usbd: function \(index): " + describe(error) + "; exiting")
        return 1
    }
    let publisher = InputPublisher(kind: .mixed, page: page)
    publisher.deviceReady = true
    do throws(SysError) {
        _ = try spawnThread { host.run() }
    } catch {
        print("usbd: no hardware thread: \(error.name); exiting")
        return 1
    }
    return serveRequests(receiver, name: "usbd") { m in
        guard m.badge == USBEvents.badge else { return publisher.answer(m) }
        if m.tag.label == USBEvents.eventLabel, m.tag.words >= 3, let kind = InputEventKind(rawValue: UInt8(truncatingIfNeeded: m.words.1)) {
            let w1 = m.words.1, w2 = m.words.2
            publisher.publish(InputEvent(time: m.words.0, kind: kind, flags: UInt8(truncatingIfNeeded: w1 >> 8),
                                         usage: UInt16(truncatingIfNeeded: w1 >> 16), modifiers: UInt16(truncatingIfNeeded: w1 >> 32),
                                         wheel: Int16(truncatingIfNeeded: w1 >> 48), a: Int32(truncatingIfNeeded: w2),
                                         b: Int32(truncatingIfNeeded: w2 >> 32)))
        }
        return IPCMessage(tag: IPCTag(label: 0))
    }
}

/// Maps BAR 0 uncached; the address of its first register.
func mapBAR(pci: Handle, index: UInt64, frame: Handle) throws(USBError) -> UInt64 {
    do throws(SysError) {
        let r = try senderCall(pci, IPCMessage(label: PCILabel.bar.rawValue, index, 0))
        guard r.tag.label == 0, r.words.2 & PCIBARFlags.io.rawValue == 0 else { throw .badState }
        let size = try frameGetSize(frame)
        guard let at = MappingSpace.take(pages: size / pageSize) else { throw .outOfVirtualMemory }
        try vmemMap(Runtime.vmem, frame: frame, address: at, length: size, flags: [.read, .write], cache: .uncacheable)
        return at + r.words.0 % pageSize
    } catch { throw .system(error) }
}

/// The DMA Frame from pcid, mapped.
func dmaPages(pci: Handle, page: IPCBufferPage) throws(USBError) -> DMAPages {
    do throws(SysError) {
        let r = try senderCall(pci, IPCMessage(label: PCILabel.dma.rawValue, dmaBytes))
        guard r.tag.label == 0, r.tag.handles == 1 else { throw .outOfMemory }
        let frame = page.handle(0)
        let physical = try framePhysical(frame)
        let virtual = try MappingSpace.map(frame, length: dmaBytes)
        return DMAPages(virtual: virtual, physical: physical, pages: Int(dmaBytes / pageSize))
    } catch { throw .system(error) }
}

/// Lower-case hex with 0x.
func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
