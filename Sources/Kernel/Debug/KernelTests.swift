// The in-kernel test runner: with `test` on the command line, kmain runs every test here, prints one line
// per test and `N passed, N failed`, and ends QEMU with a status that says pass or fail.

struct KernelTest {
    let name: StaticString
    let body: () -> Bool
}

/// Failure detail for the test that is running (printed after FAIL).
private var failureNote: StaticString = ""

func check(_ condition: Bool, _ note: StaticString) -> Bool {
    if !condition { failureNote = note }
    return condition
}

enum KernelTests {
    static let all: [KernelTest] = [
        KernelTest(name: "boot.memory_map_has_usable_memory", body: bootMemoryMap),
        KernelTest(name: "boot.command_line_has_test", body: bootCommandLine),
        KernelTest(name: "boot.kernel_image_in_usable_memory", body: kernelImageUsable),
        KernelTest(name: "pmm.allocate_write_free", body: pmmAllocateWriteFree),
        KernelTest(name: "pmm.never_hands_out_kernel_or_modules", body: pmmNeverHandsOutReserved),
        KernelTest(name: "pmm.contiguous_aligned_run", body: pmmContiguous),
        KernelTest(name: "pmm.refuses_bad_frees", body: pmmRefusesBadFrees),
        KernelTest(name: "heap.objects_and_arrays_return_memory", body: heapObjects),
        KernelTest(name: "heap.alignment_honoured", body: heapAlignment),
        KernelTest(name: "heap.large_blocks_go_back_to_pmm", body: heapLarge),
        KernelTest(name: "objects.frame_pages_are_lazy_and_zeroed", body: frameLazy),
        KernelTest(name: "objects.vmem_map_resolve_unmap", body: vmemMapResolveUnmap),
        KernelTest(name: "objects.vmem_refuses_bad_mappings", body: vmemRefusals),
        KernelTest(name: "objects.handle_rights_only_shrink", body: handleRights),
        KernelTest(name: "objects.lifetimes_return_every_frame", body: objectLifetimes),
        KernelTest(name: "arch.idt_points_at_stubs", body: idtEntries),
        KernelTest(name: "arch.breakpoint_trap_returns", body: breakpointReturns),
        KernelTest(name: "arch.control_registers_configured", body: controlRegisters),
        KernelTest(name: "debug.build_id_present", body: buildIDPresent),
        KernelTest(name: "debug.frame_pointer_walk", body: framePointerWalk),
        KernelTest(name: "debug.hex_and_log_levels", body: hexAndLogLevels),
        KernelTest(name: "acpi.madt_matches_this_cpu", body: acpiMatchesThisCPU),
        KernelTest(name: "arch.tss_io_bitmap_follows_process", body: tssIOBitmap),
    ]

    /// Runs every test; true when all passed.
    static func run() -> Bool {
        // Last: no test (nor the kernel under them) wrote through the shared zero page.
        let tests = all + hardening + platformTests + smpTests + noticeTests + [KernelTest(name: "objects.zero_page_still_zero", body: zeroPageStillZero)]
        Console.write("kernel tests: ")
        Console.writeDecimal(tests.count)
        Console.write(" tests\n")
        var passed = 0
        var failed = 0
        for test in tests {
            failureNote = ""
            let ok = test.body()
            Console.write(ok ? "ok   " : "FAIL ")
            Console.write(test.name)
            if !ok {
                Console.write(": ")
                Console.write(failureNote)
            }
            Console.write(10)
            if ok { passed += 1 } else { failed += 1 }
        }
        Console.writeDecimal(passed)
        Console.write(" passed, ")
        Console.writeDecimal(failed)
        Console.write(" failed\n")
        return failed == 0
    }

