// Drivers started after boot (Sources/Formats/DriverTable.swift: initfs:///etc/drivers.conf). init, not
// pcid, starts them: init already starts programs through pm and hands them Senders, and holds root's
// service directory with the right to register names (`import:services`, the registrar's badge), while
// pcid stays an enumerator that can start nothing. For each PCI function a rule matches and no driver
// claimed (a boot server such as virtio-blk on the first disk claims its function before init reads
// pcid's list: init first waits for the `block` driver's answer), init makes a Receiver, starts the
// rule's program through pm with `function=INDEX` (pcid's index) after the rule's arguments and the
// Receiver as `export:SERVICE`, and registers a duplicate of the Receiver with root's directory as
// `SERVICEn` (block1 for the second disk), so vfs can ask for it when fstab names `virtio1p1`. A
// driver that ends is not started again.

enum Drivers {
    static let path = "initfs:///etc/drivers.conf"

    /// drivers.conf's text, or nil (read before pm's client is made: FileService calls use the IPC
    /// buffer installed when it was made).
    static func read(_ files: FileService) -> [UInt8]? {
        do throws(FileError) { return try files.readFile(path) } catch {
            if error != .notFound { print("init: cannot read \(path): \(error.name); no drivers started") }
            return nil
        }
    }

    static func start(_ startup: Startup, text: [UInt8], client: ProcessClient?) {
        let (rules, problems) = DriverTable.parse(text)
        for p in problems { print("init: \(path) line \(p.line): \(p.reason); skipped") }
        guard !rules.isEmpty else { return }
        guard let client, let pci = startup.imported("pci"), let services = startup.imported(ServiceDirectory.service),
              let directory = try? DirectoryClient(services) else {
            print("init: \(path): no pm, pci or service directory; no drivers started")
            return
        }
        // The boot disk driver answers only once it claimed its function (or found none).
        if let block = startup.imported("block") { _ = try? senderCall(block, IPCMessage(label: BlockLabel.info.rawValue)) }
        var functions: [DriverFunction] = []
        guard let count = try? senderCall(pci, IPCMessage(label: PCILabel.count.rawValue)), count.tag.label == 0 else {
            print("init: \(path): pcid does not answer; no drivers started")
            return
        }
        for i in 0..<min(count.words.0, 1024) {
            guard let r = try? senderCall(pci, IPCMessage(label: PCILabel.function.rawValue, i)), r.tag.label == 0 else { continue }
            let w0 = PCIFunctionWord0(r.words.0), w1 = PCIFunctionWord1(r.words.1)
            functions.append(DriverFunction(index: i, vendor: w0.vendor, device: w0.deviceID, classCode: w1.classCode,
                                            subclass: w1.subclass, progIF: w1.progIF, claimed: r.words.3 != PCIDriverState.none.rawValue))
        }
        for instance in DriverTable.instances(rules, functions) {
            let rule = instance.rule
            let arguments = rule.arguments + ["function=\(instance.function)"]
            do throws(ServiceError) {
                let receiver = try ServiceCall.sys { () throws(SysError) in try receiverCreate() }
                let kept: Handle
                do throws(SysError) { kept = try handleDuplicate(receiver, rights: Rights.defaults(for: .receiver)) } catch {
                    _ = try? handleClose(receiver)
                    throw ServiceError(error)
                }
                let id: UInt32
                do throws(ServiceError) {
                    id = try client.spawn(rule.program, arguments: arguments,
                                          named: [(staticText(StartupBlock.exportPrefix) + rule.service, receiver, 0)])
                } catch {
                    _ = try? handleClose(kept)
                    throw error
                }
                try directory.register(instance.name, receiver: kept)
                print("init: started driver \(instance.name) (\(rule.program) \(arguments.joined(separator: " ")), process \(id))")
            } catch {
                print("init: driver \(instance.name) (\(rule.program), function \(instance.function)) not started: \(error.name)")
            }
        }
    }
}
