// fat32test: fsd.fat32 in the guest, before a disk driver exists. init starts it under the kernel word
// `fat32test`. It formats a 12 MiB RAM disk with the FAT32 core (fewer clusters than the spec's FAT32
// minimum, which the core and Linux accept), serves it over the block-device protocol from a thread
// (RamDisk.swift), starts fsd.fat32 (read from initfs:///sbin/fsd.fat32) on it, and checks through the
// file-service protocol: write and read back (data window and IPC bytes), a file of several MiB with a
// known hash, long names, rename, unlink, mkdir/rmdir, 1,000 entries in one directory, malformed
// requests, connect/share/statfs, a restart of fsd.fat32 that finds everything again with FSInfo's free
// count right, a full disk (ENOSPC), and a damaged disk (a chain loop, a bad BPB). `ok NAME` / `FAIL NAME: reason` per test,
// then `fat32test: N passed, N failed`; the exit code is 0 when all passed.

let programName: StaticString = "fat32test"

enum Suite {
    static var passed = 0
    static var failed = 0
    static var failure: String? = nil
}

func text(_ s: StaticString) -> String {
    String(decoding: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
}

func check(_ condition: Bool, _ reason: @autoclosure () -> String) {
    if !condition && Suite.failure == nil { Suite.failure = reason() }
}

func expectError<T>(_ expected: FileError, _ what: String, _ body: () throws(FileError) -> T) {
    do throws(FileError) {
        _ = try body()
        check(false, "\(what): succeeded, expected \(text(expected.name))")
    } catch {
        check(error == expected, "\(what): \(text(error.name)), expected \(text(expected.name))")
    }
}

func run(_ name: StaticString, _ body: () throws(FileError) -> Void) {
    Suite.failure = nil
    do throws(FileError) { try body() } catch { check(false, "unexpected \(text(error.name))") }
    if let reason = Suite.failure {
        Suite.failed += 1
        print("FAIL \(text(name)): \(reason)")
    } else {
        Suite.passed += 1
        print("ok   \(text(name))")
    }
}

/// The disk, its block server and the running fsd.fat32.
final class Rig {
    let disk: RamDisk
    let image: Handle
    let blockReceiver: Handle
    var fsd: SpawnedProcess? = nil
    var sender: Handle = .invalid
    var fs: FileService? = nil

    init(disk: RamDisk, image: Handle, blockReceiver: Handle) {
        self.disk = disk
        self.image = image
        self.blockReceiver = blockReceiver
    }

    /// Starts fsd.fat32 on the disk and connects to it.
    func start() throws(SysError) {
        let receiver = try receiverCreate()
        sender = try senderCreate(receiver, badge: 7)
        let block = try senderCreate(blockReceiver, badge: 1)
        fsd = try Spawn.start(image: image, name: "fsd.fat32", commandLine: "epoch=1767225600",
                              grants: [("import:block", block), ("export:fat32", receiver)])
        fs = try FileService(sender)
    }

    /// Stops fsd.fat32 (as a shutdown would) and waits for it.
    func stop() {
        fs = nil
        if let p = fsd {
            _ = try? threadStop(p.thread)
            _ = try? p.wait()
        }
        fsd = nil
        _ = try? handleClose(sender)
    }
}

func programMain(_ startup: Startup) -> Int32 {
    guard let initfs = startup.imported("initfs") else { print("fat32test: no import:initfs"); return 1 }
    let rig: Rig
    do throws(SysError) {
        let files = try FileService(initfs)
        let elf: [UInt8]
        do throws(FileError) { elf = try files.readFile("initfs:///sbin/fsd.fat32") } catch {
            print("fat32test: cannot read initfs:///sbin/fsd.fat32: \(text(error.name))")
            return 1
        }
        let image = try frameCreate(size: (UInt64(elf.count) + pageSize - 1) / pageSize * pageSize)
        let written = elf.withUnsafeBytes { b in Result { () throws(SysError) in try frameWriteAll(image, offset: 0, from: b) } }
        try written.get()
        let disk = try RamDisk(bytes: 12 << 20)
        do throws(DiskError) { try FAT32Format.format(disk, label: Array("GUESTDISK".utf8), time: 1_767_225_600, allowFewClusters: true) } catch {
            print("fat32test: formatting the RAM disk failed")
            return 1
        }
        let blockReceiver = try receiverCreate()
        let server = RamDiskServer(disk: disk, receiver: blockReceiver)
        _ = try spawnThread(stackSize: 256 * 1024) { server.run() }
        rig = Rig(disk: disk, image: image, blockReceiver: blockReceiver)
        try rig.start()
    } catch {
        print("fat32test: setup failed: \(text(error.name))")
        return 1
    }
    for (name, body) in fat32Tests {
        run(name) { () throws(FileError) in try body(rig) }
    }
    rig.stop()
    print("fat32test: \(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}
