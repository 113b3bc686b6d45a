// Running parsed commands: and-or lists by status, pipelines through pm's pipes, programs through
// posix_spawnp (PATH, default initfs:///bin) with their redirections as file actions, and built-ins and
// compound commands (if, while, until, for, { }) in the shell itself with their redirections applied to
// its own descriptors for the time they run. Words are expanded here (ShellExpansion: parameters,
// command substitution through a pipe from `sh -c`, field splitting on IFS, globbing against readdir).
// A program runs in the terminal's foreground (the console's Ctrl-C ends it through pm with SIGINT, and
// the shell then drops the rest of the command line); the shell waits for every program of a pipeline
// and takes the last one's status.

/// A simple command after expansion.
struct Expanded {
    var arguments: [String]
    var assignments: [(String, String)]
    var redirections: [(descriptor: Int32, kind: ShellRedirection.Kind, path: String)]
}

/// How `break N` / `continue N` leave loops: the count of loops still to leave.
enum LoopFlow {
    case breaking(Int)
    case continuing(Int)
}

extension Shell {
    /// Whether descriptor 0 is a terminal (asked once).
    static var onTerminal: Bool = isatty(STDIN_FILENO)
    /// The status of the last command substitution while a command's words were expanded (nil: none).
    static var substitutionStatus: Int32? = nil

    /// Runs and-or lists in order until one stops the rest (exit, break, continue, Ctrl-C).
    static func run(_ lists: [ShellAndOr]) {
        for list in lists {
            if stopping { return }
            run(list)
        }
    }

    static func run(_ list: ShellAndOr) {
        if list.background {
            startJob(list)
            return
        }
        status = runPipeline(list.first)
        for (connector, pipeline) in list.rest {
            if stopping { return }
            if (connector == .and) == (status == 0) { status = runPipeline(pipeline) }
        }
    }

    // MARK: expansion

    /// The fields of `words`: expanded, split, globbed.
    static func fields(_ words: [ShellWord]) -> [String] {
        let ifs = getenv("IFS") ?? ShellExpansion.defaultIFS
        var out: [String] = []
        for w in words {
            for f in ShellExpansion.fields(w, ifs: ifs, lookup: lookup, substitute: substitute) {
                out += ShellGlob.expand(f, list: listDirectory)
            }
        }
        return out
    }

    /// One string for `w` (assignments, redirection targets): expanded, not split or globbed.
    static func string(_ w: ShellWord) -> String { w.expand(lookup, substitute: substitute) }

    static func expand(_ c: ShellCommand) -> Expanded {
        substitutionStatus = nil
        return Expanded(arguments: fields(c.words),
                 assignments: c.assignments.map { ($0.name, string($0.value)) },
                 redirections: expandRedirections(c.redirections))
    }

    static func expandRedirections(_ r: [ShellRedirection]) -> [(descriptor: Int32, kind: ShellRedirection.Kind, path: String)] {
        r.map { (descriptor: Int32($0.descriptor), kind: $0.kind, path: string($0.target)) }
    }

    /// A directory's entry names through the POSIX layer (nil when it cannot be opened).
    static func listDirectory(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        var names: [String] = []
        while let entry = readdir(dir) { names.append(entry.name) }
        _ = closedir(dir)
        return names
    }

    /// This shell's program (for `sh -c` children: command substitutions, background lists).
    static var shellPath: String { Posix.programPath ?? "initfs:///bin/sh" }

