// usbtest: the guest half of Tests/IntegrationTests/USBInputTests.swift. init runs it under `usbtest` with the
// machine's Resource (init.conf); the host boots with `osh boot --usb` (qemu-xhci, usb-kbd, usb-tablet).
// It starts initfs:///bin/pcid itself (the manager's Sender, badge 0), finds the xHCI function and
// the usbd pcid started for it, subscribes to usbd's input events and checks info and malformed
// requests; then it prints every key until Escape (`usbtest: typed …`), every tablet position until the
// middle button is released, and waits for a key from a keyboard the host plugs in after boot (QMP
// device_add). `ok NAME` / `FAIL NAME: why` per check, then `usbtest: N passed, N failed`; the exit
// code is the failures.

let programName: StaticString = "usbtest"

var passed = 0, failed = 0

func check(_ name: String, _ ok: Bool, _ why: @autoclosure () -> String = "") {
    if ok { passed += 1; print("usbtest: ok \(name)") } else { failed += 1; print("usbtest: FAIL \(name): \(why())") }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

func programMain(_ startup: Startup) -> Int32 {
    guard let resource = startup.granted("resource"), let initfs = startup.imported("initfs") else {
        print("usbtest: needs grant:resource and import:initfs (init.conf `resource`)")
        return 1
    }
    guard let page = try? IPCBufferPage.make() else {
        print("usbtest: no IPC buffer page")
        return 1
    }
    guard let pci = try? startPCID(resource: resource, initfs: initfs) else {
        print("usbtest: FAIL: cannot start pcid")
        return 1
    }
    // After startPCID: its file client installs (and drops) an IPC buffer of its own.
    guard (try? page.install()) != nil else {
        print("usbtest: cannot install the IPC buffer page")
        return 1
    }
    guard let usbd = findUSBD(pci, page: page) else {
        print("usbtest: \(passed) passed, \(failed) failed")
        return 1
    }
    guard let input = try? InputClient(usbd, page: page) else {
        check("usbd.subscribe", false, "cannot subscribe")
        return 1
    }
    let info = try? InputClient.info(usbd)
    check("usbd.info", info?.kind == InputDeviceKind.mixed.rawValue && info?.ready == true, "kind \(info?.kind ?? 0)")
    let zero = try? senderCall(usbd, IPCMessage(label: InputLabel.read.rawValue, input.id, 0))
    check("usbd.read_zero", zero?.tag.label == InputError.invalid.rawValue)
    let unknown = try? senderCall(usbd, IPCMessage(label: 77, 1, 2, 3))
    check("usbd.unknown_label", unknown?.tag.label == InputError.badMessage.rawValue)
    let stranger = try? senderCall(usbd, IPCMessage(label: InputLabel.read.rawValue, input.id + 100, 1))
    check("usbd.unknown_subscription", stranger?.tag.label == InputError.badSubscription.rawValue)
    keys(input)
    pointer(input)
    hotplug(input)
    print("usbtest: \(passed) passed, \(failed) failed")
    return Int32(failed)
}

/// The xHCI function in pcid's list, its driver's state, and a Sender to that driver.
func findUSBD(_ pci: Handle, page: IPCBufferPage) -> Handle? {
    guard let c = try? senderCall(pci, IPCMessage(label: PCILabel.count.rawValue)), c.tag.label == 0 else {
        check("pci.count", false, "no answer")
        return nil
    }
    for i in 0..<c.words.0 {
        guard let f = try? senderCall(pci, IPCMessage(label: PCILabel.function.rawValue, i)), f.tag.label == 0 else { continue }
        let w1 = PCIFunctionWord1(f.words.1)
        guard w1.classCode == 0x0c, w1.subclass == 0x03, w1.progIF == 0x30 else { continue }
        check("pci.xhci_driver_running", f.words.3 == PCIDriverState.running.rawValue, "driver state \(f.words.3)")
        guard let d = try? senderCall(pci, IPCMessage(label: PCILabel.driver.rawValue, i)), d.tag.label == 0, d.tag.handles == 1 else {
            check("pci.usbd_sender", false, "driver request refused")
            return nil
        }
        check("pci.usbd_sender", true)
        return page.handle(0)
    }
    check("pci.xhci_found", false, "no xHCI function (boot with osh --usb)")
    return nil
}

/// Keys until Escape: each printed, the characters collected.
func keys(_ input: InputClient) {
    print("usbtest: input ready")
    var typed: [UInt32] = []
    var done = false
    let deadline = Clock.now() + 300_000_000_000
    while !done && Clock.now() < deadline {
        guard let events = try? input.next(timeout: 1_000_000_000) else { continue }
        for e in events where e.kind == .key {
            print("usbtest: key \(hex(UInt64(e.usage))) \(e.pressed ? "down" : "up") mods \(hex(UInt64(e.modifiers))) char \(hex(UInt64(UInt32(bitPattern: e.a))))")
            if e.pressed && e.a != 0 && e.usage != 0x29 { typed.append(UInt32(bitPattern: e.a)) }
            if e.pressed && e.usage == 0x29 { done = true }
        }
    }
    print("usbtest: typed \(typed.map { hex(UInt64($0)) }.joined(separator: " "))")
    check("usb.keys_until_escape", done)
}

/// Tablet positions until the middle button is released.
func pointer(_ input: InputClient) {
    print("usbtest: pointer ready")
    var done = false, middleDown = false, buttonsSeen: UInt8 = 0, wheel = 0, positions = 0
    let deadline = Clock.now() + 300_000_000_000
    while !done && Clock.now() < deadline {
        guard let events = try? input.next(timeout: 1_000_000_000) else { continue }
        for e in events where e.kind == .position || e.kind == .motion {
            print("usbtest: \(e.kind == .position ? "position x" : "motion dx") \(e.a) \(e.kind == .position ? "y" : "dy") \(e.b) wheel \(e.wheel) buttons \(hex(UInt64(e.flags)))")
            if e.kind == .position { positions += 1 }
            buttonsSeen |= e.flags
            wheel += Int(e.wheel)
            if e.flags & 4 != 0 { middleDown = true } else if middleDown { done = true }
        }
    }
    print("usbtest: pointer done, \(positions) positions, wheel \(wheel), buttons seen \(hex(UInt64(buttonsSeen)))")
    check("usb.tablet_until_middle_click", done)
}

/// A key from a keyboard plugged in after boot.
func hotplug(_ input: InputClient) {
    print("usbtest: plug ready")
    let deadline = Clock.now() + 300_000_000_000
    while Clock.now() < deadline {
        guard let events = try? input.next(timeout: 1_000_000_000) else { continue }
        for e in events where e.kind == .key && e.pressed {
            print("usbtest: hotplug key \(hex(UInt64(e.usage))) char \(hex(UInt64(UInt32(bitPattern: e.a))))")
            check("usb.hotplugged_keyboard", e.usage == 0x1d, "usage \(hex(UInt64(e.usage)))")
            return
        }
    }
    check("usb.hotplugged_keyboard", false, "no key")
}

/// Starts initfs:///bin/pcid with the Resource, a Sender to initfsd and its Receiver; the manager's
/// Sender (badge 0).
func startPCID(resource: Handle, initfs: Handle) throws(SysError) -> Handle {
    let files = try FileService(initfs)
    let bytes: [UInt8]
    do throws(FileError) { bytes = try files.readFile("initfs:///bin/pcid") } catch { throw .invalidArgument }
    let frame = try frameCreate(size: (UInt64(bytes.count) + pageSize - 1) / pageSize * pageSize)
    defer { _ = try? handleClose(frame) }
    let written = bytes.withUnsafeBytes { b in Result { () throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) } }
    if case .failure(let e) = written { throw e }
    let receiver = try receiverCreate()
    let manager = try senderCreate(receiver, badge: 0)
    _ = try Spawn.start(image: frame, name: "pcid", grants: [
        ("grant:resource", try handleDuplicate(resource, rights: Rights.defaults(for: .resource))),
        ("import:initfs", try handleDuplicate(initfs, rights: Rights.defaults(for: .sender))),
        ("export:pci", receiver)])
    return manager
}
