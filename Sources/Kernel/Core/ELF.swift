// A bounds-checked reader of ELF64 little-endian files, for x86_64.
//
// Pure logic shared by the kernel (loading user programs), osh (build IDs for run manifests) and the
// symbolizer. It never traps on malformed input: every read is checked and reported as an ELFError.

public enum ELFError: Error, Equatable {
    case truncated
    case notELF
    case notELF64
    case notLittleEndian
    case badHeader
}

public struct ELFProgramHeader: Equatable {
    public static let load: UInt32 = 1
    public static let note: UInt32 = 4
    public static let gnuStack: UInt32 = 0x6474_e551

    public static let exec: UInt32 = 1
    public static let write: UInt32 = 2
    public static let read: UInt32 = 4

    public var type: UInt32
    public var flags: UInt32
    public var offset: UInt64
    public var vaddr: UInt64
    public var paddr: UInt64
    public var fileSize: UInt64
    public var memorySize: UInt64
    public var align: UInt64
}

public struct ELFSectionHeader: Equatable {
    public static let symtab: UInt32 = 2
    public static let note: UInt32 = 7
    public static let nobits: UInt32 = 8

    public var nameOffset: UInt32
    public var type: UInt32
    public var flags: UInt64
    public var address: UInt64
    public var offset: UInt64
    public var size: UInt64
    /// The index of an associated section (for a symbol table: its string table).
    public var link: UInt32 = 0
    public var entrySize: UInt64 = 0
}

/// One entry of the `.symtab` symbol table.
public struct ELFSymbol: Equatable {
    public var value: UInt64
    public var size: UInt64
    /// st_info: binding in the high four bits, type in the low four.
    public var info: UInt8
    public var sectionIndex: UInt16
}

public struct ELFFile {
    public static let machineX86_64: UInt16 = 62
    public static let typeExec: UInt16 = 2
    public static let typeDyn: UInt16 = 3

    public let bytes: UnsafeRawBufferPointer
    public let type: UInt16
    public let machine: UInt16
    public let entry: UInt64
    let phoff: UInt64, shoff: UInt64
    let phentsize: UInt16, phnum: UInt16, shentsize: UInt16, shnum: UInt16, shstrndx: UInt16

    /// Reads the ELF header. The bytes must stay alive as long as this value is used.
    public init(_ bytes: UnsafeRawBufferPointer) throws(ELFError) {
        self.bytes = bytes
        guard bytes.count >= 64 else {
            if bytes.count >= 4, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 {
                throw .truncated
            }
            throw .notELF
        }
        guard bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else { throw .notELF }
        guard bytes[4] == 2 else { throw .notELF64 }
        guard bytes[5] == 1 else { throw .notLittleEndian }
        type = try ELFFile.read(bytes, 16)
        machine = try ELFFile.read(bytes, 18)
        entry = try ELFFile.read(bytes, 24)
        phoff = try ELFFile.read(bytes, 32)
        shoff = try ELFFile.read(bytes, 40)
        phentsize = try ELFFile.read(bytes, 54)
        phnum = try ELFFile.read(bytes, 56)
        shentsize = try ELFFile.read(bytes, 58)
        shnum = try ELFFile.read(bytes, 60)
        shstrndx = try ELFFile.read(bytes, 62)
        if phnum > 0 && phentsize < 56 { throw .badHeader }
        if shnum > 0 && shentsize < 64 { throw .badHeader }
    }

