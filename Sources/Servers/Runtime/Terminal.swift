// Terminals over the file protocol (the console server): `control` on an open file
// (Sources/ABI/FileProtocol.swift: modes, the foreground process, the size).

extension OpenFile {
    /// One terminal request; the previous value (getMode: the mode; getSize: columns << 32 | rows).
    @discardableResult
    public func control(_ what: TerminalControl, _ value: UInt64 = 0) throws(FileError) -> UInt64 {
        try service.call(.control, [id, what.rawValue, value]).words.0
    }

    /// Sets the terminal's mode; the previous one.
    @discardableResult
    public func setMode(_ mode: TerminalMode) throws(FileError) -> TerminalMode {
        TerminalMode(rawValue: try control(.setMode, mode.rawValue))
    }
}
