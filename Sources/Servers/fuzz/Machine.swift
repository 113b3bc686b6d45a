// The fixed pieces of a fuzzing process's address space and the hostile values it passes: a page of
// machine code (stubs that exit, fault, or play with flags, segment registers and the stack, which
// Swift cannot express), a scratch region that system calls may write into, and generators of hostile
// pointers and lengths.

/// Where things live in a fuzzing process (away from the runtime's heap at 0x10_0000_0000 and its stacks).
enum Layout {
    /// The code page (read + execute).
    static let code: UInt64 = 0x0000_2000_0000_0000
    /// The scratch region: pages any call may read or write; an unmapped page follows it.
    static let scratch: UInt64 = 0x0000_2000_0010_0000
    static let scratchPages: UInt64 = 8
    static var scratchEnd: UInt64 { scratch + scratchPages * pageSize }
    /// Where the fuzzer maps Frames into its own Vmem (and may unmap or write there).
    static let playground: UInt64 = 0x0000_3000_0000_0000
    static let playgroundSize: UInt64 = 1 << 32
    /// Never mapped in a fuzzing process.
    static let unmapped: UInt64 = 0x0000_4000_0000_0000
    /// Helpers' call lists (written only by the fuzzer itself): one page per helper.
    static let lists: UInt64 = 0x0000_2000_0020_0000
    static let listPages: UInt64 = 32
    /// The last user page (a syscall at its end returns into the kernel's heap window).
    static let lastUserPage: UInt64 = userAddressLimit - pageSize
}

/// Offsets of the stubs in the code page; each is called as a C function `(UInt64) -> UInt64`.
enum Stub: UInt64 {
    /// thread_exit(0); the entry of every thread the fuzzer creates in itself.
    case exit = 0x000
    /// pushfq; or rdi into the saved flags; popfq; ret.
    case setFlags = 0x020
    case ud2 = 0x040
    case int3 = 0x050
    case cli = 0x060
    case inPort = 0x070
    case hlt = 0x080
    case divideByZero = 0x090
    case int80 = 0x0a0
    case sysenter = 0x0b0
    /// jmp rdi.
    case jump = 0x0c0
    case loadDS = 0x0d0
    case loadES = 0x0e0
    case loadFS = 0x0f0
    case loadGS = 0x100
    /// rsp = rdi, then thread_yield through syscall, then ud2.
    case syscallWithStack = 0x110
    /// Sets AC, reads a misaligned word.
    case misalignedWithAC = 0x130
    /// An endless loop (preempted by the timer).
    case spin = 0x150
    case int1 = 0x160
    case loadSS = 0x170
    /// Sets TF, then thread_yield through syscall: single-steps after sysret.
    case syscallWithTF = 0x180
    case readCR0 = 0x1a0
    case wrmsr = 0x1b0
    /// Runs a call list (rdi = its address; records of 8 words: number, a0..a5, result), then
    /// thread_exit(0). Needs no stack and touches no heap, so a helper may be killed anywhere.
    case runCalls = 0x200
    /// Sets flags (rdi), then counts down 2^24 (the timer interrupts it with those flags), then
    /// thread_exit(0).
    case setFlagsAndCount = 0x240
    /// Sets flags (rdi), then calls thread_yield 20,000 times, then thread_exit(0).
    case setFlagsAndYield = 0x2c0
    /// Sets DF, stores al at [rdi] (a page fault the kernel serves while DF is set), clears DF, returns.
    case storeWithDF = 0x300
    /// rsp = rdi, then counts down 2^24, then thread_exit(0).
    case countWithStack = 0x280

