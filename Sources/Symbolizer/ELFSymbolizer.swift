import CLibDW
import KernelCore
import Foundation

/// One source-level frame of an address: a function and where in it. Several frames come from one
/// address when calls were inlined; they are ordered innermost (the inlined callee) first.
public struct SourceFrame: Equatable, Sendable {
    /// Function name, demangled for Swift; nil when unknown.
    public var function: String?
    /// Source file as recorded in the debug information (usually absolute); nil when unknown.
    public var file: String?
    public var line: Int
    public var column: Int
    /// True when this frame's code was inlined into the frame that follows it.
    public var isInlined: Bool

    public init(function: String?, file: String?, line: Int, column: Int, isInlined: Bool = false) {
        self.function = function
        self.file = file
        self.line = line
        self.column = column
        self.isInlined = isInlined
    }
}

/// Symbolizes addresses of one ELF file with libdwfl (offline) and libdw.
///
/// The libdwfl session is opened once. Each compilation unit touched is indexed on first use into a tree
/// of its functions and inlined calls with their address ranges, so a lookup is a couple of binary searches
/// plus one line-table search; results are also cached per address.
/// Addresses are the ELF's own (link-time) virtual addresses. Not thread-safe.
public final class ELFSymbolizer {
    public let path: String
    /// The GNU build ID in lower-case hex, if the file has one.
    public let buildID: String?
    /// Whether the file has DWARF; without it only symbol-table names are available.
    public let hasDebugInfo: Bool

    private let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
    private let dwfl: OpaquePointer
    private let module: OpaquePointer
    private let dwarf: OpaquePointer?
    private let bias: UInt64
    private var units: [Int: CompileUnitIndex] = [:]
    private var unitRanges: [CompileUnitIndex.Range]? = nil
    private var unitDies: [Dwarf_Die] = []
    private var cache: [UInt64: [SourceFrame]] = [:]
    private var fileNames: [UnsafePointer<CChar>: String] = [:]

    /// Opens `path`. Throws `.missingFile`, `.notELF`, and, unless `requireDebugInfo` is false,
    /// `.noDebugInfo` for an ELF file without DWARF.
    public init(path: String, requireDebugInfo: Bool = true) throws(SymbolizerError) {
        self.path = path
        buildID = try ELFSymbolizer.readBuildID(path)
        callbacks = UnsafeMutablePointer<Dwfl_Callbacks>.allocate(capacity: 1)
        callbacks.initialize(to: Dwfl_Callbacks(
            find_elf: dwfl_build_id_find_elf,
            find_debuginfo: dwfl_standard_find_debuginfo,
            section_address: dwfl_offline_section_address,
            debuginfo_path: nil))
        guard let dwfl = dwfl_begin(callbacks) else {
            callbacks.deallocate()
            throw .libdw(path: path, message: ELFSymbolizer.dwflMessage())
        }
        dwfl_report_begin(dwfl)
        let module = dwfl_report_offline(dwfl, (path as NSString).lastPathComponent, path, -1)
        dwfl_report_end(dwfl, nil, nil)
        guard let module else {
            let message = ELFSymbolizer.dwflMessage()
            dwfl_end(dwfl)
            callbacks.deallocate()
            throw .libdw(path: path, message: message)
        }
        var bias: GElf_Addr = 0
        _ = dwfl_module_getelf(module, &bias)
        var dwarfBias: Dwarf_Addr = 0
        let dwarf = dwfl_module_getdwarf(module, &dwarfBias)
        if dwarf == nil && requireDebugInfo {
            dwfl_end(dwfl)
            callbacks.deallocate()
            throw .noDebugInfo(path)
        }
        self.dwfl = dwfl
        self.module = module
        self.dwarf = dwarf
        self.bias = bias
        hasDebugInfo = dwarf != nil
    }

    deinit {
        dwfl_end(dwfl)
        callbacks.deallocate()
    }

