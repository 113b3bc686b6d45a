// The monotonic clock: clock_get, and the time page every process reads it from without a syscall
// (Runtime/Clock.swift). The clock's rate against the HPET is checked in the kernel (time.clock_follows_hpet),
// where the HPET can be read.

/// clock_get never goes backwards and moves while threads run.
func testClockGetAdvances() throws(SysError) {
    var last = try clockGet()
    let first = last
    for _ in 0..<200 {
        let now = try clockGet()
        check(now >= last, "clock_get went back from \(last) to \(now)")
        last = now
        threadYield()
    }
    check(last > first, "clock_get did not move over 200 yields: \(first)")
}

/// The time page gives the same clock: a page read lies between the clock_get before and after it.
func testTimePageAgreesWithClockGet() throws(SysError) {
    check(Clock.tscFrequency > 0, "the time page has no TSC frequency")
    for i in 0..<100 {
        let before = try clockGet()
        let page = Clock.now()
        let after = try clockGet()
        check(before <= page && page <= after, "round \(i): clock_get \(before), time page \(page), clock_get \(after)")
        if before > page || page > after { return }
    }
}

/// The time page is in every process, read-only, and no mapping may overlap it.
func testTimePageReadOnly() throws(SysError) {
    let address = TimePage.address
    let movabs: [UInt8] = [0x48, 0xb8] + (0..<8).map { UInt8(truncatingIfNeeded: address >> (8 * UInt64($0))) }
    let read = try Child.run(code: movabs + [0x48, 0x8b, 0x00] + Code.exit(7))   // mov rax, [rax]
    check(read == 7, "a child reading the time page exited with \(hex(read))")
    let write = try Child.run(code: movabs + [0x48, 0x89, 0x00] + Code.exit(0))  // mov [rax], rax
    check(write == ExitCode.fault(vector: 14), "a child writing the time page exited with \(hex(write))")
    let frame = try frameCreate(size: 2 * pageSize)
    defer { closeAll(frame) }
    for (at, length) in [(address, pageSize), (address - pageSize, 2 * pageSize), (address, 2 * pageSize)] {
        expectError(.badAddress, "vmem_map over the time page") { () throws(SysError) in
            try vmemMap(Runtime.vmem, frame: frame, address: at, offset: 0, length: length, flags: [.read])
        }
    }
}

let clockTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("clock.get_advances", testClockGetAdvances),
    ("clock.time_page_agrees_with_clock_get", testTimePageAgreesWithClockGet),
    ("clock.time_page_read_only", testTimePageReadOnly),
]
