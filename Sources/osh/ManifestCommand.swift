import ArgumentParser
import Formats
import Foundation

/// `osh manifest ELF...`: the server manifest stored in each program's ELF note (Sources/ABI/ManifestNote.swift).
struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Print the manifest (name, imports, exports) stored in program ELF files.")

    @Argument(help: "ELF files (e.g. build/servers/root.elf).")
    var files: [String]

    @Flag(help: "Print the manifest's raw text (name=, imports=, exports= lines).")
    var raw = false

    func run() throws {
        var failed = false
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                printManifestError("\(path): cannot read the file")
                failed = true
                continue
            }
            let parsed = data.withUnsafeBytes { bytes in
                Result { () throws(ManifestError) in try ServerManifest(elf: bytes) }
            }
            switch parsed {
            case .success(let m):
                if files.count > 1 { print("\(path):") }
                if raw {
                    print(m.text, terminator: "")
                } else {
                    print("name:    \(m.name)")
                    print("imports: \(m.imports.isEmpty ? "(none)" : m.imports.map { m.isOptional($0) ? $0 + " (optional)" : $0 }.joined(separator: ", "))")
                    print("exports: \(m.exports.isEmpty ? "(none)" : m.exports.joined(separator: ", "))")
                }
            case .failure(let error):
                let reason: String
                switch error {
                case .notELF: reason = "not an ELF64 little-endian file"
                case .missing: reason = "no manifest note (.note.manifest) in this ELF file"
                case .malformed: reason = "the manifest note is malformed"
                }
                printManifestError("\(path): \(reason)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

private func printManifestError(_ message: String) {
    FileHandle.standardError.write(Data("osh: error: \(message)\n".utf8))
}
