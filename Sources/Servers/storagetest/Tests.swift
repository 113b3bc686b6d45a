// The storage tests: pcid's list and errors, then the block-device protocol on virtio-blk.

final class Tests {
    let pci: Handle
    let page: IPCBufferPage
    /// The Sender to the virtio-blk driver (import:block), .invalid until block.imported passed.
    var disk: Handle = .invalid
    var virtioIndex: UInt64 = 0
    var capacity: UInt64 = 0
    var blockSize: UInt64 = 0
    var maxBlocks: UInt64 = 0
    /// The data window: 1 MiB + 64 KiB, mapped here.
    var window: Handle = .invalid
    var windowAddress: UInt64 = 0
    static let windowSize: UInt64 = (1 << 20) + (64 << 10)

    init(pci: Handle, page: IPCBufferPage) {
        self.pci = pci
        self.page = page
    }

    /// One call; the reply, or a failure naming the call.
    func call(_ to: Handle, _ label: UInt32, _ words: [UInt64], handles: [Handle] = [], bytes: Int = 0) throws(TestFailure) -> IPCMessage {
        for (i, h) in handles.enumerated() { page.setHandle(i, h) }
        var m = IPCMessage(tag: IPCTag(words: words.count, bytes: bytes, handles: handles.count, label: label))
        if words.count > 0 { m.words.0 = words[0] }
        if words.count > 1 { m.words.1 = words[1] }
        if words.count > 2 { m.words.2 = words[2] }
        if words.count > 3 { m.words.3 = words[3] }
        do throws(SysError) { return try senderCall(to, m) } catch { throw TestFailure(text: "call \(label): \(error.name)") }
    }

    func pciCall(_ label: PCILabel, _ words: UInt64...) throws(TestFailure) -> IPCMessage {
        try call(pci, label.rawValue, words)
    }

    func expectPCI(_ error: PCIError, _ r: IPCMessage, _ what: String) throws(TestFailure) {
        try check(r.tag.label == error.rawValue, "\(what): label \(r.tag.label), wanted \(staticText(error.name))")
    }

    func expectBlock(_ error: BlockError, _ r: IPCMessage, _ what: String) throws(TestFailure) {
        try check(r.tag.label == error.rawValue, "\(what): label \(r.tag.label), wanted \(staticText(error.name))")
    }

    // MARK: pcid

    func listsFunctions() throws(TestFailure) {
        let c = try pciCall(.count)
        try check(c.tag.label == 0 && c.words.0 >= 3, "count: label \(c.tag.label), \(c.words.0) functions")
        let ecam = (try? systemInfo(.ecamAddress)) ?? 0
        try check(c.words.1 == (ecam != 0 ? PCIAccess.ecam : PCIAccess.ports).rawValue, "access \(c.words.1) with ECAM at \(ecam)")
        print("storagetest: pcid lists \(c.words.0) functions through " + (ecam != 0 ? "ECAM" : "ports"))
        var hostBridge = false, virtio = false
        for i in 0..<c.words.0 {
            let f = try pciCall(.function, i)
            try check(f.tag.label == 0, "function \(i): label \(f.tag.label)")
            let w0 = PCIFunctionWord0(f.words.0), w1 = PCIFunctionWord1(f.words.1)
            if w0.bus == 0 && w0.device == 0 && w0.function == 0 {
                try check(w1.classCode == 6 && w1.subclass == 0, "00:00.0 is class \(w1.classCode).\(w1.subclass), not a host bridge")
                hostBridge = true
            }
            guard w0.vendor == 0x1af4 && w0.deviceID == 0x1042 && !virtio else { continue }
            virtio = true
            virtioIndex = i
            try check(w1.classCode == 1, "virtio-blk class \(w1.classCode)")
            try check(w1.interruptPin == 1, "virtio-blk interrupt pin \(w1.interruptPin)")
            try check(w1.gsi != PCIFunctionWord1.noGSI, "virtio-blk has no routed interrupt")
            try check(f.words.2 & 1 << UInt64(PCIProtocol.capabilityVendor) != 0, "virtio-blk lacks vendor capabilities")
            try check(f.words.2 & 1 << UInt64(PCIProtocol.capabilityMSIX) != 0, "virtio-blk lacks MSI-X")
            try check(f.words.3 == PCIDriverState.claimed.rawValue, "virtio-blk driver state \(f.words.3)")
            // The modern virtio BAR: 64-bit memory, 16 KiB at least (QEMU puts the structures in BAR 4).
            let b = try pciCall(.bar, i, 4)
            let flags = PCIBARFlags(rawValue: b.words.2)
            try check(b.tag.label == 0 && flags.contains(.present) && flags.contains(.wide) && !flags.contains(.io)
                      && b.words.1 >= 0x4000 && b.words.0 != 0, "virtio-blk BAR 4: base \(b.words.0) size \(b.words.1) flags \(b.words.2)")
            let upper = try pciCall(.bar, i, 5)
            try check(upper.words.1 == 0 && upper.words.2 == 0, "BAR 5 (BAR 4's upper half) reported as a BAR")
            let v = try pciCall(.configRead, i, 0, 4)
            try check(v.tag.label == 0 && v.words.0 == 0x1042_1af4, "config dword 0: \(v.words.0)")
            print("storagetest: virtio-blk is function \(i) (\(w0.bus):\(w0.device).\(w0.function)), BAR 4 \(b.words.1) bytes, gsi \(w1.gsi)")
        }
        try check(hostBridge, "no host bridge at 00:00.0")
        try check(virtio, "no virtio-blk (1af4:1042) function")
    }

