// `framebench` on systest's command line (root's `bench` passes it): the copy-on-write and pager fault
// figures, printed as `bench NAME VALUE UNIT` lines for scripts/bench-ipc.py.

func runFrameBenchmarks() -> Int32 {
    do throws(SysError) {
        try benchCopyOnWriteFault()
        try benchPagerFault()
        return 0
    } catch {
        print("systest: framebench failed: \(error.name)")
        return 1
    }
}

/// `bench frame.cow_fault.insn`: guest instructions (the TSC under -icount shift=0) per write fault on a
/// copy-on-write page, from the faulting store to its resume (one store per page of a cloned Frame).
func benchCopyOnWriteFault() throws(SysError) {
    let pages: UInt64 = 1024
    let frame = try frameCreate(size: pages * pageSize)
    defer { closeAll(frame) }
    let at = try vmemMapAnywhere(Runtime.vmem, frame: frame, from: Scratch.take(pages: pages), length: pages * pageSize,
                                 flags: [.read, .write])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pages * pageSize) }
    for page in 0..<pages { pointer(at + page * pageSize).storeBytes(of: page, as: UInt64.self) }
    let clone = try frameClone(frame, size: pages * pageSize)
    defer { closeAll(clone) }
    // Entered again read-only first, so each store below is a write-protection fault, not a first touch.
    var sum: UInt64 = 0
    for page in 0..<pages { sum &+= pointer(at + page * pageSize).load(as: UInt64.self) }
    let start = read_tsc()
    for page in 0..<pages { pointer(at + page * pageSize).storeBytes(of: sum &+ page, as: UInt64.self) }
    let end = read_tsc()
    print("bench frame.cow_fault.insn \((end - start) / pages) insn")
}

/// `bench frame.pager_fault.insn`: guest instructions per read fault on a pager-backed Frame served by a
/// pager thread of this process (fault, page request, frame_supply, answer, resume), one per page.
func benchPagerFault() throws(SysError) {
    let pages: UInt64 = 512
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let source = try frameCreate(size: pageSize)
    let paged = try frameCreatePaged(size: pages * pageSize, pager: sender)
    defer { closeAll(paged, source, sender, receiver) }
    try setFrameWord(source, 0, 1)
    let at = try vmemMapAnywhere(Runtime.vmem, frame: paged, from: Scratch.take(pages: pages), length: pages * pageSize,
                                 flags: [.read])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pages * pageSize) }
    let pager = try spawnThread {
        do throws(SysError) {
            var request = try receiverRecv(receiver)
            for served in 1...pages {
                try frameSupply(paged, offset: request.words.0, from: source)
                if served == pages { break }
                request = try receiverReplyRecv(receiver, IPCMessage(label: PagerMessage.resume))
            }
            try receiverReply(IPCMessage(label: PagerMessage.resume))
            return 0
        } catch {
            return 1
        }
    }
    var sum: UInt64 = 0
    let start = read_tsc()
    for page in 0..<pages { sum &+= pointer(at + page * pageSize).load(as: UInt64.self) }
    let end = read_tsc()
    let served = try pager.join()
    guard served == 0, sum == pages else {
        print("root: bench frame.pager_fault: the pager failed (\(served)) or the pages read wrong (\(sum))")
        return
    }
    print("bench frame.pager_fault.insn \((end - start) / pages) insn")
}

