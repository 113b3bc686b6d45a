// A driver's side of the PCI protocol (Sources/ABI/PCIProtocol.swift): claim a function from pcid by its
// IDs, then take its BARs and interrupt as objects through the driver's own Sender (whose badge names
// the function).

/// A function this driver claimed.
public struct PCIClaim {
    /// pcid's index of the function.
    public let index: UInt64
    /// The driver's Sender to pcid (badge: the function).
    public let sender: Handle
    let page: IPCBufferPage

    /// Claims the `nth` function with `vendor`:`device` through `pci` (a client's Sender to pcid); the
    /// reply's handle arrives in `page`, this thread's installed IPC buffer.
    public init(_ pci: Handle, vendor: UInt16, device: UInt16, nth: UInt64 = 0, page: IPCBufferPage) throws(PCIError) {
        let r: IPCMessage
        do throws(SysError) {
            r = try senderCall(pci, IPCMessage(label: PCILabel.claim.rawValue, UInt64(vendor), UInt64(device), nth))
        } catch { throw .noDevice }
        if r.tag.label != 0 { throw PCIError(rawValue: r.tag.label) ?? .badMessage }
        guard r.tag.handles == 1 else { throw .badMessage }
        index = r.words.0
        sender = page.handle(0)
        self.page = page
    }

    /// One call through the driver's Sender; its error label as a PCIError.
    func call(_ label: PCILabel, _ words: UInt64...) throws(PCIError) -> IPCMessage {
        var m = IPCMessage(tag: IPCTag(words: words.count, label: label.rawValue))
        if words.count > 0 { m.words.0 = words[0] }
        if words.count > 1 { m.words.1 = words[1] }
        let r: IPCMessage
        do throws(SysError) { r = try senderCall(sender, m) } catch { throw .noDevice }
        if r.tag.label != 0 { throw PCIError(rawValue: r.tag.label) ?? .badMessage }
        return r
    }

    /// BAR `n`'s base, size and flags.
    public func bar(_ n: Int) throws(PCIError) -> (base: UInt64, size: UInt64, flags: PCIBARFlags) {
        let r = try call(.bar, index, UInt64(n))
        return (r.words.0, r.words.1, PCIBARFlags(rawValue: r.words.2))
    }

    /// The Frame (memory) or IOPort (I/O) over BAR `n`.
    public func takeBar(_ n: Int) throws(PCIError) -> Handle {
        let r = try call(.take, UInt64(n))
        guard r.tag.handles == 1 else { throw .badMessage }
        return page.handle(0)
    }

    /// The IRQ object of the function's interrupt, with its number and numbering.
    public func takeInterrupt() throws(PCIError) -> (irq: Handle, number: UInt64, numbering: IRQNumbering) {
        let r = try call(.take, PCIProtocol.takeInterrupt)
        guard r.tag.handles == 1 else { throw .badMessage }
        return (page.handle(0), r.words.0, IRQNumbering(rawValue: r.words.1) ?? .gsi)
    }
}
