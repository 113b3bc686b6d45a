// virtio-blk: the driver of a virtio 1.x block device on PCI (Virtio.swift: the transport; Disk.swift:
// the queue and requests; Server.swift: the block-device protocol it serves). A boot server
// (initfs:///sbin/virtio-blk): root gives it `import:pci` and `export:block`.
//
// It claims the first virtio block function from pcid (`disk=N` on its command line: the N-th; the
// modern ID 0x1042, else the transitional 0x1001, virtio 1.2 §4.1.2) and takes exactly that function's
// memory BARs and interrupt from pcid; its DMA memory comes from pcid too (`dma`): the driver never
// holds a Resource. On a machine without such a disk it still serves `block`, answering every request
// with `.noDevice`.

let programName: StaticString = "virtio-blk"

func programMain(_ startup: Startup) -> Int32 {
    guard let pci = startup.imported("pci"), let receiver = startup.exported("block") else {
        print("virtio-blk: started without import:pci and export:block; exiting")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("virtio-blk: no IPC buffer page; exiting")
        return 1
    }
    let nth = startup.value(ofKey: "disk").flatMap { UInt64($0) } ?? 0
    guard let claim = claimDisk(pci, nth: nth, page: page) else {
        print("virtio-blk: no virtio block device \(nth); every request is answered `no device`")
        return BlockServer.serveWithoutDevice(receiver, page: page)
    }
    var barFrames: [Handle?] = []
    for n in 0..<6 {
        guard let b = try? claim.bar(n), b.flags.contains(.present), !b.flags.contains(.io) else {
            barFrames.append(nil)
            continue
        }
        barFrames.append(try? claim.takeBar(n))
    }
    let interrupt = try? claim.takeInterrupt()
    let index = claim.index
    let virtio = Virtio(pci: claim.sender, index: index, barFrames: barFrames, page: page)
    let disk: Disk
    do throws(VirtioError) {
        try virtio.findStructures()
        disk = try Disk(virtio: virtio, irq: interrupt?.irq)
    } catch {
        switch error {
        case .missing(let what): print("virtio-blk: function \(index): no \(staticText(what)); exiting")
        case .system(let e): print("virtio-blk: function \(index): \(e.name); exiting")
        case .refused(let why): print("virtio-blk: function \(index): \(staticText(why)); exiting")
        }
        return 1
    }
    let irqText = interrupt.map { ($0.numbering == .gsi ? "gsi " : "isa-irq ") + String($0.number) } ?? "no interrupt (polling)"
    print("virtio-blk: function \(index): \(disk.capacityBlocks) blocks of \(disk.blockSize) bytes"
          + (disk.readOnly ? ", read-only" : "") + (disk.canFlush ? ", flush" : "")
          + ", queue of \(disk.queueSize), \(irqText)")
    return BlockServer(disk: disk, receiver: receiver, page: page).run()
}

/// The `nth` virtio block function, claimed from pcid (modern ID first, then transitional).
func claimDisk(_ pci: Handle, nth: UInt64, page: IPCBufferPage) -> PCIClaim? {
    for device: UInt16 in [0x1042, 0x1001] {
        do throws(PCIError) { return try PCIClaim(pci, vendor: 0x1af4, device: device, nth: nth, page: page) } catch {
            if error != .noDevice { print("virtio-blk: claiming 1af4:\(String(device, radix: 16)) #\(nth): \(staticText(error.name))") }
        }
    }
    return nil
}
