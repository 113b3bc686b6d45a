// storagetest: the guest half of the storage tests (Tests/IntegrationTests/StorageTests.swift). init runs
// it under `storagetest` with Senders to the boot servers pcid and virtio-blk (init.conf
// `import=pci,block`); it checks pcid's list, its claims and its errors, and drives the disk through the
// block-device protocol: info, reading what the host wrote, writing what the host will check, flush, and
// every documented error. Exit code 0 when every test passed.
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
    guard let pci = startup.imported("pci"), let block = startup.imported("block") else {
        print("storagetest: needs import:pci and import:block (init.conf `import=pci,block`)")
        return 1
    }
    guard let page = try? IPCBufferPage.make() else { print("storagetest: no IPC buffer page"); return 1 }
    _ = try? page.install()
    let t = Tests(pci: pci, page: page)
    run("pci.lists_functions") { () throws(TestFailure) in try t.listsFunctions() }
    run("pci.errors") { () throws(TestFailure) in try t.pciErrors() }
    run("pci.claims") { () throws(TestFailure) in try t.claims() }
    run("block.imported") { () throws(TestFailure) in try t.imported(block) }
    if t.disk != .invalid {
        run("block.info") { () throws(TestFailure) in try t.info() }
        run("block.no_window") { () throws(TestFailure) in try t.noWindow() }
        run("block.reads_host_sectors") { () throws(TestFailure) in try t.readsHostSectors() }
        run("block.writes_and_reads_back") { () throws(TestFailure) in try t.writesAndReadsBack() }
        run("block.concurrent_clients") { () throws(TestFailure) in try t.concurrentClients() }
        run("block.errors") { () throws(TestFailure) in try t.blockErrors() }
        run("block.malformed") { () throws(TestFailure) in try t.malformed() }
        run("block.detach") { () throws(TestFailure) in try t.detach() }
    }
    print("storagetest: \(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}
