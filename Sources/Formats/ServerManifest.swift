// Reading server manifests (the format is declared in Sources/ABI/Manifest.swift) from ELF files, for
// root in the guest and `osh manifest` on the host.

#if !USERSPACE
import ABI
import KernelCore
#endif

/// A program's manifest: its name, the services it imports and those it exports. An import written
/// with a trailing `?` (`imports=initfs,fat32?`) is optional: root hands it over when a boot server
/// exports it and starts the importer without it otherwise.
public struct ServerManifest: Equatable {
    public var name: String
    /// Every imported service, required and optional, in manifest order (names without the `?`).
    public var imports: [String]
    public var exports: [String]
    /// The imports marked optional (a subset of `imports`).
    public var optionalImports: [String]

    public init(name: String, imports: [String], exports: [String], optionalImports: [String] = []) {
        self.name = name
        self.imports = imports
        self.exports = exports
        self.optionalImports = optionalImports.filter { imports.contains($0) }
    }

    /// Whether `service` is an optional import.
    public func isOptional(_ service: String) -> Bool { optionalImports.contains(service) }

    /// The imports the program cannot start without.
    public var requiredImports: [String] { imports.filter { !optionalImports.contains($0) } }
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
    /// Parses a manifest's text: `name=`, `imports=` and `exports=` lines, each exactly once; an import
    /// may end in `?` (optional). A service imported twice is malformed.
    public init(text: [UInt8]) throws(ManifestError) {
        var name: String? = nil, imports: [String]? = nil, exports: [String]? = nil
        var optional: [String] = []
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else { throw .malformed }
            let key = String(decoding: line[line.startIndex..<eq], as: UTF8.self)
            let value = line[(eq + 1)...]
            // An empty value is an empty list; otherwise every comma-separated item must be a valid name.
            var items: [String] = []
            if !value.isEmpty {
                for item in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    if key == "imports", item.last == UInt8(ascii: "?") {
                        let n = try ServerManifest.checkedName(item.dropLast())
                        optional.append(n)
                        items.append(n)
                    } else {
                        items.append(try ServerManifest.checkedName(item))
                    }
                }
            }
            switch key {
            case "name":
                guard name == nil, items.count == 1 else { throw .malformed }
                name = items[0]
            case "imports":
                guard imports == nil else { throw .malformed }
                for (i, n) in items.enumerated() where items[..<i].contains(n) { throw .malformed }
                imports = items
            case "exports":
                guard exports == nil else { throw .malformed }
                exports = items
            default:
                throw .malformed
            }
        }
        guard let name, let imports, let exports else { throw .malformed }
        self.init(name: name, imports: imports, exports: exports, optionalImports: optional)
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
        "name=\(name)\nimports=\(importsText)\nexports=\(exports.joined(separator: ","))\n"
    }

    /// The imports as the manifest writes them: comma-separated, optional ones with a trailing `?`.
    public var importsText: String {
        imports.map { isOptional($0) ? $0 + "?" : $0 }.joined(separator: ",")
    }
}
