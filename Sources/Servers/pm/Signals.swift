// Signals, as far as pm has them: `kill`'s optional second word names the signal (1-64, default
// SIGKILL). No process can catch one, so every signal ends the process (process_kill, as before); the
// first kill's signal is recorded on the child and a parent's `wait` answers it in w3 beside the status
// ExitCode.stopped, so the POSIX layer's waitpid reports it (WTERMSIG) and a shell shows 128+N.
// Who may kill whom (there are no users): an administrator any process; a process its descendants and
// those of its parent (so the `kill` utility a shell starts ends that shell's other children).

extension ProcessServer {
    /// `kill` with its signal: checked, recorded on the child, then the child ended.
    func kill(_ m: IPCMessage, caller: UInt32) -> Answer {
        let signal = m.tag.words >= 2 ? m.words.1 : ProcessProtocol.defaultSignal
        guard signal >= 1, signal <= ProcessProtocol.maxSignal else { return .error(.invalid) }
        if m.words.0 <= UInt64(UInt32.max), let child = children[UInt32(m.words.0)], !child.exited,
           child.signal == 0, mayKill(child, caller: caller) {
            child.signal = signal
        }
        return kill(m.words.0, caller: caller)
    }

    /// Whether `caller` (0: an administrator) may kill `child`: it descends from the caller or from the
    /// caller's parent (when that is a process pm started).
    func mayKill(_ child: Child, caller: UInt32) -> Bool {
        guard caller != 0 else { return true }
        let parent = children[caller]?.parent ?? 0
        var id = child.parent
        var steps = 0
        while id != 0 && steps < ProcessServer.maxProcesses {
            if id == caller || id == parent { return true }
            id = children[id]?.parent ?? 0
            steps += 1
        }
        return false
    }
}