    static let bytes: [(Stub, [UInt8])] = [
        (.exit, [0x31, 0xff, 0xb8, 0x11, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b]),
        (.setFlags, [0x9c, 0x48, 0x09, 0x3c, 0x24, 0x9d, 0xc3]),
        (.ud2, [0x0f, 0x0b]), (.int3, [0xcc, 0xc3]), (.cli, [0xfa, 0xc3]), (.inPort, [0xe4, 0x80, 0xc3]),
        (.hlt, [0xf4, 0xc3]), (.divideByZero, [0x31, 0xc9, 0xf7, 0xf1, 0xc3]), (.int80, [0xcd, 0x80, 0xc3]),
        (.sysenter, [0x0f, 0x34, 0xc3]), (.jump, [0xff, 0xe7]),
        (.loadDS, [0x8e, 0xdf, 0xc3]), (.loadES, [0x8e, 0xc7, 0xc3]), (.loadFS, [0x8e, 0xe7, 0xc3]),
        (.loadGS, [0x8e, 0xef, 0xc3]),
        (.syscallWithStack, [0x48, 0x89, 0xfc, 0xb8, 0x12, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b]),
        (.misalignedWithAC, [0x9c, 0x48, 0x81, 0x0c, 0x24, 0, 0, 0x04, 0, 0x9d, 0x48, 0x8b, 0x44, 0x24, 0x01, 0xc3]),
        (.spin, [0xeb, 0xfe]), (.int1, [0xf1, 0xc3]), (.loadSS, [0x8e, 0xd7, 0xc3]),
        (.syscallWithTF, [0x9c, 0x48, 0x81, 0x0c, 0x24, 0, 0x01, 0, 0, 0x9d, 0xb8, 0x12, 0, 0, 0, 0x0f, 0x05, 0xc3]),
        (.readCR0, [0x0f, 0x20, 0xc0, 0xc3]), (.wrmsr, [0x0f, 0x30, 0xc3]),
        (.runCalls, [0x48, 0x89, 0xfb,                                   // mov rbx, rdi
                     0x48, 0x8b, 0x03, 0x48, 0x83, 0xf8, 0xff, 0x74, 0x24, // mov rax,[rbx]; cmp rax,-1; je done
                     0x48, 0x8b, 0x7b, 0x08, 0x48, 0x8b, 0x73, 0x10,       // rdi, rsi
                     0x48, 0x8b, 0x53, 0x18, 0x4c, 0x8b, 0x53, 0x20,       // rdx, r10
                     0x4c, 0x8b, 0x43, 0x28, 0x4c, 0x8b, 0x4b, 0x30,       // r8, r9
                     0x0f, 0x05, 0x48, 0x89, 0x43, 0x38,                   // syscall; mov [rbx+56], rax
                     0x48, 0x83, 0xc3, 0x40, 0xeb, 0xd3,                   // add rbx, 64; jmp loop
                     0x31, 0xff, 0xb8, 0x11, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b]), // done: thread_exit(0)
        (.setFlagsAndCount, [0x9c, 0x48, 0x09, 0x3c, 0x24, 0x9d, 0xb9, 0, 0, 0, 0x01, 0xff, 0xc9, 0x75, 0xfc,
                             0x31, 0xff, 0xb8, 0x11, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b]),
        (.storeWithDF, [0x9c, 0x48, 0x81, 0x0c, 0x24, 0, 0x04, 0, 0, 0x9d, 0x88, 0x07, 0xfc, 0xc3]),
        (.setFlagsAndYield, [0x9c, 0x48, 0x09, 0x3c, 0x24, 0x9d, 0xbb, 0x20, 0x4e, 0, 0,  // mov ebx, 20000
                             0xb8, 0x12, 0, 0, 0, 0x0f, 0x05, 0xff, 0xcb, 0x75, 0xf5,    // yield; dec ebx; jnz
                             0x31, 0xff, 0xb8, 0x11, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b]),
        (.countWithStack, [0x48, 0x89, 0xfc, 0xb9, 0, 0, 0, 0x01, 0xff, 0xc9, 0x75, 0xfc,
                           0x31, 0xff, 0xb8, 0x11, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b]),
    ]

    var address: UInt64 { Layout.code + rawValue }

    /// Calls the stub with rdi = argument.
    func call(_ argument: UInt64 = 0) -> UInt64 {
        let f = unsafeBitCast(UnsafeRawPointer(bitPattern: UInt(address))!,
                              to: (@convention(c) (UInt64) -> UInt64).self)
        return f(argument)
    }
}

/// Writes bytes at the start of a frame (withUnsafeBytes does not pass typed errors through).
func writeFrame(_ frame: Handle, _ bytes: [UInt8]) throws(SysError) {
    let error = bytes.withUnsafeBytes { b in
        raw_syscall(Syscall.frameWrite.rawValue, UInt64(frame.raw), 0, UInt64(UInt(bitPattern: b.baseAddress)), UInt64(b.count), 0, 0).error
    }
    if error != 0 { throw SysError(code: error) }
}

/// Maps the code page and the scratch region into this process.
func setUpAddressSpace() throws(SysError) {
    var page = [UInt8](repeating: 0xcc, count: Int(pageSize))
    for (stub, bytes) in Stub.bytes {
        for (i, b) in bytes.enumerated() { page[Int(stub.rawValue) + i] = b }
    }
    let code = try frameCreate(size: pageSize)
    try writeFrame(code, page)
    try vmemMap(Runtime.vmem, frame: code, address: Layout.code, length: pageSize, flags: [.read, .exec])
    try handleClose(code)
    let scratch = try frameCreate(size: Layout.scratchPages * pageSize)
    try vmemMap(Runtime.vmem, frame: scratch, address: Layout.scratch, length: Layout.scratchPages * pageSize,
                flags: [.read, .write])
    try handleClose(scratch)
    let lists = try frameCreate(size: Layout.listPages * pageSize)
    try vmemMap(Runtime.vmem, frame: lists, address: Layout.lists, length: Layout.listPages * pageSize,
                flags: [.read, .write])
    try handleClose(lists)
    // Touch every page the fuzzer itself will use (scratch, lists, the whole stack) now: Frames fill
    // lazily, and once the calls have exhausted memory a first touch would fault the fuzzer itself.
    prefault(Layout.scratch, pages: Layout.scratchPages)
    prefault(Layout.lists, pages: Layout.listPages)
    prefault(Spawn.stackTop - Spawn.stackSize, pages: Spawn.stackSize / pageSize)
}

