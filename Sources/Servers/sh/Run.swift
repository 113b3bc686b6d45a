// Running parsed commands: and-or lists by status, pipelines through pm's pipes, programs through
// posix_spawnp (PATH, default initfs:///bin) with their redirections as file actions, and built-ins in the
// shell itself with their redirections applied to its own descriptors for the time they run. A program
// runs in the terminal's foreground (the console's Ctrl-C ends it through pm); the shell waits for every
// program of a pipeline and takes the last one's status.

/// A command after expansion.
struct Expanded {
    var arguments: [String]
    var assignments: [(String, String)]
    var redirections: [(descriptor: Int32, kind: ShellRedirection.Kind, path: String)]
}

extension Shell {
    /// Whether descriptor 0 is a terminal (asked once).
    static var onTerminal: Bool = isatty(STDIN_FILENO)

    static func run(_ list: ShellAndOr) {
        status = runPipeline(list.first)
        for (connector, pipeline) in list.rest {
            if exitRequested != nil { return }
            if (connector == .and) == (status == 0) { status = runPipeline(pipeline) }
        }
    }

    static func expand(_ c: ShellCommand) -> Expanded {
        Expanded(arguments: c.words.map { $0.expand(lookup) },
                 assignments: c.assignments.map { ($0.name, $0.value.expand(lookup)) },
                 redirections: c.redirections.map { (Int32($0.descriptor), $0.kind, $0.target.expand(lookup)) })
    }

    static func runPipeline(_ p: ShellPipeline) -> Int32 {
        let commands = p.commands.map(expand)
        if commands.count == 1 { return runSingle(commands[0]) }
        var pipes: [(Int32, Int32)] = []
        defer { for (r, w) in pipes { _ = close(r); _ = close(w) } }
        for _ in 1..<commands.count {
            var fds: (Int32, Int32) = (-1, -1)
            guard pipe(&fds) == 0 else {
                eprint("sh: pipe: \(strerror(errno))")
                return 1
            }
            pipes.append(fds)
        }
        var pids: [Int32?] = Array(repeating: nil, count: commands.count)
        var statuses = [Int32](repeating: 0, count: commands.count)
        // Programs first (so every reader runs), then built-ins writing into their pipes.
        for (i, c) in commands.enumerated() where !c.arguments.isEmpty && builtin(c.arguments[0]) == nil {
            var actions = PosixSpawnFileActions()
            // A child gets descriptors 0-2 and what its actions name: a pipe end the shell holds as 0, 1
            // or 2 (its own were closed) is closed in the child first, as O_CLOEXEC would, so a writer
            // never holds its own pipe's read end (and sees EPIPE when the reader ends).
            for (r, w) in pipes { for fd in [r, w] where fd <= 2 { actions.addClose(fd) } }
            if i > 0 { actions.addDup2(pipes[i - 1].0, 0) }
            if i < commands.count - 1 { actions.addDup2(pipes[i].1, 1) }
            switch spawn(c, actions) {
            case .success(let pid): pids[i] = pid
            case .failure(let code): statuses[i] = code.status
            }
        }
        for (i, c) in commands.enumerated() where c.arguments.isEmpty || builtin(c.arguments[0]) != nil {
            var moves: [(Int32, Int32)] = []
            if i > 0 { moves.append((pipes[i - 1].0, 0)) }
            if i < commands.count - 1 { moves.append((pipes[i].1, 1)) }
            statuses[i] = runInShell(c, moves: moves)
        }
        for (r, w) in pipes { _ = close(r); _ = close(w) }
        pipes = []
        if let last = pids.last ?? nil, onTerminal { tcsetpgrp(STDIN_FILENO, last) }
        for (i, pid) in pids.enumerated() {
            guard let pid else { continue }
            var s: Int32 = 0
            statuses[i] = waitpid(pid, &s) == pid ? exitStatus(s) : 127
        }
        if onTerminal { tcsetpgrp(STDIN_FILENO, getpid()) }
        return statuses[statuses.count - 1]
    }

