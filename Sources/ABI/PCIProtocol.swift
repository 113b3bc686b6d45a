// The PCI protocol: what pcid (Sources/Servers/pcid) serves about the machine's PCI functions, and how a
// driver claims its device and reaches its own function's configuration space.
//
// Requests are IPC calls through a Sender to pcid's Receiver; the label is a PCILabel, the register
// words carry the arguments below. Replies: label 0 on success or a PCIError raw value; results in the
// reply's words. A request with an unknown label, fewer words than it needs, or bytes or handles (none
// is taken) is answered with `.badMessage`, and the handles are closed.
//
// Who may ask what, by the Sender's badge: a client (any Sender root gave an importer, badges below
// PCIProtocol.functionBadgeBase) may list, read any function's configuration space and claim a function
// that nobody claimed yet. `claim` answers with a new Sender whose badge is
// PCIProtocol.functionBadgeBase + the function's index: the driver's. Through it the driver takes its
// function's BARs and interrupt as objects (`take`), asks for DMA memory (`dma`), and reads and writes
// its own function's configuration space (never its BARs: pcid hands them out as objects), nothing
// else's (`.denied`).
//
// Requests (w0..w3 = register words; → the reply's words):
//   count     → w0 number of functions found, w1 PCIAccess raw value (how pcid reaches configuration space)
//   function  w0 index → w0 PCIFunctionWord0 (location, vendor, device, header type),
//             w1 PCIFunctionWord1 (class, subclass, prog-if, revision, interrupt pin and line, GSI),
//             w2 the capability IDs present (bit n = ID n, IDs below 64: MSI is bit 5, MSI-X bit 17),
//             w3 whether a driver claimed it (PCIDriverState)
//   bar       w0 index, w1 BAR number (0-5) → w0 base address, w1 size in bytes, w2 PCIBARFlags
//             (a BAR that is not there, or the upper half of a 64-bit BAR, has size 0 and flags 0)
//   configRead  w0 index, w1 offset, w2 width (1, 2 or 4; offset a multiple of it, below 4096 with
//             ECAM, below 256 with ports) → w0 the value
//   configWrite w0 index, w1 offset, w2 width, w3 value → nothing (own function only; BARs `.denied`)
//   claim     w0 vendor ID, w1 device ID, w2 n (the n-th function with those IDs in pcid's list, 0 the
//             first) → w0 the function's index; handles: 1, the
//             driver's Sender (badge functionBadgeBase + index). Memory and I/O decoding and bus
//             mastering are switched on. `.noDevice` when there is no such function, `.busy` when it is
//             claimed already, `.denied` through a driver's Sender.
//   take      w0 what (0-5: that BAR; 6: the interrupt) → handles: 1: a Frame over a memory BAR (the
//             pages it spans), an IOPort over an I/O BAR, or the IRQ object of the function's INTx line;
//             for the interrupt w0 its number and w1 its IRQNumbering. Drivers only (their own
//             function); each object once (`.busy` the second time); `.invalid` for a BAR that is not
//             there or a function without an interrupt. INTx lines are shared (IRQOptions.shared):
//             every driver on a line gets each of its interrupts and checks its own device.
//   dma       w0 size (a page multiple, > 0) → handles: 1, a Frame of physically contiguous RAM for the
//             device's DMA (frame_create_contiguous; frame_physical gives its address). Drivers only
//             (`.denied` for others), at most PCIProtocol.dmaLimit bytes per function (`.invalid`
//             past it or for a bad size; `.noMemory` when the kernel has no such run)

/// The labels of PCI requests.
public enum PCILabel: UInt32, CaseIterable, Sendable {
    case count = 1
    case function = 2
    case bar = 3
    case configRead = 4
    case configWrite = 5
    case claim = 6
    case dma = 7
    case take = 8

    public var name: StaticString {
        switch self {
        case .count: return "count"
        case .function: return "function"
        case .bar: return "bar"
        case .configRead: return "configRead"
        case .configWrite: return "configWrite"
        case .claim: return "claim"
        case .dma: return "dma"
        case .take: return "take"
        }
    }

    /// The register words a request needs at least.
    public var minimumWords: Int {
        switch self {
        case .count: return 0
        case .function, .dma, .take: return 1
        case .bar: return 2
        case .configRead, .claim: return 3
        case .configWrite: return 4
        }
    }
}

/// Why a PCI request failed.
public enum PCIError: UInt32, Error, CaseIterable, Sendable {
    /// Not allowed for this Sender's badge (EACCES).
    case denied = 13
    /// No function with that index (ENODEV).
    case noDevice = 19
    /// A bad offset, width or BAR number (EINVAL).
    case invalid = 22
    /// A malformed request (EBADMSG).
    case badMessage = 74
    /// The kernel had no memory for the request (ENOMEM).
    case noMemory = 12
    /// The function is claimed already, or the object was taken already (EBUSY).
    case busy = 16

    public var name: StaticString {
        switch self {
        case .noMemory: return "out of memory"
        case .denied: return "not allowed"
        case .noDevice: return "no such function"
        case .invalid: return "invalid argument"
        case .busy: return "claimed or taken already"
        case .badMessage: return "malformed request"
        }
    }
}

/// How pcid reaches configuration space.
public enum PCIAccess: UInt64, Sendable {
    /// PCI Express ECAM through the ACPI MCFG table (4 KiB per function).
    case ecam = 0
    /// The legacy mechanism #1, ports 0xCF8/0xCFC (256 bytes per function).
    case ports = 1
}