    /// Checks that `path` is a readable ELF file and returns its build ID (hex) if it has one.
    public static func readBuildID(_ path: String) throws(SymbolizerError) -> String? {
        guard FileManager.default.isReadableFile(atPath: path),
              let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw .missingFile(path)
        }
        let result: (isELF: Bool, id: String?) = data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            guard let elf = try? ELFFile(bytes) else { return (false, nil) }
            guard let id = try? elf.buildID() else { return (true, nil) }
            return (true, hexString(id))
        }
        guard result.isELF else { throw .notELF(path) }
        return result.id
    }

    private static func dwflMessage() -> String {
        if let message = dwfl_errmsg(-1) { return String(cString: message) }
        return "unknown error"
    }

    /// The frames for `address` (innermost first). An address that lies in no known function and no line
    /// gives one frame with nil function and file. With `returnAddress`, the instruction before is looked
    /// up (the call), as for return addresses in backtraces.
    public func frames(at address: UInt64, returnAddress: Bool = false) -> [SourceFrame] {
        let lookup = returnAddress && address > 0 ? address - 1 : address
        if let hit = cache[lookup] { return hit }
        let result = compute(lookup)
        cache[lookup] = result
        return result
    }

    private func compute(_ address: UInt64) -> [SourceFrame] {
        let unknown = [SourceFrame(function: nil, file: nil, line: 0, column: 0)]
        // libdwfl places an offline ET_DYN file at a base of its choosing: its addresses are the ELF's plus
        // `bias`. DWARF addresses are the ELF's own.
        let dwarfAddress = address
        guard dwarf != nil, let unit = unit(for: address) else {
            if let name = symbolName(address) { return [SourceFrame(function: name, file: nil, line: 0, column: 0)] }
            return unknown
        }
        // Innermost location from the line table.
        var file: String? = nil
        var line = 0, column = 0
        if let row = dwarf_getsrc_die(&unit.cuDie, dwarfAddress) {
            file = fileName(dwarf_linesrc(row, nil, nil))
            var value: Int32 = 0
            if dwarf_lineno(row, &value) == 0 { line = Int(value) }
            value = 0
            if dwarf_linecol(row, &value) == 0 { column = Int(value) }
        }
        let chain = unit.chain(containing: dwarfAddress)
        if chain.isEmpty {
            return [SourceFrame(function: symbolName(address), file: file, line: line, column: column)]
        }
        var frames: [SourceFrame] = []
        frames.reserveCapacity(chain.count)
        for index in chain {
            let node = unit.nodes[Int(index)]
            frames.append(SourceFrame(function: unit.name(of: index, dwarf: dwarf!), file: file,
                                      line: line, column: column, isInlined: node.inlined))
            if node.inlined {
                file = unit.file(node.callFile, symbolizer: self)
                line = Int(node.callLine)
                column = Int(node.callColumn)
            }
        }
        if frames.last?.function == nil { frames[frames.count - 1].function = symbolName(address) }
        return frames
    }

    fileprivate func fileName(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        if let name = fileNames[pointer] { return name }
        let name = ELFSymbolizer.normalizePath(String(cString: pointer))
        fileNames[pointer] = name
        return name
    }

    /// Source paths as libdw joins them, tidied: "./" components dropped (a compilation directory of "."
    /// gives "./Sources/…", even "././Sources/…"), and "//name" (a file in directory "/", like swiftc's
    /// <compiler-generated>) made "/name".
    static func normalizePath(_ path: String) -> String {
        var path = path
        while path.hasPrefix("./") { path.removeFirst(2) }
        while let range = path.range(of: "/./") { path.replaceSubrange(range, with: "/") }
        while path.hasPrefix("//") { path.removeFirst() }
        return path
    }

    /// The ELF symbol covering `address`, demangled. (dwfl_module_addrinfo scans the whole symbol table
    /// on every call; a sorted copy is searched instead.)
    public func symbolName(_ address: UInt64) -> String? {
        if symbols == nil { symbols = loadSymbols() }
        guard let symbols, !symbols.isEmpty else { return nil }
        var lo = 0, hi = symbols.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if symbols[mid].address <= address { lo = mid + 1 } else { hi = mid }
        }
        var i = lo - 1
        // Among symbols at or below the address, the nearest that covers it (sized) or, unsized, is the last.
        while i >= 0 {
            let symbol = symbols[i]
            if symbol.size == 0 || address - symbol.address < symbol.size {
                if symbolNames[symbol.name] == nil {
                    symbolNames[symbol.name] = Symbolizer.demangle(symbolRawNames[Int(symbol.name)])
                }
                return symbolNames[symbol.name]
            }
            if lo - 1 - i >= 16 { break }
            i -= 1
        }
        return nil
    }

    private struct Symbol { var address: UInt64; var size: UInt64; var name: Int32 }
    private var symbols: [Symbol]? = nil
    private var symbolRawNames: [String] = []
    private var symbolNames: [Int32: String] = [:]

    private func loadSymbols() -> [Symbol] {
        var result: [Symbol] = []
        let count = dwfl_module_getsymtab(module)
        guard count > 0 else { return [] }
        for i in 1..<count {
            var sym = GElf_Sym()
            var value: GElf_Addr = 0
            var shndx: GElf_Word = 0
            guard let name = dwfl_module_getsym_info(module, i, &sym, &value, &shndx, nil, nil),
                  name.pointee != 0 else { continue }
            let type = sym.st_info & 0xf
            // STT_NOTYPE, STT_FUNC, STT_GNU_IFUNC; defined.
            guard type == 0 || type == 2 || type == 10, sym.st_shndx != 0, value >= bias else { continue }
            result.append(Symbol(address: value - bias, size: sym.st_size, name: Int32(symbolRawNames.count)))
            symbolRawNames.append(String(cString: name))
        }
        // By address; at equal addresses sized symbols (functions) last, so they are found first.
        result.sort { ($0.address, $0.size) < ($1.address, $1.size) }
        return result
    }

    /// The compilation unit covering `address`. libdwfl's own lookup (dwfl_module_addrdie) relies on
    /// .debug_aranges, which clang and swiftc do not emit, so units are indexed here from their ranges.
    private func unit(for address: UInt64) -> CompileUnitIndex? {
        if unitRanges == nil { unitRanges = indexUnits() }
        guard let ranges = unitRanges, let position = CompileUnitIndex.find(ranges, address) else { return nil }
        let key = Int(position)
        if let unit = units[key] { return unit }
        let unit = CompileUnitIndex(cuDie: unitDies[key])
        units[key] = unit
        return unit
    }

    private func indexUnits() -> [CompileUnitIndex.Range] {
        guard let dwarf else { return [] }
        var ranges: [CompileUnitIndex.Range] = []
        var cu: OpaquePointer? = nil
        while true {
            var next: OpaquePointer? = nil
            var version: Dwarf_Half = 0
            var unitType: UInt8 = 0
            var cuDie = Dwarf_Die()
            guard dwarf_get_units(dwarf, cu, &next, &version, &unitType, &cuDie, nil) == 0 else { break }
            cu = next
            // DW_UT_compile, DW_UT_partial (and pre-DWARF 5 units, reported as compile).
            guard unitType == 0x01 || unitType == 0x03 else { continue }
            let index = Int32(unitDies.count)
            unitDies.append(cuDie)
            var base: Dwarf_Addr = 0, low: Dwarf_Addr = 0, high: Dwarf_Addr = 0
            var offset = dwarf_ranges(&cuDie, 0, &base, &low, &high)
            while offset > 0 {
                if high > low { ranges.append(CompileUnitIndex.Range(low: low, high: high, node: index)) }
                offset = dwarf_ranges(&cuDie, offset, &base, &low, &high)
            }
        }
        ranges.sort { $0.low < $1.low }
        return ranges
    }
}

