// Checking a static user executable before anything is mapped: what to map where, what to copy from
// the file, and where to start. Everything the loader later does follows from a plan that was checked
// against the user address range and the file's bounds, so a malformed image is refused as .badELF
// before it can make the kernel map or copy out of range.

#if !KERNEL
import ABI
#endif

/// One PT_LOAD segment, page-rounded. The loader maps `memorySize` bytes of zeroed memory at `vaddr`,
/// then copies the file bytes [fileOffset, fileOffset + fileSize) to `vaddr + offsetInPage`.
public struct LoadSegment: Equatable, Sendable {
    /// Page-aligned first address.
    public var vaddr: UInt64
    /// Bytes to map from `vaddr`: a multiple of the page size.
    public var memorySize: UInt64
    /// Where the segment's file contents start (p_offset).
    public var fileOffset: UInt64
    /// How many bytes come from the file (p_filesz); the rest of the memory is zero.
    public var fileSize: UInt64
    /// Where in the first page the contents start (p_vaddr mod page size).
    public var offsetInPage: UInt64
    public var flags: MapFlags

    public init(vaddr: UInt64, memorySize: UInt64, fileOffset: UInt64, fileSize: UInt64, offsetInPage: UInt64,
                flags: MapFlags) {
        self.vaddr = vaddr
        self.memorySize = memorySize
        self.fileOffset = fileOffset
        self.fileSize = fileSize
        self.offsetInPage = offsetInPage
        self.flags = flags
    }

    /// One past the last mapped byte.
    public var end: UInt64 { vaddr + memorySize }
}

public enum ELFLoadPlan {
    /// More PT_LOAD segments than this is refused (a real executable has a handful).
    public static let maximumSegments = 64
    /// More program headers than this is refused, bounding the work done on a hostile image.
    public static let maximumProgramHeaders = 256
    /// PT_INTERP: the image wants a dynamic linker, which a static loader cannot honour.
    static let interpreter: UInt32 = 3

    /// The entry point and the segments, sorted by address, of a static x86_64 executable (ET_EXEC, or
    /// ET_DYN linked at a fixed address: it is loaded where it is linked, with no relocation).
    public static func plan(_ elf: ELFFile) throws(SysError) -> (entry: UInt64, segments: [LoadSegment]) {
        guard elf.machine == ELFFile.machineX86_64,
              elf.type == ELFFile.typeExec || elf.type == ELFFile.typeDyn,
              Int(elf.phnum) <= maximumProgramHeaders else { throw .badELF }
        let headers: [ELFProgramHeader]
        do throws(ELFError) { headers = try elf.programHeaders() } catch { throw .badELF }
        var segments: [LoadSegment] = []
        var entryIsExecutable = false
        if headers.contains(where: { $0.type == interpreter }) { throw .badELF }
        for header in headers where header.type == ELFProgramHeader.load {
            // An empty PT_LOAD maps nothing.
            if header.memorySize == 0 && header.fileSize == 0 { continue }
            guard segments.count < maximumSegments else { throw .badELF }
            let segment = try check(header, fileSize: UInt64(elf.bytes.count))
            // The entry must be inside the segment's own bytes, not just its rounded pages.
            if segment.flags.contains(.exec), elf.entry >= header.vaddr, elf.entry - header.vaddr < header.memorySize {
                entryIsExecutable = true
            }
            segments.append(segment)
        }
        guard !segments.isEmpty, entryIsExecutable else { throw .badELF }
        segments.sort { $0.vaddr < $1.vaddr }
        for i in segments.indices.dropFirst() where segments[i].vaddr < segments[i - 1].end { throw .badELF }
        return (elf.entry, segments)
    }

    /// One PT_LOAD checked against the user range and the file, then page-rounded.
    static func check(_ header: ELFProgramHeader, fileSize: UInt64) throws(SysError) -> LoadSegment {
        let offsetInPage = header.vaddr % pageSize
        guard header.memorySize > 0,
              header.fileSize <= header.memorySize,
              offsetInPage == header.offset % pageSize,
              header.vaddr >= pageSize, header.vaddr < userAddressLimit,
              header.memorySize <= userAddressLimit - header.vaddr,
              header.offset <= fileSize, header.fileSize <= fileSize - header.offset else { throw .badELF }
        // Cannot overflow: vaddr + memorySize <= userAddressLimit, which is page-aligned.
        let start = header.vaddr - offsetInPage
        let end = alignUp(header.vaddr + header.memorySize, pageSize)
        var flags: MapFlags = []
        if header.flags & ELFProgramHeader.read != 0 { flags.insert(.read) }
        if header.flags & ELFProgramHeader.write != 0 { flags.insert(.write) }
        if header.flags & ELFProgramHeader.exec != 0 { flags.insert(.exec) }
        return LoadSegment(vaddr: start, memorySize: end - start, fileOffset: header.offset,
                           fileSize: header.fileSize, offsetInPage: offsetInPage, flags: flags)
    }
}
