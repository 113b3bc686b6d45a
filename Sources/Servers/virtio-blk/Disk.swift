// The virtio-blk device (virtio 1.2 §5.2) on one split virtqueue: requests are chains of three
// descriptors (the 16-byte header: type, reserved, sector; the data; the status byte the device
// writes). The DMA Frame holds `slots` bounce buffers of `bounceBytes`; each client request in flight
// owns one slot, and its transfer is cut into chains of `chunkBytes`, all put on the available ring at
// once. Several requests (from different clients) are on the ring together: `submit` puts one slot's
// chains there and returns, `reap` reads the used ring and says which slots are done (Server.swift
// answers their clients then). Slot s owns descriptors 48s..48s+47 and request headers 16s..16s+15, so
// a used entry's descriptor number names its slot and chain.

enum BlkRequest {
    static let typeIn: UInt32 = 0, typeOut: UInt32 = 1, typeFlush: UInt32 = 4
}

final class Disk {
    let virtio: Virtio
    let features: UInt64
    /// Capacity in 512-byte sectors (virtio's unit) and the logical block size.
    let sectors: UInt64
    let blockSize: UInt64
    let queueSize: UInt64
    /// Bounce buffers, one per request in flight.
    let slots: Int
    let notifyAddress: UInt64
    /// The DMA Frame: physical and virtual base.
    let dmaPhysical: UInt64
    let dma: UInt64
    let notify: Handle
    let irq: Handle?
    var availIndex: UInt16 = 0
    var usedSeen: UInt16 = 0
    /// Per slot: chains still on the ring, and whether one of them failed.
    var chainsLeft: [Int]
    var failed: [Bool]
    /// Figures for the log and tests.
    var interrupts: UInt64 = 0
    var polls: UInt64 = 0
    var requests: UInt64 = 0
    /// The most slots in flight at once.
    var mostInFlight = 0

    static let chunkBytes: UInt64 = 64 << 10
    static let maxChains: UInt64 = 16
    static let bounceBytes: UInt64 = chunkBytes * maxChains
    static let maxSlots = 4
    /// Layout of the DMA Frame: descriptors, available ring, used ring, headers (a page each), bounces.
    static let descOffset: UInt64 = 0, availOffset: UInt64 = 4096, usedOffset: UInt64 = 8192
    static let headerOffset: UInt64 = 12288, bounceOffset: UInt64 = 16384

    init(virtio: Virtio, irq: Handle?) throws(VirtioError) {
        self.virtio = virtio
        self.irq = irq
        features = try virtio.negotiate(wanted: VirtioFeature.blkReadOnly | VirtioFeature.blkBlockSize | VirtioFeature.blkFlush)
        let d = virtio.transport.device
        sectors = UInt64(mmio_read32(d)) | UInt64(mmio_read32(d + 4)) << 32
        let size = features & VirtioFeature.blkBlockSize != 0 ? UInt64(mmio_read32(d + 20)) : 512
        blockSize = size >= 512 && size <= 65536 && size & (size - 1) == 0 ? size : 512
        let offered = UInt64(virtio.queueSize(0))
        guard offered > 0 else { throw .missing("virtqueue 0") }
        queueSize = min(offered, 256)
        slots = min(Disk.maxSlots, Int(queueSize / (3 * Disk.maxChains)))
        guard slots >= 1 else { throw .refused("the virtqueue is too small for one request of 16 chains") }
        chainsLeft = [Int](repeating: 0, count: slots)
        failed = [Bool](repeating: false, count: slots)
        let dmaBytes = Disk.bounceOffset + UInt64(slots) * Disk.bounceBytes
        do throws(SysError) {
            let frame = try virtio.dmaFrame(dmaBytes)
            dmaPhysical = try framePhysical(frame)
            dma = try MappingSpace.map(frame, length: dmaBytes)
            notify = try notifyCreate()
            if let irq { try irqBind(irq, notify: notify, bits: 1) }
        } catch { throw .system(error) }
        notifyAddress = virtio.setUpQueue(0, size: UInt16(queueSize), desc: dmaPhysical + Disk.descOffset,
                                          driver: dmaPhysical + Disk.availOffset, device: dmaPhysical + Disk.usedOffset)
        virtio.driverOK()
        guard virtio.status & VirtioStatus.needsReset == 0 else { throw .refused("the device needs a reset after DRIVER_OK") }
    }

    var readOnly: Bool { features & VirtioFeature.blkReadOnly != 0 }
    var canFlush: Bool { features & VirtioFeature.blkFlush != 0 }
    var capacityBlocks: UInt64 { sectors * 512 / blockSize }
    var inFlight: Int { chainsLeft.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }

