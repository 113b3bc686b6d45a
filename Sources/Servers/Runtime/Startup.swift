// Process start: the kernel enters _start (start.S) with rdi = the StartupBlock; runtime_start parses
// it and runs the program's `programMain(_:)`, then exits with its result. Every program defines
//   func programMain(_ startup: Startup) -> Int32      its main; the result is the exit code
//   let programName: StaticString                      its name in symbolizer markup (`root`)

/// What the kernel handed this process at start (Sources/ABI/Syscalls.swift, StartupBlock).
public struct Startup {
    public struct Module {
        public let frame: Handle
        public let size: UInt64
        public let name: String
    }

    public let process: Handle
    public let vmem: Handle
    public let thread: Handle
    /// The machine's Resource (root only; .invalid in other processes).
    public let resource: Handle
    public let modules: [Module]
    /// The kernel's command line (for a spawned program: its arguments and ` handle=N` words).
    public let commandLine: String
    /// `KEY=VALUE` entries after the command line's first zero byte (Spawn.start's `environment`).
    public let environment: [String]

    /// The command line's words but `handle=N` (as they are: `argv` unescapes what pm's spawn escaped).
    public var arguments: [Substring] { commandLine.split(separator: " ").filter { !$0.hasPrefix("handle=") } }

    /// The handles given by Spawn.start (` handle=N` words), in order.
    public var handles: [Handle] {
        commandLine.split(separator: " ").compactMap { w in w.hasPrefix("handle=") ? UInt32(w.dropFirst(7)).map { Handle(raw: $0) } : nil }
    }

    /// Whether a word of the command line is exactly `flag`.
    public func hasFlag(_ flag: String) -> Bool {
        commandLine.split(separator: " ").contains { $0 == flag }
    }

    /// True when the kernel command line holds the flag `word` (from the ABI's one list of words).
    public func has(_ word: KernelWord) -> Bool {
        hasFlag(String(decoding: UnsafeBufferPointer(start: word.name.utf8Start, count: word.name.utf8CodeUnitCount),
                       as: UTF8.self))
    }

    /// The first word of the kernel command line that makes the run a test or a benchmark
    /// (KernelWord.isTestRun), or nil.
    public var testRunWord: KernelWord? {
        KernelWord.allCases.first { $0.isTestRun && ($0.isSetting ? value(of: $0) != nil : has($0)) }
    }

    /// The value of the first `key=value` word for the setting `word`, or nil.
    public func value(of word: KernelWord) -> Substring? {
        let key = String(decoding: UnsafeBufferPointer(start: word.name.utf8Start, count: word.name.utf8CodeUnitCount),
                         as: UTF8.self) + "="
        return commandLine.split(separator: " ").first { $0.hasPrefix(key) }?.dropFirst(key.count)
    }

    /// The handle of the named entry `prefix + name` (Sources/ABI/Syscalls.swift, StartupBlock), or nil.
    func entry(_ prefix: StaticString, _ name: String) -> Handle? {
        let full = staticText(prefix) + name
        return modules.first { $0.name == full }?.frame
    }

    /// The Sender to an imported service (`import:NAME`), as root wired it from the manifests.
    public func imported(_ service: String) -> Handle? { entry(StartupBlock.importPrefix, service) }
    /// The Receiver of a service this program exports (`export:NAME`).
    public func exported(_ service: String) -> Handle? { entry(StartupBlock.exportPrefix, service) }
    /// Another handle passed by name (`grant:NAME`).
    public func granted(_ name: String) -> Handle? { entry(StartupBlock.grantPrefix, name) }
    /// The open file given as POSIX descriptor `number` (`fd:N`): a Sender holding that one file, and
    /// its file id there (the entry's size word).
    public func descriptor(_ number: Int) -> (sender: Handle, file: UInt64)? {
        let full = staticText(StartupBlock.descriptorPrefix) + String(number)
        return modules.first { $0.name == full }.map { ($0.frame, $0.size) }
    }

    /// The value of the first `key=value` word of the command line (for a process's own arguments).
    public func value(ofKey key: String) -> Substring? {
        let prefix = key + "="
        return commandLine.split(separator: " ").first { $0.hasPrefix(prefix) }?.dropFirst(prefix.count)
    }

    /// Parses a startup block; nil when the magic is wrong or an entry points outside `length` bytes.
    public static func parse(_ block: UnsafeRawPointer, length: Int = 4096) -> Startup? {
        let headerBytes = StartupBlock.headerWords * 8
        guard length >= headerBytes else { return nil }
        func word(_ index: Int) -> UInt64 { block.load(fromByteOffset: index * 8, as: UInt64.self) }
        guard word(0) == StartupBlock.magic else { return nil }
        let count = word(4)
        guard count <= UInt64((length - headerBytes) / (StartupBlock.moduleWords * 8)) else { return nil }
        var modules: [Module] = []
        for i in 0..<Int(count) {
            let base = StartupBlock.headerWords + i * StartupBlock.moduleWords
            let nameOffset = word(base + 2)
            let nameLength = word(base + 3)
            guard nameOffset <= UInt64(length), nameLength <= UInt64(length) - nameOffset else { return nil }
            let bytes = UnsafeRawBufferPointer(start: block + Int(nameOffset), count: Int(nameLength))
            modules.append(Module(frame: Handle(word(base)), size: word(base + 1),
                                  name: String(decoding: bytes, as: UTF8.self)))
        }
        let lineOffset = word(5), lineLength = word(6)
        guard lineOffset <= UInt64(length), lineLength <= UInt64(length) - lineOffset else { return nil }
        let bytes = UnsafeRawBufferPointer(start: block + Int(lineOffset), count: Int(lineLength))
        let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
        let line = parts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let environment = parts.dropFirst().filter { !$0.isEmpty }.map { String(decoding: $0, as: UTF8.self) }
        return Startup(process: Handle(word(1)), vmem: Handle(word(2)), thread: Handle(word(3)),
                       resource: Handle(word(7)), modules: modules,
                       commandLine: line, environment: environment)
    }
}

/// A StaticString's text as a String.
public func staticText(_ s: StaticString) -> String {
    String(decoding: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
}

/// Process-wide facts the runtime keeps.
public enum Runtime {
    /// This process's handle (from the startup block).
    public internal(set) static var process: Handle = .invalid
    /// This process's vmem handle (from the startup block).
    public internal(set) static var vmem: Handle = .invalid
}

@_cdecl("runtime_start")
func runtime_start(_ block: UnsafeRawPointer?) -> Never {
    guard let block, let startup = Startup.parse(block) else {
        // Not a startup block we understand: say so with as little machinery as possible.
        let message: StaticString = "runtime: bad startup block\n"
        _ = raw_syscall(Syscall.debugLog.rawValue, UInt64(UInt(bitPattern: message.utf8Start)),
                        UInt64(message.utf8CodeUnitCount), 0, 0, 0, 0)
        processExit(UInt64.max)
    }
    Runtime.process = startup.process
    Runtime.vmem = startup.vmem
    Heap.vmem = startup.vmem
    Random.service = startup.imported("random") ?? .invalid
    Posix.start(startup)
    let code = programMain(startup)
    Output.flush()
    processExit(UInt64(UInt32(bitPattern: code)))
}