    /// Byte comparison with a literal (no String in the kernel: see Debug/Console.swift).
    static func equal(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        bytes.elementsEqual(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    // MARK: boot information

    static func bootMemoryMap() -> Bool {
        var usable: UInt64 = 0
        for r in Kernel.boot.memoryMap where r.kind == .usable { usable += r.length }
        return check(!Kernel.boot.memoryMap.isEmpty, "empty memory map")
            && check(usable >= 16 << 20, "less than 16 MiB usable")
    }

    static func bootCommandLine() -> Bool {
        check(Kernel.commandLine.has("test"), "`test` missing from the parsed command line")
            && check(!Kernel.commandLine.has("tes"), "prefix of a word matched as a word")
    }

    static func kernelImageUsable() -> Bool {
        let start = KernelMemory.imagePhysicalStart, end = KernelMemory.imagePhysicalEnd
        for r in Kernel.boot.memoryMap where r.kind == .usable {
            if r.start <= start && end <= r.start + r.length { return true }
        }
        return check(false, "kernel image not inside one usable region")
    }

    // MARK: physical memory

    static func pmmAllocateWriteFree() -> Bool {
        let before = PMM.freeCount
        guard let frame = PMM.allocate() else { return check(false, "allocate returned nil") }
        guard check(frame & 0xfff == 0, "frame not page aligned"),
              check(PMM.freeCount == before - 1, "free count did not drop by one") else { return false }
        let p = KernelMemory.virtual(physical: frame).assumingMemoryBound(to: UInt64.self)
        for i in 0..<512 { p[i] = UInt64(i) &* 0x0101_0101 }
        var same = true
        for i in 0..<512 where p[i] != UInt64(i) &* 0x0101_0101 { same = false }
        PMM.free(frame)
        return check(same, "memory did not read back") && check(PMM.freeCount == before, "free count not restored")
    }

    static func overlapsReserved(_ frame: UInt64, _ count: Int) -> Bool {
        let end = frame + UInt64(count) * 4096
        if frame < KernelMemory.imagePhysicalEnd && KernelMemory.imagePhysicalStart < end { return true }
        for m in Kernel.boot.modules where frame < m.end && m.start < end { return true }
        return frame < 0x10_0000
    }

    static func pmmNeverHandsOutReserved() -> Bool {
        // Take 4096 frames (16 MiB), check each, give them back.
        var frames: [UInt64] = []
        frames.reserveCapacity(4096)
        var ok = true
        for _ in 0..<4096 {
            guard let f = PMM.allocate() else { break }
            if overlapsReserved(f, 1) { ok = false }
            frames.append(f)
        }
        let count = frames.count
        for f in frames { PMM.free(f) }
        return check(count == 4096, "could not allocate 16 MiB") && check(ok, "a reserved frame was handed out")
    }

    static func pmmContiguous() -> Bool {
        let before = PMM.freeCount
        guard let run = PMM.allocator!.allocateContiguous(count: 16, alignment: 16) else {
            return check(false, "no 16-frame run")
        }
        let aligned = run % (16 * 4096) == 0
        let clear = !overlapsReserved(run, 16)
        PMM.free(run, count: 16)
        return check(aligned, "run not aligned to 64 KiB") && check(clear, "run overlaps reserved memory")
            && check(PMM.freeCount == before, "free count not restored")
    }

    static func refuses(_ frame: UInt64) -> Bool {
        do {
            try PMM.allocator!.free(frame, count: 1)
            return false
        } catch {
            return true
        }
    }

    static func pmmRefusesBadFrees() -> Bool {
        let before = PMM.freeCount
        let kernelFrame = KernelMemory.imagePhysicalStart
        let refusedKernel = refuses(kernelFrame)
        let refusedUnaligned = refuses(0x20_0123)
        guard let f = PMM.allocate() else { return check(false, "allocate returned nil") }
        PMM.free(f)
        let refusedDouble = refuses(f)
        return check(refusedKernel, "freeing a kernel image frame was accepted")
            && check(refusedUnaligned, "an unaligned free was accepted")
            && check(refusedDouble, "a double free was accepted")
            && check(PMM.freeCount == before, "free count changed")
    }

    // MARK: heap

    final class Node {
        var value: Int
        var next: Node?
        init(_ value: Int, _ next: Node?) { self.value = value; self.next = next }
    }

    static func heapObjects() -> Bool {
        let liveBefore = Heap.liveAllocations
        let sum = buildAndDropObjects()
        let probe = Node(1, nil)
        let address = UInt64(UInt(bitPattern: ObjectIdentifier(probe)))
        return check(sum == 499_500 + 12_497_500, "wrong sums")
            && check(address >> 60 == 0, "a heap object has pointer bits 60..63 set")
            && check(Heap.liveAllocations == liveBefore + 1, "allocations leaked")
    }

    /// A linked list of 1,000 objects and an array of 5,000 integers, all released on return.
    @inline(never) static func buildAndDropObjects() -> Int {
        var sum = 0
        do {
            var list: Node? = nil
            for i in 0..<1000 { list = Node(i, list) }
            var array: [Int] = []
            for i in 0..<5000 { array.append(i) }
            var n = list
            while let node = n { sum += node.value; n = node.next }
            sum += array.reduce(0, &+)
            // Unlink iteratively so deinit does not recurse a thousand deep.
            while let node = list { list = node.next; node.next = nil }
        }
        return sum
    }

    static func heapAlignment() -> Bool {
        var ok = true
        var alignment = 16
        while alignment <= 4096 {
            var p: UnsafeMutableRawPointer? = nil
            if posix_memalign(&p, alignment, 24) != 0 || p == nil { ok = false; break }
            if UInt(bitPattern: p!) % UInt(alignment) != 0 { ok = false }
            heap_free(p)
            alignment <<= 1
        }
        var p: UnsafeMutableRawPointer? = nil
        let refused = posix_memalign(&p, 24, 8) != 0
        return check(ok, "misaligned block") && check(refused, "non-power-of-two alignment accepted")
    }

    static func heapLarge() -> Bool {
        let before = PMM.freeCount
        guard let p = Heap.allocate(size: 64 * 1024, alignment: 16) else { return check(false, "64 KiB malloc failed") }
        let during = PMM.freeCount
        p.storeBytes(of: 0x1234, toByteOffset: 65536 - 8, as: UInt64.self)
        Heap.free(p)
        return check(during == before - 17, "expected 16 pages plus a header page")
            && check(PMM.freeCount == before, "pages not returned")
    }

    // MARK: objects

    static func frameLazy() -> Bool {
        let before = PMM.freeCount
        let frame = try! Frame(pageCount: 4)
        let untouched = PMM.freeCount == before
        var out = [UInt8](repeating: 0xff, count: 16)
        let readOK = (try? withBytes(&out) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            try frame.copy(offset: 3 * 4096 + 100, buffer: b, write: false)
        }) != nil
        // A read goes through the shared zero page: nothing allocated.
        let readFree = frame.pagesHeld == 0 && PMM.freeCount == before
        let zeroed = out.allSatisfy { $0 == 0 }
        // A write: one page, and the page tree's one node (a 4-page Frame's tree has a single level).
        var word = [UInt8](repeating: 7, count: 8)
        let writeOK = (try? withBytes(&word) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            try frame.copy(offset: 3 * 4096 + 100, buffer: b, write: true)
        }) != nil
        let oneTouched = writeOK && frame.pagesHeld == 1 && PMM.freeCount == before - 2
        var beyond = [UInt8](repeating: 0, count: 8)
        let refused = (try? withBytes(&beyond) { (b: UnsafeMutableRawBufferPointer) throws(SysError) in
            try frame.copy(offset: 4 * 4096 - 4, buffer: b, write: false)
        }) == nil
        return check(untouched, "creating a frame allocated pages") && check(readOK, "read failed")
            && check(readFree, "reading an untouched page allocated memory")
            && check(oneTouched, "writing one page did not allocate exactly one page and one tree node") && check(zeroed, "page not zeroed")
            && check(refused, "a read past the end was accepted")
    }

