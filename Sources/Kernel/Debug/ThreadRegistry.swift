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

    /// Takes a free slot for `thread` and fills it; returns the slot, or -1 when the table is full.
    static func add(_ thread: Thread) -> Int {
        let table = symbol_debug_threads()!
        for slot in 0..<slots where table[slot * words] == 0 {
            table[slot * words + 1] = thread.process.id
            table[slot * words + 2] = UInt64(thread.state.rawValue)
            table[slot * words + 3] = UInt64(thread.priority)
            table[slot * words + 4] = thread.stackTop
            table[slot * words] = thread.id + 1
            return slot
        }
        symbol_debug_threads_dropped()!.pointee += 1
        return -1
    }

    /// Writes word `word` of `slot` (no-op for a thread that found no slot).
    static func set(_ slot: Int, word: Int, _ value: UInt64) {
        guard slot >= 0 else { return }
        symbol_debug_threads()![slot * words + word] = value
    }

    /// Frees `slot`.
    static func remove(_ slot: Int) {
        set(slot, word: 0, 0)
    }
}
