// The block-device protocol: how a client (a file system such as fsd.fat32) talks to a disk driver
// (virtio-blk today; AHCI or NVMe could serve the same protocol later) over IPC.
//
// Requests are IPC calls through a Sender to the driver's Receiver. The request's label is a BlockLabel;
// register words carry the arguments below. Replies: label 0 on success or a BlockError raw value; results
// in the reply's words. A request with a label the driver does not know, fewer words than it needs, or
// bytes or handles it does not take is answered with `.badMessage`; a driver never crashes on one.
//
// Data moves through one shared Frame per client, the data window: the client `attach`es it once (one
// Frame handle with BlockProtocol.windowRights; the driver maps it and keeps it until `detach` or until
// the client attaches another). `read` and `write` name a window offset (a multiple of the block size)
// and a count of blocks; window offset + count × block size must lie inside the window (`.invalid`).
// Windows are keyed by the Sender's badge: a client that shares a Sender with another shares its window.
//
// Requests (w0..w3 = the message's register words; → the reply's words):
//   info     → w0 capacity in blocks, w1 block size in bytes, w2 BlockFlags, w3 the most blocks one
//            request may move
//   attach   handles: 1 (the window Frame) → w0 the window's size in bytes
//            A handle that is not a Frame, lacks rights, or is larger than BlockProtocol.maxWindow is
//            `.invalid` (the driver closes it).
//   read     w0 first block, w1 block count, w2 window offset → w0 blocks read
//   write    w0 first block, w1 block count, w2 window offset → w0 blocks written
//            (`.readOnly` on a read-only device)
//   flush    → nothing; returns when every write answered before it is on stable storage
//   detach   → nothing; the window is unmapped and closed (`.noWindow` when none is attached)
//
// Ranges: first block + count must not pass the capacity (`.outOfRange`); a count of 0 or above w3 of
// `info` is `.invalid`. Without an attached window `read` and `write` are `.noWindow`. The checks go in
// this order: window (`.noWindow`), read-only device (`.readOnly`, writes), count (`.invalid`), range
// (`.outOfRange`), window offset (`.invalid`). A refused `attach` leaves an earlier window attached.

/// The labels of block-device requests.
public enum BlockLabel: UInt32, CaseIterable, Sendable {
    case info = 1
    case attach = 2
    case read = 3
    case write = 4
    case flush = 5
    case detach = 6

    public var name: StaticString {
        switch self {
        case .info: return "info"
        case .attach: return "attach"
        case .read: return "read"
        case .write: return "write"
        case .flush: return "flush"
        case .detach: return "detach"
        }
    }

    /// The register words a request needs at least (fewer is `.badMessage`).
    public var minimumWords: Int {
        switch self {
        case .info, .attach, .flush, .detach: return 0
        case .read, .write: return 3
        }
    }
}

/// Why a block request failed.
public enum BlockError: UInt32, Error, CaseIterable, Sendable {
    /// The device reported an error, or did not answer (EIO).
    case io = 5
    /// A bad argument: count, window offset or window (EINVAL).
    case invalid = 22
    /// The block range passes the device's capacity.
    case outOfRange = 34
    /// The device is read-only (EROFS).
    case readOnly = 30
    /// No window is attached for this client.
    case noWindow = 77
    /// A malformed request: unknown label, too few words, bytes or handles it does not take (EBADMSG).
    case badMessage = 74
    /// The driver has no device (it started on a machine without one): every request but a malformed
    /// one (ENODEV).
    case noDevice = 19

    public var name: StaticString {
        switch self {
        case .io: return "I/O error"
        case .invalid: return "invalid argument"
        case .outOfRange: return "block range past the end of the device"
        case .readOnly: return "read-only device"
        case .noWindow: return "no window attached"
        case .badMessage: return "malformed request"
        case .noDevice: return "no device"
        }
    }
}

/// info's w2.
public struct BlockFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Writes are refused.
    public static let readOnly = BlockFlags(rawValue: 1 << 0)
    /// The device has a volatile write cache: `flush` matters.
    public static let writeCache = BlockFlags(rawValue: 1 << 1)
}

public enum BlockProtocol {
    /// The largest data window, in bytes.
    public static let maxWindow: UInt64 = 4 << 20
    /// The rights a window Frame handle needs.
    public static let windowRights: Rights = [.read, .write, .map]
}
