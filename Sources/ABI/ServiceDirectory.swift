// The service directory: how a program started after boot gets the services its manifest imports.
//
// Root makes a Sender for every boot server's import while the system starts, and keeps the Receiver of
// every exported service while it runs (a restarted exporter gets the same one). A server whose manifest
// imports `services` (pm; optional, `services?`) gets a Sender to root's directory instead of a Sender to
// a boot server: through it, it asks root for a new Sender to any service a running boot server exports,
// with a badge of its own, so the exporter can tell that client from every other. pm asks for each import
// of a program's manifest that the spawner did not hand over (and that pm does not give itself: pm, vfs,
// initfs, time) and gives it to the child as `import:NAME`.
//
// Request: label ServiceDirectory.connectLabel, w0: the name's length; bytes: the service's name (UTF-8,
// at most ManifestNote.maxNameLength bytes).
// Reply: label 0, w0 = 0 or a ServiceError raw value (.notFound: no running boot server exports it;
// .badMessage: a wrong label, words or bytes, or handles sent; .noMemory: root could not make the
// Sender); w1: the badge the new Sender carries; handles: 1, the Sender, on success.
//
// Register (drivers started after boot, Sources/initfs/etc/drivers.conf): label
// ServiceDirectory.registerLabel, w0: the name's length; bytes: the name; handles: 1, a Receiver (the
// one the started driver serves, `export:NAME`; root keeps it and makes Senders to it for `connect`).
// Only the registrar's Sender (init's `import:services`) may register (.accessDenied otherwise); a name
// a boot server exports or one registered already is .exists; a handle that is not a Receiver is
// .invalid. Reply: label 0, w0 = 0 or the ServiceError; the Receiver is closed on any error.
// Root answers these in the loop that restarts servers, so a request made while root waits out a
// restart's back-off (at most 800 ms) waits for it.

public enum ServiceDirectory {
    /// The import name that means "root's directory".
    public static let service = "services"
    /// `connect` ("SDCN").
    public static let connectLabel: UInt32 = 0x5344_434E
    /// `register` ("SDRG").
    public static let registerLabel: UInt32 = 0x5344_5247
}