    /// `$(COMMANDS)`: their output, read from a pipe that a `sh -c COMMANDS` (with this shell's positional
    /// parameters) writes; `$?` becomes its status.
    static func substitute(_ text: String) -> String {
        Output.flush()
        var fds: (Int32, Int32) = (-1, -1)
        guard pipe(&fds) == 0 else {
            eprint("sh: pipe: \(strerror(errno))")
            return ""
        }
        var actions = PosixSpawnFileActions()
        for fd in [fds.0, fds.1] where fd <= 2 { actions.addClose(fd) }
        actions.addDup2(fds.1, 1)
        var pid: Int32 = 0
        let e = posix_spawn(&pid, shellPath, actions, ["sh", "-c", text] + positional, environ)
        _ = close(fds.1)
        guard e == 0 else {
            _ = close(fds.0)
            eprint("sh: \(shellPath): \(strerror(e))")
            status = 126
            return ""
        }
        if onTerminal { tcsetpgrp(STDIN_FILENO, pid) }
        var out: [UInt8] = []
        while let chunk = read(fds.0, count: IPCBuffer.maxBytes), !chunk.isEmpty { out += chunk }
        _ = close(fds.0)
        status = waitForeground(pid, name: "sh")
        substitutionStatus = status
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: pipelines

    static func runPipeline(_ p: ShellPipeline) -> Int32 {
        let s = runCommands(p.commands)
        return p.negated ? (s == 0 ? 1 : 0) : s
    }

    /// Whether a command runs inside the shell (a compound command, a built-in, assignments alone).
    static func inShell(_ c: ShellCommand, _ e: Expanded?) -> Bool {
        guard c.compound == nil, let e else { return true }
        return e.arguments.isEmpty || builtin(e.arguments[0]) != nil
    }

    static func runCommands(_ commands: [ShellCommand]) -> Int32 {
        if commands.count == 1 {
            let c = commands[0]
            if let compound = c.compound {
                let redirections = expandRedirections(c.redirections)
                return withRedirections(redirections, moves: []) { runCompound(compound) }
            }
            let e = expand(c)
            if inShell(c, e) { return withRedirections(e.redirections, moves: []) { runBuiltin(e) } }
            return waitForeground(spawnedOrStatus(e, PosixSpawnFileActions()), name: e.arguments[0])
        }
        let (pids, statuses) = startPipeline(commands, background: false)
        if let last = pids.last ?? nil, onTerminal { tcsetpgrp(STDIN_FILENO, last) }
        var result = statuses
        for (i, pid) in pids.enumerated() {
            guard let pid else { continue }
            result[i] = waitChild(pid, name: commands[i].words.first?.literalText ?? "process \(pid)")
        }
        if onTerminal { tcsetpgrp(STDIN_FILENO, getpid()) }
        return result[result.count - 1]
    }

    /// Starts a pipeline of two or more commands: programs spawned with their pipe ends, then the
    /// commands that run in the shell (built-ins, compound commands) writing into or reading from
    /// theirs. The programs' ids (nil for in-shell commands and programs that did not start) and the
    /// statuses known so far. A background pipeline's first command reads no terminal (descriptor 0
    /// closed).
    static func startPipeline(_ commands: [ShellCommand], background: Bool) -> ([Int32?], [Int32]) {
        let expanded: [Expanded?] = commands.map { $0.compound == nil ? expand($0) : nil }
        var pipes: [(Int32, Int32)] = []
        defer { for (r, w) in pipes { _ = close(r); _ = close(w) } }
        for _ in 1..<max(commands.count, 1) {
            var fds: (Int32, Int32) = (-1, -1)
            guard pipe(&fds) == 0 else {
                eprint("sh: pipe: \(strerror(errno))")
                return (Array(repeating: nil, count: commands.count), Array(repeating: 1, count: commands.count))
            }
            pipes.append(fds)
        }
        var pids: [Int32?] = Array(repeating: nil, count: commands.count)
        var statuses = [Int32](repeating: 0, count: commands.count)
        // Programs first (so every reader runs), then what runs in the shell.
        for (i, c) in commands.enumerated() where !inShell(c, expanded[i]) {
            var actions = PosixSpawnFileActions()
            // A child gets descriptors 0-2 and what its actions name: a pipe end the shell holds as 0, 1
            // or 2 (its own were closed) is closed in the child first, as O_CLOEXEC would, so a writer
            // never holds its own pipe's read end (and sees EPIPE when the reader ends).
            for (r, w) in pipes { for fd in [r, w] where fd <= 2 { actions.addClose(fd) } }
            if i > 0 { actions.addDup2(pipes[i - 1].0, 0) } else if background { actions.addClose(0) }
            if i < commands.count - 1 { actions.addDup2(pipes[i].1, 1) }
            switch spawn(expanded[i]!, actions) {
            case .success(let pid): pids[i] = pid
            case .failure(let code): statuses[i] = code.status
            }
        }
        for (i, c) in commands.enumerated() where inShell(c, expanded[i]) {
            var moves: [(Int32, Int32)] = []
            if i > 0 { moves.append((pipes[i - 1].0, 0)) }
            if i < commands.count - 1 { moves.append((pipes[i].1, 1)) }
            if let compound = c.compound {
                let redirections = expandRedirections(c.redirections)
                statuses[i] = withRedirections(redirections, moves: moves) { runCompound(compound) }
            } else {
                let e = expanded[i]!
                statuses[i] = withRedirections(e.redirections, moves: moves) { runBuiltin(e) }
            }
        }
        return (pids, statuses)
    }

    /// A spawned program's id, or the status of its failure to start (as a negative - 1000 - status).
    static func spawnedOrStatus(_ e: Expanded, _ actions: PosixSpawnFileActions) -> Int32 {
        switch spawn(e, actions) {
        case .success(let pid): return pid
        case .failure(let f): return -1000 - f.status
        }
    }

    /// Waits for a program the shell runs in the foreground (it holds the terminal meanwhile); its
    /// status. A value from spawnedOrStatus below 0 is a failure's status.
    static func waitForeground(_ pid: Int32, name: String) -> Int32 {
        if pid <= -1000 { return -1000 - pid }
        if onTerminal { tcsetpgrp(STDIN_FILENO, pid) }
        let s = waitChild(pid, name: name)
        if onTerminal { tcsetpgrp(STDIN_FILENO, getpid()) }
        return s
    }

    /// Waits for child `pid`; its status for `$?` (128+N for a signal; a fault is reported). A program
    /// ended by SIGINT (Ctrl-C) drops the rest of the command line.
    static func waitChild(_ pid: Int32, name: String) -> Int32 {
        var s: Int32 = 0
        guard waitpid(pid, &s) == pid else {
            eprint("sh: wait: \(strerror(errno))")
            return 127
        }
        if WIFSIGNALED(s) {
            let signal = WTERMSIG(s)
            if signal == SIGINT { interrupted = true }
            if [SIGSEGV, SIGILL, SIGFPE, SIGTRAP].contains(signal) { eprint("sh: \(name): ended by a fault (signal \(signal))") }
        }
        return exitStatus(s)
    }

    // MARK: compound commands

    static func runCompound(_ c: ShellCompound) -> Int32 {
        switch c {
        case .group(let body):
            run(body)
            return status
        case .ifClause(let branches, let otherwise):
            for b in branches {
                run(b.condition)
                if stopping { return status }
                if status == 0 {
                    run(b.body)
                    return status
                }
            }
            if let otherwise {
                run(otherwise)
                return status
            }
            return 0
        case .loop(let condition, let body, let until):
            var last: Int32 = 0
            loopDepth += 1
            defer { loopDepth -= 1 }
            while true {
                run(condition)
                if endLoop() { break }
                if (status == 0) == until { break }
                run(body)
                last = status
                if endLoop() { break }
            }
            return last
        case .forLoop(let name, let words, let body):
            let values = words.map(fields) ?? positional
            var last: Int32 = 0
            loopDepth += 1
            defer { loopDepth -= 1 }
            for v in values {
                _ = setenv(name, v, 1)
                run(body)
                last = status
                if endLoop() { break }
            }
            return last
        }
    }

    /// After a loop's part ran: whether the loop ends (break, exit, Ctrl-C), with a `continue` of this
    /// loop taken.
    static func endLoop() -> Bool {
        switch flow {
        case .breaking(let n)?:
            flow = n > 1 ? .breaking(n - 1) : nil
            return true
        case .continuing(let n)?:
            if n > 1 {
                flow = .continuing(n - 1)
                return true
            }
            flow = nil
            return false
        case nil:
            return exitRequested != nil || interrupted
        }
    }

    // MARK: programs

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

    /// A built-in, or a command of assignments alone (its status: the last command substitution's, as
    /// in `x=$(false)`, else 0).
    static func runBuiltin(_ c: Expanded) -> Int32 {
        if c.arguments.isEmpty {
            for (k, v) in c.assignments { _ = setenv(k, v, 1) }
            return substitutionStatus ?? 0
        }
        return builtin(c.arguments[0])!(c.arguments)
    }

    /// Runs `body` in the shell with `moves` (pipe ends put on 0 and 1) and then `redirections` applied
    /// to the shell's own descriptors, and puts them back after.
    static func withRedirections(_ redirections: [(descriptor: Int32, kind: ShellRedirection.Kind, path: String)],
                                 moves: [(Int32, Int32)], _ body: () -> Int32) -> Int32 {
        if redirections.isEmpty && moves.isEmpty { return body() }
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
        for r in redirections {
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
        return body()
    }
}
