// Signals, as far as pm has them: `kill`'s optional second word names the signal (1-64, default
// SIGKILL). No process can catch one, so every signal ends the process (process_kill, as before); the
// first kill's signal is recorded on the child and a parent's `wait` answers it in w3 beside the status
// ExitCode.stopped, so the POSIX layer's waitpid reports it (WTERMSIG) and a shell shows 128+N.

extension ProcessServer {
    /// `kill` with its signal: checked, recorded on the child (when the caller may end it), then the
    /// child ended.
    func kill(_ m: IPCMessage, caller: UInt32, admin: Bool) -> Answer {
        let signal = m.tag.words >= 2 ? m.words.1 : ProcessProtocol.defaultSignal
        guard signal >= 1, signal <= ProcessProtocol.maxSignal else { return .error(.invalid) }
        if m.words.0 <= UInt64(UInt32.max), let child = children[UInt32(m.words.0)], !child.exited,
           child.signal == 0, admin || child.parent == caller {
            child.signal = signal
        }
        return kill(m.words.0, caller: caller, admin: admin)
    }
}
