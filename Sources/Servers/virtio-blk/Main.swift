// virtio-blk: the driver of a virtio 1.x block device on PCI (Virtio.swift: the transport; Disk.swift:
// the queue and requests; Server.swift: the block-device protocol it serves).
//
// pcid starts it with exactly its function: `grant:barN` (Frames over the memory BARs), `grant:irq`
// (its INTx line's IRQ object), `import:pci` (its Sender to pcid, for its own configuration space),
// `export:block` (the Receiver it serves) and `pci=INDEX` on its command line. Its DMA memory comes
// from pcid too (`dma`): the driver never holds a Resource.

let programName: StaticString = "virtio-blk"

func programMain(_ startup: Startup) -> Int32 {
    guard let pci = startup.imported("pci"), let receiver = startup.exported("block"),
          let index = startup.value(ofKey: "pci").flatMap({ UInt64($0) }) else {
        print("virtio-blk: started without import:pci, export:block and pci=INDEX; exiting")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("virtio-blk: no IPC buffer page; exiting")
        return 1
    }
    let barFrames: [Handle?] = (0..<6).map { startup.granted(staticText(PCIProtocol.barGrantPrefix) + String($0)) }
    let virtio = Virtio(pci: pci, index: index, barFrames: barFrames, page: page)
    let disk: Disk
    do throws(VirtioError) {
        try virtio.findStructures()
        disk = try Disk(virtio: virtio, irq: startup.granted(staticText(PCIProtocol.irqGrant)))
    } catch {
        switch error {
        case .missing(let what): print("virtio-blk: function \(index): no \(staticText(what)); exiting")
        case .system(let e): print("virtio-blk: function \(index): \(e.name); exiting")
        case .refused(let why): print("virtio-blk: function \(index): \(staticText(why)); exiting")
        }
        return 1
    }
    let irqText = startup.value(ofKey: "gsi").map { "gsi \($0)" } ?? startup.value(ofKey: "isa").map { "isa-irq \($0)" } ?? "no interrupt (polling)"
    print("virtio-blk: function \(index): \(disk.capacityBlocks) blocks of \(disk.blockSize) bytes"
          + (disk.readOnly ? ", read-only" : "") + (disk.canFlush ? ", flush" : "")
          + ", queue of \(disk.queueSize), \(irqText)")
    return BlockServer(disk: disk, receiver: receiver, page: page).run()
}
