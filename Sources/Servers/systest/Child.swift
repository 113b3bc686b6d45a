// Child processes running a few bytes of machine code that a test writes into a frame.

enum Code {
    /// Where the code page sits in a child's vmem, and the (never used) stack pointer given to it.
    static let base: UInt64 = 0x40_0000
    static let stackTop: UInt64 = 0x40_1000

    static let exitSyscall: [UInt8] = [0xb8, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x0f, 0x0b]  // mov $7,%eax; syscall; ud2

    static func imm32(_ value: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
         UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 24)]
    }

    /// process_exit(code): mov $code, %edi; mov $7, %eax; syscall.
    static func exit(_ code: UInt32) -> [UInt8] { [0xbf] + imm32(code) + exitSyscall }

    /// process_exit(rdi): the thread's argument (or whatever rdi was set to) is the exit code.
    static let exitWithArgument: [UInt8] = exitSyscall

    /// jmp . (runs until stopped).
    static let spin: [UInt8] = [0xeb, 0xfe]

    /// mov ADDRESS, %rax: a read of an address (which faults when nothing is mapped there).
    static func load(_ address: UInt32) -> [UInt8] { [0x48, 0x8b, 0x04, 0x25] + imm32(address) + exit(0) }

    /// movl $value, ADDRESS, then process_exit(the 32-bit word at ADDRESS + 4).
    static func storeThenExitWithNextWord(_ address: UInt32, _ value: UInt32) -> [UInt8] {
        [0xc7, 0x04, 0x25] + imm32(address) + imm32(value)
            + [0x8b, 0x3c, 0x25] + imm32(address + 4)   // mov ADDRESS+4, %edi
            + exitSyscall
    }

    /// frame_get_size(rdi), then process_exit(rdx): exits with the size of the frame its argument names
    /// (or with the error number when the call failed).
    static let exitWithFrameSizeOfArgument: [UInt8] = [
        0xb8, 0x1a, 0x00, 0x00, 0x00, 0x0f, 0x05,      // mov $26, %eax; syscall
        0x48, 0x85, 0xc0, 0x74, 0x03,                  // test %rax, %rax; jz +3
        0x48, 0x89, 0xc2,                              // mov %rax, %rdx (the error)
        0x48, 0x89, 0xd7,                              // mov %rdx, %rdi
    ] + exitSyscall
}

/// A child process: a vmem with one code page at Code.base (mapped read+exec through `codeFrame`, a
/// duplicate with read/exec/map rights only), the process, and its thread once made.
struct Child {
    var vmem = Handle.invalid
    var codeFrame = Handle.invalid
    var process = Handle.invalid
    var thread = Handle.invalid

    /// vmem_create, frame_create, frame_write of the code, vmem_map, process_create.
    static func create(code: [UInt8]) throws(SysError) -> Child {
        var child = Child()
        do throws(SysError) {
            child.vmem = try vmemCreate()
            let frame = try frameCreate(size: pageSize)
            defer { closeAll(frame) }
            try withBytes(code) { (bytes) throws(SysError) in try frameWrite(frame, offset: 0, from: bytes) }
            child.codeFrame = try handleDuplicate(frame, rights: [.read, .exec, .map])
            try vmemMap(child.vmem, frame: child.codeFrame, address: Code.base, length: pageSize, flags: [.read, .exec])
            child.process = try processCreate(vmem: child.vmem)
        } catch {
            child.close()
            throw error
        }
        return child
    }

    /// thread_create at Code.base with the argument in rdi; thread_start when `start`.
    mutating func spawn(argument: UInt64 = 0, start: Bool = true) throws(SysError) {
        thread = try threadCreate(process: process, entry: Code.base, stack: Code.stackTop, argument: argument)
        if start { try threadStart(thread) }
    }

    /// create + spawn + process_wait: the exit code.
    static func run(code: [UInt8], argument: UInt64 = 0) throws(SysError) -> UInt64 {
        var child = try create(code: code)
        defer { child.close() }
        try child.spawn(argument: argument)
        return try processWait(child.process)
    }

    func close() { closeAll(thread, process, codeFrame, vmem) }
}
