// tracecat: cat for the syscall-trace test. Opens each file named on its command line (default
// /etc/init.conf) through initfsd, reads it in 512-byte pieces and writes each piece to the log with
// debug_log (the console, until there is a console server), then closes it: so `osh syscalls --trace
// --process tracecat` shows file.open, file.read, debug_log, …, file.close in that order.
// init starts it with `tracetest` on the kernel command line (etc/init.conf).

let programName: StaticString = "tracecat"

func programMain(_ startup: Startup) -> Int32 {
    guard let initfs = startup.imported("initfs"), let files = try? FileService(initfs) else {
        print("tracecat: no initfs import")
        return 1
    }
    var paths = startup.arguments.filter { $0.contains("/") }.map(String.init)
    if paths.isEmpty { paths = ["initfs:///etc/init.conf"] }
    for path in paths {
        do throws(FileError) {
            let file = try files.open(path)
            while true {
                let piece = try file.read(count: 512)
                if piece.isEmpty { break }
                piece.withUnsafeBytes { _ = try? debugLog($0) }
            }
            try file.close()
        } catch {
            print("tracecat: \(path): \(error.name)")
            return 1
        }
    }
    return 0
}
