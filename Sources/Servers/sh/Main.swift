// sh: the shell (initfs:///bin/sh). `sh` reads commands from descriptor 0: on a terminal with a prompt
// showing the working directory (`/ $ `) and line editing in raw mode (Sources/Formats/ShellLineEditor.swift),
// else line by line without a prompt. `sh FILE [ARGS]` runs a script, `sh -c 'COMMANDS'` one command
// line. The language is Sources/Formats/ShellSyntax.swift; running it is Run.swift, the built-ins are
// Builtins.swift, background jobs Jobs.swift. Everything goes through the Runtime's POSIX layer (descriptors, posix_spawn through pm,
// pipes from pm). The exit status is the last command's.

let programName: StaticString = "sh"

func programMain(_ startup: Startup) -> Int32 {
    let args = Array(argv.dropFirst())
    if args.first == "-c" {
        guard args.count >= 2 else {
            eprint("sh: -c needs a command")
            return 2
        }
        Shell.positional = Array(args.dropFirst(2))
        return Shell.runText(args[1])
    }
    if let file = args.first {
        Shell.positional = Array(args.dropFirst())
        return Shell.runScript(file)
    }
    return Shell.interactive()
}

enum Shell {
    /// `$?`.
    static var status: Int32 = 0
    /// `$1`… of a script or `sh -c`.
    static var positional: [String] = []
    /// Set by the `exit` built-in: the shell ends with this status.
    static var exitRequested: Int32? = nil
    static var editor = ShellLineEditor()
    /// `break N`/`continue N` on their way out of loops.
    static var flow: LoopFlow? = nil
    /// A program in the foreground was ended by Ctrl-C (SIGINT): the rest of the command line is dropped.
    static var interrupted = false
    /// Loops being run (break and continue outside one are errors).
    static var loopDepth = 0
    /// Whether the commands still to run are to be skipped.
    static var stopping: Bool { exitRequested != nil || flow != nil || interrupted }

    /// Parses `text` (one or more lines, complete) and runs it; the last status.
    static func runText(_ text: String) -> Int32 {
        let lists: [ShellAndOr]
        do throws(ShellSyntaxError) { lists = try ShellSyntax.parse(text) } catch {
            eprint("sh: \(error.message)")
            status = 2
            return status
        }
        interrupted = false
        run(lists)
        flow = nil
        return status
    }

