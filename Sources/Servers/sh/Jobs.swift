// Background jobs: `LIST &` starts the list without waiting (a pipeline of programs is spawned as it is,
// anything else — built-ins, compound commands, `&&` lists — runs in a `sh -c LIST` of its own), with
// descriptor 0 closed (no terminal input for it); an interactive shell prints `[N] PID` (the last
// program's id, also `$!`). Before each prompt the jobs that ended are reported (`[N] Done  LIST`,
// `[N] Exit 3  LIST`, `[N] Terminated  LIST`; not those a `wait` saw end). The built-ins jobs, wait and
// kill are here (kill is a built-in, as in other shells: pm lets a process end only its own children,
// and it knows the jobs' numbers). Ctrl-C ends only the
// terminal's foreground program, never a background job.

/// A background job.
struct Job {
    let number: Int
    /// Its programs; a pipeline's last is the job's status.
    var pids: [Int32]
    let text: String
    /// Statuses of the programs that ended, by id.
    var ended: [Int32: Int32] = [:]
    var done: Bool { pids.allSatisfy { ended[$0] != nil } }
    var status: Int32 { pids.last.flatMap { ended[$0] } ?? 0 }
}

extension Shell {
    static var jobs: [Job] = []
    /// `$!`: the last background program's id.
    static var lastBackground: Int32 = 0
    /// Statuses of background programs that ended and were reported (for a later `wait PID`), by id.
    static var reported: [Int32: Int32] = [:]

    /// Starts `list` in the background.
    static func startJob(_ list: ShellAndOr) {
        Output.flush()
        var pids: [Int32] = []
        let simple = list.rest.isEmpty && !list.first.negated && list.first.commands.allSatisfy {
            $0.compound == nil && !$0.words.isEmpty && $0.words[0].literalText.map { builtin($0) == nil } == true
        }
        if simple && list.first.commands.count == 1 {
            var actions = PosixSpawnFileActions()
            actions.addClose(0)
            switch spawn(expand(list.first.commands[0]), actions) {
            case .success(let pid): pids = [pid]
            case .failure(let f):
                status = f.status
                return
            }
        } else if simple {
            let (started, statuses) = startPipeline(list.first.commands, background: true)
            pids = started.compactMap { $0 }
            if pids.isEmpty {
                status = statuses.last ?? 1
                return
            }
        } else {
            var actions = PosixSpawnFileActions()
            actions.addClose(0)
            var pid: Int32 = 0
            let e = posix_spawn(&pid, shellPath, actions, ["sh", "-c", list.text] + positional, environ)
            guard e == 0 else {
                eprint("sh: \(shellPath): \(strerror(e))")
                status = 126
                return
            }
            pids = [pid]
        }
        let number = (jobs.map { $0.number }.max() ?? 0) + 1
        jobs.append(Job(number: number, pids: pids, text: list.text))
        lastBackground = pids[pids.count - 1]
        if interactiveSession { eprint("[\(number)] \(lastBackground)") }
        status = 0
    }

    /// Notes which programs of running jobs have ended (without waiting).
    static func pollJobs() {
        for j in jobs.indices {
            for pid in jobs[j].pids where jobs[j].ended[pid] == nil {
                var s: Int32 = 0
                if waitpid(pid, &s, WNOHANG) == pid { jobs[j].ended[pid] = exitStatus(s) }
            }
        }
    }

    /// How `jobs` and the reports describe a job.
    static func describe(_ job: Job) -> String {
        guard job.done else { return "Running" }
        let s = job.status
        switch s {
        case 0: return "Done"
        case 128 + SIGINT: return "Interrupt"
        case 128 + SIGKILL: return "Killed"
        case 128 + SIGTERM: return "Terminated"
        case 129...192: return "Signal \(s - 128)"
        default: return "Exit \(s)"
        }
    }

    /// Before a prompt: `[N] Done  LIST` for each job that ended; those jobs are forgotten.
    static func reportJobs() {
        guard !jobs.isEmpty else { return }
        pollJobs()
        for job in jobs where job.done { print("[\(job.number)] \(describe(job))  \(job.text)") }
        forgetDoneJobs()
    }