    /// The shared zero page (entered read-only for every untouched anonymous page) holds only zeros.
    static func zeroPageStillZero() -> Bool {
        let words = KernelMemory.virtual(physical: SharedPages.zero).assumingMemoryBound(to: UInt64.self)
        var nonzero = 0
        for i in 0..<512 where words[i] != 0 { nonzero += 1 }
        return check(SharedPages.zero != 0, "no zero page") && check(nonzero == 0, "the shared zero page was written")
    }

    static func vmemMapResolveUnmap() -> Bool {
        guard let vmem = try? Vmem() else { return check(false, "Vmem() failed") }
        let frame = try! Frame(pageCount: 2)
        let address: UInt64 = 0x1000_0000
        guard (try? vmem.map(frame: frame, frameOffset: 0, address: address, length: 8192, flags: [.read, .write],
                             cache: .writeBack, ownerProcess: 1, ownerHandle: 1)) != nil else {
            return check(false, "map failed")
        }
        let absent = vmem.table.translate(address) == nil
        guard let physical = try? vmem.resolve(address + 8, write: true) else { return check(false, "resolve failed") }
        let entered = vmem.table.translate(address)?.physical == physical - 8
        let refusedExec = (try? vmem.resolve(address, write: false, exec: true)) == nil
        let removed = (try? vmem.unmap(address: address, length: 8192)) != nil
        let gone = vmem.table.translate(address) == nil && frame.mappingCount == 0
        return check(absent, "page present before first touch") && check(entered, "page not entered on resolve")
            && check(refusedExec, "exec of a non-exec mapping allowed") && check(removed, "unmap failed")
            && check(gone, "page or mapping left after unmap")
    }

