// CPU exceptions in user mode: a page fault inside a mapping is a lazily allocated page to fill in, or a
// write to a page entered read-only (zero or shared page: copy on write, Vmem.resolve);
// anything else ends the faulting process with a report (cause, address, registers, and a markup stack
// trace naming the process's ELF at its load address and the kernel's image), never the kernel.

#if !KERNEL
import ABI
#endif

enum UserFaults {
    static var reports = 0

    static func handle(_ frame: UnsafeMutablePointer<trap_frame>) {
        let vector = frame.pointee.vector
        let thread = Scheduler.current!
        let process = thread.process
        if vector == UInt64(Vector.pageFault) {
            let error = frame.pointee.error
            let address = read_cr2()
            // Not present: maybe a lazily filled page of a mapping that allows this access. A write to a
            // present page: maybe a zero or shared page under a writable mapping (copy on write).
            if error & 1 == 0 || (error & 2 != 0 && error & 8 == 0) {
                do throws(SysError) {
                    _ = try process.vmem.resolve(address, write: error & 2 != 0, exec: error & 16 != 0)
                    return
                } catch .outOfMemory {
                    // Inside a mapping, but no page could be had: the process ends (its report says why).
                    Log.warn("user page fault: no memory to fill the page at \(hex: address) of process \(process.id)")
                } catch .limitExceeded {
                    Log.warn("user page fault: the page at \(hex: address) of process \(process.id) is over its frames limit")
                } catch .notSupplied {
                    // A pager-backed Frame: ask its pager, then retry the access (or fail the fault).
                    thread.missingPage = nil
                    if let m = process.vmem.mappings.find(containing: address), let pager = m.payload.frame.pager,
                       PagerWait.mayWait(thread, for: pager) {
                        let offset = (address & ~(pageSize - 1)) - m.start + m.payload.frameOffset
                        switch call(frame, thread: thread, sender: pager, label: PagerMessage.label,
                                    words: (offset, thread.id, 0, 0), count: 2) {
                        case .resume, .killed: return
                        case .end: break
                        }
                    }
                } catch {
                }
            }
        }
        if vector == UInt64(Vector.breakpoint) && AccelCheck.active && process === Kernel.root {
            AccelCheck.userBreakpoint()
            return
        }
        // A handler thread whose own fault would go to the endpoint it serves gets the default: it could
        // not answer itself.
        if let sender = thread.faultSender ?? process.faultSender, PagerWait.mayWait(thread, for: sender) {
            switch sendToHandler(frame, thread: thread, sender: sender) {
            case .resume: return
            case .killed: return   // ended while waiting: it dies on its way out
            case .end: break
            }
        }
        report(frame, thread: thread)
        process.kill(code: ExitCode.fault(vector: vector))
    }

    enum HandlerAnswer: Equatable { case resume, end, killed }

    /// Sends the fault to the thread's handler as an IPC call (the trap frame carries the message; the
    /// user registers wait in thread.faultFrame, where thread_read/write_registers reach them) and puts
    /// the registers back, as the handler left them, once it answered.
    static func sendToHandler(_ frame: UnsafeMutablePointer<trap_frame>, thread: Thread, sender: Sender) -> HandlerAnswer {
        let f = frame.pointee
        return call(frame, thread: thread, sender: sender, label: FaultMessage.label,
                    words: (FaultMessage.first(vector: f.vector, errorCode: f.error),
                            f.vector == UInt64(Vector.pageFault) ? read_cr2() : 0, thread.id, f.rip), count: 4)
    }

    /// The faulting thread calls through `sender` with a message of `count` words while its user
    /// registers wait in thread.faultFrame; they are put back once the call is answered, and the answer's
    /// label (resume or not) decides.
    static func call(_ frame: UnsafeMutablePointer<trap_frame>, thread: Thread, sender: Sender, label: UInt32,
                     words: (UInt64, UInt64, UInt64, UInt64), count: Int) -> HandlerAnswer {
        if thread.faultFrame == nil {
            thread.faultFrame = UnsafeMutablePointer<trap_frame>.allocate(capacity: 1)
        }
        let saved = thread.faultFrame!
        saved.pointee = frame.pointee
        frame.pointee.rsi = IPCTag(words: count, label: label).raw
        frame.pointee.rdx = words.0
        frame.pointee.r10 = words.1
        frame.pointee.r8 = words.2
        frame.pointee.r9 = words.3
        thread.inFault = true
        let answered: Bool
        do throws(SysError) { _ = try IPC.call(sender); answered = true } catch { answered = false }
        let answer = IPCTag(raw: frame.pointee.rsi).label
        thread.inFault = false
        frame.pointee = saved.pointee
        if thread.killed { return .killed }
        return answered && answer == 0 ? .resume : .end
    }

    static func report(_ frame: UnsafeMutablePointer<trap_frame>, thread: Thread) {
        reports += 1
        let f = frame.pointee
        let process = thread.process
        Console.write("\nUSER FAULT: process ")
        Console.writeDecimal(process.id)
        if let image = process.image {
            Console.write(" \"")
            Console.write(bytes: image.name)
            Console.write("\"")
        }
        Console.write(" thread ")
        Console.writeDecimal(thread.id)
        Console.write(": ")
        Panic.writeException(f, context: "")
        Panic.writeRegisters(f)
        var sink = ConsoleSink()
        Markup.reset(&sink)
        if let image = process.image {
            Markup.module(&sink, id: 0, name: image.name, buildID: image.buildID)
            for s in image.segments {
                Markup.mmap(&sink, start: s.start, size: s.size, module: 0, flags: s.flags, relativeAddress: s.start)
            }
        }
        // The kernel too: a first frame in the kernel (a user jump to the syscall entry, a broken
        // accelerator's syscall) is then symbolized with the kernel's ELF.
        StackTrace.writeKernelModule(&sink, id: 1)
        Markup.backtrace(&sink, frame: 0, address: f.rip, kind: .preciseCode)
        let vmem = process.vmem
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: StackTrace.maxFrames) { buffer in
            let count = walkFramePointers(rbp: f.rbp, maxFrames: StackTrace.maxFrames, read: { address in
                // Only pages already present: a broken frame chain must not allocate memory; never device
                // memory (it may lie outside the direct map, and reads there have effects).
                guard address < userAddressLimit - 8, let p = vmem.table.translate(address & ~(pageSize - 1)),
                      vmem.mappings.find(containing: address)?.payload.frame.deviceBase == nil,
                      address % pageSize <= pageSize - 8 else { return nil }
                return KernelMemory.virtual(physical: p.physical + address % pageSize).load(as: UInt64.self)
            }, into: buffer)
            for i in 0..<count {
                Markup.backtrace(&sink, frame: i + 1, address: buffer[i], kind: .returnAddress)
            }
        }
        Log.info("process \(process.id) ended by a fault (vector \(f.vector)); the system goes on")
    }
}
