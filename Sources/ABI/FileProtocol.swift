// The file-service protocol: how a client talks to a file server over IPC. initfsd serves it (read-only,
// scheme `initfs`), vfs serves it for every scheme and routes each request to the server that exports that
// scheme, and disk filesystems (fsd.fat32, …) serve it behind vfs. One vocabulary for all of them.
//
// Requests are IPC calls through a Sender to the server's Receiver (Sources/ABI/Syscalls.swift: message
// words in registers, bytes and handles in the thread's IPC buffer). The request's label is a FileLabel;
// register words carry the arguments below; a path travels in the message bytes.
//
// Replies: the reply's label is 0 on success or a FileError raw value; results are in the reply's words
// (and bytes for readdir and for reads without a window). A request with a label the server does not
// know, fewer words than the request needs, bytes or handles it does not take, or a path that breaks the
// rules below is answered with `.badMessage` (or the error named there); a server never crashes on one.
//
// Paths: UTF-8, 1...FileProtocol.maxPath bytes, no NUL. A server takes a URI of its own scheme
// (`initfs:///etc/init.conf`) or an absolute path (`/etc/init.conf`, which then means its own scheme);
// vfs takes any `scheme://` URI and a bare path means `fs://`. `.` and `..` components are `.invalid`;
// repeated slashes count as one. A name (a path component) is at most FileProtocol.maxName bytes.
//
// Open files: `open` answers with a file id, an opaque UInt64 chosen by the server. A file id is valid
// only in requests that come through a Sender with the same badge as the `open` (a server checks this,
// so one client cannot use another's ids by guessing); any other id is `.badFile`. A server may limit
// open files per badge (`.tooManyOpen`). A server turns closed-client notices on (receiver_set_notices):
// when the Sender of a badge is gone (its last handle closed, or its holder ended), it drops that
// badge's open files and their windows.
//
// Bulk data: `open` may transfer one Frame handle (needs .read, .write, .map, .transfer): the file's
// data window, which the server maps (vfs passes it on to the server behind it, so data never passes
// through vfs). `read` and `write` then name an offset and a length inside that window (in registers);
// the data moves through the shared pages, not through IPC. Without a window, `read` returns up to
// IPCBuffer.maxBytes bytes in the reply's bytes and `write` takes its data from the request's bytes. A
// window is FileProtocol.maxWindow bytes at most (a page multiple); a bad window handle (not a Frame,
// missing rights, too big) makes `open` fail with `.invalid` (the file is not opened and the handle is
// closed by the server).
//
// Requests (w0..w3 = the message's register words; → the reply's words):
//   open     w0 OpenFlags, w1 mode (permission bits for create; 0 = the server's default)
//            bytes: path; handles: 0, or 1 (the window)
//            → w0 file id, w1 size in bytes, w2 FileKind
//            `.directory` opens a directory (for readdir; `.notDirectory` if it is not one); opening a
//            directory without it is `.isDirectory`. `.create` makes a missing file, `.exclusive` with it
//            fails with `.exists` when the file is there; `.truncate` empties it; `.append` moves the
//            position to the end before each write. `.write`, `.create`, `.truncate` on a read-only
//            server are `.readOnly`. Neither `.read` nor `.write` is `.invalid`.
//   read     w0 file id, w1 length, w2 window offset (ignored without a window)
//            → w0 bytes read (0 at the end of the file), from the file's position, which advances
//            With a window: window offset + length must lie inside the window (`.invalid`). Without:
//            length ≤ IPCBuffer.maxBytes (`.invalid`), the data in the reply's bytes.
//            `.accessDenied` if the file was not opened for reading; `.isDirectory` for a directory.
//   write    w0 file id, w1 length, w2 window offset; without a window the data are the request's bytes
//            (w1 must equal their count) → w0 bytes written
//   seek     w0 file id, w1 offset (Int64 bit pattern), w2 SeekOrigin → w0 the new position
//            A position below 0 is `.invalid`; past the end is allowed (reads there return 0 bytes).
//   close    w0 file id → nothing; the id is gone and the window unmapped and closed
//   stat     bytes: path, or no bytes and w0 file id
//            → w0 size, w1 FileKind, w2 mode (permission bits), w3 modification time (seconds since
//            1970, 0 if unknown)
//   readdir  w0 directory file id, w1 index of the first entry wanted (0 = from the start)
//            → w0 entries in the reply's bytes (0 = no more), w1 the index to ask for next
//            Each entry in the bytes: kind (1 byte, FileKind), name length (1 byte), size (8 bytes,
//            little-endian), then the name (no NUL); as many whole entries as fit in IPCBuffer.maxBytes.
//   mkdir    bytes: path; w0 mode → nothing
//   unlink   bytes: path; w0 UnlinkFlags → nothing (`.directory` removes an empty directory;
//            `.notEmpty` if it has entries, `.isDirectory` without the flag, `.notDirectory` with it on
//            a file)
//   rename   bytes: old path then new path; w0 the old path's length in bytes → nothing
//            (`.crossDevice` between schemes or mounts)
//   map      bytes: path → w0 the file's size in bytes, w1 the Frame's size; handles: 1, a pager-backed
//            Frame (frame_create_paged) holding the file's data from offset 0, its size the file's
//            rounded up to pages (one page for an empty file), the bytes past the end zero. The handle
//            has FileProtocol.mapRights (read-only: no .write, no .manage). The server supplies each page
//            when it is first touched (a fault, or a kernel copy such as frame_read or process_load),
//            so a program can be loaded from it without the whole file being read first. The same file
//            mapped again gives the same Frame (its pages stay supplied). `.isDirectory` for a
//            directory, `.notSupported` from a server that cannot page.
//
//   connect  w0 ConnectFlags (optional; no bytes or handles) → w0 the new badge; handles: 1, a new Sender to this server with
//            a badge of its own (file ids opened through it are its alone). A client that starts another
//            program hands it its own connection, not a duplicate of its Sender, so the two share no
//            file ids and the server drops the program's files when it ends. `.tooManyOpen` when the
//            server holds too many connections. vfs: ConnectFlags.administrative asks for a connection
//            that may mount and unmount (and make more such connections), only through the
//            administrative Sender or such a connection (`.accessDenied` otherwise); init gives one to
//            the shell on the console. Unknown flag bits are `.invalid`.
//
//   share    w0 file id → w0 the file's id in the new connection; handles: 1, a new Sender to this
//            server with a badge of its own that holds exactly this one open file (the same open file:
//            one position, one set of flags; the file stays open until every connection holding it has
//            closed it or is gone). This is how a process hands an open file to a program it starts
//            (POSIX descriptors 0, 1, 2 and redirections): the child gets the Sender as the startup entry
//            `fd:N` (Sources/ABI/Syscalls.swift, StartupBlock), whose size word is the file id. The new
//            connection has no window (reads and writes go through the message bytes). `.tooManyOpen`
//            when the server holds too many connections; `.notSupported` from a server that cannot.
//   control  w0 file id, w1 TerminalControl, w2 the value (setMode: TerminalMode bits; setForeground:
//            a process id as pm numbers them, 0 for none) → w0 the previous value (getMode: the mode;
//            getSize: columns << 32 | rows). For terminals (the console server); any other file
//            answers `.notSupported`.
//   mount    bytes: the mount point, a URI (`fs:///`, `fs:///mnt/disk`, or a whole scheme `console://`);
//            w0 MountFlags; handles: 1, a Sender to the file server that serves what is mounted there
//            (it speaks this protocol; paths reach it relative to the mount point) → nothing.
//            vfs only, and only through its administrative Sender (badge 0, the one root and init hold)
//            or an administrative connection (connect): `.accessDenied` through any other. `.exists` when something is mounted there already.
//   unmount  bytes: the mount point → nothing (`.notFound` when nothing is mounted there; `.busy` while
//            files opened through it are open, for the root `fs:///` and for `initfs:///`). vfs only, as
//            mount. A server vfs started itself for the mount (a later disk's fsd.fat32) is ended through pm.
//   statfs   bytes: a path, or no bytes and w0 file id → w0 the file system's size in bytes, w1 its
//            free bytes, w2 its block (cluster) size in bytes. vfs forwards it to the server behind the
//            path; a server without such figures answers `.notSupported`.
//   mounts   w0 index of the first mount wanted (0 = from the start) → w0 entries in the reply's bytes
//            (0 = no more), w1 the index to ask for next. vfs only (anyone may list; others answer
//            `.notSupported`); an index past the end is `.invalid`, bytes or handles `.badMessage`.
//            Each entry in the bytes (as many whole entries as fit in IPCBuffer.maxBytes; encoded and
//            decoded by Sources/Formats/MountList.swift): MountEntryFlags (1 byte), then four strings,
//            each a 2-byte little-endian length and its UTF-8 bytes: the mount point (a URI), the source
//            (fstab's first field, or what mounted it), the type (`tmpfs`, `vfat`, `initfs`, `server`),
//            the options (fstab's fourth field, `defaults` when it had none).
//
// Which requests a server serves: initfsd all (map and connect included) but write, mkdir, unlink and rename (`.readOnly`; write on
// a file id is `.accessDenied`, since no initfs file opens for writing).

