// Threads in this process running Swift closures: each gets a heap-allocated stack and starts in
// start.S's runtime_thread_trampoline, which calls runtime_thread_main with the closure's box.

final class ThreadBody {
    let body: () -> UInt64
    init(_ body: @escaping () -> UInt64) { self.body = body }
}

/// A thread made by spawnThread: wait for it with join (which also frees its stack and closes its handle).
public struct SpawnedThread {
    public let handle: Handle
    let stack: UnsafeMutableRawPointer

    /// Waits for the thread; its exit code (what the closure returned).
    public func join() throws(SysError) -> UInt64 {
        let code = try threadWait(handle)
        _ = try? handleClose(handle)
        Heap.free(stack)
        return code
    }
}

public let defaultThreadStackSize = 64 * 1024

/// Creates (and, when `start`, starts) a thread of this process that runs `body` and exits with its result.
public func spawnThread(stackSize: Int = defaultThreadStackSize, start: Bool = true,
                        _ body: @escaping () -> UInt64) throws(SysError) -> SpawnedThread {
    guard let stack = Heap.allocate(size: stackSize, alignment: 16) else { throw .outOfMemory }
    let box = Unmanaged.passRetained(ThreadBody(body))
    let top = UInt64(UInt(bitPattern: stack)) + UInt64(stackSize)
    let process: Handle
    do {
        process = Runtime.process != .invalid ? Runtime.process : try processSelf()
    } catch {
        box.release()
        Heap.free(stack)
        throw error
    }
    let thread: Handle
    do {
        thread = try threadCreate(process: process, entry: runtime_thread_trampoline_address(), stack: top,
                                  argument: UInt64(UInt(bitPattern: box.toOpaque())))
    } catch {
        box.release()
        Heap.free(stack)
        throw error
    }
    if start {
        do { try threadStart(thread) } catch {
            _ = try? handleClose(thread)
            box.release()
            Heap.free(stack)
            throw error
        }
    }
    return SpawnedThread(handle: thread, stack: stack)
}

@_cdecl("runtime_thread_main")
func runtime_thread_main(_ argument: UnsafeMutableRawPointer) -> UInt64 {
    let body = Unmanaged<ThreadBody>.fromOpaque(argument).takeRetainedValue()
    return body.body()
}
