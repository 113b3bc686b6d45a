// kbd: the PS/2 keyboard driver. Root starts it as a boot server with its Receiver for `input`
// (export:input) and, from initfs:///etc/devices.conf, IOPorts over the controller's data and
// status/command ports (grant:data, grant:command) and the IRQ object of ISA line 1 (grant:irq): nothing
// else of the machine. It initialises the i8042 controller for both ports (self-test, port tests,
// translation off, both interrupts on: moused then talks to the mouse through it), resets the keyboard
// and selects scancode set 2, decodes each byte (Sources/Formats/PS2Keyboard.swift) into key events with
// the US layout's characters, and publishes them to subscribers over the input protocol
// (Sources/ABI/InputProtocol.swift; Runtime/InputPublisher.swift). A key the keyboard repeats (typematic)
// is published as a repeated press; the lock LEDs follow Caps, Num and Scroll Lock (0xED; Formats/
// KeyRepeat.swift), one `kbd: LEDs: …` line when the keyboard took a new mask.

let programName: StaticString = "kbd"

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("input") else {
        print("kbd: no Receiver for `input`; exiting")
        return 1
    }
    guard startup.granted("data") != nil, startup.granted("command") != nil, let irq = startup.granted("irq") else {
        print("kbd: no IOPorts 0x60/0x64 or IRQ 1 from root (grant:data, grant:command, grant:irq); exiting")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("kbd: no IPC buffer page; exiting")
        return 1
    }
    let publisher = InputPublisher(kind: .keyboard, page: page)
    publisher.deviceReady = initialise()
    do throws(SysError) {
        try DriverLoop.startInterruptThread(irq: irq, receiver: receiver) {
            var bytes: [UInt8] = []
            // Keyboard bytes only: one from the mouse (status bit 5) stays for moused.
            while bytes.count < 64 {
                let s = PS2Controller.status
                guard s & PS2Controller.outputFull != 0, s & PS2Controller.fromMouse == 0 else { break }
                bytes.append(port_in8(PS2Controller.dataPort))
            }
            return bytes
        }
    } catch {
        print("kbd: cannot take IRQ 1: \(error.name); exiting")
        return 1
    }
    var decoder = PS2KeyboardDecoder()
    var leds = PS2LEDCommand()
    return DriverLoop.serve(receiver, name: "kbd", interrupt: { bytes in
        for b in bytes {
            // The keyboard's answers to an LED command go to the command, not the decoder.
            let answer = leds.received(b)
            if answer.consumed {
                for w in answer.write { _ = PS2Controller.writeData(w) }
                if answer.done { print("kbd: LEDs: \(decoder.modifiers.locksText)") }
                continue
            }
            guard let key = decoder.feed(b) else { continue }
            publisher.publish(InputEvent(time: Clock.now(), kind: .key, flags: key.flags, usage: key.usage,
                                         modifiers: key.modifiers.rawValue, a: Int32(bitPattern: key.character)))
            for w in leds.set(key.modifiers.ps2LEDs) { _ = PS2Controller.writeData(w) }
        }
    }, answer: publisher.answer)
}

/// The controller's and the keyboard's set-up; whether the keyboard answered. Logs one line.
func initialise() -> Bool {
    PS2Controller.command(0xad)                    // keyboard port off
    PS2Controller.command(0xa7)                    // mouse port off
    PS2Controller.flush()
    guard var config = PS2Controller.readConfiguration() else {
        print("kbd: the PS/2 controller does not answer; serving no keys")
        return false
    }
    config &= ~(0x01 | 0x02 | 0x40)                // interrupts and translation off while we set up
    PS2Controller.writeConfiguration(config)
    PS2Controller.command(0xaa)
    guard PS2Controller.read(mouse: false) == 0x55 else {
        print("kbd: the PS/2 controller failed its self-test; serving no keys")
        return false
    }
    PS2Controller.writeConfiguration(config)       // a self-test may reset it
    PS2Controller.command(0xa8)                    // a dual controller clears bit 5 when port 2 is on
    let dual = (PS2Controller.readConfiguration() ?? 0x20) & 0x20 == 0
    PS2Controller.command(0xa7)
    PS2Controller.command(0xab)
    let port1 = PS2Controller.read(mouse: false) == 0x00
    var port2 = false
    if dual {
        PS2Controller.command(0xa9)
        port2 = PS2Controller.read(mouse: false) == 0x00
    }
    PS2Controller.command(0xae)
    if port2 { PS2Controller.command(0xa8) }
    var keyboard = port1 && PS2Controller.sendToDevice(0xff, mouse: false)
    if keyboard { keyboard = PS2Controller.read(mouse: false, timeout: 1_000_000_000) == 0xaa }
    // Scancode set 2 (the default; asked for all the same), then scanning on.
    if keyboard {
        keyboard = PS2Controller.sendToDevice(0xf0, mouse: false) && PS2Controller.sendToDevice(0x02, mouse: false)
            && PS2Controller.sendToDevice(0xf4, mouse: false)
    }
    config |= 0x01
    if port2 { config = (config | 0x02) & ~0x20 }
    config &= ~0x10
    PS2Controller.writeConfiguration(config)
    print("kbd: PS/2 controller ready (\(dual ? "two ports" : "one port"), mouse port \(port2 ? "on" : "off")), "
          + (keyboard ? "keyboard reset, scancode set 2" : "no keyboard answered"))
    return keyboard
}
