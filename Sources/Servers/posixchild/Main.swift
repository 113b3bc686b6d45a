// posixchild: the program posixtest and its sh scripts start (initfs:///bin/posixchild), written with the
// POSIX layer alone. Its first argument says what to do:
//   echo ARGS...   print the arguments joined by spaces     args ARGS...  print each as [ARG] on a line
//   cat            copy descriptor 0 to 1 until its end     count N       print 1 to N, one a line
//   exit N         exit with N                              stderr TEXT   write TEXT and a newline to 2
//   env NAME       print NAME's value (or `unset`)          pwd           print the working directory
//   pid            print `PID PPID`                         block         sleep until killed
//   yes            print `y` lines until the write fails    fault         write to an unmapped address
//   fds            print which of descriptors 0-4 are open (e.g. `01-3-`)
//   bytes N        write N bytes (`0123456789` repeated) to 1 in writes of 4,000 bytes
// `yes` writes 2,000 lines per write (as a C program's buffered stdout would), exit 141 when it fails.

let programName: StaticString = "posixchild"

func programMain(_ startup: Startup) -> Int32 {
    let args = Array(argv.dropFirst())
    guard let what = args.first else { return 2 }
    let rest = Array(args.dropFirst())
    switch what {
    case "echo": print(rest.joined(separator: " "))
    case "args": for a in rest { print("[\(a)]") }
    case "cat":
        while true {
            guard let bytes = read(STDIN_FILENO, count: IPCBuffer.maxBytes) else {
                eprint("posixchild: read: \(strerror(errno))")
                return 1
            }
            if bytes.isEmpty { break }
            guard write(STDOUT_FILENO, bytes) == bytes.count else { return 1 }
        }
    case "count":
        for i in 1...max(1, Int(rest.first ?? "") ?? 1) { print(i) }
    case "exit": return Int32(rest.first ?? "") ?? 2
    case "stderr": eprint(rest.joined(separator: " "))
    case "env": print(getenv(rest.first ?? "") ?? "unset")
    case "pwd": print(getcwd())
    case "pid": print("\(getpid()) \(getppid())")
    case "block": while true { _ = nanosleep(timespec(tv_sec: 1)) }
    case "yes":
        let chunk = [UInt8](repeating: 0, count: 4000).enumerated().map { $0.offset % 2 == 0 ? UInt8(ascii: "y") : 10 }
        while write(STDOUT_FILENO, chunk) > 0 {}
        return errno == EPIPE ? 141 : 1
    case "bytes":
        var left = Int(rest.first ?? "") ?? 0
        var at = 0
        while left > 0 {
            let n = min(left, 4000)
            let chunk = (0..<n).map { UInt8(48 + (at + $0) % 10) }
            guard write(STDOUT_FILENO, chunk) == n else { return 1 }
            left -= n
            at += n
        }
    case "fault":
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x0000_0bad_0000_0000))!.pointee = 1
        return 3
    case "fds": print(String(decoding: (0..<5).map { Posix.isOpen(Int32($0)) ? UInt8(48 + $0) : UInt8(ascii: "-") }, as: UTF8.self))
    default: return 2
    }
    return 0
}
