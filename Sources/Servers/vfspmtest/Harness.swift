// The test harness of vfspmtest: `ok   NAME` or `FAIL NAME: reason` per test (the first failed check),
// then `vfspmtest: N passed, N failed`. A test body throws a ServiceError (pm) or a FileError (vfs) for an
// unexpected failure.

enum Suite {
    static var passed = 0
    static var failed = 0
    static var failure: String? = nil
}

func text(_ s: StaticString) -> String {
    String(decoding: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
}

func fail(_ reason: String) { if Suite.failure == nil { Suite.failure = reason } }

func check(_ condition: Bool, _ reason: @autoclosure () -> String) { if !condition { fail(reason()) } }

/// Expects the call to fail with exactly `expected`.
func expectError<T>(_ expected: ServiceError, _ what: String, _ body: () throws(ServiceError) -> T) {
    do {
        _ = try body()
        fail("\(what): succeeded, expected \(text(expected.name))")
    } catch {
        if error != expected { fail("\(what): \(text(error.name)), expected \(text(expected.name))") }
    }
}

func run(_ name: StaticString, _ body: () throws(ServiceError) -> Void) {
    Suite.failure = nil
    do { try body() } catch { fail("unexpected error: \(text(error.name))") }
    if let reason = Suite.failure {
        Suite.failed += 1
        print("FAIL \(text(name)): \(reason)")
    } else {
        Suite.passed += 1
        print("ok   \(text(name))")
    }
}

func sys<T>(_ body: () throws(SysError) -> T) throws(ServiceError) -> T {
    do { return try body() } catch { throw ServiceError(error) }
}

/// A byte pattern for test data.
func pattern(_ count: Int, seed: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ $0 >> 8) } }

/// Expects a file request to fail with exactly `expected`.
func expectFileError<T>(_ expected: FileError, _ what: String, _ body: () throws(FileError) -> T) {
    do {
        _ = try body()
        fail("\(what): succeeded, expected \(text(expected.name))")
    } catch {
        if error != expected { fail("\(what): \(text(error.name)), expected \(text(expected.name))") }
    }
}

/// Runs a test of file requests.
func runFile(_ name: StaticString, _ body: () throws(FileError) -> Void) {
    run(name) { () throws(ServiceError) in
        do throws(FileError) { try body() } catch { fail("unexpected file error: \(text(error.name))") }
    }
}

/// A file request inside a pm test: its error as a ServiceError.
func files<T>(_ body: () throws(FileError) -> T) throws(ServiceError) -> T {
    do throws(FileError) { return try body() } catch { throw ServiceError(error) }
}

/// Makes (or empties and fills) the file at `path`, through a data window of `window` bytes (0: none).
func writeFile(_ s: FileService, _ path: String, _ bytes: [UInt8], window: UInt64 = 0) throws(FileError) {
    try? s.adopt()
    let f = try s.open(path, [.write, .create, .truncate], window: window)
    defer { try? f.close() }
    var done = 0
    while done < bytes.count {
        let n = try f.write(Array(bytes[done...].prefix(window > 0 ? Int(window) : IPCBuffer.maxBytes)))
        guard n > 0 else { throw .noSpace }
        done += n
    }
}

/// The whole file at `path` (read through a window of `window` bytes, or without one).
func readFile(_ s: FileService, _ path: String, window: UInt64 = 0) throws(FileError) -> [UInt8] {
    try? s.adopt()
    let f = try s.open(path, .read, window: window)
    defer { try? f.close() }
    var out: [UInt8] = []
    while true {
        let piece = try f.read(count: window > 0 ? Int(window) : IPCBuffer.maxBytes)
        if piece.isEmpty { return out }
        out += piece
    }
}

/// A client of the file server behind `sender` (its IPC buffer page installed on this thread).
func service(_ sender: Handle) throws(FileError) -> FileService {
    do throws(SysError) { return try FileService(sender) } catch { throw .noMemory }
}
