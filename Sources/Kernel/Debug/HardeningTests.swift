// In-kernel tests of the hardening (run with the others under `test`): W^X over every kernel mapping,
// write protection of kernel text and rodata, SMAP and SMEP against user pages, and the guard pages
// below kernel stacks. The faults they expect are caught through the probes of Arch/probes.S and
// Traps.probe, and the test goes on. `stack_overflow_test` on the command line overflows a thread
// kernel stack for real, a run that ends in the "kernel stack overflow" panic (checked by BootTests).

#if !KERNEL
import ABI
#endif

extension KernelTests {
    static let hardening: [KernelTest] = [
        KernelTest(name: "hardening.kernel_mappings_are_w_xor_x", body: kernelMappingsWXorX),
        KernelTest(name: "hardening.image_parts_have_their_rights", body: imagePartsRights),
        KernelTest(name: "hardening.kernel_text_and_rodata_writes_fault", body: textWritesFault),
        KernelTest(name: "hardening.smap_user_page_access_faults", body: smapUserAccessFaults),
        KernelTest(name: "hardening.smep_user_page_execution_faults", body: smepUserExecutionFaults),
        KernelTest(name: "hardening.stack_guard_pages_unmapped", body: stackGuardsUnmapped),
        KernelTest(name: "hardening.thread_stacks_and_tables_returned", body: threadStacksReturned),
    ]

    /// Runs a probe with Traps.probe armed; returns its result and the fault it met (vector -1: none).
    static func probing(_ body: () -> UInt64) -> (value: UInt64, fault: ProbeFault) {
        Traps.probe = ProbeFault(armed: true)
        let value = body()
        let fault = Traps.probe
        Traps.probe = ProbeFault()
        return (value, fault)
    }

    static func address(_ p: UnsafeMutablePointer<UInt8>?) -> UInt64 { UInt64(UInt(bitPattern: p!)) }

    // MARK: W^X

    /// Every present leaf of the kernel half (PML4 slots 255..511), with the rights of the whole walk
    /// (writable only if every level is, executable only if no level has NX): none is both.
    static func kernelMappingsWXorX() -> Bool {
        let memory = KernelPageMemory()
        var leaves = 0
        var both = 0
        func walk(_ table: UInt64, level: Int, writable: Bool, executable: Bool) {
            let entries = memory.entries(table)
            for i in 0..<512 where entries[i] & PageEntry.present != 0 {
                if level == 3 && i < PageTable<KernelPageMemory>.firstKernelSlot { continue }
                let e = entries[i]
                let w = writable && e & PageEntry.writable != 0
                let x = executable && e & PageEntry.noExecute == 0
                if level == 0 || (level < 3 && e & PageEntry.largePage != 0) {
                    leaves += 1
                    if w && x { both += 1 }
                } else {
                    walk(e & PageEntry.addressMask, level: level - 1, writable: w, executable: x)
                }
            }
        }
        walk(Vmem.kernelRoot, level: 3, writable: true, executable: true)
        return check(leaves > 2048, "fewer kernel leaves than the direct map alone has")
            && check(both == 0, "a kernel page is both writable and executable")
    }

    /// Text read-only and executable, rodata read-only, data and bss writable, all but text no-execute;
    /// the direct map, the heap window and thread stacks no-execute.
    static func imagePartsRights() -> Bool {
        let table = PageTable(root: Vmem.kernelRoot, memory: KernelPageMemory())
        func rights(_ a: UInt64) -> MapFlags? { table.translate(a)?.flags }
        let text = rights(address(symbol_kernel_start()) + 0x1000)
        let textEnd = rights(address(symbol_text_end()) - 8)
        let rodata = rights(address(symbol_rodata_start()))
        let rodataEnd = rights(address(symbol_rodata_end()) - 8)
        let data = rights(address(symbol_data_start()))
        let bss = rights(address(symbol_boot_stack_bottom()))
        let direct = rights(KernelMemory.directMapBase + 0x20_0000)
        let window = rights(KernelMemory.heapWindowBase + 0x20_0000)
        let stack = rights(Scheduler.current.stackTop - 8)
        return check(text == [.read, .exec] && textEnd == text, "text is not read-only and executable")
            && check(rodata == [.read] && rodataEnd == rodata, "rodata is not read-only and no-execute")
            && check(data == [.read, .write] && bss == [.read, .write], "data or bss not writable no-execute")
            && check(direct == [.read, .write] && window == [.read, .write], "direct map or heap window executable")
            && check(stack == [.read, .write], "a thread kernel stack is executable")
            && check(read_cr0() & CPU.cr0WriteProtect != 0, "CR0.WP clear: ring 0 ignores read-only pages")
    }

