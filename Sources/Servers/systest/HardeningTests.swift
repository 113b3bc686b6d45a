// Tests of the kernel's hardening seen from user mode (the in-kernel side is Kernel/Debug/HardeningTests.swift).

/// A page fault from user mode with RFLAGS.AC set: the kernel clears AC on entry (Arch/traps.S; with SMAP
/// on, kernel_trap panics if it finds AC set), fills the lazily mapped page, and returns with the user's
/// AC as it was.
func testACFlagAcrossTraps() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    defer { closeAll(frame) }
    let at = Scratch.take(pages: 1)
    try vmemMap(Runtime.vmem, frame: frame, address: at, length: pageSize, flags: [.read, .write])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pageSize) }
    let flags = store_with_ac_flag(at + 8, 0x5eed)
    check(flags & (1 << 18) != 0, "RFLAGS.AC not kept across the page fault")
    check(try frameWord(frame, 8) == 0x5eed, "the store through the lazily filled page is missing")
}
