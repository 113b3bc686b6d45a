// utilstest (`utilstest` on the kernel command line; init runs it and its exit ends the run): starts
// bin/coreutils under each utility's name, with its standard input, output and error on files of this
// program's own file server (FileServer.swift: the file protocol over a TmpFS, given as `import:vfs`),
// and checks what each wrote and its exit status. `ls initfs:///bin` runs against initfsd itself (no vfs
// import) and must list every utility's link. Prints `utilstest: N passed, M failed`.

let programName: StaticString = "utilstest"

enum Suite {
    static var passed = 0
    static var failed = 0
    static var image: Handle = .invalid
    static var runs = 0
    static var startup: Startup! = nil
}

/// What a utility did: its exit status, standard output and standard error.
struct Outcome {
    var status: UInt64
    var out: String
    var err: String
}

/// Whether `text` holds `part` (bytewise: Embedded Swift's String has no contains(String)).
func has(_ text: String, _ part: String) -> Bool {
    let t = Array(text.utf8), p = Array(part.utf8)
    guard p.count <= t.count else { return false }
    if p.isEmpty { return true }
    for i in 0...(t.count - p.count) where t[i..<(i + p.count)].elementsEqual(p) { return true }
    return false
}

func check(_ condition: Bool, _ what: String, _ o: Outcome? = nil) {
    if condition { Suite.passed += 1; return }
    Suite.failed += 1
    var line = "utilstest: FAIL " + what
    if let o { line += " (status \(o.status), out '" + o.out + "', err '" + o.err + "')" }
    print(line)
}

/// Runs `line` (argv[0] first) with `input` as standard input and the working directory /w.
/// `initfsOnly`: the utility gets initfsd's Sender as `import:initfs` instead of this server as vfs.
func run(_ line: String, input: String = "", initfsOnly: Bool = false, time: Bool = false) -> Outcome {
    Suite.runs += 1
    let dir = "r\(Suite.runs)"
    try? TestFS.fs.mkdir([dir])
    TestFS.write([dir, "in"], Array(input.utf8))
    guard let i0 = try? TestFS.openForTest([dir, "in"], .read),
          let i1 = try? TestFS.openForTest([dir, "out"], [.write, .create]),
          let i2 = try? TestFS.openForTest([dir, "err"], [.write, .create]) else {
        return Outcome(status: 255, out: "", err: "utilstest: cannot open the descriptors' files")
    }
    defer {
        for id in [i0, i1, i2] { if let e = TestFS.open[id] { TestFS.fs.close(e.node); TestFS.open[id] = nil } }
    }
    do throws(SysError) {
        var grants: [(name: String, handle: Handle)] = []
        if initfsOnly {
            grants.append(("import:initfs", try handleDuplicate(Suite.startup.imported("initfs")!, rights: Rights.defaults(for: .sender))))
        } else {
            grants.append(("import:vfs", try senderCreate(TestFS.receiver, badge: UInt64(Suite.runs))))
        }
        if time, let t = Suite.startup.imported("time") {
            grants.append(("import:time", try handleDuplicate(t, rights: Rights.defaults(for: .sender))))
        }
        let d0 = try senderCreate(TestFS.receiver, badge: UInt64(Suite.runs))
        let d1 = try senderCreate(TestFS.receiver, badge: UInt64(Suite.runs))
        let d2 = try senderCreate(TestFS.receiver, badge: UInt64(Suite.runs))
        let child = try Spawn.start(image: Suite.image, name: "coreutils", commandLine: line, grants: grants,
                                    descriptors: [(0, d0, i0), (1, d1, i1), (2, d2, i2)], environment: ["PWD=/w"])
        let status = try child.wait()
        return Outcome(status: status, out: String(decoding: TestFS.contents([dir, "out"]), as: UTF8.self),
                       err: String(decoding: TestFS.contents([dir, "err"]), as: UTF8.self))
    } catch {
        return Outcome(status: 255, out: "", err: "utilstest: spawn failed: " + staticText(error.name))
    }
}

/// `line` run, its status and standard output as expected and standard error empty.
func expect(_ line: String, input: String = "", status: UInt64 = 0, out: String) {
    let o = run(line, input: input)
    check(o.status == status && o.out == out && o.err.isEmpty, "`" + line + "`", o)
}

