// The file protocol vfs speaks (and every server exporting a scheme speaks to vfs): message labels, the
// words each message carries, open flags, file kinds and the POSIX-like error words of the replies.
//
// A client holds a Sender to vfs. The Sender root hands out carries badge 0 (the admin capability): it
// may `connect` and `mount`, nothing else. `connect` moves a Frame (the client's shared data page, .read
// and .write, 4 KiB to 1 MiB) to vfs and answers with a new Sender whose badge names the connection;
// every file operation goes through such a connection Sender. Paths, read and written bytes and
// directory listings travel in the shared Frame (from offset 0), never in message words.
//
// Request: label = VFSOp, words as listed. Reply: label 0, w0 = 0 or a ServiceError raw value, then
// the results. A request with a wrong label, too few words, a handle it does not take, a bad
// descriptor or a length past the shared Frame gets an error reply (handles it did not take are closed).
//   connect  handles: Frame                               r: handles: Sender (the connection)
//   mount    w0, w1: scheme name (ASCII, ≤ 16 bytes, little-endian packed)  handles: Sender to the
//            server of that scheme (which speaks this protocol)        vfs connects to it at once
//   open     w0: path length, w1: VFSOpenFlags            r: w1: descriptor
//   read     w0: descriptor, w1: count (≤ Frame size)     r: w1: bytes read into the Frame (0 at the end)
//   write    w0: descriptor, w1: count                    r: w1: bytes written from the Frame
//   seek     w0: descriptor, w1: offset (Int64), w2: VFSWhence   r: w1: the new offset
//   close    w0: descriptor
//   stat     w0: path length                              r: w1: VFSFileKind, w2: size in bytes
//   fstat    w0: descriptor                               r: w1: VFSFileKind, w2: size in bytes
//   readdir  w0: path length, w1: first entry index       r: w1: entries written, w2: entries in all;
//            the Frame then holds records [kind: 1 byte][name length: 1 byte][name], in name order
//   mkdir    w0: path length
//   unlink   w0: path length (a file, or an empty directory)
//   rename   w0: old path length, w1: new path length (the new path follows the old one in the Frame)
// Paths are URIs (`initfs:///sbin/init`, `fs:///etc/hosts`) or bare absolute paths (meaning `fs://`).

/// Request labels.
public enum VFSOp: UInt32, CaseIterable, Sendable {
    case connect = 1, mount, open, read, write, seek, close, stat, fstat, readdir, mkdir, unlink, rename

    /// The register words a request of this kind must carry at least.
    public var words: Int {
        switch self {
        case .connect: 0
        case .seek: 3
        case .open, .mount, .readdir, .rename, .read, .write: 2
        case .close, .stat, .fstat, .mkdir, .unlink: 1
        }
    }

    /// The handles a request of this kind moves to vfs.
    public var handles: Int { self == .connect || self == .mount ? 1 : 0 }
}

/// How `open` opens (or makes) a file.
public struct VFSOpenFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let read = VFSOpenFlags(rawValue: 1 << 0)
    public static let write = VFSOpenFlags(rawValue: 1 << 1)
    /// Make the file when it does not exist.
    public static let create = VFSOpenFlags(rawValue: 1 << 2)
    /// With create: fail with .exists when it does.
    public static let exclusive = VFSOpenFlags(rawValue: 1 << 3)
    /// Cut the file to 0 bytes (needs write).
    public static let truncate = VFSOpenFlags(rawValue: 1 << 4)
    /// Every write goes to the end (needs write).
    public static let append = VFSOpenFlags(rawValue: 1 << 5)
    public static let all: VFSOpenFlags = [.read, .write, .create, .exclusive, .truncate, .append]
}

/// What a path names.
public enum VFSFileKind: UInt8, Sendable {
    case file = 1
    case directory = 2
}

/// Where `seek` counts from.
public enum VFSWhence: UInt64, Sendable {
    case set = 0, current = 1, end = 2
}

/// The error words of server replies (vfs, pm): POSIX's numbers and meanings.
public enum ServiceError: UInt64, Error, CaseIterable, Sendable {
    case notPermitted = 1        // EPERM
    case notFound = 2            // ENOENT
    case noSuchProcess = 3       // ESRCH
    case io = 5                  // EIO
    case notExecutable = 8       // ENOEXEC
    case badDescriptor = 9       // EBADF
    case noChild = 10            // ECHILD
    case noMemory = 12           // ENOMEM
    case accessDenied = 13       // EACCES
    case busy = 16               // EBUSY
    case exists = 17             // EEXIST
    case crossDevice = 18        // EXDEV
    case notDirectory = 20       // ENOTDIR
    case isDirectory = 21        // EISDIR
    case invalid = 22            // EINVAL
    case tooManyOpen = 24        // EMFILE
    case fileTooLarge = 27       // EFBIG
    case noSpace = 28            // ENOSPC
    case nameTooLong = 36        // ENAMETOOLONG
    case notEmpty = 39           // ENOTEMPTY
    case badMessage = 74         // EBADMSG: wrong label, too few words, handles not taken
    case notSupported = 95       // EOPNOTSUPP

    public var name: StaticString {
        switch self {
        case .notPermitted: "operation not permitted"
        case .notFound: "no such file or directory"
        case .noSuchProcess: "no such process"
        case .io: "input/output error"
        case .notExecutable: "not an executable"
        case .badDescriptor: "bad descriptor"
        case .noChild: "no such child"
        case .noMemory: "out of memory"
        case .accessDenied: "access denied"
        case .busy: "busy"
        case .exists: "exists"
        case .crossDevice: "across file systems"
        case .notDirectory: "not a directory"
        case .isDirectory: "is a directory"
        case .invalid: "invalid argument"
        case .tooManyOpen: "too many open files"
        case .fileTooLarge: "file too large"
        case .noSpace: "no space left"
        case .nameTooLong: "name too long"
        case .notEmpty: "directory not empty"
        case .badMessage: "bad message"
        case .notSupported: "not supported"
        }
    }

    /// The error a failed syscall becomes in a reply.
    public init(_ error: SysError) {
        switch error {
        case .outOfMemory, .outOfVirtualMemory, .limitExceeded, .noHandles: self = .noMemory
        case .badELF: self = .notExecutable
        case .invalidHandle, .wrongType, .accessDenied: self = .invalid
        default: self = .io
        }
    }
}

/// Scheme names travel packed in two message words (at most 16 ASCII bytes, little-endian).
public enum SchemeWords {
    public static let maxLength = 16

    /// The two words for `name`, or nil when it is too long.
    public static func pack(_ name: [UInt8]) -> (UInt64, UInt64)? {
        guard name.count <= maxLength else { return nil }
        var w: (UInt64, UInt64) = (0, 0)
        for (i, b) in name.enumerated() {
            if i < 8 { w.0 |= UInt64(b) << (8 * UInt64(i)) } else { w.1 |= UInt64(b) << (8 * UInt64(i - 8)) }
        }
        return w
    }

    /// The bytes of a packed name (up to the first zero byte).
    public static func unpack(_ w0: UInt64, _ w1: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<16 {
            let b = UInt8(truncatingIfNeeded: (i < 8 ? w0 : w1) >> (8 * UInt64(i % 8)))
            if b == 0 { break }
            out.append(b)
        }
        return out
    }
}
