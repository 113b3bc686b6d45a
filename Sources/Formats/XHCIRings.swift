// xHCI data structures that live in memory the controller reads and writes (eXtensible Host Controller
// Interface 1.2: §4.9 rings, §6.4 TRBs, §6.2 contexts, §6.5 the event ring segment table): the 16-byte
// TRB, a producer ring (command and transfer rings: the cycle bit, a Link TRB at the end that toggles
// the cycle), the consumer side of a one-segment event ring, and the input contexts usbd hands to
// Address Device, Configure Endpoint and Evaluate Context. Generic over where the TRBs live
// (`TRBMemory`): usbd stores them in a DMA Frame, the host tests in an array. Pure logic, host-tested
// (Tests/FormatsTests/USBTests.swift).

/// One Transfer Request Block (§4.11): a 64-bit parameter, a status word and a control word (cycle bit
/// 0, type in bits 10-15).
public struct TRB: Equatable, Sendable {
    public var parameter: UInt64
    public var status: UInt32
    public var control: UInt32

    public init(parameter: UInt64 = 0, status: UInt32 = 0, control: UInt32 = 0) {
        self.parameter = parameter
        self.status = status
        self.control = control
    }

    public init(type: TRBType, parameter: UInt64 = 0, status: UInt32 = 0, flags: UInt32 = 0) {
        self.init(parameter: parameter, status: status, control: UInt32(type.rawValue) << 10 | flags)
    }

    public var cycle: Bool { control & 1 != 0 }
    public var typeValue: UInt8 { UInt8(truncatingIfNeeded: control >> 10) & 0x3f }
    public var type: TRBType? { TRBType(rawValue: typeValue) }
    /// Event TRBs: the completion code (status bits 24-31).
    public var completionCode: UInt8 { UInt8(truncatingIfNeeded: status >> 24) }
    /// Event TRBs: the slot ID (control bits 24-31).
    public var slotID: UInt8 { UInt8(truncatingIfNeeded: control >> 24) }
    /// Transfer events: the endpoint's device context index (control bits 16-20).
    public var endpointID: UInt8 { UInt8(truncatingIfNeeded: control >> 16) & 0x1f }
    /// Transfer events: bytes not transferred (status bits 0-23).
    public var residualLength: UInt32 { status & 0xff_ffff }
    /// Port status change events: the port number (parameter bits 24-31).
    public var portID: UInt8 { UInt8(truncatingIfNeeded: parameter >> 24) }

    /// This TRB with its cycle bit set to `cycle`.
    public func with(cycle: Bool) -> TRB {
        TRB(parameter: parameter, status: status, control: cycle ? control | 1 : control & ~1)
    }

    // Control-word flags (§6.4).
    public static let toggleCycle: UInt32 = 1 << 1          // Link TRB
    public static let interruptOnShortPacket: UInt32 = 1 << 2
    public static let interruptOnCompletion: UInt32 = 1 << 5
    public static let immediateData: UInt32 = 1 << 6
    public static let directionIn: UInt32 = 1 << 16       // Data and Status stage TRBs

    // Commands (§6.4.3).
    public static func enableSlot() -> TRB { TRB(type: .enableSlot) }
    public static func disableSlot(_ slot: UInt8) -> TRB { TRB(type: .disableSlot, flags: UInt32(slot) << 24) }
    public static func addressDevice(_ slot: UInt8, inputContext: UInt64) -> TRB {
        TRB(type: .addressDevice, parameter: inputContext, flags: UInt32(slot) << 24)
    }
    public static func configureEndpoint(_ slot: UInt8, inputContext: UInt64) -> TRB {
        TRB(type: .configureEndpoint, parameter: inputContext, flags: UInt32(slot) << 24)
    }
    public static func evaluateContext(_ slot: UInt8, inputContext: UInt64) -> TRB {
        TRB(type: .evaluateContext, parameter: inputContext, flags: UInt32(slot) << 24)
    }
    public static func noOpCommand() -> TRB { TRB(type: .noOpCommand) }

