// The i8042 PS/2 controller, shared by kbd (which initialises it) and moused: polled reads and writes of
// its data port (0x60) and status/command port (0x64), each bounded by a timeout. The caller must hold
// IOPorts over both ports (kbd and moused get them from root, as devices.conf says). The status register's
// bit 5 tells a byte from the mouse (second port) from one of the keyboard, so the two drivers read only
// their own bytes.

public enum PS2Controller {
    public static let dataPort: UInt16 = 0x60
    public static let statusPort: UInt16 = 0x64
    /// Status bits: output buffer full (a byte to read), input buffer full (busy), the byte is the mouse's.
    public static let outputFull: UInt8 = 0x01
    public static let inputFull: UInt8 = 0x02
    public static let fromMouse: UInt8 = 0x20
    /// How long one byte may take (QEMU answers at once; real controllers within milliseconds).
    public static let timeout: UInt64 = 200_000_000

    public static var status: UInt8 { port_in8(statusPort) }

    /// Waits until the controller takes a byte; false on timeout.
    static func waitWritable() -> Bool {
        let start = Clock.now()
        while status & inputFull != 0 {
            if Clock.now() - start > timeout { return false }
            cpu_pause()
        }
        return true
    }

    /// Writes a controller command (port 0x64).
    @discardableResult
    public static func command(_ c: UInt8) -> Bool {
        guard waitWritable() else { return false }
        port_out8(statusPort, c)
        return true
    }

    /// Writes a byte to the data port (a command's argument, or a byte for the keyboard).
    @discardableResult
    public static func writeData(_ b: UInt8) -> Bool {
        guard waitWritable() else { return false }
        port_out8(dataPort, b)
        return true
    }

    /// The next byte from the keyboard side (`mouse` false) or the mouse side (true); nil on timeout. A
    /// byte of the other side is left for its driver.
    public static func read(mouse: Bool, timeout: UInt64 = PS2Controller.timeout) -> UInt8? {
        let start = Clock.now()
        while true {
            let s = status
            if s & outputFull != 0 && (s & fromMouse != 0) == mouse { return port_in8(dataPort) }
            if Clock.now() - start > timeout { return nil }
            threadYield()
        }
    }

    /// Reads and drops whatever bytes are waiting (both sides).
    public static func flush() {
        var n = 0
        while status & outputFull != 0 && n < 64 {
            _ = port_in8(dataPort)
            n += 1
        }
    }

    /// Sends a byte to the keyboard, or through 0xD4 to the mouse, and waits for its 0xFA
    /// acknowledgement (resending on 0xFE, up to three times); false when it never came.
    public static func sendToDevice(_ b: UInt8, mouse: Bool) -> Bool {
        for _ in 0..<3 {
            if mouse && !command(0xd4) { return false }
            guard writeData(b) else { return false }
            while let answer = read(mouse: mouse) {
                if answer == 0xfa { return true }
                if answer == 0xfe { break }
            }
        }
        return false
    }

    /// The controller configuration byte (command 0x20), nil on timeout.
    public static func readConfiguration() -> UInt8? {
        guard command(0x20) else { return nil }
        return read(mouse: false)
    }

    /// Writes the configuration byte (command 0x60).
    @discardableResult
    public static func writeConfiguration(_ c: UInt8) -> Bool { command(0x60) && writeData(c) }
}
