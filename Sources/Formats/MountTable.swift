// vfs's mount table: which file system serves a URI. A mount is a scheme and a directory in it; a URI
// goes to the mount of its scheme with the longest directory that is a prefix of its path, with the
// rest of the path relative to that mount.

#if !USERSPACE
import ABI
#endif

/// Mounts of values of type `Target` (a file system, a server connection).
public struct MountTable<Target> {
    public struct Mount {
        public var scheme: String
        public var prefix: [String]
        public var target: Target
    }

    public private(set) var mounts: [Mount] = []

    public init() {}

    /// Adds a mount; .exists when the scheme already has a mount at that directory.
    public mutating func mount(scheme: String, at prefix: [String], _ target: Target) throws(FileError) {
        guard !mounts.contains(where: { $0.scheme == scheme && $0.prefix == prefix }) else { throw .exists }
        mounts.append(Mount(scheme: scheme, prefix: prefix, target: target))
    }

    /// Removes the mount at exactly that place; .notFound when there is none, .busy when another mount
    /// lies below it.
    public mutating func unmount(scheme: String, at prefix: [String]) throws(FileError) -> Target {
        guard let i = mounts.firstIndex(where: { $0.scheme == scheme && $0.prefix == prefix }) else { throw .notFound }
        guard !mounts.contains(where: { $0.scheme == scheme && $0.prefix.count > prefix.count
                                        && $0.prefix.starts(with: prefix) }) else { throw .busy }
        return mounts.remove(at: i).target
    }

    /// The mount serving `uri` (its index in `mounts`) and the path below it; .noServer for a scheme
    /// nobody serves.
    public func resolve(_ uri: FileURI) throws(FileError) -> (index: Int, rest: [String]) {
        var best: Int? = nil
        for (i, m) in mounts.enumerated() where m.scheme == uri.scheme && uri.components.starts(with: m.prefix) {
            if best == nil || m.prefix.count > mounts[best!].prefix.count { best = i }
        }
        guard let best else { throw .noServer }
        return (best, Array(uri.components.dropFirst(mounts[best].prefix.count)))
    }

    /// Whether `uri` names the directory of a mount itself (it cannot be removed or renamed).
    public func isMountPoint(_ uri: FileURI) -> Bool {
        mounts.contains { $0.scheme == uri.scheme && $0.prefix == uri.components }
    }
}