    /// Writing a word of text or rodata back to itself is a protection fault (present, write).
    static func textWritesFault() -> Bool {
        let code = address(symbol_kernel_start()) + 0x1000
        let constant = address(symbol_rodata_start())
        let textWrite = probing { probe_write64(code, probe_read64(code)) }
        let rodataWrite = probing { probe_write64(constant, probe_read64(constant)) }
        let dataWrite = probing { probe_write64(address(symbol_boot_stack_bottom()), 0) }
        return check(textWrite.fault.vector == Vector.pageFault && textWrite.fault.error & 3 == 3
                     && textWrite.fault.address == code, "a write to kernel text did not fault")
            && check(rodataWrite.fault.vector == Vector.pageFault && rodataWrite.fault.address == constant,
                     "a write to rodata did not fault")
            && check(dataWrite.fault.vector == -1, "a write to bss faulted (the probe itself is wrong)")
    }

    // MARK: SMAP and SMEP

    /// A user page of a fresh address space, present, with `bytes` at its start; runs body with that
    /// address space active (CR3), then switches back.
    static func withUserPage(exec: Bool, bytes: [UInt8], _ body: (UInt64) -> Bool) -> Bool {
        guard let vmem = try? Vmem(), let frame = try? Frame(pageCount: 1) else {
            return check(false, "Vmem() or Frame(pageCount: 1) failed")
        }
        let page: UInt64 = 0x1000_0000
        let flags: MapFlags = exec ? [.read, .exec] : [.read, .write]
        guard (try? vmem.map(frame: frame, frameOffset: 0, address: page, length: pageSize, flags: flags,
                             cache: .writeBack, ownerProcess: 1, ownerHandle: 1)) != nil,
              // The Frame's own page (`unshare`): a plain read would enter the shared zero page, which the
              // bytes below must not reach.
              let physical = try? vmem.resolve(page, write: false, unshare: true) else { return check(false, "map failed") }
        let memory = KernelMemory.virtual(physical: physical)
        for (i, b) in bytes.enumerated() { memory.storeBytes(of: b, toByteOffset: i, as: UInt8.self) }
        let saved = read_cr3()
        write_cr3(vmem.root)
        let ok = body(page)
        write_cr3(saved)
        return ok
    }

    /// Reading or writing a user page from ring 0 faults (present page, supervisor access); the same
    /// read between stac and clac (what a copy helper through user addresses would do) works.
    static func smapUserAccessFaults() -> Bool {
        guard CPU.smapEnabled else { return check(false, "SMAP is off (this CPU lacks it; QEMU -cpu max has it)") }
        let magic: [UInt8] = [0x48, 0x41, 0x52, 0x44, 0x45, 0x4e, 0x45, 0x44]
        return withUserPage(exec: false, bytes: magic) { page in
            let read = probing { probe_read64(page) }
            let write = probing { probe_write64(page + 8, 1) }
            let allowed = probing { probe_read64_user_allowed(page) }
            return check(read.fault.vector == Vector.pageFault && read.fault.address == page
                         && read.fault.error & 5 == 1, "a ring-0 read of a user page did not fault (SMAP)")
                && check(write.fault.vector == Vector.pageFault && write.fault.error & 3 == 3,
                         "a ring-0 write to a user page did not fault (SMAP)")
                && check(allowed.fault.vector == -1 && allowed.value == 0x44454e4544524148,
                         "the read with stac did not see the page (the test itself is wrong)")
                && check(read_rflags() & (1 << 18) == 0, "RFLAGS.AC left set")
        }
    }

    /// Calling into an executable user page from ring 0 faults on the instruction fetch; with CR4.SMEP
    /// cleared for a moment the same call runs the page's code (mov $42, %eax; ret).
    static func smepUserExecutionFaults() -> Bool {
        guard CPU.smepEnabled else { return check(false, "SMEP is off (this CPU lacks it; QEMU -cpu max has it)") }
        return withUserPage(exec: true, bytes: [0xb8, 42, 0, 0, 0, 0xc3]) { page in
            let call = probing { probe_call(page) }
            let cr4 = read_cr4()
            write_cr4(cr4 & ~CPU.cr4SMEP)
            let unprotected = probing { probe_call(page) }
            write_cr4(cr4)
            return check(call.fault.vector == Vector.pageFault && call.fault.address == page
                         && call.fault.error & 0x11 == 0x11, "ring 0 executed a user page (SMEP)")
                && check(unprotected.fault.vector == -1 && unprotected.value == 42,
                         "without SMEP the user code did not run (the test itself is wrong)")
        }
    }