    /// Runs a script file: each complete command as soon as its lines are read (a command that does not
    /// parse is reported and skipped). Ctrl-C of a program it runs ends it (130).
    static func runScript(_ path: String) -> Int32 {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            eprint("sh: \(path): \(strerror(errno))")
            return 127
        }
        var bytes: [UInt8] = []
        while let chunk = read(fd, count: IPCBuffer.maxBytes), !chunk.isEmpty { bytes += chunk }
        _ = close(fd)
        var pending = ""
        var lineNumber = 0
        let lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
        for (k, line) in lines.enumerated() {
            lineNumber += 1
            pending += (pending.isEmpty ? "" : "\n") + String(decoding: line, as: UTF8.self)
            do throws(ShellSyntaxError) {
                let lists = try ShellSyntax.parse(pending)
                pending = ""
                run(lists)
                flow = nil
                if let code = exitRequested { return code }
                if interrupted { return status }
            } catch {
                if error.needsMore && k + 1 < lines.count { continue }
                eprint("sh: \(path): line \(lineNumber): \(error.message)")
                pending = ""
                status = 2
            }
        }
        return status
    }

    /// The prompt: the working directory and `$ `.
    static var prompt: String { getcwd() + " $ " }
    /// The prompt of a continued command.
    static let continuationPrompt = "> "
    /// Reading commands at a terminal's prompt (background jobs are announced and reported).
    static var interactiveSession = false
    /// Ctrl-C at a `> ` prompt: the command being continued is dropped.
    static var cancelled = false

    /// Reads and runs commands from descriptor 0 until its end or `exit`; a command that needs more lines
    /// (`if …` without `fi`) reads them, after a `> ` prompt on a terminal.
    static func interactive() -> Int32 {
        let terminal = isatty(STDIN_FILENO)
        interactiveSession = terminal
        if terminal {
            showMessageOfTheDay()
            // One kernel log line when the first prompt is about to show (make bench's boot.prompt.insn:
            // under -icount the TSC counts instructions from reset).
            let line = Array("sh: first prompt at TSC \(read_tsc())\n".utf8)
            line.withUnsafeBytes { _ = try? debugLog($0) }
        }
        var pending: String? = nil
        while exitRequested == nil {
            if terminal && pending == nil { reportJobs() }
            let line: String
            if terminal {
                guard let l = editLine(prompt: pending == nil ? prompt : continuationPrompt) else {
                    if pending != nil { eprint("sh: syntax error: unexpected end of file"); pending = nil; status = 2; continue }
                    break
                }
                line = l
                if cancelled {
                    cancelled = false
                    pending = nil
                    continue
                }
            } else {
                guard let l = readLine() else {
                    if pending != nil { eprint("sh: syntax error: unexpected end of file"); status = 2 }
                    break
                }
                line = l
            }
            let text = pending.map { $0 + "\n" + line } ?? line
            do throws(ShellSyntaxError) {
                let lists = try ShellSyntax.parse(text)
                pending = nil
                interrupted = false
                run(lists)
                flow = nil
            } catch {
                if error.needsMore { pending = text; continue }
                pending = nil
                eprint("sh: \(error.message)")
                status = 2
            }
        }
        if terminal && exitRequested == nil { write(STDOUT_FILENO, "exit\r\n") }
        return exitRequested ?? status
    }

    /// An interactive shell first shows initfs:///etc/motd (when there is one), as a login would.
    static func showMessageOfTheDay() {
        let fd = open("initfs:///etc/motd", O_RDONLY)
        guard fd >= 0 else { return }
        defer { _ = close(fd) }
        while let bytes = read(fd, count: IPCBuffer.maxBytes), !bytes.isEmpty { write(STDOUT_FILENO, bytes) }
    }

    /// One line from the terminal, edited in raw mode; nil at the end of input.
    static func editLine(prompt: String) -> String? {
        Output.flush()
        let saved = tcgetmode(STDIN_FILENO)
        tcsetmode(STDIN_FILENO, .raw)
        defer { tcsetmode(STDIN_FILENO, saved >= 0 ? TerminalMode(rawValue: UInt64(saved)) : .cooked) }
        write(STDOUT_FILENO, editor.begin(prompt: prompt))
        while true {
            guard let bytes = read(STDIN_FILENO, count: 64), !bytes.isEmpty else { return nil }
            var echo: [UInt8] = []
            for b in bytes {
                let (event, out) = editor.feed(b)
                echo += out
                switch event {
                case .editing: continue
                case .line(let text):
                    write(STDOUT_FILENO, echo)
                    editor.remember(text)
                    return text
                case .interrupt:
                    // Ctrl-C drops the line (and a command being continued: its `> ` lines).
                    if prompt == continuationPrompt {
                        write(STDOUT_FILENO, echo)
                        status = 130
                        cancelled = true
                        return ""
                    }
                    echo += editor.begin(prompt: prompt)
                    status = 130
                case .endOfInput:
                    write(STDOUT_FILENO, echo + [13, 10])
                    return nil
                }
            }
            write(STDOUT_FILENO, echo)
        }
    }

    /// A parameter's value: `?`, `$`, `#`, `0`-`9`, or an environment variable.
    static func lookup(_ name: String) -> String? {
        switch name {
        case "?": return String(status)
        case "$": return String(getpid())
        case "!": return lastBackground > 0 ? String(lastBackground) : ""
        case "#": return String(positional.count)
        case "@", "*": return positional.joined(separator: " ")
        case "0": return "sh"
        default:
            if let n = Int(name), n >= 1 { return n <= positional.count ? positional[n - 1] : "" }
            return getenv(name)
        }
    }
}
