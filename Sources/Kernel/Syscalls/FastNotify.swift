// The notification fast path: notify_notify and notify_wait on a Notify handle found without the generic
// lookup (no reference count on the way, see FastPath.swift's header for why the handle slot's reference
// keeps the object alive while this CPU holds the kernel lock), without the generic dispatch, counted as
// the general path counts them. The work itself is the general path's own (IPC.notify, IPC.wait), so the
// semantics are the reference ones by construction; `ipc_fastpath=off` sends these calls to the general
// path too. Anything unusual (a handle that is not a Notify with the right, a value over 32 bits) falls
// through to the general path, which gives the error.
//
// A wait that blocks holds a counted reference to the Notify while it sleeps (as the general path's
// lookup does): another thread may close the last handle meanwhile.

#if !KERNEL
import ABI
#endif

extension FastPath {
    /// The Notify behind `handle` in `process`'s table when the handle carries `right`, unretained.
    @inline(__always) static func notifyObject(_ process: Process, _ handle: UInt32, _ right: Rights) -> Unmanaged<Notify>? {
        guard let index = process.handles.table.index(of: handle),
              case .notify(let n)? = process.handles.table.slots[index].object,
              process.handles.table.slots[index].rights.contains(right) else { return nil }
        return Unmanaged.passUnretained(n)
    }

    /// The Notify named by the frame's first argument, or nil (the general path then answers).
    @inline(__always) static func notifyArgument(_ frame: UnsafeMutablePointer<trap_frame>, _ right: Rights) -> Unmanaged<Notify>? {
        guard frame.pointee.rdi <= UInt64(UInt32.max) else { return nil }
        let handle = UInt32(truncatingIfNeeded: frame.pointee.rdi)
        return Scheduler.currentUnmanaged._withUnsafeGuaranteedRef { FastPath.notifyObject($0.process, handle, right) }
    }

    /// notify_notify(notify, bits): ORs the bits in, wakes the first waiter. True when handled.
    static func notify(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        guard let n = notifyArgument(frame, .signal) else { return false }
        count(.notifyNotify, .notify)
        let bits = frame.pointee.rsi
        n._withUnsafeGuaranteedRef { _ = IPC.notify($0, bits: bits) }
        frame.pointee.rax = 0
        frame.pointee.rdx = 0
        Terminal.safePoint()
        return true
    }

    /// notify_wait(notify, timeout): the word when it is not zero, else blocks until a signal, the
    /// deadline or a kill. True when handled.
    static func notifyWait(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        guard let n = notifyArgument(frame, .wait) else { return false }
        count(.notifyWait, .notify)
        let pending = n._withUnsafeGuaranteedRef { $0.word.take() }
        if pending != 0 {
            frame.pointee.rax = 0
            frame.pointee.rdx = pending
        } else {
            let held = n.takeUnretainedValue()   // counted while this thread sleeps
            do throws(SysError) {
                frame.pointee.rdx = try IPC.wait(held, until: Timeouts.deadline(after: frame.pointee.rsi))
                frame.pointee.rax = 0
            } catch {
                frame.pointee.rax = error.rawValue
                frame.pointee.rdx = 0
            }
        }
        Terminal.safePoint()
        return true
    }
}