    /// Slot `s`'s bounce buffer.
    func bounce(_ s: Int) -> UnsafeMutableRawPointer { pointer(Disk.bounceOffset + UInt64(s) * Disk.bounceBytes) }

    func pointer(_ offset: UInt64) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(dma + offset))! }

    /// Writes descriptor `i`.
    func descriptor(_ i: UInt64, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        let p = pointer(Disk.descOffset + 16 * i)
        p.storeBytes(of: address, as: UInt64.self)
        p.storeBytes(of: length, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: flags, toByteOffset: 12, as: UInt16.self)
        p.storeBytes(of: next, toByteOffset: 14, as: UInt16.self)
    }

    /// Puts slot `s`'s transfer on the ring: `bytes` of its bounce buffer to or from the disk from
    /// `sector` (type in or out), or a flush (bytes 0). Returns at once; `reap` says when it is done.
    func submit(_ s: Int, _ type: UInt32, sector: UInt64, bytes: UInt64) throws(BlockError) {
        let chains = type == BlkRequest.typeFlush ? 1 : (bytes + Disk.chunkBytes - 1) / Disk.chunkBytes
        guard s >= 0, s < slots, chainsLeft[s] == 0, chains >= 1, chains <= Disk.maxChains else { throw .invalid }
        let slotBase = UInt64(s) * Disk.maxChains
        for k in 0..<chains {
            let h = slotBase + k
            let header = pointer(Disk.headerOffset + 32 * h)
            header.storeBytes(of: type, as: UInt32.self)
            header.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
            header.storeBytes(of: sector + k * (Disk.chunkBytes / 512), toByteOffset: 8, as: UInt64.self)
            header.storeBytes(of: UInt8(0xff), toByteOffset: 16, as: UInt8.self)
            let headerPhysical = dmaPhysical + Disk.headerOffset + 32 * h
            let first = 3 * h
            if type == BlkRequest.typeFlush {
                descriptor(first, address: headerPhysical, length: 16, flags: 1, next: UInt16(first + 2))
            } else {
                let length = min(Disk.chunkBytes, bytes - k * Disk.chunkBytes)
                descriptor(first, address: headerPhysical, length: 16, flags: 1, next: UInt16(first + 1))
                descriptor(first + 1, address: dmaPhysical + Disk.bounceOffset + UInt64(s) * Disk.bounceBytes + k * Disk.chunkBytes,
                           length: UInt32(length), flags: type == BlkRequest.typeIn ? 1 | 2 : 1, next: UInt16(first + 2))
            }
            descriptor(first + 2, address: headerPhysical + 16, length: 1, flags: 2, next: 0)
            let slot = (UInt64(availIndex) + k) % queueSize
            pointer(Disk.availOffset + 4 + 2 * slot).storeBytes(of: UInt16(first), as: UInt16.self)
        }
        chainsLeft[s] = Int(chains)
        failed[s] = false
        mostInFlight = max(mostInFlight, inFlight)
        atomic_fence_seq_cst()
        availIndex = availIndex &+ UInt16(chains)
        mmio_write16(dma + Disk.availOffset + 2, availIndex)
        atomic_fence_seq_cst()
        mmio_write16(notifyAddress, 0)
        requests += chains
    }

    /// Reads the used ring's new entries; the slots whose last chain came back, each with whether all
    /// of its chains succeeded.
    func reap() -> [(slot: Int, ok: Bool)] {
        var done: [(slot: Int, ok: Bool)] = []
        let used = mmio_read16(dma + Disk.usedOffset + 2)
        atomic_fence_seq_cst()
        while usedSeen != used {
            let entry = pointer(Disk.usedOffset + 4 + 8 * (UInt64(usedSeen) % queueSize))
            let id = UInt64(entry.load(as: UInt32.self))
            usedSeen = usedSeen &+ 1
            let h = id / 3
            let s = Int(h / Disk.maxChains)
            guard id % 3 == 0, s < slots, chainsLeft[s] > 0 else { continue }     // not one of ours: ignored
            if pointer(Disk.headerOffset + 32 * h + 16).load(as: UInt8.self) != 0 { failed[s] = true }
            chainsLeft[s] -= 1
            if chainsLeft[s] == 0 { done.append((s, !failed[s])) }
        }
        return done
    }

    /// After a wake: the ISR read (lowering a level-triggered line, and a shared one while polling) and
    /// the IRQ acknowledged (unmasking it).
    func acknowledge(interrupt: Bool) {
        if interrupt { interrupts += 1 } else { polls += 1 }
        if interrupt || irq == nil { _ = virtio.readISR() }
        if interrupt, let irq { try? irqAck(irq) }
    }

    /// Slots given up after the device stopped answering: their buffers are the device's until a reset
    /// (which this driver does not do), so they are never used again.
    func abandon(_ s: Int) {
        chainsLeft[s] = -1
    }
}
