// The framebuffer protocol: how a client draws on the screen through fbd (the service `framebuffer`).
// fbd holds the boot framebuffer (a physical Frame over the memory GRUB set up, mapped write-combining)
// and gives each client a drawing surface: a Frame of ordinary memory, width x height pixels of 4 bytes
// (0x00RRGGBB in a little-endian word), `width * 4` bytes a line, which the client maps and draws into.
// `present` copies a rectangle of the client's surface to the screen, so what is shown never has a
// half-drawn frame in it (double buffering: the surface is the back buffer, the framebuffer the front).
//
// Requests are IPC calls (label = FramebufferLabel; w0..w3 = the register words; → the reply's words).
// The reply's label is 0 on success or a FramebufferError. A request with an unknown label, fewer words,
// or bytes or handles it does not take is answered `.badMessage` (handles sent are closed).
//   info     → w0 width, w1 height (pixels), w2 format (bits per pixel | type << 8, as system_info's
//            framebufferFormat: 32 | 1 << 8 for 32-bit RGB), w3 the framebuffer's pitch in bytes.
//            `.noDevice` when the machine has no framebuffer (a direct `-kernel` boot has none).
//   surface  → w0 the surface's size in bytes, w1 its pitch in bytes; handles: 1, the client's surface
//            Frame (rights read, write, map, transfer). Each client (Sender badge) has one surface: asking again
//            gives another handle to the same Frame. `.tooMany` past FramebufferProtocol.maxClients.
//   present  w0 x, w1 y, w2 width, w3 height (pixels) → nothing. Copies that rectangle of the caller's
//            surface to the screen. `.noSurface` before `surface`; `.invalid` for an empty rectangle or
//            one that does not lie inside the screen.

/// The labels of framebuffer requests.
public enum FramebufferLabel: UInt32, CaseIterable, Sendable {
    case info = 1
    case surface = 2
    case present = 3

    /// The register words a request needs at least.
    public var minimumWords: Int {
        switch self {
        case .info, .surface: return 0
        case .present: return 4
        }
    }
}

/// Why a framebuffer request failed (the reply's label).
public enum FramebufferError: UInt32, Error, CaseIterable, Sendable {
    /// An unknown label, too few words, bytes or handles the request does not take.
    case badMessage = 1
    /// There is no framebuffer (or not one fbd can drive: it needs 32 bits per pixel, RGB).
    case noDevice = 2
    /// A rectangle outside the screen, or empty.
    case invalid = 3
    /// `present` before `surface`.
    case noSurface = 4
    /// More clients than fbd keeps surfaces for.
    case tooMany = 5
    /// fbd could not make the surface.
    case noMemory = 6

    public var name: StaticString {
        switch self {
        case .badMessage: return "malformed request"
        case .noDevice: return "no framebuffer"
        case .invalid: return "rectangle outside the screen"
        case .noSurface: return "no surface yet"
        case .tooMany: return "too many clients"
        case .noMemory: return "out of memory"
        }
    }
}

public enum FramebufferProtocol {
    /// The clients (badges) fbd keeps a surface for.
    public static let maxClients = 8
    /// system_info's framebufferFormat for the only format fbd drives: 32 bits per pixel, direct RGB.
    public static let rgb32Format: UInt64 = 32 | 1 << 8
    /// The rights of a surface handle.
    public static let surfaceRights: Rights = [.read, .write, .map, .transfer]
}