/// `line` fails with `status` and exactly `err` on standard error.
func expectError(_ line: String, status: UInt64, err: String) {
    let o = run(line)
    check(o.status == status && o.err == err, "`" + line + "` fails", o)
}

func programMain(_ startup: Startup) -> Int32 {
    Suite.startup = startup
    guard let initfs = startup.imported("initfs"), let files = try? FileService(initfs),
          let image = try? files.readFile("initfs:///bin/coreutils"),
          let frame = try? frameCreate(size: (UInt64(image.count) + pageSize - 1) / pageSize * pageSize),
          (image.withUnsafeBytes { b in (try? frameWriteAll(frame, offset: 0, from: b)) != nil }) else {
        print("utilstest: cannot read initfs:///bin/coreutils")
        return 1
    }
    Suite.image = frame
    check((try? files.stat("initfs:///bin/ls").size) == UInt64(image.count), "bin/ls is a link to bin/coreutils")
    guard let receiver = try? receiverCreate() else { return 1 }
    TestFS.receiver = receiver
    guard (try? spawnThread(stackSize: 256 * 1024) { TestFS.serve() }) != nil else { return 1 }
    try? TestFS.fs.mkdir(["w"])
    TestFS.write(["w", "motd"], Array("Hello\nworld\nhello again\n".utf8))
    TestFS.write(["w", "abc"], Array("Hello, world\n".utf8))

    textTests()
    fileTests()
    systemTests()
    print("utilstest: \(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}

func textTests() {
    expect("echo hello  world", out: "hello world\n")
    expect("echo -n x", out: "x")
    expect("true", out: "")
    expect("false", status: 1, out: "")
    expect("cat /w/motd", out: "Hello\nworld\nhello again\n")
    expect("cat", input: "from stdin", out: "from stdin")
    expect("cat motd - abc", input: "--\n", out: "Hello\nworld\nhello again\n--\nHello, world\n")
    expect("wc /w/motd", out: " 3  4 24 /w/motd\n")
    expect("wc -l", input: "a\nb\nc\n", out: "3\n")
    expect("wc -w -c motd abc", out: " 4 24 motd\n 2 13 abc\n 6 37 total\n")
    expect("grep -i hello motd", out: "Hello\nhello again\n")
    expect("grep -c -v hello motd", out: "2\n")
    expect("grep -n world motd abc", out: "motd:2:world\nabc:1:Hello, world\n")
    expect("grep nope motd", status: 1, out: "")
    expect("head -n 1 motd", out: "Hello\n")
    expect("head -2", input: "1\n2\n3\n", out: "1\n2\n")
    expect("tail -n 2 motd", out: "world\nhello again\n")
    expect("tail -1", input: "1\n2\nlast", out: "last")
    expect("hexdump -C abc", out: "00000000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 0a           |Hello, world.|\n0000000d\n")
    expect("hexdump abc", out: "0000000 6548 6c6c 2c6f 7720 726f 646c 000a     \n000000d\n")
    expectError("cat /w/nope", status: 1, err: "cat: /w/nope: no such file or directory\n")
    expectError("grep", status: 2, err: "grep: usage: grep [-ivcnq] PATTERN [FILE...]\n")
    expectError("head -n x motd", status: 1, err: "head: invalid number of lines: 'x'\n")
}

func fileTests() {
    expect("mkdir -p /w/a/b/c", out: "")
    expect("mkdir -p /w/a/b", out: "")
    expectError("mkdir /w/a", status: 1, err: "mkdir: cannot create directory '/w/a': file exists\n")
    expect("ls /w/a", out: "b\n")
    expect("ls -a a/b", out: ".\n..\nc\n")
    expectError("ls /w/nope", status: 2, err: "ls: /w/nope: no such file or directory\n")
    expectError("ls -z", status: 2, err: "ls: invalid option -- 'z'\n")
    expect("cp /w/motd /w/a/b", out: "")
    check(TestFS.contents(["w", "a", "b", "motd"]) == Array("Hello\nworld\nhello again\n".utf8), "cp copied the bytes")
    expect("mv a/b/motd moved", out: "")
    check(TestFS.contents(["w", "moved"]).count == 24 && (try? TestFS.fs.lookup(["w", "a", "b", "motd"])) == nil, "mv moved the file")
    expect("ls a/b", out: "c\n")
    expect("cp -r a copy", out: "")
    expect("ls copy/b", out: "c\n")
    expectError("cp a other", status: 1, err: "cp: cannot copy 'a': is a directory\n")
    expectError("rm a", status: 1, err: "rm: cannot remove 'a': is a directory\n")
    expect("rm -r a copy moved", out: "")
    expect("rm -f nothing", out: "")
    expect("ls", out: "abc\nmotd\n")
    let long = run("ls -l /w/motd")
    check(long.status == 0 && long.out == "-rw-r--r-- 24                  /w/motd\n", "`ls -l /w/motd`", long)
    let longDir = run("ls -l")
    check(longDir.status == 0 && longDir.out == "-rw-r--r-- 13                  abc\n-rw-r--r-- 24                  motd\n", "`ls -l`", longDir)
    let s = run("stat motd")
    check(s.status == 0 && has(s.out, "  Size: 24\tType: regular file\n") && has(s.out, "Access: (0644/-rw-r--r--)"), "`stat motd`", s)
    let d = run("df /")
    check(d.status == 0 && d.out.hasPrefix("Filesystem      1K-blocks") && has(d.out, "       4096 "), "`df /`", d)
    let initfs = run("ls initfs:///bin", initfsOnly: true)
    var missing: [String] = []
    let listed = initfs.out.split(separator: "\n").map(String.init)
    for name in ["coreutils", "cat", "cp", "date", "df", "dmesg", "echo", "false", "free", "grep", "head", "hexdump", "kill",
                 "ls", "lspci", "mkdir", "mount", "mv", "ps", "rm", "sleep", "stat", "syscalls", "tail", "true", "uptime",
                 "wc", "yes"] where !listed.contains(name) { missing.append(name) }
    check(initfs.status == 0 && missing.isEmpty, "`ls initfs:///bin` lists every utility (missing: " + missing.joined(separator: " ") + ")", initfs)
    let motd = run("wc -l initfs:///etc/init.conf", initfsOnly: true)
    check(motd.status == 0 && motd.out.hasSuffix(" initfs:///etc/init.conf\n"), "`wc -l initfs:///etc/init.conf`", motd)
}

func systemTests() {
    let sys = run("syscalls")
    check(sys.status == 0 && has(sys.out, "sender_call ") && has(sys.out, "process_wait "), "`syscalls`", sys)
    let free = run("free")
    check(free.status == 0 && has(free.out, "\nMem: "), "`free`", free)
    let up = run("uptime")
    check(up.status == 0 && up.out.hasPrefix("up ") && up.out.hasSuffix("\n"), "`uptime`", up)
    let date = run("date", time: true)
    check(date.status == 0 && has(date.out, " UTC 20"), "`date`", date)
    let epoch = run("date +%s", time: true)
    check(epoch.status == 0 && (UtilityFormat.count(String(epoch.out.dropLast())) ?? 0) > 1_700_000_000, "`date +%s`", epoch)
    let start = Clock.now()
    expect("sleep 0.2", out: "")
    check(Clock.now() - start >= 200_000_000, "sleep 0.2 slept 200 ms")
    expectError("sleep x", status: 1, err: "sleep: invalid time interval 'x'\n")
    expectError("ps", status: 1, err: "ps: no `pm` service given to this program\n")
    expectError("kill", status: 1, err: "kill: missing operand\n")
    expectError("nosuch", status: 127, err: "nosuch: no such utility\n")
    expect("coreutils echo multi-call", out: "multi-call\n")
    // yes until its output file's server refuses more (the TmpFS's capacity): it stops with status 1.
    let y = run("yes ok")
    check(y.status == 1 && y.out.hasPrefix("ok\nok\nok\n") && y.out.utf8.count > 100_000, "`yes ok` until output fails",
          Outcome(status: y.status, out: String(y.out.prefix(12)), err: y.err))
}
