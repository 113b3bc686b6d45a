// DMA memory (issue 15): frame_create_contiguous and frame_physical. A contiguous Frame is zeroed,
// physically contiguous (page i at the first page's address + i pages), mapped and written like any
// Frame, refused for kernel copies and clones like device memory, charged to the frames limit and given
// back to the PMM when it goes; every documented error.

let contiguousFrameTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("devices.contiguous_frame", testContiguousFrame),
    ("devices.contiguous_frame_errors", testContiguousFrameErrors),
]

func testContiguousFrame() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let pages: UInt64 = 8
        let frame = try frameCreateContiguous(machineResource, size: pages * pageSize)
        defer { closeAll(frame) }
        check(try systemInfo(.freeFrames) <= before.freeFrames - pages, "8 pages not taken from the PMM at once")
        let base = try framePhysical(frame)
        check(base % pageSize == 0 && base != 0, "physical address \(hex(base))")
        check(try framePhysical(frame, offset: 5 * pageSize + 12) == base + 5 * pageSize + 12, "page 5 is not contiguous")
        let at = Scratch.take(pages: pages)
        try vmemMap(Runtime.vmem, frame: frame, address: at, length: pages * pageSize, flags: [.read, .write])
        defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pages * pageSize) }
        let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(at))!
        var zero = true
        for i in 0..<Int(pages * pageSize / 8) where p[i] != 0 { zero = false }
        check(zero, "a contiguous Frame is not zeroed")
        p[0] = 0x1234_5678; p[Int(pages * pageSize / 8) - 1] = 42
        check(p[0] == 0x1234_5678 && p[Int(pages * pageSize / 8) - 1] == 42, "written words read back")
        let (type, rights) = try handleIdentify(frame)
        check(type == .frame && rights.contains(.map) && !rights.contains(.exec) && !rights.contains(.manage), "type/rights")
        var word: UInt64 = 0
        expectError(.badState, "frame_read of a contiguous Frame") { () throws(SysError) in
            try frameRead(frame, offset: 0, address: UInt64(UInt(bitPattern: withUnsafeMutablePointer(to: &word) { $0 })), length: 8)
        }
        expectError(.badState, "frame_clone of a contiguous Frame") { () throws(SysError) in try frameClone(frame, size: pageSize) }
        expectError(.accessDenied, "frame_set_size of a contiguous Frame (no .manage)") { () throws(SysError) in
            _ = try syscall(.frameSetSize, UInt64(frame.raw), pageSize)
        }
    }
    checkBaseline(before)
}

func testContiguousFrameErrors() throws(SysError) {
    let before = KernelFigures.now()
    do {
        expectError(.invalidArgument, "size 0") { () throws(SysError) in try frameCreateContiguous(machineResource, size: 0) }
        expectError(.misaligned, "size not a page multiple") { () throws(SysError) in try frameCreateContiguous(machineResource, size: 100) }
        expectError(.tooLarge, "above 16 MiB") { () throws(SysError) in try frameCreateContiguous(machineResource, size: (16 << 20) + pageSize) }
        let narrowed = try resourceCreate(machineResource, kind: .physical, base: 0xa_0000, size: 0x2_0000)
        let weak = try handleDuplicate(machineResource, rights: [.duplicate])
        let n = try notifyCreate()
        defer { closeAll(narrowed, weak, n) }
        expectError(.outOfRange, "a narrowed Resource") { () throws(SysError) in try frameCreateContiguous(narrowed, size: pageSize) }
        // The DMA right (ResourceKind.dma, pcid's): contiguous Frames, and nothing else of the machine.
        let dmaRight = try resourceCreate(machineResource, kind: .dma, base: 0, size: 1)
        defer { closeAll(dmaRight) }
        let fromRight = try frameCreateContiguous(dmaRight, size: pageSize)
        closeAll(fromRight)
        expectError(.outOfRange, "an IOPort from the DMA right") { () throws(SysError) in try ioportCreate(dmaRight, base: 0x70, count: 1) }
        expectError(.outOfRange, "a device Frame from the DMA right") { () throws(SysError) in try frameCreatePhysical(dmaRight, address: 0xb_8000, size: pageSize) }
        expectError(.outOfRange, "a DMA right of size 2") { () throws(SysError) in try resourceCreate(machineResource, kind: .dma, base: 0, size: 2) }
        expectError(.accessDenied, "a Resource without .manage") { () throws(SysError) in try frameCreateContiguous(weak, size: pageSize) }
        expectError(.wrongType, "a Notify for the Resource") { () throws(SysError) in try frameCreateContiguous(n, size: pageSize) }
        expectError(.invalidHandle, "handle 0") { () throws(SysError) in try frameCreateContiguous(.invalid, size: pageSize) }
        // frame_physical: only contiguous and device Frames; offsets inside.
        let plain = try frameCreate(size: pageSize)
        let dma = try frameCreateContiguous(machineResource, size: pageSize)
        let vga = try frameCreatePhysical(machineResource, address: 0xb_8000, size: pageSize)
        defer { closeAll(plain, dma, vga) }
        expectError(.badState, "frame_physical of an anonymous Frame") { () throws(SysError) in try framePhysical(plain) }
        expectError(.invalidArgument, "frame_physical past the end") { () throws(SysError) in try framePhysical(dma, offset: pageSize) }
        expectError(.wrongType, "frame_physical of a Notify") { () throws(SysError) in try framePhysical(n) }
        check(try framePhysical(vga, offset: 4) == 0xb_8004, "frame_physical of a device Frame")
        let noRead = try handleDuplicate(dma, rights: [.map])
        defer { closeAll(noRead) }
        expectError(.accessDenied, "frame_physical without .read") { () throws(SysError) in try framePhysical(noRead) }
    }
    checkBaseline(before)
}
