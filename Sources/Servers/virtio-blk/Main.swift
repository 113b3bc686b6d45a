// virtio-blk: the driver of a virtio 1.x block device on PCI (Virtio.swift: the transport; Disk.swift:
// the queue and requests; Server.swift: the block-device protocol it serves). A boot server
// (initfs:///sbin/virtio-blk): root gives it `import:pci` and `export:block`.
//
// It claims the first virtio block function from pcid (`disk=N` on its command line: the N-th;
// `function=INDEX`: pcid's function INDEX, as init starts it for a second disk from drivers.conf; the
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
    let function = startup.value(ofKey: "function").flatMap { UInt64($0) }
    let claimed = function != nil ? claimFunction(pci, index: function!, page: page) : claimDisk(pci, nth: nth, page: page)
    guard let claim = claimed else {
        if let function {
            print("virtio-blk: function \(function) is not a virtio block device nobody drives; exiting")
            return 1
        }
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

/// pcid's function `index` when it is a virtio block device (claimed by its IDs and its rank among the
/// functions with those IDs before it), or nil.
func claimFunction(_ pci: Handle, index: UInt64, page: IPCBufferPage) -> PCIClaim? {
    func ids(_ i: UInt64) -> (UInt16, UInt16)? {
        guard let r = try? senderCall(pci, IPCMessage(label: PCILabel.function.rawValue, i)), r.tag.label == 0 else { return nil }
        let w = PCIFunctionWord0(r.words.0)
        return (w.vendor, w.deviceID)
    }
    guard let (vendor, device) = ids(index), vendor == 0x1af4, device == 0x1042 || device == 0x1001 else { return nil }
    var nth: UInt64 = 0
    for i in 0..<index where ids(i).map({ $0 == (vendor, device) }) ?? false { nth += 1 }
    do throws(PCIError) {
        let claim = try PCIClaim(pci, vendor: vendor, device: device, nth: nth, page: page)
        guard claim.index == index else { return nil }
        return claim
    } catch {
        print("virtio-blk: claiming function \(index): \(staticText(error.name))")
        return nil
    }
}
