// Files, directories, paths, descriptors and pipes through the POSIX layer: initfs:// (read-only, through
// initfsd or vfs) always, fs:// (tmpfs through vfs) when this process has `import:vfs`.

let fileTests: [(String, () -> Void)] = [
    ("posix.open_read_lseek_stat", testOpenReadSeekStat),
    ("posix.file_errors", testFileErrors),
    ("posix.directories", testDirectories),
    ("posix.paths_and_cwd", testPathsAndCwd),
    ("posix.dup_dup2", testDup),
    ("posix.pipe", testPipe),
    ("posix.pipe_blocks_and_ends", testPipeBlocking),
    ("posix.fs_write_mkdir_rename_unlink", testWritableFiles),
]

func testOpenReadSeekStat() {
    let fd = open(conf, O_RDONLY)
    guard fd >= 0 else { check(false, "open \(conf): \(strerror(errno))"); return }
    defer { _ = close(fd) }
    guard let all = readAll(fd) else { check(false, "read: \(strerror(errno))"); return }
    check(has(text(all), "posixtest"), "init.conf holds the posixtest line")
    var st = Stat()
    check(fstat(fd, &st) == 0 && st.size == Int64(all.count) && !st.isDirectory, "fstat size \(st.size) of \(all.count)")
    var byPath = Stat()
    check(stat(conf, &byPath) == 0 && byPath.size == st.size, "stat by path: \(byPath.size)")
    check(lseek(fd, 0, SEEK_END) == Int64(all.count), "SEEK_END gives the size")
    check(read(fd, count: 10) == [], "a read at the end returns nothing")
    check(lseek(fd, 2, SEEK_SET) == 2, "SEEK_SET 2")
    check(read(fd, count: 5).map { $0 == Array(all[2..<7]) } == true, "bytes 2..<7")
    check(lseek(fd, -3, SEEK_CUR) == 4, "SEEK_CUR -3")
    var buffer = [UInt8](repeating: 0, count: 3)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0) }
    check(n == 3 && buffer == Array(all[4..<7]), "read into a buffer")
    checkErrno(Int(lseek(fd, -100, SEEK_SET)), EINVAL, "a seek before the start")
    var dir = Stat()
    check(stat("initfs:///etc", &dir) == 0 && dir.isDirectory, "initfs:///etc is a directory")
}

func testFileErrors() {
    checkErrno(Int(open("initfs:///etc/nosuch", O_RDONLY)), ENOENT, "open a missing file")
    checkErrno(Int(open("initfs:///etc", O_RDONLY)), EISDIR, "open a directory without O_DIRECTORY")
    checkErrno(Int(open(conf, 3)), EINVAL, "open with a bad access mode")
    checkErrno(Int(open(conf, O_WRONLY)), EROFS, "open initfs for writing")
    checkErrno(Int(mkdir("initfs:///newdir")), EROFS, "mkdir on initfs")
    checkErrno(Int(unlink(conf)), EROFS, "unlink on initfs")
    checkErrno(read(99, count: 1) == nil ? -1 : 0, EBADF, "read a descriptor never opened")
    checkErrno(write(-1, [1]), EBADF, "write to -1")
    let fd = open(conf, O_RDONLY)
    check(fd >= 0, "open")
    checkErrno(write(fd, [1, 2]), EBADF, "write to a file opened read-only")
    check(close(fd) == 0, "close")
    checkErrno(Int(close(fd)), EBADF, "close twice")
    checkErrno(Int(lseek(fd, 0, SEEK_SET)), EBADF, "lseek a closed descriptor")
    var st = Stat()
    checkErrno(Int(fstat(fd, &st)), EBADF, "fstat a closed descriptor")
    checkErrno(Int(stat("initfs:///nosuch/x", &st)), ENOENT, "stat a missing path")
}