    static func vmemRefusals() -> Bool {
        guard let vmem = try? Vmem() else { return check(false, "Vmem() failed") }
        let frame = try! Frame(pageCount: 4)
        func map(_ address: UInt64, _ length: UInt64, offset: UInt64 = 0, handle: UInt32) -> SysError? {
            do {
                try vmem.map(frame: frame, frameOffset: offset, address: address, length: length, flags: [.read],
                             cache: .writeBack, ownerProcess: 1, ownerHandle: handle)
                return nil
            } catch { return error }
        }
        return check(map(0x2000_0000, 8192, handle: 1) == nil, "first map failed")
            && check(map(0x2000_1000, 4096, handle: 2) == .overlapping, "overlap not refused")
            && check(map(0x3000_0000, 4096, handle: 1) == .badState, "same handle mapped twice")
            && check(map(0x3000_0000, 4096, handle: 3) == nil, "a second handle could not map")
            && check(map(0x3000_0123, 4096, handle: 4) == .misaligned, "misaligned address accepted")
            && check(map(0xffff_8000_0000_0000, 4096, handle: 4) == .badAddress, "kernel address accepted")
            && check(map(0x4000_0000, 8192, offset: 3 * 4096, handle: 4) == .invalidArgument, "range past the frame")
            && check((try? vmem.unmap(address: 0x5000_0000, length: 4096)) == nil, "unmap of nothing accepted")
    }

    static func handleRights() -> Bool {
        var table = HandleTable<KernelObject>(capacity: 16)
        guard let h = try? table.insert(.frame(try! Frame(pageCount: 1)), rights: [.read, .map, .duplicate]) else {
            return check(false, "insert failed")
        }
        let wider = (try? table.duplicate(h, rights: [.read, .write])) == nil
        guard let narrow = try? table.duplicate(h, rights: [.read]) else { return check(false, "narrowing refused") }
        let noWrite = (try? table.lookup(narrow, requiring: [.write])) == nil
        _ = try? table.remove(h)
        let stale = (try? table.lookup(h)) == nil
        return check(wider, "duplicate gained a right") && check(noWrite, "missing right not enforced")
            && check(stale, "a closed handle still works")
    }

    static func objectLifetimes() -> Bool {
        let frames = PMM.freeCount
        let heapPages = Heap.pagesInUse
        let objects = ObjectCounter.live
        do {
            guard let vmem = try? Vmem() else { return check(false, "Vmem() failed") }
            let process = Process(vmem: vmem)
            var table = HandleTable<KernelObject>(capacity: 16)
            let frame = try! Frame(pageCount: 8)
            _ = try? table.insert(.frame(frame), rights: Rights.defaults(for: .frame))
            _ = try? table.insert(.process(process), rights: Rights.defaults(for: .process))
            try? vmem.map(frame: frame, frameOffset: 0, address: 0x1000_0000, length: 8 * 4096, flags: [.read, .write],
                          cache: .writeBack, ownerProcess: process.id, ownerHandle: 1)
            for i in 0..<8 { _ = try? vmem.resolve(0x1000_0000 + UInt64(i) * 4096, write: true) }
            _ = table.removeAll()
        }
        // Pages the kernel heap took meanwhile (it keeps them) count as returned, as in the userspace
        // suite's leak checks (KernelFigures).
        let heapGrowth = Heap.pagesInUse - heapPages
        return check(ObjectCounter.live == objects, "objects outlived their last reference")
            && check(PMM.freeCount + heapGrowth == frames, "frames (pages or page tables) not returned")
    }

    // MARK: arch

    static func idtEntries() -> Bool {
        let stubs = trap_stub_table()!
        for v in [0, 3, 8, 13, 14, 32, 255] where Descriptors.handler(ofVector: v) != stubs[v] {
            return check(false, "IDT entry does not point at its stub")
        }
        return true
    }

    static func breakpointReturns() -> Bool {
        let before = Traps.breakpoints
        cpu_breakpoint()
        cpu_breakpoint()
        return check(Traps.breakpoints == before + 2, "int3 not counted twice")
    }