/// A compilation unit's functions and inlined calls as a tree of address ranges.
final class CompileUnitIndex {
    struct Range { var low: UInt64; var high: UInt64; var node: Int32 }
    struct Node {
        var offset: Dwarf_Off
        var inlined: Bool
        var callFile: UInt32 = 0
        var callLine: UInt32 = 0
        var callColumn: UInt32 = 0
        var children: [Range] = []
    }

    var cuDie: Dwarf_Die
    var nodes: [Node] = []
    var top: [Range] = []
    private var names: [Int32: String?] = [:]
    private var files: OpaquePointer? = nil
    private var fileCount = 0
    private var filesLoaded = false

    init(cuDie: Dwarf_Die) {
        self.cuDie = cuDie
        var die = cuDie
        visitChildren(of: &die, parent: -1)
        top.sort { $0.low < $1.low }
        for i in nodes.indices where nodes[i].children.count > 1 {
            nodes[i].children.sort { $0.low < $1.low }
        }
    }

    private func visitChildren(of die: inout Dwarf_Die, parent: Int32) {
        var child = Dwarf_Die()
        guard dwarf_child(&die, &child) == 0 else { return }
        while true {
            visit(&child, parent: parent)
            var next = Dwarf_Die()
            guard dwarf_siblingof(&child, &next) == 0 else { break }
            child = next
        }
    }