/// The labels of file-service requests.
public enum FileLabel: UInt32, CaseIterable, Sendable {
    case open = 1
    case read = 2
    case write = 3
    case seek = 4
    case close = 5
    case stat = 6
    case readdir = 7
    case mkdir = 8
    case unlink = 9
    case rename = 10
    case map = 11
    case connect = 12
    case share = 13
    case control = 14
    case mount = 15
    case unmount = 16
    case statfs = 17
    case mounts = 18

    public var name: StaticString {
        switch self {
        case .open: return "open"
        case .read: return "read"
        case .write: return "write"
        case .seek: return "seek"
        case .close: return "close"
        case .stat: return "stat"
        case .readdir: return "readdir"
        case .mkdir: return "mkdir"
        case .unlink: return "unlink"
        case .rename: return "rename"
        case .map: return "map"
        case .connect: return "connect"
        case .share: return "share"
        case .control: return "control"
        case .mount: return "mount"
        case .unmount: return "unmount"
        case .statfs: return "statfs"
        case .mounts: return "mounts"
        }
    }

    /// The register words a request needs at least (fewer is `.badMessage`).
    public var minimumWords: Int {
        switch self {
        case .open, .mkdir, .unlink, .rename: return 1
        case .close, .share: return 1
        case .read, .write, .seek, .control: return 3
        case .stat, .map, .connect, .unmount, .statfs: return 0
        case .mount: return 1
        case .readdir: return 2
        case .mounts: return 1
        }
    }
}

