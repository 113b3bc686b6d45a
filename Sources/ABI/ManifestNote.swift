// The server manifest: what a program is called, which services it needs (imports) and which it offers
// (exports). Each program declares it once, in Sources/Servers/NAME/manifest; the build stores it in the
// program's ELF file as a note, and root (and `osh manifest`) read it without running the program.
//
// Note layout (ELF SHT_NOTE section `.note.manifest`): owner "manifest" (with its NUL), type 1; the
// descriptor is UTF-8 text, one `key=value` line each for `name`, `imports` and `exports`, lists
// separated by commas, no spaces. Names are 1-64 bytes of letters, digits, '-', '_' and '.'.

public enum ManifestNote {
    /// The note's owner name, without the terminating NUL ("manifest").
    public static let owner: [UInt8] = [0x6d, 0x61, 0x6e, 0x69, 0x66, 0x65, 0x73, 0x74]
    /// The note type.
    public static let type: UInt32 = 1
    /// The longest name (of the program or of a service) a manifest may hold.
    public static let maxNameLength = 64
}