/// Writes to each page of a mapped, writable range (keeping its contents), so the kernel fills it now.
func prefault(_ start: UInt64, pages: UInt64) {
    for i in 0..<pages {
        touch_byte(UnsafeMutablePointer<UInt8>(bitPattern: UInt(start + i * pageSize))!)
    }
}

/// Hostile and ordinary values for pointer, length and size arguments.
enum Values {
    /// A pointer the kernel may write through: scratch (any alignment, page-straddling) or hostile.
    static func outPointer(_ r: inout FuzzRandom) -> UInt64 {
        r.chance(55) ? scratchPointer(&r) : hostilePointer(&r)
    }

    /// A pointer into scratch: aligned, misaligned, or near a page end.
    static func scratchPointer(_ r: inout FuzzRandom) -> UInt64 {
        switch r.below(4) {
        case 0: return Layout.scratch + r.below(Layout.scratchPages) * pageSize
        case 1: return Layout.scratch + r.below(Layout.scratchPages * pageSize)
        case 2: return Layout.scratchEnd - 1 - r.below(64)                                    // into the hole
        default: return Layout.scratch + (1 + r.below(Layout.scratchPages - 1)) * pageSize - 1 - r.below(16) // straddles
        }
    }

    /// A pointer a user program may not use, or may only read.
    static func hostilePointer(_ r: inout FuzzRandom) -> UInt64 {
        let small = r.below(0x10000)
        switch r.below(14) {
        case 0: return 0
        case 1: return small
        case 2: return 0xffff_8000_0000_0000 + r.below(1 << 32)              // the direct map
        case 3: return 0xffff_ffff_8010_0000 + r.below(1 << 22)              // the kernel image
        case 4: return userAddressLimit + r.below(1 << 39)                    // the heap window
        case 5: return userAddressLimit - 1 - r.below(64)                     // straddles into the window
        case 6: return 0x0000_8000_0000_0000 + r.below(1 << 47)               // non-canonical
        case 7: return 0x8000_0000_0000_0000 | r.next()                       // high half, any
        case 8: return Layout.unmapped + r.below(1 << 30)
        case 9: return Layout.code + r.below(pageSize)                       // read-only, executable
        case 10: return Spawn.startupAddress + r.below(pageSize)             // read-only
        case 11: return UInt64.max - r.below(4096)
        case 12: return r.next()
        default: return Layout.scratchEnd + r.below(pageSize)                 // the hole after scratch
        }
    }

    /// A length: zero, small, page-sized, huge, or one that overflows an address.
    static func length(_ r: inout FuzzRandom) -> UInt64 {
        switch r.below(10) {
        case 0: return 0
        case 1: return 1 + r.below(16)
        case 2: return r.below(pageSize + 64)
        case 3: return pageSize * (1 + r.below(4))
        case 4: return pageSize + 1
        case 5: return r.pick([1 << 16, 1 << 20, 1 << 31, 1 << 32, 1 << 40])
        case 6: return UInt64.max - r.below(8192)
        case 7: return 0x8000_0000_0000_0000
        case 8: return r.next()
        default: return r.below(Layout.scratchPages * pageSize)
        }
    }

    /// A Frame size: page multiples mostly; huge sizes (GiBs) only with `known` (issue 9, finding 3).
    static func frameSize(_ r: inout FuzzRandom, known: Bool) -> UInt64 {
        switch r.below(8) {
        case 0: return 0
        case 1: return 1 + r.below(pageSize)
        case 2: return pageSize * (1 + r.below(64))
        case 3: return pageSize * (1 + r.below(16 * 256))                      // up to 16 MiB
        case 4: return known ? (1 + r.below(64)) << 30 : pageSize * (1 + r.below(4))
        case 5: return known ? r.next() & ~(pageSize - 1) : UInt64.max - r.below(pageSize)   // huge (refused unless known)
        case 6: return UInt64.max & ~(pageSize - 1)
        default: return pageSize
        }
    }

    /// An address to map at: page-aligned in the playground mostly, else misaligned or hostile.
    static func mapAddress(_ r: inout FuzzRandom) -> UInt64 {
        switch r.below(6) {
        case 0, 1, 2: return Layout.playground + r.below(Layout.playgroundSize / pageSize) * pageSize
        case 3: return Layout.playground + r.below(Layout.playgroundSize)
        case 4: return Layout.lastUserPage - pageSize * r.below(4)
        default: return hostilePointer(&r) & (r.chance(50) ? ~(pageSize - 1) : UInt64.max)
        }
    }
}
