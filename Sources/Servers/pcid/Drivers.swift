// Starting drivers: pcid matches each function against its table (vendor and device, or class) and
// starts the driver's program from the initfs with exactly that function: a Frame over each memory
// BAR and an IOPort over each I/O BAR (`grant:barN`), the IRQ object of its INTx line (`grant:irq`),
// a Sender to pcid whose badge names the function (`import:pci`: its own configuration space) and a
// Receiver for the service it exports (`export:block` for a block driver), whose duplicate pcid keeps
// to hand Senders to clients (`driver` request). usbd is started for every xHCI controller (export:usbinput). Memory and I/O decoding and bus mastering are turned
// on in the command register (and INTx left enabled) before the driver starts.

struct DriverMatch {
    /// nil: any vendor (a match by class).
    let vendor: UInt16?
    /// nil: any device of the vendor (or of the class).
    let device: UInt16?
    /// Class, subclass and programming interface (class << 16 | subclass << 8 | prog-if); nil: any.
    var classCode: UInt32? = nil
    let path: String
    let name: String
    let exports: String
}

enum Drivers {
    /// virtio-blk: the modern (1.x) device ID 0x1042 and the transitional 0x1001 (virtio 1.2 §4.1.2).
    static let table: [DriverMatch] = [
        DriverMatch(vendor: 0x1af4, device: 0x1042, path: "initfs:///bin/virtio-blk", name: "virtio-blk", exports: "block"),
        DriverMatch(vendor: 0x1af4, device: 0x1001, path: "initfs:///bin/virtio-blk", name: "virtio-blk", exports: "block"),
        // Any xHCI USB host controller: class 0x0c (serial bus), subclass 0x03 (USB), prog-if 0x30.
        DriverMatch(vendor: nil, device: nil, classCode: 0x0c_03_30, path: "initfs:///bin/usbd", name: "usbd", exports: "usbinput"),
    ]

    static func match(_ f: PCIFunction) -> DriverMatch? {
        let c = UInt32(f.word1.classCode) << 16 | UInt32(f.word1.subclass) << 8 | UInt32(f.word1.progIF)
        return table.first {
            ($0.vendor == nil || $0.vendor == f.word0.vendor) && ($0.device == nil || $0.device == f.word0.deviceID)
                && ($0.classCode == nil || $0.classCode == c)
        }
    }
}

extension Server {
    /// Starts the driver of every function that has one; logs each start.
    func startDrivers() {
        for i in functions.indices {
            guard let m = Drivers.match(functions[i]) else { continue }
            do throws(SysError) {
                try startDriver(i, m)
                functions[i].driver = .running
                print("pcid: started \(m.name) for \(location(functions[i])) (export \(m.exports))")
            } catch {
                functions[i].driver = .failed
                print("pcid: \(m.name) for \(location(functions[i])) did not start: \(error.name)")
            }
        }
    }

    func startDriver(_ i: Int, _ m: DriverMatch) throws(SysError) {
        let f = functions[i]
        var grants: [(name: String, handle: Handle)] = []
        var ok = false
        defer { if !ok { for g in grants { _ = try? handleClose(g.handle) } } }
        for (n, bar) in f.bars.enumerated() where bar.flags.contains(.present) {
            let h: Handle
            if bar.flags.contains(.io) {
                h = try ioportCreate(resource, base: bar.base, count: bar.size)
            } else {
                let base = bar.base & ~(pageSize - 1)
                let end = (bar.base + bar.size + pageSize - 1) & ~(pageSize - 1)
                h = try frameCreatePhysical(resource, address: base, size: end - base)
            }
            grants.append(("grant:" + staticText(PCIProtocol.barGrantPrefix) + String(n), h))
        }
        var commandLine = "pci=\(i) vendor=\(hex(UInt64(f.word0.vendor))) device=\(hex(UInt64(f.word0.deviceID)))"
        if let irq = f.irq {
            // One IRQ object per line: a function whose line another driver already holds (INTx lines
            // are shared) gets none and its driver polls.
            do throws(SysError) {
                grants.append(("grant:" + staticText(PCIProtocol.irqGrant), try irqCreate(resource, irq.number, irq.numbering)))
                commandLine += irq.numbering == .gsi ? " gsi=\(irq.number)" : " isa=\(irq.number)"
            } catch {
                guard error == .inUse else { throw error }
                print("pcid: \(location(f))'s interrupt line is another driver's; its driver polls")
            }
        }
        grants.append(("import:pci", try senderCreate(receiver, badge: UInt64(i) + 1)))
        let serviceReceiver = try receiverCreate()
        grants.append(("export:" + m.exports, serviceReceiver))
        let kept = try handleDuplicate(serviceReceiver, rights: Rights.defaults(for: .receiver))
        let image = try loadImage(m.path)
        defer { _ = try? handleClose(image) }
        // Memory and I/O decoding, bus mastering; INTx stays enabled (command bit 10 clear).
        let command = config.read(f.address, 4, width: 2)
        config.write(f.address, 4, width: 2, (command | 0x7) & ~0x400)
        do throws(SysError) {
            _ = try Spawn.start(image: image, name: m.name, commandLine: commandLine, grants: grants)
        } catch {
            _ = try? handleClose(kept)
            throw error
        }
        ok = true
        driverReceivers.append((i, kept))
    }

    /// An ELF image from the initfs in a Frame (through initfsd).
    func loadImage(_ path: String) throws(SysError) -> Handle {
        guard let initfs else { throw .badState }
        let files = try FileService(initfs)
        let bytes: [UInt8]
        do throws(FileError) { bytes = try files.readFile(path) } catch { throw .invalidArgument }
        let frame = try frameCreate(size: max((UInt64(bytes.count) + pageSize - 1) / pageSize * pageSize, pageSize))
        let written = bytes.withUnsafeBytes { b in Result { () throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) } }
        if case .failure(let e) = written {
            _ = try? handleClose(frame)
            throw e
        }
        return frame
    }
}

/// Lower-case hex without 0x.
func hex(_ v: UInt64) -> String { String(v, radix: 16) }

/// `bb:dd.f`.
func location(_ f: PCIFunction) -> String {
    func two(_ v: UInt8) -> String { (v < 16 ? "0" : "") + hex(UInt64(v)) }
    return two(f.address.bus) + ":" + two(f.address.device) + "." + hex(UInt64(f.address.function))
}