    // MARK: guard pages

    /// The page below the boot stack, below each IST stack and below a thread stack is unmapped; the
    /// stacks' own lowest words are writable.
    static func stackGuardsUnmapped() -> Bool {
        let boot = address(symbol_boot_stack_bottom())
        let ist = address(symbol_ist_stacks()) + UInt64(Descriptors.istGuardSize)
        let stride = UInt64(Descriptors.istGuardSize + Descriptors.istStackSize)
        var bottoms = [boot, ist, ist + stride, ist + 2 * stride]
        let stacksBefore = KernelStacks.live
        guard let physical = PMM.allocate(count: KernelStacks.stackPages),
              let thread = try? KernelStacks.map(physical: physical) else { return check(false, "no stack") }
        bottoms.append(thread)
        var guarded = true, usable = true, recognised = true
        for bottom in bottoms {
            let below = probing { probe_read64(bottom - 8) }
            let own = probing { probe_write64(bottom, probe_read64(bottom)) }
            if below.fault.vector != Vector.pageFault || below.fault.error & 1 != 0 { guarded = false }
            if own.fault.vector != -1 { usable = false }
            if !KernelMemory.isStackGuard(bottom - 8) || KernelMemory.isStackGuard(bottom) { recognised = false }
        }
        KernelStacks.unmap(bottom: thread)
        PMM.free(physical, count: KernelStacks.stackPages)
        return check(guarded, "the page below a kernel stack is mapped") && check(usable, "a stack is not writable")
            && check(recognised, "isStackGuard disagrees with the layout")
            && check(KernelStacks.live == stacksBefore && !KernelStacks.isMapped(thread),
                     "an unmapped stack is still mapped or counted")
    }

    /// 100 threads made and dropped twice (the first round carves the heap pages their objects need):
    /// the second gives back every stack slot, stack frame and page table of the stack region.
    static func threadStacksReturned() -> Bool {
        guard let vmem = try? Vmem() else { return check(false, "Vmem() failed") }
        let process = Process(vmem: vmem)
        func round() -> Bool {
            var threads: [Thread] = []
            for _ in 0..<100 {
                guard let t = try? Thread(process: process, entry: 0x1000, stack: 0x2000, argument: 0) else { return false }
                threads.append(t)
            }
            return threads.allSatisfy { KernelStacks.isMapped($0.stackTop - 8) && KernelStacks.isGuard($0.stackBottom - 8) }
        }
        guard round() else { return check(false, "a thread's stack was not made or not guarded") }
        let frames = PMM.freeCount, stacks = KernelStacks.live
        let second = round()
        return check(second, "a thread's stack was not made or not guarded")
            && check(KernelStacks.live == stacks, "stack slots not given back")
            && check(PMM.freeCount == frames, "stack frames or page tables not given back")
    }
}

/// `stack_overflow_test`: endless recursion on a thread kernel stack (taken from KernelStacks as a
/// thread's is), which must end in the "kernel stack overflow" panic from the double-fault stack.
enum StackOverflowTest {
    static var depth = 0
    static var limit = Int.max
    static var sink: UInt64 = 0

    static func start() -> Never {
        Log.info("stack_overflow_test: recursing on a thread kernel stack until it overflows")
        guard let physical = PMM.allocate(count: KernelStacks.stackPages),
              let bottom = try? KernelStacks.map(physical: physical) else { kernelPanic("stack_overflow_test: no stack") }
        run_on_stack(bottom + UInt64(KernelStacks.stackPages) * pageSize) { StackOverflowTest.recurse(0) }
        kernelPanic("stack_overflow_test: the recursion returned")
    }

    /// 64 bytes of locals per call, kept by publishing their address; work after the call keeps it
    /// from becoming a loop.
    @inline(never) static func recurse(_ n: Int) {
        var pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (UInt64(n), 1, 2, 3, 4, 5, 6, 7)
        withUnsafeMutablePointer(to: &pad) { sink = UInt64(UInt(bitPattern: $0)) }
        if n != limit { recurse(n &+ 1) }
        depth &+= 1
    }
}
