// Reading server manifests (the format is declared in Sources/ABI/Manifest.swift) from ELF files, for
// root in the guest and `osh manifest` on the host.

#if !USERSPACE
import ABI
import KernelCore
#endif

/// A program's manifest: its name, the services it imports and those it exports.
public struct ServerManifest: Equatable {
    public var name: String
    public var imports: [String]
    public var exports: [String]

    public init(name: String, imports: [String], exports: [String]) {
        self.name = name
        self.imports = imports
        self.exports = exports
    }
}

/// Why a manifest could not be read.
public enum ManifestError: Error, Equatable {
    /// The file is not an ELF64 file we can read.
    case notELF
    /// The file has no manifest note.
    case missing
    /// A line, key or name breaks the format.
    case malformed
}

extension ServerManifest {
    /// Parses a manifest's text: `name=`, `imports=` and `exports=` lines, each exactly once.
    public init(text: [UInt8]) throws(ManifestError) {
        var name: String? = nil, imports: [String]? = nil, exports: [String]? = nil
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else { throw .malformed }
            let key = String(decoding: line[line.startIndex..<eq], as: UTF8.self)
            let value = line[(eq + 1)...]
            // An empty value is an empty list; otherwise every comma-separated item must be a valid name.
            var items: [String] = []
            if !value.isEmpty {
                for item in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    items.append(try ServerManifest.checkedName(item))
                }
            }
            switch key {
            case "name":
                guard name == nil, items.count == 1 else { throw .malformed }
                name = items[0]
            case "imports":
                guard imports == nil else { throw .malformed }
                imports = items
            case "exports":
                guard exports == nil else { throw .malformed }
                exports = items
            default:
                throw .malformed
            }
        }
        guard let name, let imports, let exports else { throw .malformed }
        self.init(name: name, imports: imports, exports: exports)
    }

    /// A name of the allowed characters and length.
    static func checkedName(_ bytes: ArraySlice<UInt8>) throws(ManifestError) -> String {
        guard !bytes.isEmpty, bytes.count <= ManifestNote.maxNameLength else { throw .malformed }
        for b in bytes {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
            guard ok else { throw .malformed }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The manifest stored in an ELF file's note.
    public init(elf bytes: UnsafeRawBufferPointer) throws(ManifestError) {
        let text: [UInt8]?
        do throws(ELFError) {
            text = try ELFFile(bytes).noteDescriptor(owner: ManifestNote.owner, type: ManifestNote.type)
        } catch {
            throw .notELF
        }
        guard let text else { throw .missing }
        try self.init(text: text)
    }

    /// The manifest's text form, as stored in the note.
    public var text: String {
        "name=\(name)\nimports=\(imports.joined(separator: ","))\nexports=\(exports.joined(separator: ","))\n"
    }
}
