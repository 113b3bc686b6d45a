// sh's built-in commands: cd, pwd, exit, export, unset, env, help, echo, time, true, false, `:`, break,
// continue, test and [, umount, and (Jobs.swift) jobs, wait and kill. Each takes
// its arguments (the first is its name) and returns its status; output goes to descriptors 1 and 2.

typealias Builtin = ([String]) -> Int32

extension Shell {
    static func builtin(_ name: String) -> Builtin? {
        switch name {
        case "cd": return cd
        case "pwd": return { _ in print(getcwd()); return 0 }
        case "exit": return exitBuiltin
        case "export": return export
        case "unset": return { args in
            for name in args.dropFirst() where unsetenv(name) != 0 { eprint("unset: \(name): not a valid name"); return 1 }
            return 0
        }
        case "env": return { _ in for e in environ { print(e) }; return 0 }
        case "help": return help
        case "echo": return echo
        case "time": return time
        case "break", "continue": return loopControl
        case "jobs": return jobsBuiltin
        case "test", "[": return testBuiltin
        case "wait": return waitBuiltin
        case "kill": return killBuiltin
        case "umount": return umountBuiltin
        case "true", ":": return { _ in 0 }
        case "false": return { _ in 1 }
        default: return nil
        }
    }

    /// `time COMMAND [ARGUMENT...]`: runs the command, then writes its wall time and the TSC ticks it took
    /// to descriptor 2 (under QEMU's -icount the ticks are guest instructions: make bench's shell.spawn.insn).
    static func time(_ args: [String]) -> Int32 {
        guard args.count > 1 else { eprint("usage: time COMMAND [ARGUMENT...]"); return 2 }
        let (startTSC, start) = (read_tsc(), Clock.now())
        let command = Expanded(arguments: Array(args.dropFirst()), assignments: [], redirections: [])
        let status = builtin(args[1]) != nil ? runBuiltin(command)
            : waitForeground(spawnedOrStatus(command, PosixSpawnFileActions()), name: args[1])
        let (ticks, ns) = (read_tsc() &- startTSC, Clock.now() &- start)
        let micro = ns / 1000
        let fraction = String(micro % 1000)
        eprint("time: \(micro / 1000).\(String(repeating: "0", count: 3 - fraction.count) + fraction) ms, \(ticks) TSC ticks, status \(status)")
        return status
    }

    /// `break [N]`, `continue [N]`: leave (or go on with the next round of) the N innermost loops.
    static func loopControl(_ args: [String]) -> Int32 {
        let n = args.count > 1 ? Int(args[1]) ?? 0 : 1
        guard n >= 1 else {
            eprint("\(args[0]): \(args[1]): loop count out of range")
            return 1
        }
        guard loopDepth > 0 else {
            eprint("\(args[0]): only meaningful in a `for', `while', or `until' loop")
            return 0
        }
        flow = args[0] == "break" ? .breaking(min(n, loopDepth)) : .continuing(min(n, loopDepth))
        return 0
    }

    /// `test EXPR`, `[ EXPR ]` (Sources/Formats/ShellTestCommand.swift; files through stat).
    static func testBuiltin(_ args: [String]) -> Int32 {
        var words = Array(args.dropFirst())
        if args[0] == "[" {
            guard words.last == "]" else {
                eprint("[: missing `]'")
                return 2
            }
            words.removeLast()
        }
        let (result, message) = ShellTestCommand.evaluate(words) { path in
            var st = Stat()
            guard stat(path, &st) == 0 else { return nil }
            return st.isDirectory ? .directory : .file
        }
        if let message { eprint("\(args[0]): \(message)") }
        return result
    }

    static func cd(_ args: [String]) -> Int32 {
        guard args.count <= 2 else { eprint("cd: too many arguments"); return 1 }
        var target = args.count == 2 ? args[1] : (getenv("HOME") ?? "/")
        if target == "-" {
            guard let old = getenv("OLDPWD") else { eprint("cd: OLDPWD not set"); return 1 }
            target = old
            print(old)
        }
        let before = getcwd()
        guard chdir(target) == 0 else {
            eprint("cd: \(target): \(strerror(errno))")
            return 1
        }
        _ = setenv("OLDPWD", before, 1)
        return 0
    }

    static func exitBuiltin(_ args: [String]) -> Int32 {
        var code = status
        if args.count >= 2 {
            guard let n = Int32(args[1]) else {
                eprint("exit: \(args[1]): a number is needed")
                exitRequested = 2
                return 2
            }
            code = n & 0xff
        }
        exitRequested = code
        return code
    }

    static func export(_ args: [String]) -> Int32 {
        if args.count == 1 {
            for e in environ { print("export " + e) }
            return 0
        }
        var result: Int32 = 0
        for a in args.dropFirst() {
            let parts = a.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = parts.count == 2 ? String(parts[1]) : (getenv(name) ?? "")
            if setenv(name, value, 1) != 0 {
                eprint("export: \(a): not a valid name")
                result = 1
            }
        }
        return result
    }

    static func echo(_ args: [String]) -> Int32 {
        var words = Array(args.dropFirst())
        var newline = true
        if words.first == "-n" {
            newline = false
            words.removeFirst()
        }
        let text = words.joined(separator: " ")
        if newline { print(text) } else { print(text, terminator: "") }
        return 0
    }

    /// `umount POINT...`: vfs's `unmount` through the shell's own connection (init gives the console's
    /// shell an administrative one; any other gets "permission denied"). A built-in because the right
    /// is the shell's connection, which programs it starts do not get.
    static func umountBuiltin(_ args: [String]) -> Int32 {
        guard args.count > 1 else { eprint("usage: umount POINT..."); return 2 }
        var status: Int32 = 0
        for point in args.dropFirst() {
            let abs = Posix.absolute(point)
            if abs == "/" || abs == "fs:///" || abs == "fs://" || abs == "initfs:///" || abs == "initfs://" {
                eprint("umount: \(point): the root file systems (/ and initfs:///) cannot be unmounted")
                status = 1
                continue
            }
            guard umount(abs) == 0 else {
                let why: String
                switch errno {
                case ENOENT: why = "not mounted"
                case EBUSY: why = "target is busy (files are open under it)"
                case EACCES: why = "permission denied (this shell's connection to vfs is not an administrative one)"
                default: why = strerror(errno)
                }
                eprint("umount: \(point): " + why)
                status = 1
                continue
            }
        }
        return status
    }

    static func help(_ args: [String]) -> Int32 {
        print("""
        sh: the shell. Commands: NAME ARGS..., looked up in PATH (\(getenv("PATH") ?? "initfs:///bin")).
          a; b   a && b   a || b   a | b   < FILE   > FILE   >> FILE   2> FILE   2>&1
          a &   ! a   { a; b; }   $(a)   `a`   *  ?  [a-z]  [!a]  (globbing)
          if a; then b; elif c; then d; else e; fi   while a; do b; done   until a; do b; done
          for NAME in WORDS; do a; done
          'quoted'  "with $VAR"  \\x   $?  $$  $!  $#  $1  $NAME  ${NAME}  NAME=value [command]
        Built-ins: cd [DIR|-], pwd, exit [N], export [NAME[=VALUE]...], unset NAME, env, help, echo [-n], time COMMAND, true, false,
          break [N], continue [N], test EXPR, [ EXPR ], jobs, wait [PID|%N]..., kill [-SIGNAL] PID|%N..., umount POINT...
        Keys: left/right, home/end, backspace, delete, up/down (history), Ctrl-U, Ctrl-K, Ctrl-C, Ctrl-D
        """)
        return 0
    }
}
