// coreutils: the core utilities as one program (one image in the initfs; bin/ls, bin/cat, … are hard
// links to it). The utility is the base name of the first command-line word (argv[0]: `ls -l /`), or,
// when that is `coreutils`, the second (`coreutils ls -l /`). Their logic (options, formats, matching)
// is pure Swift in Sources/Formats/Utilities*.swift; this program reads files and writes the results.

let programName: StaticString = "coreutils"

/// A utility: its arguments after its name → the exit status.
typealias Utility = ([String]) -> Int32

let utilities: [(name: String, run: Utility)] = [
    ("cat", cat), ("cp", cp), ("date", date), ("df", df), ("dmesg", dmesg), ("echo", echo), ("false", { _ in 1 }),
    ("free", free), ("grep", grep), ("head", head), ("hexdump", hexdump), ("kill", kill), ("ls", ls),
    ("lspci", lspci), ("mkdir", mkdir), ("mount", mount), ("mv", mv), ("ps", ps), ("rm", rm), ("sleep", sleep),
    ("stat", stat), ("syscalls", syscalls), ("tail", tail), ("true", { _ in 0 }), ("uptime", uptime), ("wc", wc),
    ("yes", yes),
]

func programMain(_ startup: Startup) -> Int32 {
    IO.setUp(startup)
    var words = startup.arguments.map(String.init)
    if let first = words.first, UtilityPath.basename(first) == "coreutils" { words.removeFirst() }
    guard let first = words.first else {
        IO.error("usage: coreutils UTILITY [ARGUMENT...]; utilities: " + utilities.map { $0.name }.joined(separator: " "))
        IO.flush()
        return 2
    }
    let name = UtilityPath.basename(first)
    IO.name = name
    guard let utility = utilities.first(where: { $0.name == name }) else {
        IO.error("no such utility")
        IO.flush()
        return 127
    }
    let status = utility.run(Array(words.dropFirst()))
    IO.flush()
    return status
}

/// Parses a utility's options; on an error prints it (`NAME: invalid option -- 'x'`) and gives nil.
func options(_ arguments: [String], flags: String, valued: String = "", digitOption: Character? = nil) -> UtilityArguments? {
    do throws(UtilityUsageError) {
        return try UtilityArguments.parse(arguments, flags: flags, valued: valued, digitOption: digitOption)
    } catch {
        IO.error(error.message)
        return nil
    }
}

/// `NAME: missing operand`, exit status 1.
func missingOperand() -> Int32 {
    IO.error("missing operand")
    return 1
}
