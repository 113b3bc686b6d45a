/// Everything that can go wrong while symbolizing, each with a one-line description.
public enum SymbolizerError: Error, Equatable, CustomStringConvertible {
    /// The file does not exist or cannot be read.
    case missingFile(String)
    /// The file exists but is not an ELF file.
    case notELF(String)
    /// The ELF file has no DWARF debug information (no .debug_info).
    case noDebugInfo(String)
    /// No ELF file among the searched places has this GNU build ID.
    case unknownBuildID(String)
    /// A line of a log holds markup that does not parse; `line` counts from 1.
    case malformedMarkup(line: Int, reason: String)
    /// A log is not text (NUL bytes, mostly undecodable bytes).
    case notText(String)
    /// libdw/libdwfl refused the file.
    case libdw(path: String, message: String)

    public var description: String {
        switch self {
        case .missingFile(let path): return "\(path): no such file or not readable"
        case .notELF(let path): return "\(path): not an ELF file"
        case .noDebugInfo(let path): return "\(path): no DWARF debug information (built without -g, or stripped)"
        case .unknownBuildID(let id): return "build ID \(id) matches no ELF file in the run directory, --symbols or build directory"
        case .malformedMarkup(let line, let reason): return "line \(line): malformed markup: \(reason)"
        case .notText(let what): return "\(what): not a text log"
        case .libdw(let path, let message): return "\(path): libdw: \(message)"
        }
    }
}
