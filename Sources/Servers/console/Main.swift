// console: the serial terminal. Root starts it as a boot server with its Receiver for `console`
// (export:console), a Sender to kbd (import:input: keys typed in the QEMU window are read once a program
// opened the terminal) and, from initfs:///etc/devices.conf, an IOPort over COM1's registers 0x3F8-0x3FF
// (grant:uart) and the IRQ object of ISA line 4 (grant:irq). It turns on COM1's receive interrupt; an
// interrupt thread reads the received bytes (Runtime/DriverLoop.swift) and hands them to the request
// loop, which runs them through the line discipline (Sources/Formats/LineDiscipline.swift) and serves
// the terminal over the file protocol (Server.swift). The kernel never polls the UART for input.
//
// Output goes out through console_write (Sources/ABI/Syscalls.swift, KernelLog): the kernel writes it
// to COM1 as one piece and knows what the terminal's last line shows, so a kernel log line erases the
// line being edited first and signals the redraw Notify; a thread here turns that signal into a message
// to the loop, which draws the prompt and the line again.

let programName: StaticString = "console"

/// COM1's registers (the kernel set the line up: 115200 8N1, FIFO on).
enum UART {
    static let base: UInt16 = 0x3f8
    static let interruptEnable: UInt16 = 0x3f9
    static let modemControl: UInt16 = 0x3fc
    static let lineStatus: UInt16 = 0x3fd

    /// Received-data interrupts on; DTR, RTS and OUT2 (which gates the interrupt on a PC).
    static func enableReceiveInterrupt() {
        port_out8(modemControl, 0x0b)
        port_out8(interruptEnable, 0x01)
    }

    /// The bytes waiting in the receive FIFO (at most 64).
    static func drain() -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < 64 && port_in8(lineStatus) & 0x01 != 0 { bytes.append(port_in8(base)) }
        return bytes
    }
}

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("console") else {
        print("console: no Receiver for `console`; exiting")
        return 1
    }
    guard let uart = startup.granted("uart"), let irq = startup.granted("irq") else {
        print("console: no IOPort 0x3F8-0x3FF or IRQ 4 from root (grant:uart, grant:irq); exiting")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("console: no IPC buffer page; exiting")
        return 1
    }
    let server = ConsoleServer(receiver: receiver, page: page, pm: startup.imported("pm"))
    server.keyboard = startup.imported("input")
    do throws(SysError) {
        let redraw = try notifyCreate()
        try consoleAttach(ioport: uart, notify: redraw, bits: 1)
        try startRedrawThread(redraw, receiver: receiver)
        try DriverLoop.startInterruptThread(irq: irq, receiver: receiver) { UART.drain() }
        UART.enableReceiveInterrupt()
    } catch {
        print("console: cannot take the serial line: \(error.name); exiting")
        return 1
    }
    print("console: serving the serial terminal (COM1, IRQ 4)\(server.pm == nil ? "; no pm: Ctrl-C ends nothing" : "")")
    return server.run()
}

/// A thread that turns the kernel's redraw signals into messages to the loop (badge `redrawBadge`).
func startRedrawThread(_ notify: Handle, receiver: Handle) throws(SysError) {
    let sender = try senderCreate(receiver, badge: ConsoleServer.redrawBadge)
    _ = try spawnThread {
        while true {
            guard (try? notifyWait(notify)) != nil else { return 1 }
            _ = try? senderCall(sender, IPCMessage(label: ConsoleServer.redrawLabel))
        }
    }
}
