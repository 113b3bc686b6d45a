// Frame-pointer stack traces of the kernel, written in LLVM symbolizer markup.

enum KernelMemory {
    static let directMapBase: UInt64 = 0xffff_8000_0000_0000
    /// One past the highest physical address the direct map (and the heap window) reaches: the boot page
    /// tables' 4 GiB, then all RAM once DirectMap.extend ran (with holes: see DirectMap.covers).
    static var directMapSize: UInt64 = 4 << 30
    static let imageVMA: UInt64 = 0xffff_ffff_8000_0000
    /// Where the heap's pages are seen (supervisor only, PML4 slot 255): the same physical memory as the
    /// direct map, at addresses whose bits 60..63 are clear, as Swift's object pointers need.
    static let heapWindowBase: UInt64 = 0x0000_7f80_0000_0000

    static var imageStart: UInt64 { UInt64(UInt(bitPattern: symbol_kernel_start()!)) }
    static var imageEnd: UInt64 { UInt64(UInt(bitPattern: symbol_kernel_end()!)) }

    /// Physical range of the kernel image (text, data, bss, boot stacks).
    static var imagePhysicalStart: UInt64 { imageStart - imageVMA }
    static var imagePhysicalEnd: UInt64 { imageEnd - imageVMA }

    static func virtual(physical: UInt64) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(physical + directMapBase))!
    }

    static func heapPointer(physical: UInt64) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(physical + heapWindowBase))!
    }

    /// Physical address behind a heap pointer.
    static func physical(heapPointer: UnsafeMutableRawPointer) -> UInt64 {
        UInt64(UInt(bitPattern: heapPointer)) - heapWindowBase
    }

    /// Whether an 8-byte read at address is safe while reporting: a mapped page of the kernel image
    /// (which holds the boot and interrupt stacks, but also their unmapped guard pages) or of the kernel
    /// stack region, the direct map or the heap window.
    static func isReadable(_ address: UInt64) -> Bool {
        guard address & 7 == 0 else { return false }
        if address >= imageStart && address < imageEnd - 7 { return isMappedInKernel(address) }
        if KernelStacks.isMapped(address) { return true }
        if address >= heapWindowBase && address < heapWindowBase + directMapSize - 7 {
            return DirectMap.covers(address - heapWindowBase, 8)
        }
        guard address >= directMapBase && address < directMapBase + directMapSize - 7 else { return false }
        return DirectMap.covers(address - directMapBase, 8)
    }

    static func isMappedInKernel(_ address: UInt64) -> Bool {
        PageTable(root: Vmem.kernelRoot, memory: KernelPageMemory()).translate(address) != nil
    }

    /// Whether an address lies in the unmapped guard page below a kernel stack: the boot stack's, an IST
    /// stack's or a thread stack's (Boot/entry.S, Memory/KernelStacks.swift).
    static func isStackGuard(_ address: UInt64) -> Bool {
        if KernelStacks.isGuard(address) { return true }
        let page = address & ~(pageSize - 1)
        if page == UInt64(UInt(bitPattern: symbol_boot_stack_guard()!)) { return true }
        let ist = UInt64(UInt(bitPattern: symbol_ist_stacks()!))
        let stride = UInt64(Descriptors.istGuardSize + Descriptors.istStackSize)
        return page >= ist && page < ist + 3 * stride && (page - ist) % stride == 0
    }

    static func readKernelWord(_ address: UInt64) -> UInt64? {
        guard isReadable(address) else { return nil }
        return UnsafeRawPointer(bitPattern: UInt(address))!.load(as: UInt64.self)
    }
}

enum StackTrace {
    static let maxFrames = 64

    /// The GNU build ID from the kernel's own .note.gnu.build-id.
    static func withBuildID<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let start = UnsafeRawPointer(symbol_build_id_note()!)
        let end = UnsafeRawPointer(symbol_build_id_note_end()!)
        return body(gnuBuildID(note: UnsafeRawBufferPointer(start: start, count: end - start)))
    }

    /// The kernel's `module` line (as module `id`) and the `mmap` line of its image.
    static func writeKernelModule(_ sink: inout ConsoleSink, id: Int) {
        withBuildID { buildID in Markup.module(&sink, id: id, name: "kernel", buildID: buildID) }
        let start = KernelMemory.imageStart
        Markup.mmap(&sink, start: start, size: KernelMemory.imageEnd - start, module: id,
                    flags: 7, relativeAddress: start)
    }

    /// `{{{reset}}}`, the kernel's module and mapping lines, then one `bt` line per frame: the first is
    /// pc (a precise address, or the return address of a caller), the rest follow saved rbp values.
    static func write(pc: UInt64, pcIsReturnAddress: Bool, rbp: UInt64) {
        var sink = ConsoleSink()
        Markup.reset(&sink)
        writeKernelModule(&sink, id: 0)
        Markup.backtrace(&sink, frame: 0, address: pc, kind: pcIsReturnAddress ? .returnAddress : .preciseCode)
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: maxFrames) { buffer in
            let count = walkFramePointers(rbp: rbp, maxFrames: maxFrames, read: KernelMemory.readKernelWord, into: buffer)
            for i in 0..<count {
                Markup.backtrace(&sink, frame: i + 1, address: buffer[i], kind: .returnAddress)
            }
        }
    }
}
