// sh scripts with their output checked: `sh -c` and `sh FILE`, with descriptors 1 and 2 on pipes.

let shellTests: [(String, () -> Void)] = [
    ("sh.echo_quoting_variables", testShellWords),
    ("sh.status_and_or", testShellStatus),
    ("sh.pipelines", testShellPipelines),
    ("sh.redirections", testShellRedirections),
    ("sh.builtins", testShellBuiltins),
    ("sh.not_found_and_errors", testShellErrors),
    ("sh.script_file", testShellScript),
]

func expectShell(_ command: String, out: String, err: String = "", status: Int32 = 0, env: [String]? = nil) {
    let r = sh(command, env: env)
    check(r.out == out && r.err == err && r.status == status,
          "`\(command)`: out \(r.out.debugText) err \(r.err.debugText) status \(r.status); expected \(out.debugText) \(err.debugText) \(status)")
}

extension String {
    /// The text with newlines shown as \n, in quotes.
    var debugText: String { "\"" + split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n") + "\"" }
}

func testShellWords() {
    expectShell("echo hello   world", out: "hello world\n")
    expectShell("echo 'a  b' \"c $X\" \\$X ${X}y $NOPE.", out: "a  b c 1 $X 1y .\n", env: ["X=1", "PATH=initfs:///bin"])
    expectShell("echo -n no newline; echo", out: "no newline\n")
    expectShell("posixchild args \"two words\" '' x", out: "[two words]\n[]\n[x]\n")
    expectShell("A=5; echo $A; B=6 posixchild env B; echo ${B}x", out: "5\n6\nx\n")
}

func testShellStatus() {
    expectShell("false; echo $?", out: "1\n")
    expectShell("true && echo yes || echo no", out: "yes\n")
    expectShell("false && echo yes || echo no", out: "no\n")
    expectShell("posixchild exit 3 || echo failed $?", out: "failed 3\n")
    expectShell("posixchild exit 4", out: "", status: 4)
    expectShell("exit 5; echo not here", out: "", status: 5)
    expectShell("posixchild fault; echo $?", out: "139\n", err: "sh: posixchild: ended by a fault (signal 11)\n")
}

func testShellPipelines() {
    expectShell("posixchild echo a b | posixchild cat", out: "a b\n")
    expectShell("posixchild count 3 | posixchild cat | posixchild cat", out: "1\n2\n3\n")
    expectShell("echo from a built-in | posixchild cat", out: "from a built-in\n")
    expectShell("posixchild count 2 | posixchild exit 6; echo $?", out: "6\n")
    // yes ends when its reader is gone: the pipeline's status is the reader's.
    expectShell("posixchild yes | posixchild exit 0; echo done", out: "done\n")
}

func testShellRedirections() {
    let fd = open(conf, O_RDONLY)
    let file = text(readAll(fd))
    _ = close(fd)
    expectShell("posixchild cat < \(conf)", out: file)
    expectShell("posixchild stderr oops 2>&1", out: "oops\n")
    expectShell("posixchild stderr oops", out: "", err: "oops\n")
    expectShell("echo x >&2", out: "", err: "x\n")
    expectShell("echo x 2>&1 >&2", out: "x\n")
    if Posix.vfs != .invalid {
        expectShell("echo one > /sh-test; echo two >> /sh-test; posixchild cat < /sh-test", out: "one\ntwo\n")
    }
    expectShell("posixchild cat < initfs:///nosuch; echo $?", out: "1\n", err: "sh: initfs:///nosuch: no such file or directory\n")
}

func testShellBuiltins() {
    expectShell("cd initfs:///etc && pwd && cd ../bin && pwd", out: "initfs:///etc\ninitfs:///bin\n")
    expectShell("cd initfs:///etc; posixchild pwd", out: "initfs:///etc\n")
    expectShell("cd initfs:///nosuch", out: "", err: "cd: initfs:///nosuch: no such file or directory\n", status: 1)
    expectShell("export K=v; posixchild env K; unset K; posixchild env K", out: "v\nunset\n")
    expectShell("env", out: "PATH=initfs:///bin\nONLY=1\nPWD=/\n", env: ["PATH=initfs:///bin", "ONLY=1"])
    let help = sh("help")
    check(help.status == 0 && has(help.out, "Built-ins: cd"), "help: \(help.out)")
}

func testShellErrors() {
    expectShell("nosuchcommand; echo $?", out: "127\n", err: "sh: nosuchcommand: command not found\n")
    expectShell("initfs:///etc/init.conf", out: "", err: "sh: initfs:///etc/init.conf: exec format error\n", status: 126)
    expectShell("echo 'open", out: "", err: "sh: unterminated quote\n", status: 2)
    expectShell("echo a | | b", out: "", err: "sh: syntax error near unexpected `|`\n", status: 2)
}

func testShellScript() {
    let r = capture(["initfs:///bin/sh", "initfs:///etc/posixtest.sh", "first arg"])
    check(r.out == "script: first arg (1)\nline 3\n" && r.err.isEmpty && r.status == 4,
          "sh FILE: out \(r.out.debugText) err \(r.err.debugText) status \(r.status)")
}
