// /etc/fstab as vfs reads it (initfs:///etc/fstab): one mount a line, `SOURCE MOUNTPOINT TYPE [OPTIONS
// [DUMP [PASS]]]` separated by spaces or tabs; `#` starts a comment; blank lines are skipped. The mount
// point is a URI or an absolute path (meaning fs://). A bad line is reported with its number and the
// other lines still count.

#if !USERSPACE
import ABI
#endif

/// One line of fstab.
public struct FstabEntry: Equatable {
    public var source: String
    public var mountPoint: FileURI
    public var type: String
    public var options: [String]
    public var line: Int

    /// The options field as written (`defaults` when the line had none).
    public var optionsText: String { options.isEmpty ? "defaults" : options.joined(separator: ",") }
}

/// A line that could not be read, and why.
public struct FstabProblem: Equatable {
    public var line: Int
    public var reason: String
}

/// Parses fstab text: the entries in order, and the lines refused.
public func parseFstab(_ text: [UInt8]) -> (entries: [FstabEntry], problems: [FstabProblem]) {
    var entries: [FstabEntry] = []
    var problems: [FstabProblem] = []
    for (index, rawLine) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
        let number = index + 1
        var line = rawLine
        if let hash = line.firstIndex(of: UInt8(ascii: "#")) { line = line[..<hash] }
        let fields = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") })
        if fields.isEmpty { continue }
        guard fields.count >= 3 else { problems.append(FstabProblem(line: number, reason: "fewer than 3 fields")); continue }
        guard fields.count <= 6 else { problems.append(FstabProblem(line: number, reason: "more than 6 fields")); continue }
        guard !fields.dropFirst(4).contains(where: { !$0.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }) else {
            problems.append(FstabProblem(line: number, reason: "dump and pass must be numbers"))
            continue
        }
        let mountPoint: FileURI
        do throws(FileError) { mountPoint = try FileURI(parsing: Array(fields[1])) } catch {
            problems.append(FstabProblem(line: number, reason: "bad mount point"))
            continue
        }
        let options = fields.count > 3 ? fields[3].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) } : ["defaults"]
        guard !options.contains(where: { $0.isEmpty }) else {
            problems.append(FstabProblem(line: number, reason: "empty option"))
            continue
        }
        entries.append(FstabEntry(source: String(decoding: fields[0], as: UTF8.self), mountPoint: mountPoint,
                                  type: String(decoding: fields[2], as: UTF8.self), options: options, line: number))
    }
    return (entries, problems)
}