func testDirectories() {
    guard let dir = opendir("initfs:///bin") else { check(false, "opendir: \(strerror(errno))"); return }
    var names: [String] = []
    var sawDirectory = false
    while let e = readdir(dir) {
        names.append(e.name)
        if e.isDirectory { sawDirectory = true }
        if e.name == "posixchild" { check(e.size > 1000, "posixchild's size in its entry: \(e.size)") }
    }
    check(closedir(dir) == 0, "closedir")
    for n in ["sh", "posixtest", "posixchild"] { check(names.contains(n), "initfs:///bin lists \(n): \(names)") }
    check(!sawDirectory, "bin/ holds files only")
    guard let root = opendir("initfs:///") else { check(false, "opendir /: \(strerror(errno))"); return }
    var top: [Dirent] = []
    while let e = readdir(root) { top.append(e) }
    _ = closedir(root)
    check(top.contains { $0.name == "etc" && $0.isDirectory }, "the root lists etc/ as a directory")
    check(opendir(conf) == nil && errno == ENOTDIR, "opendir on a file: errno \(errno)")
}

func testPathsAndCwd() {
    let start = getcwd()
    defer { Posix.cwd = start }
    check(Posix.absolute("initfs:///a/./b/../c//d") == "initfs:///a/c/d", "normalize: \(Posix.absolute("initfs:///a/./b/../c//d"))")
    check(Posix.absolute("fs:///x/..") == "/", "fs:// shown bare")
    check(Posix.absolute("/../..") == "/", "never above the root")
    check(chdir("initfs:///etc") == 0, "chdir initfs:///etc: \(strerror(errno))")
    check(getcwd() == "initfs:///etc" && getenv("PWD") == "initfs:///etc", "cwd \(getcwd()), PWD \(getenv("PWD") ?? "-")")
    check(Posix.absolute("init.conf") == "initfs:///etc/init.conf", "relative: \(Posix.absolute("init.conf"))")
    let fd = open("init.conf", O_RDONLY)
    check(fd >= 0, "open relative to the cwd: \(strerror(errno))")
    if fd >= 0 { _ = close(fd) }
    check(chdir("../bin") == 0 && getcwd() == "initfs:///bin", "chdir ../bin: \(getcwd())")
    checkErrno(Int(chdir("initfs:///etc/init.conf")), ENOTDIR, "chdir to a file")
    checkErrno(Int(chdir("initfs:///nosuch")), ENOENT, "chdir to nothing")
    check(getcwd() == "initfs:///bin", "a failed chdir leaves the cwd: \(getcwd())")
    let r = capture([child, "pwd"])
    check(r.out == "initfs:///bin\n", "a child starts in the parent's cwd: \(r.out) \(r.err)")
}

func testDup() {
    let fd = open(conf, O_RDONLY)
    guard fd >= 0 else { check(false, "open"); return }
    let copy = dup(fd)
    check(copy >= 0 && copy != fd, "dup gives a new descriptor: \(copy)")
    let first = read(fd, count: 4) ?? []
    let second = read(copy, count: 4) ?? []
    check(first.count == 4 && second.count == 4 && first != second, "dup shares the position")
    check(dup2(fd, 20) == 20, "dup2 to 20")
    check(close(fd) == 0 && close(copy) == 0, "close the first two")
    check(read(20, count: 4)?.count == 4, "the file stays open through 20")
    let other = open(conf, O_RDONLY)
    check(dup2(other, 20) == 20 && lseek(20, 0, SEEK_CUR) == 0, "dup2 over an open descriptor replaces it")
    check(dup2(20, 20) == 20, "dup2 onto itself")
    checkErrno(Int(dup2(55, 21)), EBADF, "dup2 of a closed descriptor")
    checkErrno(Int(dup(-3)), EBADF, "dup of -3")
    _ = close(20)
    _ = close(other)
}

func testPipe() {
    var p: (Int32, Int32) = (-1, -1)
    guard pipe(&p) == 0 else { check(false, "pipe: \(strerror(errno))"); return }
    check(write(p.1, "hello") == 5, "write 5 bytes")
    var st = Stat()
    check(fstat(p.0, &st) == 0 && st.size == 5, "fstat says 5 bytes buffered: \(st.size)")
    check(text(read(p.0, count: 100)) == "hello", "read them back")
    checkErrno(Int(lseek(p.0, 0, SEEK_SET)), ESPIPE, "lseek on a pipe")
    checkErrno(write(p.0, [1]), EBADF, "write to the read end")
    check(read(p.1, count: 1) == nil && errno == EBADF, "read from the write end")
    _ = write(p.1, "tail")
    check(close(p.1) == 0, "close the write end")
    check(text(read(p.0, count: 100)) == "tail", "what was written before the close is still read")
    check(read(p.0, count: 100) == [], "then the end of the pipe")
    var q: (Int32, Int32) = (-1, -1)
    guard pipe(&q) == 0 else { check(false, "second pipe"); return }
    _ = close(q.0)
    checkErrno(write(q.1, [1]), EPIPE, "write with no reader")
    _ = close(q.1)
    _ = close(p.0)
}

func testPipeBlocking() {
    // 200,000 bytes, three times what a pipe holds: the child waits for room as the parent reads.
    let r = capture([child, "bytes", "200000"])
    let bytes = Array(r.out.utf8)
    check(r.status == 0 && bytes.count == 200_000 && bytes.enumerated().allSatisfy { $0.element == UInt8(48 + $0.offset % 10) },
          "200,000 bytes through a pipe: \(bytes.count) bytes, status \(r.status), \(r.err)")
    let lines = capture([child, "count", "300"]).out.split(separator: "\n")
    check(lines.count == 300 && lines.last == "300", "300 printed lines: \(lines.count)")
    // yes ends when its reader does (its write fails: status 141, 128 + SIGPIPE).
    var p: (Int32, Int32) = (-1, -1)
    guard pipe(&p) == 0 else { check(false, "pipe"); return }
    var actions = PosixSpawnFileActions()
    actions.addClose(p.0)          // (p.0 may be descriptor 0, which the child would get)
    actions.addDup2(p.1, 1)
    var pid: Int32 = 0
    check(posix_spawn(&pid, child, actions, [child, "yes"]) == 0, "spawn yes")
    _ = close(p.1)
    check(text(read(p.0, count: 4)) == "y\ny\n", "yes writes")
    _ = close(p.0)
    var status: Int32 = 0
    check(waitpid(pid, &status) == pid && exitStatus(status) == 141, "yes ends with 141: \(exitStatus(status))")
}

func testWritableFiles() {
    guard Posix.vfs != .invalid else { Suite.skip = "no vfs (import:vfs): fs:// is not served"; return }
    _ = mkdir("/posixtest")
    let path = "/posixtest/a.txt"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC)
    guard fd >= 0 else { check(false, "create \(path): \(strerror(errno))"); return }
    check(write(fd, "hello, world") == 12, "write")
    check(lseek(fd, 7, SEEK_SET) == 7 && text(read(fd, count: 5)) == "world", "seek and read back")
    _ = close(fd)
    let append = open(path, O_WRONLY | O_APPEND)
    check(write(append, "!") == 1, "append")
    _ = close(append)
    var st = Stat()
    check(stat(path, &st) == 0 && st.size == 13, "size after append: \(st.size)")
    checkErrno(Int(open(path, O_WRONLY | O_CREAT | O_EXCL)), EEXIST, "O_EXCL on an existing file")
    check(mkdir("/posixtest/d") == 0, "mkdir: \(strerror(errno))")
    checkErrno(Int(mkdir("/posixtest/d")), EEXIST, "mkdir twice")
    check(rename(path, "/posixtest/d/b.txt") == 0, "rename into the directory: \(strerror(errno))")
    checkErrno(Int(stat(path, &st)), ENOENT, "the old name is gone")
    checkErrno(Int(rmdir("/posixtest/d")), ENOTEMPTY, "rmdir a full directory")
    check(unlink("/posixtest/d/b.txt") == 0 && rmdir("/posixtest/d") == 0 && rmdir("/posixtest") == 0, "unlink and rmdir")
    checkErrno(Int(rename("/x", "initfs:///y")), EXDEV, "rename across schemes")
}
