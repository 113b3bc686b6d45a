// ttytest: a tiny command loop on the console's terminal, for the console's integration tests
// (Tests/IntegrationTests/ConsoleTests.swift) and `osh boot --exec` until the shell runs there. init
// starts it with `consoletest` on the command line (etc/init.conf), with a Sender to the console.
//
// It opens console:///tty, prints the prompt `tty $ `, reads a line (cooked mode: the console edits it)
// and runs the commands on it, separated by `;`:
//   echo WORD…       prints the words (`$?` is the last status)
//   true, false      status 0, 1
//   exit [N]         ends with N (default: the last status)
//   raw N            raw mode: reads N bytes as they arrive, prints them in hex, back to cooked mode
//   logsoon MS TEXT  after MS ms a thread prints TEXT to the kernel log (debug_log), while the next line
//                    is being edited
//   dmesg WORD       reads the kernel log ring (log_read) and prints how many lines hold WORD
//   mode             prints the terminal's mode word and size
// Anything else: `ttytest: NAME: not found`, status 127. End of input (Ctrl-D): exits with the last
// status.

let programName: StaticString = "ttytest"

func programMain(_ startup: Startup) -> Int32 {
    guard let sender = startup.imported("console") else {
        print("ttytest: no Sender to the console (import:console); exiting")
        return 1
    }
    let tty: OpenFile
    do throws(FileError) {
        let service: FileService
        do throws(SysError) { service = try FileService(sender) } catch { throw FileError.noMemory }
        tty = try service.open("console:///tty", [.read, .write])
    } catch {
        print("ttytest: cannot open console:///tty: \(error.name)")
        return 1
    }
    var session = Session(tty: tty)
    return session.run()
}

struct Session {
    let tty: OpenFile
    var status: Int32 = 0

    func say(_ text: String) { _ = try? tty.write(Array(text.utf8)) }

    /// A word with each `$?` replaced by the last status.
    func expand(_ word: String) -> String {
        let bytes = Array(word.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == 36, i + 1 < bytes.count, bytes[i + 1] == 63 {
                out += Array("\(status)".utf8)
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func run() -> Int32 {
        while true {
            say("tty $ ")
            var line: [UInt8] = []
            while line.last != 10 {
                guard let piece = try? tty.read(count: 512) else { return 1 }
                if piece.isEmpty {
                    if !line.isEmpty { break }
                    say("\nttytest: end of input\n")
                    return status
                }
                line += piece
            }
            let text = String(decoding: line.filter { $0 != 10 }, as: UTF8.self)
            for command in text.split(separator: ";") {
                let words = command.split(separator: " ").map { expand(String($0)) }
                guard let name = words.first else { continue }
                if name == "exit" {
                    return words.count > 1 ? Int32(words[1]) ?? 2 : status
                }
                status = run(name, Array(words.dropFirst()))
            }
        }
    }

    func run(_ name: String, _ args: [String]) -> Int32 {
        switch name {
        case "echo":
            say(args.joined(separator: " ") + "\n")
            return 0
        case "true": return 0
        case "false": return 1
        case "raw": return raw(Int(args.first ?? "1") ?? 1)
        case "logsoon":
            let ms = UInt64(args.first ?? "500") ?? 500
            let text = args.dropFirst().joined(separator: " ")
            _ = try? spawnThread {
                threadSleep(nanoseconds: ms * 1_000_000)
                print(text)
                return 0
            }
            return 0
        case "dmesg":
            var reader = KernelLogReader()
            guard let bytes = try? reader.all() else { say("dmesg: log_read failed\n"); return 1 }
            let word = args.joined(separator: " ")
            let needle = Array(word.utf8)
            let lines = bytes.split(separator: 10).filter { contains(Array($0), needle) }
            say("dmesg: \(lines.count) lines with \(word); \(bytes.count) bytes, cursor \(reader.cursor), lost \(reader.lost)\n")
            return lines.isEmpty ? 1 : 0
        case "mode":
            let mode = (try? tty.control(.getMode)) ?? 99
            let size = (try? tty.control(.getSize)) ?? 0
            say("mode \(mode) size \(size >> 32)x\(size & 0xffff_ffff)\n")
            return 0
        default:
            say("ttytest: \(name): not found\n")
            return 127
        }
    }

    func raw(_ count: Int) -> Int32 {
        guard (try? tty.setMode(.raw)) != nil else { say("raw: control failed\n"); return 1 }
        say("raw: reading \(count) bytes\n")
        var got: [UInt8] = []
        while got.count < count {
            guard let piece = try? tty.read(count: count - got.count), !piece.isEmpty else { break }
            got += piece
        }
        _ = try? tty.setMode(.cooked)
        say("raw: " + got.map { hex($0) }.joined(separator: " ") + "\n")
        return 0
    }

    /// Whether `needle` occurs in `haystack`.
    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        if needle.isEmpty { return true }
        for i in 0...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle { return true }
        return false
    }

    func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }
}
