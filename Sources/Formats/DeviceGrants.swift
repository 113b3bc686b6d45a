// initfs:///etc/devices.conf: which device capabilities root makes from the machine's Resource for each
// boot server, so every driver holds only its own device's ports, lines and memory. Root reads it and
// passes each grant as the startup entry `grant:NAME`. One grant a line:
//   SERVER NAME ioport BASE COUNT        an IOPort over ports BASE..BASE+COUNT-1
//   SERVER NAME irq isa|gsi NUMBER       an IRQ object on that line
//   SERVER NAME physical ADDRESS SIZE    a Frame over device memory (page-aligned)
//   SERVER NAME framebuffer              a Resource (kind physical) narrowed to the boot framebuffer's
//                                        pages, when the boot loader set one up (else no grant)
//   SERVER NAME resource KIND BASE SIZE  a narrowed Resource (resource_create) of KIND ioport, irq (by
//                                        GSI), physical (page-aligned) or dma (0 1), for a bus driver
//                                        (pcid) that makes its drivers' objects itself
// Numbers are decimal or 0x-hex; `#` starts a comment. Pure logic, host-tested (DeviceGrantsTests).

#if !USERSPACE
import ABI
#endif

/// What a grant makes.
public enum DeviceGrantKind: Equatable, Sendable {
    case ioPort(base: UInt64, count: UInt64)
    case irq(number: UInt64, isa: Bool)
    case physical(address: UInt64, size: UInt64)
    case framebuffer
    case resource(kind: ResourceKind, base: UInt64, size: UInt64)
}

/// One line of devices.conf.
public struct DeviceGrant: Equatable, Sendable {
    public var server: String
    public var name: String
    public var kind: DeviceGrantKind

    public init(server: String, name: String, kind: DeviceGrantKind) {
        self.server = server
        self.name = name
        self.kind = kind
    }
}

public enum DeviceGrants {
    /// The grants of `text`, and the numbers of the lines that break the format (skipped).
    public static func parse(_ text: [UInt8]) -> (grants: [DeviceGrant], badLines: [Int]) {
        var grants: [DeviceGrant] = [], bad: [Int] = []
        var lineNumber = 0
        for raw in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.prefix { $0 != UInt8(ascii: "#") }
            let f = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }).map { String(decoding: $0, as: UTF8.self) }
            if f.isEmpty { continue }
            if f.count == 3 && f[2] == "framebuffer" {
                grants.append(DeviceGrant(server: f[0], name: f[1], kind: .framebuffer))
                continue
            }
            if f.count == 6 && f[2] == "resource" {
                guard let kind = resourceKind(f[3]), let base = number(f[4]), let size = number(f[5]), size > 0,
                      base < kind.limit, size <= kind.limit - base,
                      kind != .physical || (base & 0xfff == 0 && size & 0xfff == 0) else {
                    bad.append(lineNumber)
                    continue
                }
                grants.append(DeviceGrant(server: f[0], name: f[1], kind: .resource(kind: kind, base: base, size: size)))
                continue
            }
            guard f.count == 5, let b = number(f[4]) else {
                bad.append(lineNumber)
                continue
            }
            let a = number(f[3])
            let kind: DeviceGrantKind
            switch (f[2], a) {
            case ("ioport", .some(let a)) where b > 0 && a < 0x10000 && b <= 0x10000 - a:
                kind = .ioPort(base: a, count: b)
            case ("irq", nil) where (f[3] == "isa" || f[3] == "gsi") && b < 256:
                kind = .irq(number: b, isa: f[3] == "isa")
            case ("physical", .some(let a)) where b > 0 && a & 0xfff == 0 && b & 0xfff == 0 && a <= UInt64.max - b:
                kind = .physical(address: a, size: b)
            default:
                bad.append(lineNumber)
                continue
            }
            grants.append(DeviceGrant(server: f[0], name: f[1], kind: kind))
        }
        return (grants, bad)
    }

    /// A resource line's KIND word.
    static func resourceKind(_ s: String) -> ResourceKind? {
        switch s {
        case "ioport": return .ioPort
        case "irq": return .irq
        case "physical": return .physical
        case "dma": return .dma
        default: return nil
        }
    }

    /// A decimal or 0x-hex number.
    static func number(_ s: String) -> UInt64? {
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) }
        return UInt64(s, radix: 10)
    }
}

/// Timers ordered by deadline (timed's sleeps and alarms): insert, take the due ones, remove by id.
/// A sorted array: insert and remove are linear, which is fine for TimeProtocol.maxTimers.
public struct DeadlineList<Value> {
    public private(set) var items: [(deadline: UInt64, id: UInt64, value: Value)] = []

    public init() {}

    public var count: Int { items.count }
    /// The soonest deadline, if any.
    public var next: UInt64? { items.first?.deadline }

    /// Adds a timer after every timer with the same or an earlier deadline (equal deadlines fire in
    /// the order they were added).
    public mutating func insert(deadline: UInt64, id: UInt64, value: Value) {
        var lo = 0, hi = items.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if items[mid].deadline <= deadline { lo = mid + 1 } else { hi = mid }
        }
        items.insert((deadline, id, value), at: lo)
    }

    /// Removes and returns the timers due at `now`, soonest first.
    public mutating func takeDue(_ now: UInt64) -> [(deadline: UInt64, id: UInt64, value: Value)] {
        var n = 0
        while n < items.count && items[n].deadline <= now { n += 1 }
        let due = Array(items[0..<n])
        items.removeFirst(n)
        return due
    }

    /// Removes the timer `id` whose value passes `matching`; its value, or nil.
    public mutating func remove(id: UInt64, matching: (Value) -> Bool = { _ in true }) -> Value? {
        guard let i = items.firstIndex(where: { $0.id == id && matching($0.value) }) else { return nil }
        return items.remove(at: i).value
    }
}
