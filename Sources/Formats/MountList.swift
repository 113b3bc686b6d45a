// The entries of the file protocol's `mounts` reply (Sources/ABI/FileProtocol.swift): vfs encodes its
// mount table with them, `mount` and `df` decode them. Pure Swift, host-tested (MountListTests).

#if !USERSPACE
import ABI
#endif

public struct MountEntry: Equatable, Sendable {
    public var flags: MountEntryFlags
    /// The mount point as a URI (`fs:///disk`, `initfs:///`).
    public var point: String
    /// fstab's first field (`LABEL=OSDISK`, `virtio1`, `none`), or what mounted it.
    public var source: String
    /// `tmpfs`, `vfat`, `initfs`, `server`.
    public var type: String
    /// fstab's options field (`defaults` when it had none).
    public var options: String

    public init(flags: MountEntryFlags, point: String, source: String, type: String, options: String) {
        self.flags = flags
        self.point = point
        self.source = source
        self.type = type
        self.options = options
    }

    /// The entry's bytes; nil when a string is longer than 65,535 bytes.
    public func encoded() -> [UInt8]? {
        var out: [UInt8] = [flags.rawValue]
        for s in [point, source, type, options] {
            let b = Array(s.utf8)
            guard b.count <= 0xffff else { return nil }
            out.append(UInt8(b.count & 0xff))
            out.append(UInt8(b.count >> 8))
            out += b
        }
        return out
    }

    /// `count` entries from `bytes`; nil when the bytes are short, too long, or not UTF-8.
    public static func decode(_ bytes: [UInt8], count: Int) -> [MountEntry]? {
        var entries: [MountEntry] = []
        var i = 0
        guard count >= 0 else { return nil }
        for _ in 0..<count {
            guard i < bytes.count else { return nil }
            let flags = MountEntryFlags(rawValue: bytes[i])
            i += 1
            var strings: [String] = []
            for _ in 0..<4 {
                guard i + 2 <= bytes.count else { return nil }
                let n = Int(bytes[i]) | Int(bytes[i + 1]) << 8
                i += 2
                guard i + n <= bytes.count else { return nil }
                let s = String(decoding: bytes[i..<(i + n)], as: UTF8.self)
                guard s.utf8.elementsEqual(bytes[i..<(i + n)]) else { return nil }   // not UTF-8
                strings.append(s)
                i += n
            }
            entries.append(MountEntry(flags: flags, point: strings[0], source: strings[1], type: strings[2], options: strings[3]))
        }
        guard i == bytes.count else { return nil }
        return entries
    }

    /// The options as `mount` shows them: `rw` or `ro` first, then the rest of fstab's (without `ro`,
    /// `rw` and `defaults`), then `not-started` for a server vfs starts on first access that has not
    /// been started yet.
    public var shownOptions: String {
        var parts = [flags.contains(.readOnly) ? "ro" : "rw"]
        for o in options.split(separator: ",") where o != "ro" && o != "rw" && o != "defaults" { parts.append(String(o)) }
        if flags.contains(.startedOnAccess) { parts.append(flags.contains(.running) ? "started" : "not-started") }
        return parts.joined(separator: ",")
    }

    /// The line `mount` prints, in Linux's shape: `SOURCE on POINT type TYPE (OPTIONS)`.
    public var line: String { source + " on " + point + " type " + type + " (" + shownOptions + ")" }
}

/// Mount points and paths, for df: which listed mount a path lies on, and how a point is shown.
public enum MountPaths {
    /// An absolute path (`/x`, fs://) or URI as a URI: `/x` → `fs:///x`.
    public static func uri(_ path: String) -> String { path.hasPrefix("/") ? "fs://" + path : path }

    /// A URI's scheme and its non-empty components; nil without `://`.
    static func split(_ uri: String) -> (scheme: Substring, components: [Substring])? {
        let u = Substring(uri)
        var i = u.utf8.startIndex
        while i != u.utf8.endIndex {
            if u.utf8[i...].starts(with: "://".utf8) {
                let after = u.utf8.index(i, offsetBy: 3)
                return (u[..<i], u[after...].split(separator: "/"))
            }
            i = u.utf8.index(after: i)
        }
        return nil
    }

    /// The entry whose point holds `uri` with the longest prefix; nil when none does.
    public static func mount(of uri: String, in entries: [MountEntry]) -> MountEntry? {
        guard let path = split(uri) else { return nil }
        var best: (MountEntry, Int)? = nil
        for e in entries {
            guard let p = split(e.point), p.scheme == path.scheme,
                  path.components.starts(with: p.components) else { continue }
            if best == nil || p.components.count > best!.1 { best = (e, p.components.count) }
        }
        return best?.0
    }

    /// A mount point as df shows it: fs:// points as plain paths (`fs:///disk` → `/disk`).
    public static func shown(_ point: String) -> String {
        point.hasPrefix("fs:///") ? String(point.dropFirst(5)) : point
    }
}
