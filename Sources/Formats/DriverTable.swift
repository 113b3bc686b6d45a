// The driver table init reads after boot (initfs:///etc/drivers.conf): which program drives which PCI
// functions. One rule a line, `MATCH SERVICE PROGRAM [ARGUMENT...]`, separated by spaces or tabs; `#`
// starts a comment. MATCH is `VVVV:DDDD` (vendor and device ID, hex) or `class=CC.SS` / `class=CC.SS.PP`
// (class, subclass and optionally prog-if, hex). SERVICE is the name of what each instance exports: the
// n-th function (in pcid's order) that any rule with that SERVICE matches is instance n, which exports
// `SERVICEn` (block1 for the second virtio disk). A function a driver claimed already (a boot server:
// virtio-blk drives the first disk as `block`) keeps its number but gets no instance. The first rule
// that matches a function counts. Pure logic, host-tested (DriverTableTests).

/// What a rule matches.
public enum DriverMatch: Equatable, Sendable {
    case ids(vendor: UInt16, device: UInt16)
    case classCode(UInt8, subclass: UInt8, progIF: UInt8?)
}

/// One line of drivers.conf.
public struct DriverRule: Equatable, Sendable {
    public var match: DriverMatch
    public var service: String
    public var program: String
    public var arguments: [String]
    public var line: Int
}

/// A PCI function as the driver table sees it (pcid's `function` answer).
public struct DriverFunction: Equatable, Sendable {
    public var index: UInt64
    public var vendor: UInt16, device: UInt16
    public var classCode: UInt8, subclass: UInt8, progIF: UInt8
    public var claimed: Bool
    public init(index: UInt64, vendor: UInt16, device: UInt16, classCode: UInt8, subclass: UInt8, progIF: UInt8, claimed: Bool) {
        (self.index, self.vendor, self.device) = (index, vendor, device)
        (self.classCode, self.subclass, self.progIF, self.claimed) = (classCode, subclass, progIF, claimed)
    }
}

/// One driver instance to start: the function, the rule, and the name its export is registered under.
public struct DriverInstance: Equatable, Sendable {
    public var function: UInt64
    public var rule: DriverRule
    public var name: String
    public var number: Int
}

public enum DriverTable {
    public static let maxServiceName = 24

    /// The rules of drivers.conf text and the refused lines (number, reason).
    public static func parse(_ text: [UInt8]) -> (rules: [DriverRule], problems: [(line: Int, reason: String)]) {
        var rules: [DriverRule] = []
        var problems: [(line: Int, reason: String)] = []
        for (i, raw) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var line = String(decoding: raw, as: UTF8.self)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            guard fields.count >= 3 else {
                problems.append((i + 1, "needs MATCH SERVICE PROGRAM"))
                continue
            }
            guard let match = parseMatch(fields[0]) else {
                problems.append((i + 1, "bad match `\(fields[0])` (VVVV:DDDD or class=CC.SS[.PP], hex)"))
                continue
            }
            let service = fields[1]
            guard !service.isEmpty, service.utf8.count <= maxServiceName,
                  service.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f }),
                  let last = service.utf8.last, !(last >= 0x30 && last <= 0x39) else {
                problems.append((i + 1, "bad service name `\(service)` (a-z, 0-9, - and _, not ending in a digit)"))
                continue
            }
            rules.append(DriverRule(match: match, service: service, program: fields[2], arguments: Array(fields[3...]), line: i + 1))
        }
        return (rules, problems)
    }

    static func parseMatch(_ text: String) -> DriverMatch? {
        func hex(_ s: Substring, digits: Int) -> UInt64? {
            guard !s.isEmpty, s.count <= digits else { return nil }
            return UInt64(s, radix: 16)
        }
        if text.hasPrefix("class=") {
            let parts = text.dropFirst(6).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2 || parts.count == 3, let c = hex(parts[0], digits: 2), let s = hex(parts[1], digits: 2) else { return nil }
            var p: UInt8? = nil
            if parts.count == 3 {
                guard let v = hex(parts[2], digits: 2) else { return nil }
                p = UInt8(v)
            }
            return .classCode(UInt8(c), subclass: UInt8(s), progIF: p)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let v = hex(parts[0], digits: 4), let d = hex(parts[1], digits: 4) else { return nil }
        return .ids(vendor: UInt16(v), device: UInt16(d))
    }

    public static func matches(_ m: DriverMatch, _ f: DriverFunction) -> Bool {
        switch m {
        case .ids(let v, let d): return f.vendor == v && f.device == d
        case .classCode(let c, let s, let p): return f.classCode == c && f.subclass == s && (p == nil || p == f.progIF)
        }
    }

    /// The instances to start for `functions` (in pcid's order): one per unclaimed function a rule
    /// matches, numbered per service over every matched function, claimed ones included.
    public static func instances(_ rules: [DriverRule], _ functions: [DriverFunction]) -> [DriverInstance] {
        var counts: [String: Int] = [:]
        var out: [DriverInstance] = []
        for f in functions {
            guard let rule = rules.first(where: { matches($0.match, f) }) else { continue }
            let n = counts[rule.service, default: 0]
            counts[rule.service] = n + 1
            if f.claimed { continue }
            out.append(DriverInstance(function: f.index, rule: rule, name: rule.service + String(n), number: n))
        }
        return out
    }
}