    static func controlRegisters() -> Bool {
        let cr0 = read_cr0(), cr4 = read_cr4(), efer = read_msr(0xC000_0080)
        return check(cr0 & CPU.cr0WriteProtect != 0, "CR0.WP clear")
            && check(cr0 & (CPU.cr0Emulation | CPU.cr0TaskSwitched) == 0, "CR0.EM or CR0.TS set")
            && check(cr4 & CPU.cr4OSFXSR != 0 && cr4 & CPU.cr4OSXMMEXCPT != 0, "CR4.OSFXSR/OSXMMEXCPT clear")
            && check(cr4 & (1 << 5) != 0, "CR4.PAE clear")
            && check(efer & (1 << 11) != 0 && efer & (1 << 10) != 0, "EFER.NXE or LMA clear")
    }

    // MARK: debug

    static func buildIDPresent() -> Bool {
        StackTrace.withBuildID { id in check(id.count == 20, "build ID is not 20 bytes (sha1)") }
    }

    /// Frames between here and the outermost frame record (boot stack), counting kernel return addresses.
    @inline(never) static func countFrames() -> Int {
        let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 64)
        defer { buffer.deallocate() }
        let count = walkFramePointers(rbp: read_rbp(), maxFrames: 64, read: KernelMemory.readKernelWord, into: buffer)
        for i in 0..<count where buffer[i] < KernelMemory.imageStart || buffer[i] >= KernelMemory.imageEnd {
            return -1
        }
        return count
    }
    /// Work after each call keeps the calls from becoming tail jumps (which leave no frame).
    static var nestedCalls = 0
    @inline(never) static func nested1() -> Int { let n = nested2(); nestedCalls &+= 1; return n }
    @inline(never) static func nested2() -> Int { let n = nested3(); nestedCalls &+= 1; return n }
    @inline(never) static func nested3() -> Int { let n = countFrames(); nestedCalls &+= 1; return n }

    static func framePointerWalk() -> Bool {
        let direct = countFrames()
        let nested = nested1()
        return check(direct > 0 && nested > 0, "a return address outside the kernel image")
            && check(nested == direct + 3, "three nested calls did not add three frames")
    }

    static func hexAndLogLevels() -> Bool {
        let saved = Log.level
        Log.level = .warn
        let filtered = !Log.isEnabled(.info) && Log.isEnabled(.error)
        Log.level = saved
        let message: LogMessage = "a \(hex: 0xdead_beef) b \(-12) \(text: [104, 105, 7])"
        let formatted = message.withBytes { equal($0, "a 0xdeadbeef b -12 hi?") }
        var long: LogMessage = "x"
        for _ in 0..<300 { long = "\(text: long.withBytes { Array($0) })y" }
        return check(filtered, "level filter") && check(formatted, "log formatting")
            && check(long.count == LogMessage.capacity && long.truncated, "long lines are cut, not overrun")
    }
}

/// The TSS covers the I/O bitmap and its terminating byte; loading a process with ports copies its
/// bitmap and points the map base at it; a process without ports gets no map (every port faults).
private func tssIOBitmap() -> Bool {
    let gdt = UnsafeMutableRawPointer(symbol_gdt_storage()!)
    let low = gdt.load(fromByteOffset: Int(Selector.tss), as: UInt64.self)
    let limit = Int((low & 0xffff) | ((low >> 48) & 0xf) << 16)
    let tss = symbol_tss_storage()!
    func mapBase() -> Int { Int(UnsafeMutableRawPointer(tss + 102).load(as: UInt16.self)) }
    guard check(limit == IOBitmap.mapOffset + 8192, "TSS limit does not end at the bitmap's terminating byte"),
          check(tss[IOBitmap.mapOffset + 8192] == 0xff, "the terminating byte is not 0xff"),
          let vmem = try? Vmem() else { return check(false, "no Vmem") }
    let p = Process(vmem: vmem)
    p.ioPorts.grant(base: 0x70, count: 2)
    IOBitmap.load(p)
    let granted = mapBase() == IOBitmap.mapOffset && tss[IOBitmap.mapOffset + 0x70 / 8] == 0xfc
        && tss[IOBitmap.mapOffset + 0x60 / 8] == 0xff
    p.ioPorts.revoke(base: 0x70, count: 2)
    IOBitmap.load(p)
    let denied = mapBase() > limit
    IOBitmap.load(Scheduler.current.process)
    return check(granted, "the process's bitmap was not loaded") && check(denied, "a process without ports has a map")
}
