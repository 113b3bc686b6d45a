// The error words of service replies that are not the file protocol's (pm answers with these in w0;
// file servers answer with FileError in the reply's label, FileProtocol.swift).

/// The error words of pm's replies (ProcessProtocol.swift): POSIX's numbers and meanings.
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

extension ServiceError {
    /// A file server's error as a service error word (the same POSIX number where there is one).
    public init(_ error: FileError) {
        self = ServiceError(rawValue: UInt64(error.rawValue)) ?? .io
    }
}
