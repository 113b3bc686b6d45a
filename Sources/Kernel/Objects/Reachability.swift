// Processes that can never run again although other processes hold handles to them: cycles across
// processes' tables (two idle processes holding handles to each other, or a longer ring), which the
// counts of Process.settle() cannot see.
//
// A process can run again only if it has a live thread, or if a process that can run holds a handle to
// it or to one of its threads not yet ended (it could create or start a thread there, which could then
// use the handles of that table). So the pass marks, from every process that has a live thread (or that
// only the kernel holds: one being built, the kernel's own), every process reachable through process and
// thread handles in the tables of marked processes; an idle process with foreign handles that is left
// unmarked is killed (its never-started threads end, its table is emptied, which frees the cycle).
//
// `Process.settle()` runs a pass when an idle process still has foreign handles after a count dropped.
// A pass costs one visit of every handle of every reachable process plus one of every process.

#if !KERNEL
import ABI
#endif

/// Every Process object alive (weakly: a Process leaves in its deinit), for the reachability pass.
enum ProcessRegistry {
    struct Entry {
        unowned(unsafe) let process: Process
    }
    /// Guarded by: the kernel lock (LOCKS.md).
    static var items: [Entry] = []

    static func add(_ p: Process) {
        p.registryIndex = items.count
        items.append(Entry(process: p))
    }

    /// Takes `p` out by moving the last entry into its place (O(1)).
    static func remove(_ p: Process) {
        let i = p.registryIndex
        guard i >= 0, i < items.count, items[i].process === p else { return }
        let last = items.removeLast()
        if last.process !== p {
            items[i] = last
            last.process.registryIndex = i
        }
        p.registryIndex = -1
    }
}

enum Reachability {
    private static var running = false
    private static var again = false
    private static var epoch: UInt64 = 0
    /// Passes run and processes they ended (kernel tests read these).
    static var passes = 0
    static var ended = 0

    /// Ends every idle process no process that can run reaches. Reentrant calls (a process ended by the
    /// pass closes handles, which settles others) make the running pass go round once more.
    static func check() {
        if running { again = true; return }
        running = true
        repeat {
            again = false
            pass()
        } while again
        running = false
    }

    private static func pass() {
        passes += 1
        epoch &+= 1
        let mark = epoch
        var work: [Process] = []
        for entry in ProcessRegistry.items {
            let p = entry.process
            guard !p.exited, p.liveThreads > 0 || p.foreignHandles == 0 else { continue }
            p.reachMark = mark
            work.append(p)
        }
        while let p = work.popLast() {
            p.handles.table.forEachObject { object in
                let target: Process
                switch object {
                case .process(let q):
                    guard !q.exited else { return }
                    target = q
                case .thread(let t):
                    guard t.state != .dead else { return }
                    target = t.process
                default:
                    return
                }
                if target.reachMark != mark {
                    target.reachMark = mark
                    work.append(target)
                }
            }
        }
        // Strong references while ending them: an ending process can free others (their deinit leaves
        // the registry), so the registry is not walked while processes end.
        var unreachable: [Process] = []
        for entry in ProcessRegistry.items where !entry.process.exited && entry.process.reachMark != mark {
            unreachable.append(entry.process)
        }
        for p in unreachable where !p.exited {
            ended += 1
            p.kill(code: ExitCode.stopped)
        }
    }
}