    func pciErrors() throws(TestFailure) {
        let c = try pciCall(.count)
        try expectPCI(.noDevice, try pciCall(.function, c.words.0), "function past the end")
        try expectPCI(.noDevice, try pciCall(.function, UInt64.max), "function UInt64.max")
        try expectPCI(.invalid, try pciCall(.bar, 0, 6), "BAR 6")
        try expectPCI(.invalid, try pciCall(.configRead, 0, 0, 3), "width 3")
        try expectPCI(.invalid, try pciCall(.configRead, 0, 2, 4), "unaligned dword")
        try expectPCI(.invalid, try pciCall(.configRead, 0, 4096, 1), "offset 4096")
        try expectPCI(.denied, try pciCall(.configWrite, 0, 4, 2, 0), "a client writes configuration space")
        try expectPCI(.denied, try pciCall(.dma, pageSize), "a client asks for DMA memory")
        try expectPCI(.denied, try pciCall(.take, 0), "a client takes a BAR")
        try expectPCI(.badMessage, try call(pci, PCILabel.claim.rawValue, [0x1af4, 0x1042]), "claim with two words")
        try expectPCI(.badMessage, try call(pci, 99, [1]), "label 99")
        try expectPCI(.badMessage, try call(pci, PCILabel.bar.rawValue, [0]), "bar with one word")
        try expectPCI(.badMessage, try call(pci, PCILabel.count.rawValue, [], bytes: 8), "count with bytes")
        // A handle sent along is refused and closed by pcid.
        let n = try sysOrFail { () throws(SysError) in try notifyCreate() }
        try expectPCI(.badMessage, try call(pci, PCILabel.count.rawValue, [], handles: [n]), "count with a handle")
        let still = try pciCall(.count)
        try check(still.tag.label == 0 && still.words.0 == c.words.0, "pcid answers after bad requests")
    }

    /// virtio-blk (a boot server) claimed its function; a second claim is refused, other IDs are no
    /// device; a function's own Sender (the host bridge's, claimed here) takes only its own objects.
    func claims() throws(TestFailure) {
        try expectPCI(.busy, try pciCall(.claim, 0x1af4, 0x1042, 0), "claiming virtio-blk's function again")
        try expectPCI(.noDevice, try pciCall(.claim, 0x1af4, 0x1042, 1), "a second virtio disk that is not there")
        try expectPCI(.noDevice, try pciCall(.claim, 0x1234, 0xabcd, 0), "IDs nobody has")
        try expectPCI(.invalid, try pciCall(.claim, 0x1_0000, 0, 0), "vendor above 0xffff")
        let c = try pciCall(.count)
        var bridge: UInt64? = nil
        for i in 0..<c.words.0 {
            let w = PCIFunctionWord0(try pciCall(.function, i).words.0)
            if w.bus == 0 && w.device == 0 && w.function == 0 { bridge = i }
        }
        guard let bridge else { throw TestFailure(text: "no host bridge") }
        let w0 = PCIFunctionWord0(try pciCall(.function, bridge).words.0)
        let r = try pciCall(.claim, UInt64(w0.vendor), UInt64(w0.deviceID), 0)
        try check(r.tag.label == 0 && r.tag.handles == 1 && r.words.0 == bridge, "claim the host bridge: label \(r.tag.label)")
        let own = page.handle(0)
        defer { _ = try? handleClose(own) }
        try expectPCI(.denied, try call(own, PCILabel.claim.rawValue, [0x1af4, 0x1042, 0]), "a driver's Sender claims")
        try expectPCI(.invalid, try call(own, PCILabel.take.rawValue, [7]), "take 7")
        try expectPCI(.invalid, try call(own, PCILabel.take.rawValue, [5]), "take a BAR that is not there")
        try expectPCI(.denied, try call(own, PCILabel.configWrite.rawValue, [virtioIndex, 4, 2, 0]), "write another function's configuration")
        let read = try call(own, PCILabel.configRead.rawValue, [bridge, 0, 4])
        try check(read.tag.label == 0 && read.words.0 == UInt64(w0.vendor) | UInt64(w0.deviceID) << 16, "a driver reads its own configuration")
        let d = try call(own, PCILabel.dma.rawValue, [pageSize])
        try check(d.tag.label == 0 && d.tag.handles == 1, "dma for a driver: label \(d.tag.label)")
        let frame = page.handle(0)
        let physical = try sysOrFail { () throws(SysError) in try framePhysical(frame) }
        try check(physical != 0 && physical % pageSize == 0, "DMA Frame at \(physical)")
        _ = try? handleClose(frame)
        try expectPCI(.invalid, try call(own, PCILabel.dma.rawValue, [PCIProtocol.dmaLimit]), "dma past the budget")
    }

