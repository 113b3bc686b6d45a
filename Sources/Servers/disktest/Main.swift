// disktest: FAT32 on the virtio disk, through the boot servers virtio-blk and fsd.fat32 (Tests/
// IntegrationTests/DiskTests.swift). init runs it under `disktest` (or `fat32bench`) with a Sender to
// fsd.fat32 (init.conf `import=fat32`); the host prepared the image (GPT, a FAT32 partition labelled
// OSDISK, files put there by mtools) and, after QEMU exits, checks it with `fsck.fat -n` and reads back
// with mtools exactly what this program wrote. `ok NAME` / `FAIL NAME: reason` per test, then
// `disktest: N passed, N failed`; the exit code is 0 when all passed.
//
// With no disk (fsd.fat32 answers `.noServer`) it says so and exits with 3. Under `damageddisk` (a
// damaged image, DiskTests) it asks for every file it knows and lists every directory, prints each
// answer, and checks that fsd.fat32 still answers afterwards.
//
// Under `fat32bench` it writes a 32 MiB file through a 1 MiB window and reads it back, and prints the
// times (`disktest: bench write N ns` / `read N ns` for 33554432 bytes) for scripts/bench-fat32.sh.
// Before that, when the host put /REF.BIN on the disk, it reads that file once, cold (`disktest: bench
// coldread N ns for B bytes`): the read scripts/bench-fat32.sh has Linux's FAT driver do on the same
// image (fat32.read.linux_ratio).

let programName: StaticString = "disktest"

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

func programMain(_ startup: Startup) -> Int32 {
    guard let sender = startup.imported("fat32") else { print("disktest: no import:fat32"); return 1 }
    let fs: FileService
    do throws(SysError) { fs = try FileService(sender) } catch {
        print("disktest: no IPC buffer: \(error.name)")
        return 1
    }
    if startup.hasFlag("fat32bench") { return bench(fs) }
    if startup.hasFlag("damaged") { return damaged(fs) }
    do throws(FileError) { _ = try fs.stat("/") } catch {
        if error == .noServer {
            print("disktest: no disk (fsd.fat32 answers no server)")
            return 3
        }
    }
    for (name, body) in diskTests { run(name) { () throws(FileError) in try body(fs) } }
    print("disktest: \(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}

/// /REF.BIN (when the host put it there) read once through a 1 MiB window, timed from after the open;
/// 32 MiB written through a 1 MiB window, then read back; the times on the serial line.
func bench(_ fs: FileService) -> Int32 {
    let size = 32 << 20, chunk = 1 << 20
    if let ref = try? fs.open("/REF.BIN", [.read], window: UInt64(chunk)) {
        do throws(FileError) {
            let start = Clock.now()
            var total = 0
            while true {
                let got = try ref.read(count: chunk)
                if got.isEmpty { break }
                total += got.count
            }
            let done = Clock.now()
            try ref.close()
            print("disktest: bench coldread \(done - start) ns for \(total) bytes")
        } catch {
            print("disktest: bench coldread failed: \(text(error.name))")
            return 1
        }
    }
    let data = pattern(chunk, seed: 32)
    do throws(FileError) {
        let f = try fs.open("/bench.bin", [.read, .write, .create, .truncate], window: UInt64(chunk))
        let start = Clock.now()
        var at = 0
        while at < size {
            let n = try f.write(data)
            guard n == chunk else { print("disktest: bench write returned \(n)"); return 1 }
            at += n
        }
        let written = Clock.now()
        try f.seek(0)
        var read = 0
        while read < size {
            let got = try f.read(count: chunk)
            guard got.count == chunk, got[12345] == data[12345] else { print("disktest: bench read \(got.count) bytes"); return 1 }
            read += got.count
        }
        let done = Clock.now()
        try f.close()
        try fs.unlink("/bench.bin")
        print("disktest: bench write \(written - start) ns for \(size) bytes")
        print("disktest: bench read \(done - written) ns for \(size) bytes")
        return 0
    } catch {
        print("disktest: bench failed: \(text(error.name))")
        return 1
    }
}

/// A damaged disk: every request gets an answer (data or an error), and fsd.fat32 still serves after.
func damaged(_ fs: FileService) -> Int32 {
    var answered = 0
    func note(_ what: String, _ body: () throws(FileError) -> String) {
        do throws(FileError) { print("disktest: \(what): " + (try body())) } catch {
            print("disktest: \(what): \(text(error.name))")
            if error == .noServer { return }
        }
        answered += 1
    }
    for path in ["/hello.txt", "/README.TXT", "/docs/A long name from the host.txt", "/nope"] {
        note("read \(path)") { () throws(FileError) in "\(try fs.readFile(path).count) bytes" }
    }
    for path in ["/", "/docs"] {
        note("list \(path)") { () throws(FileError) in "\(try fs.list(path).count) entries" }
    }
    note("statfs") { () throws(FileError) in "\(try fs.call(.statfs, [], bytes: try fs.putPath("/")).words.0) bytes" }
    note("write /new.txt") { () throws(FileError) in
        let f = try fs.open("/new.txt", [.write, .create])
        return "\(try f.write(Array("x".utf8))) bytes"
    }
    let alive: Bool
    do throws(FileError) { let c = try fs.connect(); _ = try? handleClose(c); alive = true } catch { alive = false }
    print("disktest: damaged disk: \(answered) of 8 requests answered, server " + (alive ? "alive" : "gone"))
    return alive && answered == 8 ? 0 : 1
}
