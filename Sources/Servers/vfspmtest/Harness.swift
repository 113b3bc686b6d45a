// The test harness of vfspmtest: `ok   NAME` or `FAIL NAME: reason` per test (the first failed check),
// then `vfspmtest: N passed, N failed`. A test body throws a ServiceError for an unexpected failure.

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