    static func runSingle(_ c: Expanded) -> Int32 {
        if c.arguments.isEmpty || builtin(c.arguments[0]) != nil { return runInShell(c, moves: []) }
        switch spawn(c, PosixSpawnFileActions()) {
        case .failure(let e): return e.status
        case .success(let pid):
            if onTerminal { tcsetpgrp(STDIN_FILENO, pid) }
            var s: Int32 = 0
            let got = waitpid(pid, &s)
            if onTerminal { tcsetpgrp(STDIN_FILENO, getpid()) }
            guard got == pid else {
                eprint("sh: wait: \(strerror(errno))")
                return 127
            }
            if WIFSIGNALED(s) && WTERMSIG(s) != SIGKILL { eprint("sh: \(c.arguments[0]): ended by a fault (signal \(WTERMSIG(s)))") }
            return exitStatus(s)
        }
    }

    /// Why a program did not start: the message is printed, the status is what `$?` gets.
    struct SpawnFailure: Error {
        let status: Int32
    }

    /// Starts a program with its redirections (files opened here, so a missing one is the shell's error)
    /// and assignments after `actions`.
    static func spawn(_ c: Expanded, _ base: PosixSpawnFileActions) -> Result<Int32, SpawnFailure> {
        let name = c.arguments[0]
        var actions = base
        var opened: [Int32] = []
        defer { for fd in opened { _ = close(fd) } }
        for r in c.redirections {
            if case .duplicate(let from) = r.kind {
                actions.addDup2(Int32(from), r.descriptor)
                continue
            }
            let fd = open(r.path, openFlags(r.kind))
            guard fd >= 0 else {
                eprint("sh: \(r.path): \(strerror(errno))")
                return .failure(SpawnFailure(status: 1))
            }
            opened.append(fd)
            actions.addDup2(fd, r.descriptor)
        }
        var environment = environ
        for (k, v) in c.assignments {
            environment.removeAll { $0.hasPrefix(k + "=") }
            environment.append(k + "=" + v)
        }
        guard let path = findInPath(name) else {
            eprint("sh: \(name): command not found")
            return .failure(SpawnFailure(status: 127))
        }
        var pid: Int32 = 0
        let e = posix_spawn(&pid, path, actions, c.arguments, environment)
        guard e == 0 else {
            switch e {
            case ENOENT where !name.contains("/"): eprint("sh: \(name): command not found")
            case ENOENT, ENOTDIR: eprint("sh: \(name): \(strerror(ENOENT))")
            default: eprint("sh: \(name): \(strerror(e))")
            }
            return .failure(SpawnFailure(status: e == ENOENT || e == ENOTDIR ? 127 : 126))
        }
        return .success(pid)
    }

    static func openFlags(_ kind: ShellRedirection.Kind) -> Int32 {
        switch kind {
        case .input: return O_RDONLY
        case .append: return O_WRONLY | O_CREAT | O_APPEND
        default: return O_WRONLY | O_CREAT | O_TRUNC
        }
    }

    /// A built-in (or a command of assignments alone) with its redirections applied to the shell's own
    /// descriptors while it runs; `moves` first puts pipe ends on 0 and 1.
    static func runInShell(_ c: Expanded, moves: [(Int32, Int32)]) -> Int32 {
        Output.flush()
        var saved: [(Int32, Int32)] = []     // (descriptor, its saved copy or -1)
        func save(_ fd: Int32) {
            if !saved.contains(where: { $0.0 == fd }) { saved.append((fd, Posix.isOpen(fd) ? dup(fd) : -1)) }
        }
        defer {
            Output.flush()
            for (fd, copy) in saved.reversed() {
                if copy >= 0 { _ = dup2(copy, fd); _ = close(copy) } else { _ = close(fd) }
            }
        }
        for (from, to) in moves {
            save(to)
            _ = dup2(from, to)
        }
        for r in c.redirections {
            save(r.descriptor)
            if case .duplicate(let from) = r.kind {
                guard dup2(Int32(from), r.descriptor) >= 0 else {
                    eprint("sh: \(from): bad file descriptor")
                    return 1
                }
                continue
            }
            let fd = open(r.path, openFlags(r.kind))
            guard fd >= 0 else {
                eprint("sh: \(r.path): \(strerror(errno))")
                return 1
            }
            _ = dup2(fd, r.descriptor)
            _ = close(fd)
        }
        if c.arguments.isEmpty {
            for (k, v) in c.assignments { _ = setenv(k, v, 1) }
            return 0
        }
        return builtin(c.arguments[0])!(c.arguments)
    }
}
