// Kernel copies that wait for a pager. A syscall whose copy meets a page of a pager-backed Frame that is
// not supplied yet (frame_read/write, vmem_read/write, process_load, IPC buffers, futex words, any user
// buffer) asks the pager exactly as a user fault does: the thread calls through the Frame's pager Sender
// (label PagerMessage.label, words: the page's offset, the thread's id) while its syscall registers wait
// in thread.faultFrame, then the call starts again from its first check.
//
// Two ways in, neither holding anything across the wait:
// - Frames read or written as a whole range (frame_read/write, process_load) are filled page by page
//   before the copy starts (`supplyRange`, in the syscall's check phase: no state changed yet).
// - Anywhere else the copy fails with .notSupplied, having noted the page (Thread.missingPage); the
//   syscall epilogue (kernelSyscall) then asks the pager and runs the whole call again. Every such call
//   checks before it acts (Dispatch.swift), so nothing is half done: an IPC delivery that fails leaves
//   both threads as they were, an answer keeps its caller held (IPC.answer), a caller whose message a
//   receiver could not take is woken with .notSupplied and its page noted, and restarts its send.
//
// The wait is an IPC call with no deadline: a pager that fails the request (any answer label but
// resume), a pager whose Receiver goes (.peerClosed) or a thread that is stopped or whose process ends
// while it waits ends it; the syscall then fails with .notSupplied (or the thread dies on its way out).
// A thread never asks a pager behind the endpoint it serves itself (Thread.servedEndpoint): it could
// not answer, so that copy fails with .notSupplied at once.

#if !KERNEL
import ABI
#endif

/// A page not supplied yet: the Frame and the page's index.
struct MissingPage {
    let frame: Frame
    let index: UInt64
}

enum PagerWait {
    /// Notes the page a copy of the current thread found missing (just before .notSupplied is thrown).
    static func note(_ frame: Frame, _ index: UInt64) {
        Scheduler.current?.missingPage = MissingPage(frame: frame, index: index)
    }

    /// Whether `thread` may wait for the answer of a handler or pager behind `sender` (not one it serves).
    static func mayWait(_ thread: Thread, for sender: Sender) -> Bool {
        !thread.inFault && !thread.killed && sender.endpoint.id != thread.servedEndpoint
    }

    /// Asks the pager for `page` on behalf of the current thread, whose syscall registers are `frame`;
    /// true when the pager answered resume (the page is then supplied, or the copy asks again).
    static func ask(_ page: MissingPage, _ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        let thread = Scheduler.current!
        if page.frame.isSupplied(page.index) { return true }   // supplied meanwhile (a woken caller)
        guard let pager = page.frame.pager, mayWait(thread, for: pager) else { return false }
        waits += 1
        let answer = UserFaults.call(frame, thread: thread, sender: pager, label: PagerMessage.label,
                                     words: (page.index * pageSize, thread.id, 0, 0), count: 2)
        return answer == .resume
    }

    /// Makes every page of [offset, offset + length) of `frame` supplied, asking its pager for each one
    /// missing (nothing to do for a Frame without a pager); .notSupplied when a request fails.
    static func supplyRange(_ frame: Frame, offset: UInt64, length: UInt64) throws(SysError) {
        guard frame.pager != nil, length > 0 else { return }
        let thread = Scheduler.current!
        var index = offset / pageSize
        let end = (offset + length + pageSize - 1) / pageSize
        while index < end {
            if !frame.isSupplied(index) {
                guard ask(MissingPage(frame: frame, index: index), thread.frame), !thread.killed else { throw .notSupplied }
                continue   // look again: a pager may answer resume without supplying
            }
            index += 1
        }
    }

    /// Requests sent to pagers by kernel copies (for tests: SystemInfo.pagerCopyWaits).
    static var waits: UInt64 = 0
}