    private func visit(_ die: inout Dwarf_Die, parent: Int32) {
        let tag = dwarf_tag(&die)
        switch tag {
        case 0x2e, 0x1d:  // DW_TAG_subprogram, DW_TAG_inlined_subroutine
            var ranges: [(UInt64, UInt64)] = []
            var base: Dwarf_Addr = 0, low: Dwarf_Addr = 0, high: Dwarf_Addr = 0
            var offset = dwarf_ranges(&die, 0, &base, &low, &high)
            while offset > 0 {
                if low != 0 && high > low { ranges.append((low, high)) }
                offset = dwarf_ranges(&die, offset, &base, &low, &high)
            }
            guard !ranges.isEmpty else { return }  // declaration or abstract instance: no code here
            var node = Node(offset: dwarf_dieoffset(&die), inlined: tag == 0x1d)
            if node.inlined {
                node.callFile = attribute(&die, 0x58)
                node.callLine = attribute(&die, 0x59)
                node.callColumn = attribute(&die, 0x57)
            }
            let index = Int32(nodes.count)
            nodes.append(node)
            for (low, high) in ranges {
                let range = Range(low: low, high: high, node: index)
                // A subprogram is a function of its own even when nested in another (Swift closures):
                // only inlined calls are looked up inside their caller.
                if parent < 0 || !node.inlined { top.append(range) } else { nodes[Int(parent)].children.append(range) }
            }
            if dwarf_haschildren(&die) != 0 { visitChildren(of: &die, parent: index) }
        // Scopes that may hold code: lexical blocks, namespaces, modules, classes, structures, unions.
        case 0x0b, 0x39, 0x1e, 0x02, 0x13, 0x17, 0x38:
            if dwarf_haschildren(&die) != 0 { visitChildren(of: &die, parent: parent) }
        default:
            return
        }
    }

    private func attribute(_ die: inout Dwarf_Die, _ name: UInt32) -> UInt32 {
        var attr = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        guard dwarf_attr(&die, name, &attr) != nil, dwarf_formudata(&attr, &value) == 0 else { return 0 }
        return UInt32(truncatingIfNeeded: value)
    }

    static func find(_ ranges: [Range], _ address: UInt64) -> Int32? {
        if ranges.count < 8 {
            for r in ranges where r.low <= address && address < r.high { return r.node }
            return nil
        }
        // Last range starting at or before the address; look back a little for overlapping ones.
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].low <= address { lo = mid + 1 } else { hi = mid }
        }
        var i = lo - 1
        var checked = 0
        while i >= 0 && checked < 16 {
            if address < ranges[i].high { return ranges[i].node }
            i -= 1
            checked += 1
        }
        return nil
    }

    /// Node indices of the function and inlined calls containing `address`, innermost first.
    func chain(containing address: UInt64) -> [Int32] {
        guard var current = CompileUnitIndex.find(top, address) else { return [] }
        var chain: [Int32] = [current]
        while let inner = CompileUnitIndex.find(nodes[Int(current)].children, address) {
            chain.append(inner)
            current = inner
        }
        return chain.reversed()
    }

    func name(of index: Int32, dwarf: OpaquePointer) -> String? {
        if let name = names[index] { return name }
        var die = Dwarf_Die()
        var result: String? = nil
        if dwarf_offdie(dwarf, nodes[Int(index)].offset, &die) != nil {
            var attr = Dwarf_Attribute()
            for name: UInt32 in [0x6e, 0x2007, 0x03] {  // linkage name, MIPS linkage name, name
                if dwarf_attr_integrate(&die, name, &attr) != nil, let s = dwarf_formstring(&attr) {
                    result = Symbolizer.demangle(String(cString: s))
                    break
                }
            }
        }
        names[index] = result
        return result
    }

    fileprivate func file(_ index: UInt32, symbolizer: ELFSymbolizer) -> String? {
        if !filesLoaded {
            filesLoaded = true
            var count = 0
            if dwarf_getsrcfiles(&cuDie, &files, &count) != 0 { files = nil }
            fileCount = count
        }
        guard let files, Int(index) < fileCount else { return nil }
        return symbolizer.fileName(dwarf_filesrc(files, Int(index), nil, nil))
    }
}

extension ELFSymbolizer {
    /// The address ranges [start, end) of an ELF file's executable sections (allocated, with code).
    public static func executableRanges(_ path: String) throws(SymbolizerError) -> [(start: UInt64, end: UInt64)] {
        _ = try readBuildID(path)
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw .missingFile(path)
        }
        let ranges: [(start: UInt64, end: UInt64)]? = data.withUnsafeBytes { bytes in
            guard let elf = try? ELFFile(bytes), let sections = try? elf.sectionHeaders() else { return nil }
            // SHF_ALLOC | SHF_EXECINSTR, not SHT_NOBITS.
            return sections.filter { $0.flags & 0x6 == 0x6 && $0.type != ELFSectionHeader.nobits && $0.size > 0 }
                .map { (start: $0.address, end: $0.address + $0.size) }
        }
        guard let ranges else { throw .notELF(path) }
        return ranges
    }
}
