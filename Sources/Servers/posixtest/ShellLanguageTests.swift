// sh's language through `sh -c` with its output on pipes: control flow, syntax errors, command
// substitution (and its status), field splitting on IFS, globbing over a tmpfs directory, background
// jobs and the statuses signals give.

let shellLanguageTests: [(String, () -> Void)] = [
    ("sh.control_flow", testShellControlFlow),
    ("sh.substitution_splitting", testShellSubstitution),
    ("sh.globbing", testShellGlobbing),
    ("sh.jobs_signals", testShellJobs),
]

func testShellControlFlow() {
    expectShell("if false; then echo a; elif true; then echo b; else echo c; fi", out: "b\n")
    expectShell("if false; then echo a; fi; echo $?", out: "0\n")
    expectShell("for i in 1 2 3; do echo $i; done | posixchild cat", out: "1\n2\n3\n")
    expectShell("i=; while [ \"$i\" != aaa ]; do i=a$i; done; echo $i", out: "aaa\n")
    expectShell("until false; do break; done; echo $?", out: "0\n")
    expectShell("for a in 1 2; do for b in x y; do [ $b = y ] && continue 2; echo $a$b; done; done", out: "1x\n2x\n")
    expectShell("for a in 1 2; do for b in x y; do break 2; done; done; echo out $a$b", out: "out 1x\n")
    expectShell("! true; echo $?; ! false; echo $?", out: "1\n0\n")
    expectShell("{ echo a; posixchild echo b; } | posixchild cat", out: "a\nb\n")
    expectShell("set_nothing=1; for x; do echo never; done; echo done", out: "done\n")
    expectShell("if true; then", out: "", err: "sh: syntax error: unexpected end of file\n", status: 2)
    expectShell("fi", out: "", err: "sh: syntax error near unexpected `fi`\n", status: 2)
    expectShell("[ 1 -lt 2 ] && test -n x && [ ! a = b ]; echo $?; [ x -eq 1 ]", out: "0\n",
                err: "[: integer expression expected: x\n", status: 2)
}

func testShellSubstitution() {
    expectShell("echo $(echo a; echo b) `echo c`", out: "a b c\n")
    expectShell("echo \"$(echo a; echo b)\"", out: "a\nb\n")
    expectShell("x=$(posixchild exit 3); echo $? [$x]", out: "3 []\n")
    expectShell("echo $(echo $(echo nested))", out: "nested\n")
    expectShell("X='a  b'; posixchild args $X \"$X\"", out: "[a]\n[b]\n[a  b]\n")
    expectShell("E=; posixchild args $E \"$E\" x", out: "[]\n[x]\n")
    expectShell("IFS=:; X=a:b::c; posixchild args $X", out: "[a]\n[b]\n[]\n[c]\n")
}

func testShellGlobbing() {
    guard Posix.vfs != .invalid else { return }
    check(mkdir("/globtest") == 0, "mkdir /globtest")
    for name in ["b.txt", "a.txt", ".hidden", "c.md"] { _ = close(creat("/globtest/" + name)) }
    expectShell("cd /globtest && echo *.txt; echo *; echo .*; echo z* '*'", out: "a.txt b.txt\na.txt b.txt c.md\n.hidden\nz* *\n")
    expectShell("echo /globtest/?.md /globtest/[ab].* /globtest/[!ab]*", out: "/globtest/c.md /globtest/a.txt /globtest/b.txt /globtest/c.md\n")
    expectShell("P='/globtest/*.md'; echo $P \"$P\"", out: "/globtest/c.md /globtest/*.md\n")
    expectShell("for f in initfs:///bin/posixc*; do echo $f; done", out: "initfs:///bin/posixchild\n")
}

func testShellJobs() {
    // Not on a terminal: no `[N] PID` lines.
    expectShell("posixchild exit 7 & wait $!; echo $?", out: "7\n")
    expectShell("posixchild block & kill $!; wait $!; echo $?", out: "143\n")
    expectShell("posixchild block & kill -INT $!; wait %1; echo $?", out: "130\n")
    expectShell("posixchild block & kill -s KILL $!; wait; echo $?; jobs", out: "0\n")
    expectShell("{ posixchild exit 4; } & wait $!; echo $?", out: "4\n")
    expectShell("wait 99999; echo $?", out: "127\n", err: "wait: pid 99999 is not a child of this shell\n")
}