    /// The three stages of a control transfer (§4.11.2.2): Setup (the 8-byte request as immediate
    /// data), an optional Data stage of `length` bytes at `buffer`, and a Status stage that interrupts.
    public static func controlTransfer(_ setup: USBSetupPacket, buffer: UInt64) -> [TRB] {
        let input = setup.requestType & 0x80 != 0
        let transferType: UInt32 = setup.length == 0 ? 0 : (input ? 3 : 2)
        var trbs = [TRB(type: .setupStage, parameter: setup.word, status: 8, flags: immediateData | transferType << 16)]
        if setup.length > 0 {
            trbs.append(TRB(type: .dataStage, parameter: buffer, status: UInt32(setup.length), flags: input ? directionIn : 0))
        }
        // The status stage goes the other way from the data (IN when there is none).
        let statusIn = setup.length == 0 || !input
        trbs.append(TRB(type: .statusStage, flags: interruptOnCompletion | (statusIn ? directionIn : 0)))
        return trbs
    }

    /// A Normal TRB for `length` bytes at `buffer` that interrupts on completion and on a short packet.
    public static func normal(buffer: UInt64, length: UInt32) -> TRB {
        TRB(type: .normal, parameter: buffer, status: length, flags: interruptOnCompletion | interruptOnShortPacket)
    }
}

/// TRB types (§6.4.6, table 6-91).
public enum TRBType: UInt8, Sendable {
    case normal = 1, setupStage = 2, dataStage = 3, statusStage = 4, link = 6, noOp = 8
    case enableSlot = 9, disableSlot = 10, addressDevice = 11, configureEndpoint = 12, evaluateContext = 13
    case resetEndpoint = 14, noOpCommand = 23
    case transferEvent = 32, commandCompletion = 33, portStatusChange = 34, hostControllerEvent = 37
}

/// Completion codes (§6.4.5).
public enum CompletionCode {
    public static let success: UInt8 = 1
    public static let usbTransactionError: UInt8 = 4
    public static let trbError: UInt8 = 5
    public static let stall: UInt8 = 6
    public static let shortPacket: UInt8 = 13
}

/// Where a ring's TRBs are: TRB `index` of the ring. `store` must make the control word (with the
/// cycle bit) visible last.
public protocol TRBMemory {
    func load(_ index: Int) -> TRB
    func store(_ index: Int, _ trb: TRB)
}

/// A ring the software produces and the controller consumes (the command ring, a transfer ring): one
/// segment of `count` TRBs whose last is a Link TRB back to the start with Toggle Cycle (§4.9.2).
public struct ProducerRing: Sendable {
    public let count: Int
    /// The ring's physical address (the Link TRB points there).
    public let physical: UInt64
    public private(set) var enqueue = 0
    /// The Producer Cycle State: the cycle bit the next TRB gets.
    public private(set) var cycle = true

    /// A ring of `count` TRBs (at least 2: one usable and the Link) at `physical`; its memory must be
    /// zeroed (cycle 0 everywhere: nothing for the controller yet).
    public init(count: Int, physical: UInt64) {
        precondition(count >= 2)
        self.count = count
        self.physical = physical
    }

    /// The physical address of TRB `index`.
    public func address(_ index: Int) -> UInt64 { physical + UInt64(index) * 16 }

    /// The index of the TRB at `address`, nil when it is not in this ring.
    public func index(of address: UInt64) -> Int? {
        guard address >= physical, address < physical + UInt64(count) * 16, (address - physical) % 16 == 0 else { return nil }
        return Int((address - physical) / 16)
    }

    /// Places `trb` (its cycle bit set to the ring's) and returns its physical address; at the end of the
    /// segment writes the Link TRB (with the cycle of the TRBs before it) and turns the cycle over.
    @discardableResult
    public mutating func push<M: TRBMemory>(_ trb: TRB, _ memory: M) -> UInt64 {
        let at = enqueue
        memory.store(at, trb.with(cycle: cycle))
        enqueue += 1
        if enqueue == count - 1 {
            memory.store(enqueue, TRB(type: .link, parameter: physical, flags: TRB.toggleCycle).with(cycle: cycle))
            enqueue = 0
            cycle.toggle()
        }
        return address(at)
    }

    /// TRBs that can be pushed before the ring would overrun `dequeue` (the index the controller reported
    /// consuming up to), keeping one free.
    public func space(dequeue: Int) -> Int {
        let usable = count - 1
        let used = (enqueue - dequeue + usable) % usable
        return usable - 1 - used
    }
}

/// The consumer side of a one-segment event ring (§4.9.4): the controller writes events with its cycle
/// bit; software takes them while the cycle matches its own Consumer Cycle State and moves ERDP.
public struct EventRing: Sendable {
    public let count: Int
    public let physical: UInt64
    public private(set) var dequeue = 0
    public private(set) var cycle = true

