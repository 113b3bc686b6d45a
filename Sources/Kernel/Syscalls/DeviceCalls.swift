// Device capabilities: resource_create, ioport_create, irq_create, irq_bind, irq_ack and
// frame_create_physical (Sources/ABI/Syscalls.swift has their arguments and errors). Every device
// object comes from a Resource handle with .manage and only inside its range (Objects/Devices.swift).

#if !KERNEL
import ABI
#endif

extension Syscalls {
    static func resource(_ raw: UInt64, _ rights: Rights) throws(SysError) -> Resource {
        guard case .resource(let r) = try object(raw, .resource, rights) else { throw .wrongType }
        return r
    }

    static func irq(_ raw: UInt64, _ rights: Rights) throws(SysError) -> IRQ {
        guard case .irq(let i) = try object(raw, .irq, rights) else { throw .wrongType }
        return i
    }

    static func resourceCreate(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        let r = try resource(a.a0, .manage)
        guard let kind = ResourceKind(rawValue: a.a1) else { throw .invalidArgument }
        let range = try r.range.narrowed(kind, base: a.a2, size: a.a3)
        return try insertNew(.resource(Resource(range)))
    }

    static func ioportCreate(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        let r = try resource(a.a0, .manage)
        guard a.a2 > 0 else { throw .invalidArgument }
        guard r.range.covers(.ioPort, base: a.a1, size: a.a2) else { throw .outOfRange }
        return try insertNew(.ioPort(IOPort(base: UInt16(a.a1), count: UInt32(a.a2))))
    }

    static func irqCreate(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        let r = try resource(a.a0, .manage)
        guard let numbering = IRQNumbering(rawValue: a.a2), a.a3 & ~IRQOptions.all == 0 else { throw .invalidArgument }
        let shared = a.a3 & IRQOptions.shared != 0
        let line: UInt32?
        switch numbering {
        case .gsi: line = a.a1 < ResourceKind.irq.limit && InterruptLines.vector(gsi: UInt32(a.a1)) != nil ? UInt32(a.a1) : nil
        case .isa:      // the MADT's override, else the same number (InterruptLines, Core/InterruptRouting)
            let gsi = a.a1 < 16 ? InterruptLines.gsi(isaIRQ: UInt8(a.a1)) : nil
            line = gsi.flatMap { $0 < ResourceKind.irq.limit && InterruptLines.vector(gsi: $0) != nil ? $0 : nil }
        }
        guard let gsi = line, r.range.covers(.irq, base: UInt64(gsi), size: 1) else { throw .outOfRange }
        guard !IRQ.isKernelLine(gsi), IRQ.isAvailable(gsi, shared: shared) else { throw .inUse }
        try checkHandleLimit(process)
        return try insertNew(.irq(IRQ(gsi: gsi, shared: shared)))   // a failed insert frees the object
    }

    static func irqBind(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        let i = try irq(a.a0, .write)
        guard case .notify(let n) = try object(a.a1, .notify, .signal) else { throw .wrongType }
        guard a.a2 != 0 else { throw .invalidArgument }
        i.bind(n, bits: a.a2)
        return 0
    }

    static func irqAck(_ raw: UInt64) throws(SysError) -> UInt64 {
        try irq(raw, .write).acknowledge()
        return 0
    }

    static func frameCreatePhysical(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        let r = try resource(a.a0, .manage)
        let (address, size) = (a.a1, a.a2)
        guard size > 0 else { throw .invalidArgument }
        guard address % pageSize == 0, size % pageSize == 0 else { throw .misaligned }
        guard r.range.covers(.physical, base: address, size: size) else { throw .outOfRange }
        let map = Kernel.boot.memoryMap
        guard !PhysicalRanges.touchesRAM(address, size, map) else { throw .inUse }
        var rights: Rights = [.read, .write, .map, .duplicate, .transfer]
        if PhysicalRanges.touchesACPI(address, size, map) { rights.remove(.write) }
        try checkHandleLimit(process)
        let f = try Frame(device: address, byteCount: size, account: process.account)
        return UInt64(try process.handles.insert(.frame(f), rights: rights))
    }

    /// The largest frame_create_contiguous, in pages (16 MiB).
    static let contiguousLimit: UInt64 = 4096

    /// frame_create_contiguous: DMA memory, only for a Resource that covers the DMA right (ResourceKind.dma,
    /// as pcid's does) or every physical address (a device that does DMA can reach all of RAM anyway:
    /// there is no IOMMU).
    static func frameCreateContiguous(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        let r = try resource(a.a0, .manage)
        let size = a.a1
        guard size > 0 else { throw .invalidArgument }
        guard size % pageSize == 0 else { throw .misaligned }
        guard size / pageSize <= contiguousLimit else { throw .tooLarge }
        guard r.range.covers(.dma, base: 0, size: 1) || r.range.covers(.physical, base: 0, size: ResourceKind.physical.limit)
        else { throw .outOfRange }
        let pages = size / pageSize
        try process.account.check(.frames, pages)
        try process.account.check(.kernelMemory, Frame.objectBytes)
        try checkHandleLimit(process)
        guard PMM.userCanAllocate(Int(pages)), let base = PMM.allocate(count: Int(pages)) else { throw .outOfMemory }
        // Act: the run is ours; zero it, charge it, hand it out.
        for i in 0..<pages { zeroPage(base + i * pageSize) }
        process.account.add(.frames, pages)
        process.account.add(.kernelMemory, Frame.objectBytes)
        let f = Frame(contiguous: base, pageCount: pages, account: process.account)
        return UInt64(try process.handles.insert(.frame(f), rights: [.read, .write, .map, .duplicate, .transfer]))
    }

    /// frame_physical: where a byte of a contiguous or device Frame sits in physical memory.
    static func framePhysical(_ raw: UInt64, _ offset: UInt64) throws(SysError) -> UInt64 {
        let f = try frame(raw, .read)
        guard let base = f.deviceBase else { throw .badState }
        guard offset < f.size else { throw .invalidArgument }
        return base + offset
    }

    /// The system_info figures about devices: the boot framebuffer, the ACPI root table, the HPET.
    static func deviceInfo(_ info: SystemInfo) -> UInt64 {
        let fb = Kernel.boot.framebuffer
        switch info {
        case .framebufferAddress: return fb?.address ?? 0
        case .framebufferPitch: return UInt64(fb?.pitch ?? 0)
        case .framebufferWidth: return UInt64(fb?.width ?? 0)
        case .framebufferHeight: return UInt64(fb?.height ?? 0)
        case .framebufferFormat: return fb.map { UInt64($0.bpp) | UInt64($0.type) << 8 } ?? 0
        case .acpiRootTable: return Kernel.acpi.tables.first?.address ?? 0
        case .hpetAddress: return Kernel.acpi.hpet?.address.address ?? 0
        case .ecamAddress: return Kernel.acpi.mcfg.first { $0.segment == 0 }?.base ?? 0
        case .ecamBuses: return Kernel.acpi.mcfg.first { $0.segment == 0 }.map { UInt64($0.startBus) | UInt64($0.endBus) << 8 } ?? 0
        default: return 0
        }
    }
}