/// Why a file request failed: POSIX-like, with the values of the Linux errno it corresponds to, so a
/// POSIX layer can hand them on unchanged.
public enum FileError: UInt32, Error, CaseIterable, Sendable {
    /// No such file or directory (ENOENT).
    case notFound = 2
    /// An I/O error in the server or the device behind it (EIO).
    case io = 5
    /// No server for that scheme (ENXIO).
    case noServer = 6
    /// The file id is not open through this Sender's badge (EBADF).
    case badFile = 9
    /// The server is out of memory (ENOMEM).
    case noMemory = 12
    /// The file was not opened for this, or the request needs a right the Sender lacks (EACCES).
    case accessDenied = 13
    /// A mount point with open files, or a device in use (EBUSY).
    case busy = 16
    /// The path names a file that exists (EEXIST).
    case exists = 17
    /// Rename across schemes or mounts (EXDEV).
    case crossDevice = 18
    /// A path component is not a directory, or readdir on a file (ENOTDIR).
    case notDirectory = 20
    /// read or write on a directory, or open of a directory without `.directory` (EISDIR).
    case isDirectory = 21
    /// A bad argument: flags, offsets, lengths, the window (EINVAL).
    case invalid = 22
    /// Too many open files for this client (EMFILE).
    case tooManyOpen = 24
    /// The file would grow past what the server allows (EFBIG).
    case tooLarge = 27
    /// No space left (ENOSPC).
    case noSpace = 28
    /// The server is read-only (EROFS).
    case readOnly = 30
    /// A write to a pipe whose read ends are all closed (EPIPE).
    case brokenPipe = 32
    /// A path or name is too long (ENAMETOOLONG).
    case nameTooLong = 36
    /// The directory is not empty (ENOTEMPTY).
    case notEmpty = 39
    /// A malformed request: unknown label, too few words, bytes or handles it does not take (EBADMSG).
    case badMessage = 74
    /// The server does not do that (EOPNOTSUPP).
    case notSupported = 95

