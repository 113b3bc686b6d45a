// storagetest: the guest half of the storage tests (Tests/IntegrationTests/StorageTests.swift). init runs
// it under `storagetest` with the machine's Resource; it starts initfs:///bin/pcid itself (with
// `export:pci`, keeping the manager's Sender, badge 0), checks pcid's list and its errors, asks pcid for
// a Sender to the first virtio-blk driver, and drives the disk through the block-device protocol: info,
// reading what the host wrote, writing what the host will check, flush, and every documented error.
// Exit code 0 when every test passed.
//
// The disk's layout (the host writes and checks it): sectors 100-107 hold the host's pattern
// (byte i of sector s is (s * 7 + i) & 0xff); storagetest writes 1 MiB from sector 2048 with its own
// pattern (byte i of sector s is (s * 13 + i * 3 + 1) & 0xff).

let programName: StaticString = "storagetest"

enum Suite {
    static var passed = 0
    static var failed = 0
}

struct TestFailure: Error { let text: String }

func check(_ condition: Bool, _ text: @autoclosure () -> String) throws(TestFailure) {
    if !condition { throw TestFailure(text: text()) }
}

func run(_ name: String, _ body: () throws(TestFailure) -> Void) {
    do throws(TestFailure) {
        try body()
        Suite.passed += 1
        print("ok   \(name)")
    } catch {
        Suite.failed += 1
        print("FAIL \(name): \(error.text)")
    }
}

func programMain(_ startup: Startup) -> Int32 {
    guard let resource = startup.granted("resource"), let initfs = startup.imported("initfs") else {
        print("storagetest: needs grant:resource and import:initfs (init.conf `resource`)")
        return 1
    }
    guard let page = try? IPCBufferPage.make() else { print("storagetest: no IPC buffer page"); return 1 }
    let pci: Handle
    do throws(SysError) { pci = try startPCID(resource: resource, initfs: initfs) } catch {
        print("storagetest: cannot start pcid: \(error.name)")
        return 1
    }
    _ = try? page.install()
    let t = Tests(pci: pci, page: page)
    run("pci.lists_functions") { () throws(TestFailure) in try t.listsFunctions() }
    run("pci.errors") { () throws(TestFailure) in try t.pciErrors() }
    run("block.driver_from_pcid") { () throws(TestFailure) in try t.driverFromPCID() }
    if t.disk != .invalid {
        run("block.info") { () throws(TestFailure) in try t.info() }
        run("block.no_window") { () throws(TestFailure) in try t.noWindow() }
        run("block.reads_host_sectors") { () throws(TestFailure) in try t.readsHostSectors() }
        run("block.writes_and_reads_back") { () throws(TestFailure) in try t.writesAndReadsBack() }
        run("block.errors") { () throws(TestFailure) in try t.blockErrors() }
        run("block.malformed") { () throws(TestFailure) in try t.malformed() }
        run("block.detach") { () throws(TestFailure) in try t.detach() }
    }
    print("storagetest: \(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}

/// Starts initfs:///bin/pcid with the Resource, a Sender to initfsd and its Receiver; the manager's
/// Sender (badge 0).
func startPCID(resource: Handle, initfs: Handle) throws(SysError) -> Handle {
    let files = try FileService(initfs)
    let bytes: [UInt8]
    do throws(FileError) { bytes = try files.readFile("initfs:///bin/pcid") } catch { throw .invalidArgument }
    let frame = try frameCreate(size: (UInt64(bytes.count) + pageSize - 1) / pageSize * pageSize)
    defer { _ = try? handleClose(frame) }
    let written = bytes.withUnsafeBytes { b in Result { () throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) } }
    if case .failure(let e) = written { throw e }
    let receiver = try receiverCreate()
    let manager = try senderCreate(receiver, badge: 0)
    _ = try Spawn.start(image: frame, name: "pcid", grants: [
        ("grant:resource", try handleDuplicate(resource, rights: Rights.defaults(for: .resource))),
        ("import:initfs", try handleDuplicate(initfs, rights: Rights.defaults(for: .sender))),
        ("export:pci", receiver)])
    return manager
}