    func imported(_ block: Handle) throws(TestFailure) {
        let type = try sysOrFail { () throws(SysError) in try handleIdentify(block) }.type
        try check(type == .sender, "import:block is a \(type), not a Sender")
        disk = block
    }

    // MARK: virtio-blk

    func info() throws(TestFailure) {
        let r = try call(disk, BlockLabel.info.rawValue, [])
        try check(r.tag.label == 0 && r.tag.words == 4, "info: label \(r.tag.label), \(r.tag.words) words")
        (capacity, blockSize, maxBlocks) = (r.words.0, r.words.1, r.words.3)
        try check(blockSize == 512 && capacity >= 4096 && maxBlocks >= 2048, "info: \(capacity) blocks of \(blockSize), \(maxBlocks) per request")
        let flags = BlockFlags(rawValue: r.words.2)
        try check(!flags.contains(.readOnly), "a writable image reported read-only")
        print("storagetest: disk capacity \(capacity) blocks of \(blockSize) bytes, \(maxBlocks) blocks per request, flags \(r.words.2)")
    }

    func noWindow() throws(TestFailure) {
        try expectBlock(.noWindow, try call(disk, BlockLabel.read.rawValue, [0, 1, 0]), "read before attach")
        try expectBlock(.noWindow, try call(disk, BlockLabel.write.rawValue, [0, 1, 0]), "write before attach")
        try expectBlock(.noWindow, try call(disk, BlockLabel.detach.rawValue, []), "detach before attach")
        window = try sysOrFail { () throws(SysError) in try frameCreate(size: Tests.windowSize) }
        windowAddress = try sysOrFail { () throws(SysError) in try MappingSpace.map(window, length: Tests.windowSize) }
        let give = try sysOrFail { () throws(SysError) in try handleDuplicate(window, rights: BlockProtocol.windowRights.union(.transfer)) }
        let r = try call(disk, BlockLabel.attach.rawValue, [], handles: [give])
        try check(r.tag.label == 0 && r.words.0 == Tests.windowSize, "attach: label \(r.tag.label), size \(r.words.0)")
    }

    var bytes: UnsafeMutablePointer<UInt8> { UnsafeMutablePointer(bitPattern: UInt(windowAddress))! }

    func readsHostSectors() throws(TestFailure) {
        let r = try call(disk, BlockLabel.read.rawValue, [100, 8, 4096])
        try check(r.tag.label == 0 && r.words.0 == 8, "read 100+8: label \(r.tag.label), \(r.words.0) blocks")
        for s in 0..<8 {
            for i in 0..<512 {
                let want = UInt8(truncatingIfNeeded: (100 + s) * 7 + i)
                let got = bytes[4096 + s * 512 + i]
                try check(got == want, "sector \(100 + s) byte \(i): \(got), the host wrote \(want)")
            }
        }
    }

