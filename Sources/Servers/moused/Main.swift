// moused: the PS/2 mouse driver. Root starts it after kbd (it imports `input`: kbd answers only once the
// controller is set up) with its Receiver for `mouse`, IOPorts over the controller's ports and the IRQ
// object of ISA line 12 (initfs:///etc/devices.conf). It resets the mouse through the controller's
// second port, turns on the IntelliMouse wheel when the mouse has one (sample rates 200, 100, 80, then
// device id 3), enables reporting (at the 80 samples a second the knock leaves), decodes packets (Sources/Formats/PS2Mouse.swift) into motion events
// and publishes them over the input protocol like kbd's keys.

let programName: StaticString = "moused"

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("mouse") else {
        print("moused: no Receiver for `mouse`; exiting")
        return 1
    }
    guard startup.granted("data") != nil, startup.granted("command") != nil, let irq = startup.granted("irq") else {
        print("moused: no IOPorts 0x60/0x64 or IRQ 12 from root (grant:data, grant:command, grant:irq); exiting")
        return 1
    }
    // kbd sets the controller up before it answers its first request.
    if let kbd = startup.imported("input") { _ = try? InputClient.info(kbd) }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("moused: no IPC buffer page; exiting")
        return 1
    }
    let publisher = InputPublisher(kind: .mouse, page: page)
    let (ready, wheel) = initialise()
    publisher.deviceReady = ready
    do throws(SysError) {
        try DriverLoop.startInterruptThread(irq: irq, receiver: receiver) {
            var bytes: [UInt8] = []
            while bytes.count < 64 {
                let s = PS2Controller.status
                guard s & PS2Controller.outputFull != 0, s & PS2Controller.fromMouse != 0 else { break }
                bytes.append(port_in8(PS2Controller.dataPort))
            }
            return bytes
        }
    } catch {
        print("moused: cannot take IRQ 12: \(error.name); exiting")
        return 1
    }
    var decoder = PS2MouseDecoder(wheel: wheel)
    return DriverLoop.serve(receiver, name: "moused", interrupt: { bytes in
        for b in bytes {
            guard let m = decoder.feed(b) else { continue }
            publisher.publish(InputEvent(time: Clock.now(), kind: .motion, flags: m.buttons, wheel: m.wheel, a: m.dx, b: m.dy))
        }
    }, answer: publisher.answer)
}

/// Resets the mouse and turns reporting on; whether it answered, and whether it has a wheel.
func initialise() -> (Bool, Bool) {
    func send(_ b: UInt8) -> Bool { PS2Controller.sendToDevice(b, mouse: true) }
    guard send(0xff), PS2Controller.read(mouse: true, timeout: 1_000_000_000) == 0xaa else {
        print("moused: no PS/2 mouse answered a reset; serving no motion")
        return (false, false)
    }
    _ = PS2Controller.read(mouse: true)            // its device id, 0x00
    var wheel = false
    if send(0xf3), send(200), send(0xf3), send(100), send(0xf3), send(80), send(0xf2) {
        wheel = PS2Controller.read(mouse: true) == 0x03
    }
    guard send(0xf4) else {
        print("moused: the mouse did not take its settings; serving no motion")
        return (false, wheel)
    }
    print("moused: PS/2 mouse ready (\(wheel ? "wheel, 4-byte packets" : "3-byte packets"))")
    return (true, wheel)
}
