/// Symbolizer markup (the LLVM "Symbolizer Markup Format"): `{{{tag:field:…}}}` elements embedded in
/// log lines. This parses the elements the OS emits and tolerates any other tag.

/// How an address in a backtrace or pc element is to be read.
public enum CodeAddressKind: Equatable, Sendable {
    /// A return address (`ra`): the call is the instruction before, so address-1 is looked up.
    case returnAddress
    /// The precise address of an instruction (`pc`).
    case precise
}

public enum MarkupElement: Equatable, Sendable {
    /// `{{{reset}}}`: forget all modules and mappings.
    case reset
    /// `{{{module:ID:NAME:elf:BUILDID}}}`.
    case module(id: UInt64, name: String, buildID: String)
    /// `{{{mmap:START:SIZE:load:MODULE:FLAGS:RELATIVE}}}`: module MODULE's address RELATIVE is at START.
    case mmap(start: UInt64, size: UInt64, moduleID: UInt64, flags: String, relativeAddress: UInt64)
    /// `{{{bt:FRAME:ADDRESS[:ra|pc]}}}`; without a type, frame 0 is precise and the others return addresses.
    case backtrace(frame: UInt64, address: UInt64, kind: CodeAddressKind)
    /// `{{{pc:ADDRESS[:ra|pc]}}}`; precise without a type.
    case pc(address: UInt64, kind: CodeAddressKind)
    /// Any other element (`symbol`, `data`, `hexdict`, other mmap types, …), kept as it is.
    case other(tag: String, fields: [String])
}

public enum MarkupSegment: Equatable, Sendable {
    case text(String)
    /// A parsed element and its original text (`{{{…}}}`).
    case element(MarkupElement, raw: String)
}

public enum Markup {
    /// Splits a line into text and elements. Throws `.malformedMarkup` naming `lineNumber` for an
    /// unterminated element or a known element with bad fields.
    public static func parseLine(_ line: String, lineNumber: Int) throws(SymbolizerError) -> [MarkupSegment] {
        guard line.contains("{{{") else { return [.text(line)] }
        var segments: [MarkupSegment] = []
        var rest = line[...]
        while let open = rest.range(of: "{{{") {
            if open.lowerBound > rest.startIndex { segments.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}}") else {
                throw .malformedMarkup(line: lineNumber, reason: "'{{{' without closing '}}}'")
            }
            let body = rest[open.upperBound..<close.lowerBound]
            let raw = String(rest[open.lowerBound..<close.upperBound])
            segments.append(.element(try parseElement(body, lineNumber: lineNumber), raw: raw))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { segments.append(.text(String(rest))) }
        return segments
    }

    static func parseElement(_ body: Substring, lineNumber: Int) throws(SymbolizerError) -> MarkupElement {
        let fields = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let tag = fields[0]
        func bad(_ reason: String) -> SymbolizerError {
            .malformedMarkup(line: lineNumber, reason: "{{{\(body)}}}: \(reason)")
        }
        func number(_ index: Int, _ what: String) throws(SymbolizerError) -> UInt64 {
            guard let value = parseNumber(fields[index]) else { throw bad("\(what) '\(fields[index])' is not a number") }
            return value
        }
        func kind(_ index: Int, default value: CodeAddressKind) throws(SymbolizerError) -> CodeAddressKind {
            guard index < fields.count else { return value }
            switch fields[index] {
            case "ra": return .returnAddress
            case "pc": return .precise
            default: throw bad("address type '\(fields[index])' is neither ra nor pc")
            }
        }
        switch tag {
        case "reset":
            guard fields.count == 1 else { throw bad("reset takes no fields") }
            return .reset
        case "module":
            guard fields.count >= 4 else { throw bad("expected module:ID:NAME:TYPE:…") }
            let id = try number(1, "module ID")
            guard fields[3] == "elf" else { return .other(tag: tag, fields: Array(fields.dropFirst())) }
            guard fields.count == 5 else { throw bad("expected module:ID:NAME:elf:BUILDID") }
            let buildID = fields[4].lowercased()
            guard !buildID.isEmpty, buildID.count % 2 == 0, buildID.allSatisfy(\.isHexDigit) else {
                throw bad("build ID '\(fields[4])' is not hexadecimal bytes")
            }
            return .module(id: id, name: fields[2], buildID: buildID)
        case "mmap":
            guard fields.count >= 4 else { throw bad("expected mmap:START:SIZE:TYPE:…") }
            let start = try number(1, "start")
            let size = try number(2, "size")
            guard fields[3] == "load" else { return .other(tag: tag, fields: Array(fields.dropFirst())) }
            guard fields.count == 7 else { throw bad("expected mmap:START:SIZE:load:MODULE:FLAGS:RELATIVE") }
            return .mmap(start: start, size: size, moduleID: try number(4, "module ID"), flags: fields[5],
                         relativeAddress: try number(6, "relative address"))
        case "bt":
            guard fields.count == 3 || fields.count == 4 else { throw bad("expected bt:FRAME:ADDRESS[:ra|pc]") }
            let frame = try number(1, "frame number")
            return .backtrace(frame: frame, address: try number(2, "address"),
                              kind: try kind(3, default: frame == 0 ? .precise : .returnAddress))
        case "pc":
            guard fields.count == 2 || fields.count == 3 else { throw bad("expected pc:ADDRESS[:ra|pc]") }
            return .pc(address: try number(1, "address"), kind: try kind(2, default: .precise))
        case "":
            throw bad("empty element")
        default:
            return .other(tag: tag, fields: Array(fields.dropFirst()))
        }
    }

    /// A markup number: `0x…` hexadecimal or decimal.
    public static func parseNumber(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            let digits = text.dropFirst(2)
            guard !digits.isEmpty, digits.count <= 16 else { return nil }
            return UInt64(digits, radix: 16)
        }
        return UInt64(text, radix: 10)
    }
}
