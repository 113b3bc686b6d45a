// A small test harness: each test runs a body that may throw a SysError (an unexpected failure) and
// records the first failed check; `ok   NAME` or `FAIL NAME: reason` per test, then `N passed, N failed`.

enum Suite {
    static var passed = 0
    static var failed = 0
    static var failure: String? = nil
    static var step: StaticString = "start"
}

func text(_ s: StaticString) -> String {
    String(decoding: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
}

func text(_ e: SysError) -> String { text(e.name) }

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// Names the next stretch of a test, so that an unexpected error says where it came from.
func step(_ name: StaticString) { Suite.step = name }

/// Records a failure (the first one of a test is reported).
func fail(_ reason: String) {
    if Suite.failure == nil { Suite.failure = reason }
}

func check(_ condition: Bool, _ reason: @autoclosure () -> String) {
    if !condition { fail(reason()) }
}

/// Expects the call to fail with exactly `expected`.
func expectError<T>(_ expected: SysError, _ what: StaticString, _ body: () throws(SysError) -> T) {
    do {
        _ = try body()
        fail("\(text(what)): succeeded, expected \(text(expected))")
    } catch {
        if error != expected { fail("\(text(what)): \(text(error)), expected \(text(expected))") }
    }
}

/// Expects the call to succeed and returns its result (nil after recording the failure).
@discardableResult
func expectSuccess<T>(_ what: StaticString, _ body: () throws(SysError) -> T) -> T? {
    do {
        return try body()
    } catch {
        fail("\(text(what)): \(text(error))")
        return nil
    }
}

func run(_ name: StaticString, _ body: () throws(SysError) -> Void) {
    Suite.failure = nil
    Suite.step = "start"
    do {
        try body()
    } catch {
        fail("unexpected \(text(error)) in step \(text(Suite.step))")
    }
    if let reason = Suite.failure {
        print("FAIL \(text(name)): \(reason)")
        Suite.failed += 1
    } else {
        print("ok   \(text(name))")
        Suite.passed += 1
    }
}

/// Closes handles, ignoring errors (cleanup after a test, also when it failed half way).
func closeAll(_ handles: Handle...) {
    for h in handles where h != .invalid { _ = try? handleClose(h) }
}

/// Fresh addresses in the root process for test mappings, never reused, a guard page apart.
enum Scratch {
    static var next: UInt64 = 0x20_0000_0000
    static func take(pages: UInt64) -> UInt64 {
        let address = next
        next += (pages + 1) * pageSize
        return address
    }
}

func pointer(_ address: UInt64) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(address))! }

/// Addresses no mapping of the root process covers, and kernel ones.
let unmappedUserAddress: UInt64 = 0x5000_0000_0000
let kernelAddress: UInt64 = 0xffff_8000_0000_0000

/// The bytes of a value for a syscall buffer (the standard library's withUnsafeBytes does not pass a
/// typed error through).
func withBytes<T>(of value: inout T, _ body: (UnsafeRawBufferPointer) throws(SysError) -> Void) throws(SysError) {
    var failure: SysError? = nil
    withUnsafeBytes(of: &value) { b in
        do throws(SysError) { try body(b) } catch { failure = error }
    }
    if let failure { throw failure }
}

func withMutableBytes<T>(of value: inout T, _ body: (UnsafeMutableRawBufferPointer) throws(SysError) -> Void) throws(SysError) {
    var failure: SysError? = nil
    withUnsafeMutableBytes(of: &value) { b in
        do throws(SysError) { try body(b) } catch { failure = error }
    }
    if let failure { throw failure }
}

func withBytes<E>(_ array: [E], _ body: (UnsafeRawBufferPointer) throws(SysError) -> Void) throws(SysError) {
    var failure: SysError? = nil
    array.withUnsafeBytes { b in
        do throws(SysError) { try body(b) } catch { failure = error }
    }
    if let failure { throw failure }
}

func withMutableBytes<E>(_ array: inout [E], _ body: (UnsafeMutableRawBufferPointer) throws(SysError) -> Void) throws(SysError) {
    var failure: SysError? = nil
    array.withUnsafeMutableBytes { b in
        do throws(SysError) { try body(b) } catch { failure = error }
    }
    if let failure { throw failure }
}