    func writesAndReadsBack() throws(TestFailure) {
        let sectors = 2048
        for s in 0..<sectors { for i in 0..<512 { bytes[s * 512 + i] = UInt8(truncatingIfNeeded: (2048 + s) * 13 + i * 3 + 1) } }
        let w = try call(disk, BlockLabel.write.rawValue, [2048, UInt64(sectors), 0])
        try check(w.tag.label == 0 && w.words.0 == UInt64(sectors), "write 2048+2048: label \(w.tag.label)")
        let f = try call(disk, BlockLabel.flush.rawValue, [])
        try check(f.tag.label == 0, "flush: label \(f.tag.label)")
        for i in 0..<(sectors * 512) { bytes[i] = 0 }
        // Read it back in two halves into the window at another offset.
        for half in 0..<2 {
            let r = try call(disk, BlockLabel.read.rawValue, [UInt64(2048 + half * 1024), 1024, UInt64(half * 1024 * 512)])
            try check(r.tag.label == 0 && r.words.0 == 1024, "read back half \(half): label \(r.tag.label)")
        }
        for s in 0..<sectors {
            for i in 0..<512 {
                let want = UInt8(truncatingIfNeeded: (2048 + s) * 13 + i * 3 + 1)
                try check(bytes[s * 512 + i] == want, "read back sector \(2048 + s) byte \(i): \(bytes[s * 512 + i]) != \(want)")
            }
        }
        // The last block of the disk too.
        let last = try call(disk, BlockLabel.write.rawValue, [capacity - 1, 1, 0])
        try check(last.tag.label == 0, "write the last block: label \(last.tag.label)")
    }

    func blockErrors() throws(TestFailure) {
        func rw(_ label: BlockLabel, _ w: UInt64...) throws(TestFailure) -> IPCMessage { try call(disk, label.rawValue, w) }
        try expectBlock(.outOfRange, try rw(.read, capacity - 1, 2, 0), "read past the capacity")
        try expectBlock(.outOfRange, try rw(.write, capacity, 1, 0), "write at the capacity")
        try expectBlock(.outOfRange, try rw(.read, UInt64.max, 1, 0), "read at block UInt64.max")
        try expectBlock(.invalid, try rw(.read, 0, 0, 0), "count 0")
        try expectBlock(.invalid, try rw(.read, 0, maxBlocks + 1, 0), "count above the request limit")
        try expectBlock(.invalid, try rw(.read, 0, 1, 100), "window offset not a block multiple")
        try expectBlock(.invalid, try rw(.read, 0, 2, Tests.windowSize - 512), "past the window's end")
        try expectBlock(.invalid, try rw(.write, 0, 1, UInt64.max - 511), "window offset near UInt64.max")
        // Attach refusals: not a Frame; a Frame too large; a Frame without write rights.
        let n = try sysOrFail { () throws(SysError) in try notifyCreate() }
        try expectBlock(.invalid, try call(disk, BlockLabel.attach.rawValue, [], handles: [n]), "attach a Notify")
        let big = try sysOrFail { () throws(SysError) in try frameCreate(size: BlockProtocol.maxWindow + pageSize) }
        try expectBlock(.invalid, try call(disk, BlockLabel.attach.rawValue, [], handles: [big]), "attach a Frame above maxWindow")
        let small = try sysOrFail { () throws(SysError) in try frameCreate(size: pageSize) }
        let readOnly = try sysOrFail { () throws(SysError) in try handleDuplicate(small, rights: [.read, .map, .transfer]) }
        try expectBlock(.invalid, try call(disk, BlockLabel.attach.rawValue, [], handles: [readOnly]), "attach a read-only Frame")
        _ = try? handleClose(small)
        // The window from before still works.
        let r = try rw(.read, 100, 1, 0)
        try check(r.tag.label == 0 && bytes[0] == UInt8(truncatingIfNeeded: 700), "the window after refused attaches")
    }