    public init(count: Int, physical: UInt64) {
        self.count = count
        self.physical = physical
    }

    /// The next event, or nil when the controller has written none since the last.
    public mutating func next<M: TRBMemory>(_ memory: M) -> TRB? {
        let t = memory.load(dequeue)
        guard t.cycle == cycle else { return nil }
        dequeue += 1
        if dequeue == count {
            dequeue = 0
            cycle.toggle()
        }
        return t
    }

    /// What software writes to ERDP after taking events: the address of the next TRB to read.
    public var dequeuePointer: UInt64 { physical + UInt64(dequeue) * 16 }
}

/// An 8-byte USB SETUP packet (USB 2.0 §9.3).
public struct USBSetupPacket: Equatable, Sendable {
    public var requestType: UInt8
    public var request: UInt8
    public var value: UInt16
    public var index: UInt16
    public var length: UInt16

    public init(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16) {
        self.requestType = requestType
        self.request = request
        self.value = value
        self.index = index
        self.length = length
    }

    /// The packet as the Setup TRB's immediate parameter (little-endian bytes 0-7).
    public var word: UInt64 {
        UInt64(requestType) | UInt64(request) << 8 | UInt64(value) << 16 | UInt64(index) << 32 | UInt64(length) << 48
    }

    /// GET_DESCRIPTOR of `type` (1 device, 2 configuration) number `number`, `length` bytes.
    public static func getDescriptor(_ type: UInt8, _ number: UInt8 = 0, length: UInt16) -> USBSetupPacket {
        USBSetupPacket(requestType: 0x80, request: 6, value: UInt16(type) << 8 | UInt16(number), index: 0, length: length)
    }
    /// GET_DESCRIPTOR of an interface's HID report descriptor (HID 1.11 §7.1.1).
    public static func getReportDescriptor(interface: UInt8, length: UInt16) -> USBSetupPacket {
        USBSetupPacket(requestType: 0x81, request: 6, value: 0x22 << 8, index: UInt16(interface), length: length)
    }
    public static func setConfiguration(_ value: UInt8) -> USBSetupPacket {
        USBSetupPacket(requestType: 0, request: 9, value: UInt16(value), index: 0, length: 0)
    }
    /// HID SET_PROTOCOL (HID 1.11 §7.2.6): 0 boot, 1 report.
    public static func setProtocol(interface: UInt8, boot: Bool) -> USBSetupPacket {
        USBSetupPacket(requestType: 0x21, request: 0x0b, value: boot ? 0 : 1, index: UInt16(interface), length: 0)
    }
    /// HID SET_REPORT (§7.2.2) of an output report (type 2, id 0) of `length` bytes: a boot keyboard's LEDs.
    public static func setOutputReport(interface: UInt8, length: UInt16) -> USBSetupPacket {
        USBSetupPacket(requestType: 0x21, request: 0x09, value: 2 << 8, index: UInt16(interface), length: length)
    }
    /// HID SET_IDLE (§7.2.4) with duration 0: report only on change.
    public static func setIdle(interface: UInt8) -> USBSetupPacket {
        USBSetupPacket(requestType: 0x21, request: 0x0a, value: 0, index: UInt16(interface), length: 0)
    }
}

/// Port speeds as PORTSC bits 10-13 report them (the default Protocol Speed IDs, §7.2.2.1.1).
public enum USBSpeed {
    public static let full: UInt32 = 1, low: UInt32 = 2, high: UInt32 = 3, superSpeed: UInt32 = 4

    /// The default maximum packet size of the default control endpoint at a speed (USB 2.0 §5.5.3).
    public static func defaultControlPacketSize(_ speed: UInt32) -> UInt32 {
        switch speed {
        case low, full: return 8
        case high: return 64
        default: return 512
        }
    }

    /// The endpoint context's Interval (2^Interval × 125 µs, §6.2.3.6) for an interrupt endpoint's
    /// bInterval: milliseconds at full and low speed, 2^(bInterval-1) microframes above.
    public static func interruptInterval(_ bInterval: UInt8, speed: UInt32) -> UInt32 {
        if speed == low || speed == full {
            let microframes = max(UInt32(bInterval), 1) * 8
            var log: UInt32 = 0
            while (UInt32(1) << (log + 1)) <= microframes { log += 1 }
            return min(max(log, 3), 10)
        }
        return UInt32(min(max(bInterval, 1), 16) - 1)
    }
}