    public var name: StaticString {
        switch self {
        case .notFound: return "no such file or directory"
        case .io: return "I/O error"
        case .noServer: return "no server for that scheme"
        case .badFile: return "bad file id"
        case .noMemory: return "out of memory"
        case .accessDenied: return "access denied"
        case .busy: return "busy"
        case .exists: return "file exists"
        case .crossDevice: return "cross-device rename"
        case .notDirectory: return "not a directory"
        case .isDirectory: return "is a directory"
        case .invalid: return "invalid argument"
        case .tooManyOpen: return "too many open files"
        case .tooLarge: return "file too large"
        case .noSpace: return "no space left"
        case .readOnly: return "read-only file system"
        case .brokenPipe: return "broken pipe"
        case .nameTooLong: return "name too long"
        case .notEmpty: return "directory not empty"
        case .badMessage: return "malformed request"
        case .notSupported: return "not supported"
        }
    }
}

/// How a file is opened (open's w0). Bits not listed here are `.invalid`.
public struct OpenFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let read = OpenFlags(rawValue: 1 << 0)
    public static let write = OpenFlags(rawValue: 1 << 1)
    public static let create = OpenFlags(rawValue: 1 << 2)
    public static let truncate = OpenFlags(rawValue: 1 << 3)
    public static let append = OpenFlags(rawValue: 1 << 4)
    public static let exclusive = OpenFlags(rawValue: 1 << 5)
    public static let directory = OpenFlags(rawValue: 1 << 6)

    public static let all: OpenFlags = [.read, .write, .create, .truncate, .append, .exclusive, .directory]
}

/// mount's w0.
public struct MountFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// vfs refuses writes, creates, mkdir, unlink and rename under the mount point (`.readOnly`).
    public static let readOnly = MountFlags(rawValue: 1 << 0)
}

/// connect's optional w0.
public struct ConnectFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// vfs: the new connection may mount and unmount.
    public static let administrative = ConnectFlags(rawValue: 1 << 0)
}

/// The first byte of a `mounts` entry.
public struct MountEntryFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Mounted read-only (vfs refuses changes under it).
    public static let readOnly = MountEntryFlags(rawValue: 1 << 0)
    /// Its server is started by vfs on the first request under the mount point.
    public static let startedOnAccess = MountEntryFlags(rawValue: 1 << 1)
    /// Its server runs (always set for a mount whose server vfs does not start itself).
    public static let running = MountEntryFlags(rawValue: 1 << 2)
}

/// unlink's w0.
public struct UnlinkFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Remove an empty directory (rmdir).
    public static let directory = UnlinkFlags(rawValue: 1 << 0)
}

/// What a path names.
public enum FileKind: UInt8, CaseIterable, Sendable {
    case file = 1
    case directory = 2
}

/// control's w1: what a terminal request does.
public enum TerminalControl: UInt64, CaseIterable, Sendable {
    case getMode = 0
    case setMode = 1
    /// The process that Ctrl-C ends (through pm) and that reads the terminal's input.
    case setForeground = 2
    case getSize = 3
}

/// A terminal's line discipline (control's value for setMode/getMode).
public struct TerminalMode: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Input is handed over as it arrives, byte by byte, with no editing and no Ctrl-C/Ctrl-D handling.
    public static let raw = TerminalMode(rawValue: 1 << 0)
    /// Typed characters are echoed.
    public static let echo = TerminalMode(rawValue: 1 << 1)
    /// The default: line editing with echo.
    public static let cooked: TerminalMode = [.echo]
}

/// seek's w2.
public enum SeekOrigin: UInt64, CaseIterable, Sendable {
    case start = 0
    case current = 1
    case end = 2
}

public enum FileProtocol {
    /// The longest path or URI in a request, in bytes.
    public static let maxPath = 1024
    /// The longest name (one path component), in bytes.
    public static let maxName = 255
    /// The largest data window, in bytes.
    public static let maxWindow: UInt64 = 16 << 20
    /// Bytes of one readdir entry before its name: kind, name length, size.
    public static let direntHeader = 10
    /// The rights a window Frame handle needs.
    public static let windowRights: Rights = [.read, .write, .map]
    /// The rights of the Frame handle a `map` reply carries.
    public static let mapRights: Rights = [.read, .map, .transfer, .duplicate]
}