    func malformed() throws(TestFailure) {
        try expectBlock(.badMessage, try call(disk, 0, []), "label 0")
        try expectBlock(.badMessage, try call(disk, 77, [1, 2, 3]), "label 77")
        try expectBlock(.badMessage, try call(disk, 0xffff_ffff, []), "label 0xffffffff")
        try expectBlock(.badMessage, try call(disk, BlockLabel.read.rawValue, [0, 1]), "read with two words")
        try expectBlock(.badMessage, try call(disk, BlockLabel.info.rawValue, [], bytes: 16), "info with bytes")
        try expectBlock(.badMessage, try call(disk, BlockLabel.attach.rawValue, []), "attach without a handle")
        let n = try sysOrFail { () throws(SysError) in try notifyCreate() }
        try expectBlock(.badMessage, try call(disk, BlockLabel.flush.rawValue, [], handles: [n]), "flush with a handle")
        // A seeded stream of random labels and words; the driver must still answer info right.
        var x: UInt64 = 0x9e37_79b9_7f4a_7c15
        for _ in 0..<300 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            let label = UInt32(truncatingIfNeeded: x % 9)
            guard label != BlockLabel.write.rawValue, label != BlockLabel.detach.rawValue, label != BlockLabel.attach.rawValue else { continue }
            _ = try call(disk, label, [x >> 20, (x >> 8) & 0xfff, x & 0xffff_f000][0..<Int(x % 4)].map { $0 })
        }
        let r = try call(disk, BlockLabel.info.rawValue, [])
        try check(r.tag.label == 0 && r.words.0 == capacity, "info after the malformed stream")
    }

    func detach() throws(TestFailure) {
        let d = try call(disk, BlockLabel.detach.rawValue, [])
        try check(d.tag.label == 0, "detach: label \(d.tag.label)")
        try expectBlock(.noWindow, try call(disk, BlockLabel.read.rawValue, [0, 1, 0]), "read after detach")
        try expectBlock(.noWindow, try call(disk, BlockLabel.detach.rawValue, []), "second detach")
    }

    /// Two client threads with requests in flight together: each writes its own pattern to its own
    /// sectors from its own part of the window, clears that part, reads it back and compares, 24
    /// rounds; then the time of 4 MiB read in 256 KiB requests by one thread and by two (a figure).
    func concurrentClients() throws(TestFailure) {
        let disk = self.disk, base = windowAddress
        func worker(_ id: Int) -> UInt64 {
            let blocks = 512, first = 5000 + id * 1024, offset = id * (512 << 10)
            let p = UnsafeMutablePointer<UInt8>(bitPattern: UInt(base + UInt64(offset)))!
            for round in 0..<24 {
                for i in 0..<(blocks * 512) { p[i] = UInt8(truncatingIfNeeded: i * (id + 3) + round * 11 + i >> 9) }
                guard let w = try? senderCall(disk, IPCMessage(label: BlockLabel.write.rawValue, UInt64(first), UInt64(blocks), UInt64(offset))),
                      w.tag.label == 0, w.words.0 == UInt64(blocks) else { return 1_000 + UInt64(round) }
                for i in 0..<(blocks * 512) { p[i] = 0 }
                guard let r = try? senderCall(disk, IPCMessage(label: BlockLabel.read.rawValue, UInt64(first), UInt64(blocks), UInt64(offset))),
                      r.tag.label == 0, r.words.0 == UInt64(blocks) else { return 2_000 + UInt64(round) }
                for i in 0..<(blocks * 512) where p[i] != UInt8(truncatingIfNeeded: i * (id + 3) + round * 11 + i >> 9) {
                    return 3_000 + UInt64(round)
                }
            }
            return 0
        }
        let threads = try sysOrFail { () throws(SysError) in [try spawnThread { worker(0) }, try spawnThread { worker(1) }] }
        for (n, t) in threads.enumerated() {
            let code = try sysOrFail { () throws(SysError) in try t.join() }
            try check(code == 0, "client thread \(n): " + (code >= 3_000 ? "wrong data read back in round \(code - 3_000)"
                                                            : code >= 2_000 ? "read failed in round \(code - 2_000)" : "write failed in round \(code - 1_000)"))
        }
        // The figure: 16 reads of 512 blocks from sector 0, by one thread, then split over two.
        func reader(_ id: Int, _ count: Int) -> UInt64 {
            for k in 0..<count {
                guard let r = try? senderCall(disk, IPCMessage(label: BlockLabel.read.rawValue, UInt64((id * count + k) * 512), 512,
                                                               UInt64(id * (512 << 10)))), r.tag.label == 0 else { return 1 }
            }
            return 0
        }
        let t0 = Clock.now()
        try check(reader(0, 16) == 0, "one reader failed")
        let t1 = Clock.now()
        let two = try sysOrFail { () throws(SysError) in [try spawnThread { reader(0, 8) }, try spawnThread { reader(1, 8) }] }
        for t in two { try check((try sysOrFail { () throws(SysError) in try t.join() }) == 0, "a reader of two failed") }
        let t2 = Clock.now()
        print("storagetest: 4 MiB in 256 KiB reads: one client \(mibPerSecond(4, t1 - t0)) MiB/s, two clients \(mibPerSecond(4, t2 - t1)) MiB/s")
    }
}

func sysOrFail<T>(_ body: () throws(SysError) -> T) throws(TestFailure) -> T {
    do throws(SysError) { return try body() } catch { throw TestFailure(text: "syscall: \(error.name)") }
}

/// MiB per second with one decimal, from `mib` MiB in `ns` nanoseconds.
func mibPerSecond(_ mib: UInt64, _ ns: UInt64) -> String {
    let tenths = mib * 10_000_000_000 / max(ns, 1)
    return "\(tenths / 10).\(tenths % 10)"
}