/// `function`'s w0: bus << 8 | device << 3 | function in bits 0-15, vendor ID in 16-31, device ID in
/// 32-47, header type in 48-55.
public struct PCIFunctionWord0: Equatable, Sendable {
    public var bus: UInt8, device: UInt8, function: UInt8
    public var vendor: UInt16, deviceID: UInt16, headerType: UInt8
    public init(bus: UInt8, device: UInt8, function: UInt8, vendor: UInt16, deviceID: UInt16, headerType: UInt8) {
        (self.bus, self.device, self.function) = (bus, device, function)
        (self.vendor, self.deviceID, self.headerType) = (vendor, deviceID, headerType)
    }
    public init(_ w: UInt64) {
        self.init(bus: UInt8(truncatingIfNeeded: w >> 8), device: UInt8(truncatingIfNeeded: w >> 3) & 0x1f,
                  function: UInt8(truncatingIfNeeded: w) & 7, vendor: UInt16(truncatingIfNeeded: w >> 16),
                  deviceID: UInt16(truncatingIfNeeded: w >> 32), headerType: UInt8(truncatingIfNeeded: w >> 48))
    }
    public var word: UInt64 {
        UInt64(bus) << 8 | UInt64(device & 0x1f) << 3 | UInt64(function & 7) | UInt64(vendor) << 16
            | UInt64(deviceID) << 32 | UInt64(headerType) << 48
    }
}

/// `function`'s w1: prog-if in bits 0-7, subclass 8-15, class 16-23, revision 24-31, interrupt pin
/// (0 none, 1-4 INTA-D) 32-39, interrupt line register 40-47, the GSI pcid routes INTx to 48-63
/// (0xFFFF: none).
public struct PCIFunctionWord1: Equatable, Sendable {
    public var progIF: UInt8, subclass: UInt8, classCode: UInt8, revision: UInt8
    public var interruptPin: UInt8, interruptLine: UInt8, gsi: UInt16
    public init(progIF: UInt8, subclass: UInt8, classCode: UInt8, revision: UInt8, interruptPin: UInt8,
                interruptLine: UInt8, gsi: UInt16) {
        (self.progIF, self.subclass, self.classCode, self.revision) = (progIF, subclass, classCode, revision)
        (self.interruptPin, self.interruptLine, self.gsi) = (interruptPin, interruptLine, gsi)
    }
    public init(_ w: UInt64) {
        self.init(progIF: UInt8(truncatingIfNeeded: w), subclass: UInt8(truncatingIfNeeded: w >> 8),
                  classCode: UInt8(truncatingIfNeeded: w >> 16), revision: UInt8(truncatingIfNeeded: w >> 24),
                  interruptPin: UInt8(truncatingIfNeeded: w >> 32), interruptLine: UInt8(truncatingIfNeeded: w >> 40),
                  gsi: UInt16(truncatingIfNeeded: w >> 48))
    }
    public var word: UInt64 {
        UInt64(progIF) | UInt64(subclass) << 8 | UInt64(classCode) << 16 | UInt64(revision) << 24
            | UInt64(interruptPin) << 32 | UInt64(interruptLine) << 40 | UInt64(gsi) << 48
    }
    /// No GSI (no interrupt pin, or a routing pcid does not know).
    public static let noGSI: UInt16 = 0xffff
}

/// `function`'s w3.
public enum PCIDriverState: UInt64, Sendable {
    /// No driver claimed this function.
    case none = 0
    /// A driver claimed it (`claim`).
    case claimed = 1
}

/// `bar`'s w2.
public struct PCIBARFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// The BAR decodes something (size > 0).
    public static let present = PCIBARFlags(rawValue: 1 << 0)
    /// I/O space (else memory space).
    public static let io = PCIBARFlags(rawValue: 1 << 1)
    /// A 64-bit memory BAR (it takes the next BAR number too).
    public static let wide = PCIBARFlags(rawValue: 1 << 2)
    public static let prefetchable = PCIBARFlags(rawValue: 1 << 3)
}

public enum PCIProtocol {
    /// Capability IDs (PCI Local Bus 3.0, PCI Code and ID Assignment).
    public static let capabilityPowerManagement: UInt8 = 0x01
    public static let capabilityMSI: UInt8 = 0x05
    public static let capabilityVendor: UInt8 = 0x09
    public static let capabilityPCIExpress: UInt8 = 0x10
    public static let capabilityMSIX: UInt8 = 0x11

    /// `take`'s w0 for the interrupt (0-5 are BARs).
    public static let takeInterrupt: UInt64 = 6
    /// The badge of a driver's Sender (`claim`): this plus the function's index. Root's importers have
    /// small badges (one number per importer), below it.
    public static let functionBadgeBase: UInt64 = 1 << 48
    /// The most DMA memory pcid gives one driver in all (`dma` requests), in bytes.
    public static let dmaLimit: UInt64 = 32 << 20

    /// A short name for a class code (PCI Code and ID Assignment), for lists.
    public static func className(_ classCode: UInt8, _ subclass: UInt8) -> StaticString {
        switch (classCode, subclass) {
        case (0x00, _): return "unclassified"
        case (0x01, 0x00): return "SCSI storage"
        case (0x01, 0x01): return "IDE storage"
        case (0x01, 0x06): return "SATA storage"
        case (0x01, 0x08): return "NVMe storage"
        case (0x01, _): return "storage"
        case (0x02, _): return "network"
        case (0x03, _): return "display"
        case (0x04, _): return "multimedia"
        case (0x05, _): return "memory"
        case (0x06, 0x00): return "host bridge"
        case (0x06, 0x01): return "ISA bridge"
        case (0x06, 0x04): return "PCI bridge"
        case (0x06, _): return "bridge"
        case (0x07, _): return "communication"
        case (0x08, _): return "system peripheral"
        case (0x0c, 0x03): return "USB"
        case (0x0c, 0x05): return "SMBus"
        case (0x0c, _): return "serial bus"
        default: return "other"
        }
    }
}
