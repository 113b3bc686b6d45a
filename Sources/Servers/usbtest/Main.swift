// usbtest: the guest half of Tests/IntegrationTests/USBInputTests.swift. init runs it under `usbtest` with the
// machine's Resource (init.conf); the host boots with `osh boot --usb` (qemu-xhci, usb-kbd, usb-tablet).
// It finds the xHCI function through pcid (import:pci), checks that a driver claimed it, and takes
// usbd's Sender (import:usbinput), subscribes to usbd's input events and checks info and malformed
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
    guard let pci = startup.imported("pci"), let usbinput = startup.imported("usbinput") else {
        print("usbtest: needs import:pci and import:usbinput (init.conf `import=pci,usbinput`)")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("usbtest: no IPC buffer page")
        return 1
    }
    guard let usbd = findUSBD(pci, usbinput: usbinput) else {
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
func findUSBD(_ pci: Handle, usbinput: Handle) -> Handle? {
    guard let c = try? senderCall(pci, IPCMessage(label: PCILabel.count.rawValue)), c.tag.label == 0 else {
        check("pci.count", false, "no answer")
        return nil
    }
    for i in 0..<c.words.0 {
        guard let f = try? senderCall(pci, IPCMessage(label: PCILabel.function.rawValue, i)), f.tag.label == 0 else { continue }
        let w1 = PCIFunctionWord1(f.words.1)
        guard w1.classCode == 0x0c, w1.subclass == 0x03, w1.progIF == 0x30 else { continue }
        check("pci.xhci_claimed", f.words.3 == PCIDriverState.claimed.rawValue, "driver state \(f.words.3)")
        return usbinput
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

