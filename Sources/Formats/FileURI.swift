// File URIs for vfs: `scheme:///path/to/file`, or a bare absolute path meaning `fs:///path`. Parsing
// checks the scheme's characters, refuses authorities (`initfs://host/x`), relative paths, zero bytes,
// `.` and `..` components (the file protocol's rule, Sources/ABI/FileProtocol.swift) and over-long
// names; repeated slashes count as one.

#if !USERSPACE
import ABI
#endif

/// A parsed file URI: the scheme and the normalized path components.
public struct FileURI: Equatable {
    /// The scheme a bare path means.
    public static let defaultScheme = "fs"
    /// The longest name of one path component, and of a whole URI.
    public static let maxComponent = 255
    public static let maxLength = FileProtocol.maxPath
    /// The longest scheme name.
    public static let maxScheme = 16

    public var scheme: String
    public var components: [String]

    public init(scheme: String, components: [String]) {
        self.scheme = scheme
        self.components = components
    }

    /// Parses `text` (UTF-8 bytes).
    public init(parsing text: [UInt8]) throws(FileError) {
        guard !text.isEmpty else { throw .notFound }
        guard text.count <= FileURI.maxLength else { throw .nameTooLong }
        guard !text.contains(0) else { throw .invalid }
        var path = text[...]
        var scheme = FileURI.defaultScheme
        if let colon = text.firstIndex(of: UInt8(ascii: ":")), !text[..<colon].contains(UInt8(ascii: "/")) {
            let name = text[..<colon]
            guard FileURI.isScheme(name) else { throw .invalid }
            let rest = text[(colon + 1)...]
            guard rest.starts(with: "//".utf8) else { throw .invalid }
            path = rest.dropFirst(2)
            scheme = String(decoding: name, as: UTF8.self)
        }
        guard path.first == UInt8(ascii: "/") else { throw .invalid }
        self.init(scheme: scheme, components: try FileURI.normalize(path))
    }

    /// A scheme: a lower-case letter, then lower-case letters, digits, `+`, `-`, `.`; at most 16 bytes.
    public static func isScheme(_ name: ArraySlice<UInt8>) -> Bool {
        guard let first = name.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first),
              name.count <= FileURI.maxScheme else { return false }
        return name.allSatisfy { b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
                || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
        }
    }

    /// The components of an absolute path (empty ones dropped; `.` and `..` are `.invalid`).
    static func normalize(_ path: ArraySlice<UInt8>) throws(FileError) -> [String] {
        var out: [String] = []
        for part in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            guard part.count <= maxComponent else { throw .nameTooLong }
            if part.elementsEqual(".".utf8) || part.elementsEqual("..".utf8) { throw .invalid }
            out.append(String(decoding: part, as: UTF8.self))
        }
        return out
    }

    /// The path part: `/` and the components.
    public var path: String { "/" + components.joined(separator: "/") }

    /// The whole URI, `scheme:///path`.
    public var text: String { scheme + "://" + path }
}