    static func forgetDoneJobs() {
        for job in jobs where job.done { for (pid, s) in job.ended { reported[pid] = s } }
        jobs.removeAll { $0.done }
    }

    /// `jobs`: each job, its number, state and text.
    static func jobsBuiltin(_ args: [String]) -> Int32 {
        pollJobs()
        for job in jobs { print("[\(job.number)] \(describe(job))  \(job.text)") }
        forgetDoneJobs()
        return 0
    }

    /// `wait [PID|%N]...`: waits for the jobs named (every job without operands); the last one's status
    /// (127 for one that is not this shell's). While it waits, the job's last program holds the terminal
    /// (Ctrl-C ends it). Jobs it saw end are forgotten without a report.
    static func waitBuiltin(_ args: [String]) -> Int32 {
        defer { forgetDoneJobs() }
        if args.count == 1 {
            for j in jobs.indices { _ = waitJob(j) }
            return 0
        }
        var result: Int32 = 0
        for operand in args.dropFirst() {
            if operand.hasPrefix("%") {
                guard let n = Int(operand.dropFirst()), let j = jobs.firstIndex(where: { $0.number == n }) else {
                    eprint("wait: \(operand): no such job")
                    result = 127
                    continue
                }
                result = waitJob(j)
            } else if let pid = Int32(operand), pid > 0 {
                if let j = jobs.firstIndex(where: { $0.pids.contains(pid) }) {
                    result = waitProgram(j, pid)
                } else if let s = reported[pid] {
                    result = s
                } else {
                    eprint("wait: pid \(pid) is not a child of this shell")
                    result = 127
                }
            } else {
                eprint("wait: \(operand): not a pid or a job")
                result = 2
            }
        }
        return result
    }

    /// Waits for every program of job `j`; the job's status.
    static func waitJob(_ j: Int) -> Int32 {
        for pid in jobs[j].pids { _ = waitProgram(j, pid) }
        return jobs[j].status
    }

    /// Waits for program `pid` of job `j` (it holds the terminal meanwhile); its status.
    static func waitProgram(_ j: Int, _ pid: Int32) -> Int32 {
        if let s = jobs[j].ended[pid] { return s }
        if onTerminal { tcsetpgrp(STDIN_FILENO, pid) }
        var s: Int32 = 0
        let got = waitpid(pid, &s)
        if onTerminal { tcsetpgrp(STDIN_FILENO, getpid()) }
        let code = got == pid ? exitStatus(s) : 127
        jobs[j].ended[pid] = code
        return code
    }

    /// `kill [-N | -NAME | -SIGNAME | -s SIGNAL] PID|%N...`, `kill -l`: sends the signal (default SIGTERM)
    /// to each process, or to each program of job N that has not ended, through pm.
    static func killBuiltin(_ args: [String]) -> Int32 {
        if args.count == 2 && args[1] == "-l" {
            for n in 1...SignalNames.names.count { print("\(n)) SIG" + SignalNames.name(n)) }
            return 0
        }
        guard let (signal, operands) = SignalNames.killArguments(Array(args.dropFirst())) else {
            eprint("kill: invalid signal specification")
            return 1
        }
        guard !operands.isEmpty else {
            eprint("usage: kill [-N | -NAME | -s SIGNAL] PID|%N...")
            return 2
        }
        var result: Int32 = 0
        for operand in operands {
            var pids: [Int32] = []
            if operand.hasPrefix("%") {
                guard let n = Int(operand.dropFirst()), let job = jobs.first(where: { $0.number == n }) else {
                    eprint("kill: \(operand): no such job")
                    result = 1
                    continue
                }
                pids = job.pids.filter { job.ended[$0] == nil }
            } else if let pid = Int32(operand), pid > 0 {
                pids = [pid]
            } else {
                eprint("kill: \(operand): not a process or job id")
                result = 1
                continue
            }
            for pid in pids where kill(pid, Int32(signal)) != 0 {
                eprint("kill: (\(pid)): \(strerror(errno))")
                result = 1
            }
        }
        return result
    }
}
