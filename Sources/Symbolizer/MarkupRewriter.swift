/// Turns a log with symbolizer markup into a readable one: text outside markup is kept unchanged,
/// `bt` and `pc` elements become frames (`#1 0x… in function file:line:column`, one line per inlined
/// frame, the inlined ones numbered `#1.1`, `#1.2`, … from callee to caller), `module` and `mmap` become
/// a short summary, and `reset` forgets the modules and mappings seen so far. A frame that cannot be
/// symbolized is printed raw with a note; none is dropped.
public final class MarkupRewriter {
    struct Module {
        var name: String
        var buildID: String
        var symbolizer: Result<ELFSymbolizer, SymbolizerError>
    }
    struct Mapping {
        var start: UInt64
        var size: UInt64
        var moduleID: UInt64
        var relativeAddress: UInt64
    }

    public let finder: ELFFinder
    /// Stripped from the front of source paths (e.g. the source tree's root, with a trailing slash).
    public var pathPrefix: String?
    /// Problems met so far (malformed lines, unknown build IDs), one line each, in order.
    public private(set) var diagnostics: [String] = []
    /// When set, malformed markup makes `rewrite` throw instead of keeping the line as it is.
    public var strict = false

    private var modules: [UInt64: Module] = [:]
    private var mappings: [Mapping] = []
    private var lineNumber = 0

    public init(finder: ELFFinder, pathPrefix: String? = nil) {
        self.finder = finder
        self.pathPrefix = pathPrefix
    }

    /// Rewrites a whole log (lines separated by \n or \r\n, as serial.log has them); the result has \n
    /// line ends, and a last line without one (a VM killed mid-line) gets one.
    public func rewrite(log: String) throws(SymbolizerError) -> String {
        var out = ""
        for line in MarkupRewriter.lines(of: log) {
            out += try rewrite(line: line)
            out += "\n"
        }
        return out
    }

    /// The lines of a log without their ends: split at \n bytes (Swift sees "\r\n" as one Character, so a
    /// Character split would leave a CRLF log as one line), one trailing \r dropped from each.
    static func lines(of log: String) -> [String] {
        var utf8 = Array(log.utf8)
        if utf8.last == 0x0a { utf8.removeLast() }
        if utf8.isEmpty { return log.isEmpty ? [] : [""] }
        return utf8.split(separator: 0x0a, omittingEmptySubsequences: false).map { bytes in
            String(decoding: bytes.last == 0x0d ? bytes.dropLast() : bytes, as: UTF8.self)
        }
    }

    /// Rewrites the next line of the log (without its newline); the result may span several lines.
    public func rewrite(line: String) throws(SymbolizerError) -> String {
        lineNumber += 1
        if line.utf8.last == 0x0d, line.contains("{{{") {  // a CRLF line end: parse without the \r
            return try rewrite(markupLine: String(decoding: line.utf8.dropLast(), as: UTF8.self))
        }
        return try rewrite(markupLine: line)
    }

    /// `rewrite(line:)` once the line is counted and has no \r at its end.
    private func rewrite(markupLine line: String) throws(SymbolizerError) -> String {
        let segments: [MarkupSegment]
        do {
            segments = try Markup.parseLine(line, lineNumber: lineNumber)
        } catch {
            if strict { throw error }
            diagnostics.append(error.description)
            return line
        }
        if segments.count == 1, case .text = segments[0] { return line }
        // An element alone on its line (but for blanks) replaces the line; one amid text stays inline.
        let alone = segments.allSatisfy {
            if case .text(let t) = $0 { return t.allSatisfy(\.isWhitespace) }
            return true
        }
        var out = ""
        for segment in segments {
            switch segment {
            case .text(let text):
                if !alone { out += text }
            case .element(let element, let raw):
                if let rendered = render(element, raw: raw) {
                    if alone && !out.isEmpty { out += "\n" }
                    out += rendered
                }
            }
        }
        return out
    }

    /// The replacement text of an element, or nil for none (reset).
    func render(_ element: MarkupElement, raw: String) -> String? {
        switch element {
        case .reset:
            modules = [:]
            mappings = []
            return "[[[reset]]]"
        case .module(let id, let name, let buildID):
            let symbolizer = Result<ELFSymbolizer, SymbolizerError> { () throws(SymbolizerError) in
                try finder.symbolizer(forBuildID: buildID)
            }
            modules[id] = Module(name: name, buildID: buildID, symbolizer: symbolizer)
            switch symbolizer {
            case .success(let s):
                let debug = s.hasDebugInfo ? "" : " (no debug info: symbol names only)"
                return "[[[module \(id) \"\(name)\" build ID \(buildID): \(s.path)\(debug)]]]"
            case .failure(let error):
                diagnostics.append("line \(lineNumber): \(error.description)")
                return "[[[module \(id) \"\(name)\" build ID \(buildID): \(error.description)]]]"
            }
        case .mmap(let start, let size, let moduleID, let flags, let relative):
            mappings.removeAll { $0.start == start }
            mappings.append(Mapping(start: start, size: size, moduleID: moduleID, relativeAddress: relative))
            let name = modules[moduleID].map { "\"\($0.name)\"" } ?? "unknown module \(moduleID)"
            return "[[[mmap \(hex(start))-\(hex(start &+ size)) \(flags) \(name) at \(hex(relative))]]]"
        case .backtrace(let frame, let address, let kind):
            return renderFrames(label: "#\(frame)", address: address, kind: kind)
        case .pc(let address, let kind):
            return renderFrames(label: nil, address: address, kind: kind)
        case .other:
            return raw
        }
    }

    private func renderFrames(label: String?, address: UInt64, kind: CodeAddressKind) -> String {
        func line(_ suffix: String?, _ body: String) -> String {
            var s = ""
            if let label { s += label + (suffix.map { "." + $0 } ?? "") + " " }
            return s + hex(address) + " " + body
        }
        guard let mapping = mappings.last(where: { address >= $0.start && address - $0.start < $0.size }) else {
            return line(nil, "(raw: no module mapped at this address)")
        }
        let relative = address - mapping.start &+ mapping.relativeAddress
        guard let module = modules[mapping.moduleID] else {
            return line(nil, "(raw: mapping names unknown module \(mapping.moduleID))")
        }
        let place = "\(module.name)+\(hex(relative &- mapping.relativeAddress))"
        let symbolizer: ELFSymbolizer
        switch module.symbolizer {
        case .success(let s): symbolizer = s
        case .failure(let error): return line(nil, "\(place) (raw: \(error.description))")
        }
        let frames = symbolizer.frames(at: relative, returnAddress: kind == .returnAddress)
        var lines: [String] = []
        for (i, frame) in frames.enumerated() {
            let suffix = i < frames.count - 1 ? String(i + 1) : nil
            var body = "in " + (frame.function ?? "??")
            if let file = frame.file {
                body += " " + shorten(file) + ":\(frame.line):\(frame.column)"
            } else {
                body += " (\(place))"
            }
            lines.append(line(suffix, body))
        }
        return lines.joined(separator: "\n")
    }

    private func shorten(_ file: String) -> String {
        if let pathPrefix, !pathPrefix.isEmpty, file.hasPrefix(pathPrefix) { return String(file.dropFirst(pathPrefix.count)) }
        return file
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