/// Input contexts (§6.2.5): the Input Control Context, then a Slot Context and 31 Endpoint Contexts,
/// each `contextSize` bytes (32, or 64 with HCCPARAMS1.CSZ). Built as little-endian 32-bit words.
public struct InputContext: Equatable, Sendable {
    public let contextSize: Int
    public var words: [UInt32]

    public init(contextSize: Int) {
        self.contextSize = contextSize
        words = [UInt32](repeating: 0, count: 33 * contextSize / 4)
    }

    /// Byte size of the whole input context.
    public var byteCount: Int { words.count * 4 }

    /// Word `n` of context `index` (0 the Input Control Context, 1 the Slot, 1 + DCI an endpoint).
    public subscript(context index: Int, word n: Int) -> UInt32 {
        get { words[index * contextSize / 4 + n] }
        set { words[index * contextSize / 4 + n] = newValue }
    }

    /// Adds context `dci` (0 = the slot) to the Add Context flags.
    public mutating func add(_ dci: Int) { self[context: 0, word: 1] |= 1 << UInt32(dci) }

    /// The Slot Context: a root-hub port's device with `entries` contexts (the highest DCI in use).
    public mutating func setSlot(speed: UInt32, rootPort: UInt8, entries: Int) {
        self[context: 1, word: 0] = (speed & 0xf) << 20 | UInt32(entries & 0x1f) << 27
        self[context: 1, word: 1] = UInt32(rootPort) << 16
    }

    /// An Endpoint Context at `dci`: type (4 control, 7 interrupt IN), max packet size, interval, its
    /// transfer ring's dequeue pointer with DCS = 1, three error retries.
    public mutating func setEndpoint(_ dci: Int, type: UInt32, maxPacket: UInt32, interval: UInt32 = 0,
                                     ring: UInt64, averageLength: UInt32) {
        let c = dci + 1
        self[context: c, word: 0] = (interval & 0xff) << 16
        self[context: c, word: 1] = 3 << 1 | (type & 7) << 3 | (maxPacket & 0xffff) << 16
        self[context: c, word: 2] = UInt32(truncatingIfNeeded: ring) & ~0xf | 1
        self[context: c, word: 3] = UInt32(truncatingIfNeeded: ring >> 32)
        // Max ESIT payload (periodic endpoints): one packet per interval.
        let esit = type == 7 || type == 3 ? maxPacket : 0
        self[context: c, word: 4] = (averageLength & 0xffff) | (esit & 0xffff) << 16
    }

    /// Address Device's input (§4.3.3): the slot and the default control endpoint.
    public static func addressDevice(contextSize: Int, speed: UInt32, rootPort: UInt8, ring: UInt64) -> InputContext {
        var c = InputContext(contextSize: contextSize)
        c.add(0)
        c.add(1)
        c.setSlot(speed: speed, rootPort: rootPort, entries: 1)
        c.setEndpoint(1, type: 4, maxPacket: USBSpeed.defaultControlPacketSize(speed), ring: ring, averageLength: 8)
        return c
    }

    /// Evaluate Context's input for a new default control endpoint packet size (§4.6.7).
    public static func controlPacketSize(contextSize: Int, maxPacket: UInt32, ring: UInt64) -> InputContext {
        var c = InputContext(contextSize: contextSize)
        c.add(1)
        c.setEndpoint(1, type: 4, maxPacket: maxPacket, ring: ring, averageLength: 8)
        return c
    }

    /// Configure Endpoint's input (§4.6.6) for one interrupt IN endpoint number `endpoint`.
    public static func interruptIn(contextSize: Int, speed: UInt32, rootPort: UInt8, endpoint: UInt8, maxPacket: UInt32,
                                   bInterval: UInt8, ring: UInt64) -> InputContext {
        let dci = Int(endpoint & 0xf) * 2 + 1
        var c = InputContext(contextSize: contextSize)
        c.add(0)
        c.add(dci)
        c.setSlot(speed: speed, rootPort: rootPort, entries: dci)
        c.setEndpoint(dci, type: 7, maxPacket: maxPacket, interval: USBSpeed.interruptInterval(bInterval, speed: speed),
                      ring: ring, averageLength: maxPacket)
        return c
    }
}
