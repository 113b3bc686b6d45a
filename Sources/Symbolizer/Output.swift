#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Symbolizer {
    /// Parses an address written in hex, with or without 0x; nil if it is not one.
    public static func parseAddress<S: Collection>(_ utf8: S) -> UInt64? where S.Element == UInt8 {
        var i = utf8.startIndex
        var end = utf8.endIndex
        while i < end, utf8[i] == 0x20 || utf8[i] == 0x09 { i = utf8.index(after: i) }
        while i < end {  // trim trailing blanks / CR
            var last = i, j = i
            while j < end { last = j; j = utf8.index(after: j) }
            let c = utf8[last]
            if c == 0x20 || c == 0x09 || c == 0x0d { end = last } else { break }
        }
        if i < end, utf8[i] == 0x30 {
            let next = utf8.index(after: i)
            if next < end, utf8[next] == 0x78 || utf8[next] == 0x58 { i = utf8.index(after: next) }
        }
        guard i < end else { return nil }
        var value: UInt64 = 0
        var digits = 0
        while i < end {
            let c = utf8[i]
            let d: UInt64
            switch c {
            case 0x30...0x39: d = UInt64(c - 0x30)
            case 0x61...0x66: d = UInt64(c - 0x61 + 10)
            case 0x41...0x46: d = UInt64(c - 0x41 + 10)
            default: return nil
            }
            digits += 1
            if digits > 16 { return nil }
            value = value << 4 | d
            i = utf8.index(after: i)
        }
        return value
    }

    /// Appends frames the way `llvm-symbolizer --inlining` prints them: per frame the function, then
    /// file:line:column (`??` for unknown), then one blank line.
    public static func appendLLVMStyle(_ frames: [SourceFrame], to out: inout [UInt8]) {
        for frame in frames {
            out.append(contentsOf: (frame.function ?? "??").utf8)
            out.append(0x0a)
            out.append(contentsOf: (frame.file ?? "??").utf8)
            out.append(0x3a)
            appendDecimal(frame.line, to: &out)
            out.append(0x3a)
            appendDecimal(frame.column, to: &out)
            out.append(0x0a)
        }
        out.append(0x0a)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value == 0 { out.append(0x30); return }
        var digits: [UInt8] = []
        var v = value
        if v < 0 { out.append(0x2d); v = -v }
        while v > 0 { digits.append(UInt8(v % 10) + 0x30); v /= 10 }
        out.append(contentsOf: digits.reversed())
    }

    /// Symbolizes a list of addresses, one per line (hex, 0x optional), writing llvm-symbolizer style
    /// output through `write`, which receives chunks. A line that is not an address is echoed back,
    /// like llvm-symbolizer does, followed by a blank line.
    public static func symbolizeAddressList(_ input: [UInt8], with symbolizer: ELFSymbolizer,
                                            write: ([UInt8]) -> Void) {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 17)
        var start = 0
        let count = input.count
        while start < count {
            var end = start
            while end < count && input[end] != 0x0a { end += 1 }
            let line = input[start..<end]
            if let address = parseAddress(line) {
                appendLLVMStyle(symbolizer.frames(at: address), to: &out)
            } else if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) {
                out.append(contentsOf: line)
                out.append(contentsOf: [0x0a, 0x0a])
            }
            if out.count >= 1 << 16 { write(out); out.removeAll(keepingCapacity: true) }
            start = end + 1
        }
        if !out.isEmpty { write(out) }
    }
}
