// The thread registry: a fixed table of plain words in the kernel's .bss (Debug/threads.S) listing every
// live thread with its id, process id, state, priority and kernel stack top, kept so that a debugger attached through the
// gdbstub can list the OS's threads without knowing Swift's object layout (osh attach's `osh-threads`
// reads it by the symbol `debug_threads`). Threads enter it when created and leave it when freed.

#if !KERNEL
import ABI
#endif

/// The debugger-visible table of threads (layout in Debug/threads.S).
enum ThreadRegistry {
    /// Number of entries in `debug_threads`.
    static let slots = 256
    /// Words per entry.
    static let words = 8

    /// Takes a free slot for `thread` and fills it; returns the slot's first word, or nil when the table
    /// is full (the thread is then counted in `debug_threads_dropped`). The thread keeps the pointer, so
    /// its state changes cost one store each (they happen on every switch, the IPC fast path included).
    static func add(_ thread: Thread) -> UnsafeMutablePointer<UInt64>? {
        let table = symbol_debug_threads()!
        for slot in 0..<slots where table[slot * words] == 0 {
            let entry = table + slot * words
            entry[1] = thread.process.id
            entry[2] = UInt64(thread.state.rawValue)
            entry[3] = UInt64(thread.priority)
            entry[4] = thread.stackTop
            entry[0] = thread.id + 1
            return entry
        }
        symbol_debug_threads_dropped()!.pointee += 1
        return nil
    }

    /// Word `word` of an entry (no-op for a thread that found no slot).
    @inline(__always) static func set(_ entry: UnsafeMutablePointer<UInt64>?, word: Int, _ value: UInt64) {
        entry?[word] = value
    }

    /// Frees an entry.
    static func remove(_ entry: UnsafeMutablePointer<UInt64>?) {
        entry?[0] = 0
    }
}