    static func read<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ offset: UInt64) throws(ELFError) -> T {
        let size = UInt64(MemoryLayout<T>.size)
        guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else { throw .truncated }
        var value: T = 0
        var shift = 0
        for i in 0..<Int(size) {
            value |= T(bytes[Int(offset) + i]) << shift
            shift += 8
        }
        return value
    }

    func read<T: FixedWidthInteger>(_ offset: UInt64) throws(ELFError) -> T { try ELFFile.read(bytes, offset) }

    public func programHeaders() throws(ELFError) -> [ELFProgramHeader] {
        var result: [ELFProgramHeader] = []
        for i in 0..<UInt64(phnum) {
            let base = phoff &+ i &* UInt64(phentsize)
            guard base >= phoff else { throw .truncated }
            result.append(ELFProgramHeader(
                type: try read(base), flags: try read(base + 4), offset: try read(base + 8),
                vaddr: try read(base + 16), paddr: try read(base + 24), fileSize: try read(base + 32),
                memorySize: try read(base + 40), align: try read(base + 48)))
        }
        return result
    }

    public func sectionHeaders() throws(ELFError) -> [ELFSectionHeader] {
        var result: [ELFSectionHeader] = []
        for i in 0..<UInt64(shnum) {
            let base = shoff &+ i &* UInt64(shentsize)
            guard base >= shoff else { throw .truncated }
            result.append(ELFSectionHeader(
                nameOffset: try read(base), type: try read(base + 4), flags: try read(base + 8),
                address: try read(base + 16), offset: try read(base + 24), size: try read(base + 32),
                link: try read(base + 40), entrySize: try read(base + 56)))
        }
        return result
    }

    /// The first symbol of the `.symtab` table (SHT_SYMTAB) whose name is exactly `name` (bytes, no NUL),
    /// nil when there is none or the file has no symbol table. Compares names in place: no allocation
    /// beyond the section header list.
    public func symbol(named name: [UInt8]) throws(ELFError) -> ELFSymbol? {
        let headers = try sectionHeaders()
        for table in headers where table.type == ELFSectionHeader.symtab {
            guard Int(table.link) < headers.count else { throw .badHeader }
            let strings = headers[Int(table.link)]
            let entrySize = table.entrySize == 0 ? 24 : table.entrySize
            guard entrySize >= 24 else { throw .badHeader }
            guard table.offset <= UInt64(bytes.count), table.size <= UInt64(bytes.count) - table.offset,
                  strings.offset <= UInt64(bytes.count), strings.size <= UInt64(bytes.count) - strings.offset
            else { throw .truncated }
            var at = table.offset
            while at + entrySize <= table.offset + table.size {
                let nameOffset: UInt32 = try read(at)
                if try stringEquals(strings, offset: UInt64(nameOffset), name) {
                    return ELFSymbol(value: try read(at + 8), size: try read(at + 16), info: try read(at + 4),
                                     sectionIndex: try read(at + 6))
                }
                at += entrySize
            }
        }
        return nil
    }

    /// Whether the NUL-terminated string at `offset` in string table `strings` is `name`.
    func stringEquals(_ strings: ELFSectionHeader, offset: UInt64, _ name: [UInt8]) throws(ELFError) -> Bool {
        guard offset < strings.size else { return false }
        let start = strings.offset + offset
        let available = strings.size - offset
        guard UInt64(name.count) < available else { return false }
        for i in 0..<name.count where bytes[Int(start) + i] != name[i] { return false }
        return bytes[Int(start) + name.count] == 0
    }

    /// The name of a section, from the section-name string table.
    public func sectionName(_ section: ELFSectionHeader) throws(ELFError) -> String {
        let headers = try sectionHeaders()
        guard Int(shstrndx) < headers.count else { throw .badHeader }
        let table = headers[Int(shstrndx)]
        var name: [UInt8] = []
        var at = table.offset &+ UInt64(section.nameOffset)
        while true {
            guard at < table.offset &+ table.size else { throw .truncated }
            let byte: UInt8 = try read(at)
            if byte == 0 { break }
            name.append(byte)
            at += 1
        }
        return String(decoding: name, as: UTF8.self)
    }

    /// The GNU build ID (the descriptor of the NT_GNU_BUILD_ID note), looked up through the program
    /// headers' PT_NOTE segments and, failing that, the SHT_NOTE sections. Nil when the file has none.
    public func buildID() throws(ELFError) -> [UInt8]? {
        try noteDescriptor(owner: [0x47, 0x4e, 0x55], type: 3)      // "GNU", NT_GNU_BUILD_ID
    }

    /// The descriptor of the first note whose owner is `owner` (its name without the NUL) and whose type
    /// is `type`, from the PT_NOTE segments and then the SHT_NOTE sections. Nil when there is none.
    public func noteDescriptor(owner: [UInt8], type: UInt32) throws(ELFError) -> [UInt8]? {
        for ph in try programHeaders() where ph.type == ELFProgramHeader.note {
            if let d = try note(at: ph.offset, size: ph.fileSize, owner: owner, type: type) { return d }
        }
        for sh in try sectionHeaders() where sh.type == ELFSectionHeader.note {
            if let d = try note(at: sh.offset, size: sh.size, owner: owner, type: type) { return d }
        }
        return nil
    }

    func note(at start: UInt64, size: UInt64, owner: [UInt8], type: UInt32) throws(ELFError) -> [UInt8]? {
        guard start <= UInt64(bytes.count), size <= UInt64(bytes.count) - start else { throw .truncated }
        var at = start
        let end = start + size
        while at + 12 <= end {
            let nameSize: UInt32 = try read(at)
            let descSize: UInt32 = try read(at + 4)
            let noteType: UInt32 = try read(at + 8)
            let nameAt = at + 12
            let descAt = nameAt + ELFFile.align4(UInt64(nameSize))
            let next = descAt + ELFFile.align4(UInt64(descSize))
            guard next <= end else { throw .truncated }
            if noteType == type, Int(nameSize) == owner.count + 1, bytes[Int(nameAt) + owner.count] == 0,
               (0..<owner.count).allSatisfy({ bytes[Int(nameAt) + $0] == owner[$0] }) {
                return Array(bytes[Int(descAt)..<Int(descAt + UInt64(descSize))])
            }
            at = next
        }
        return nil
    }

    static func align4(_ value: UInt64) -> UInt64 { (value + 3) & ~3 }
}

/// The descriptor of a GNU build-ID note (a program's own .note.gnu.build-id, between linker symbols):
/// empty when the bytes are not such a note.
public func gnuBuildID(note: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    let empty = UnsafeRawBufferPointer(start: note.baseAddress, count: 0)
    guard note.count >= 16, let base = note.baseAddress else { return empty }
    let nameSize = Int(base.loadUnaligned(as: UInt32.self))
    let descSize = Int(base.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    let descOffset = 12 + ((nameSize + 3) & ~3)
    guard nameSize <= note.count, descSize <= note.count, descOffset + descSize <= note.count else { return empty }
    return UnsafeRawBufferPointer(start: base + descOffset, count: descSize)
}

/// Lower-case hexadecimal digits of bytes, as build IDs are written in markup and file names.
public func hexString(_ bytes: [UInt8]) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
