// Device capabilities for boot servers: root reads initfs:///etc/devices.conf (Sources/Formats/
// DeviceGrants.swift) and makes, from the machine's Resource, each grant listed for a server (an IOPort,
// an IRQ object, a physical Frame, or a narrowed Resource for pcid), passed as `grant:NAME`. A driver thus holds its own device's ports and
// lines and nothing else of the machine.

enum Devices {
    static let configPath = "etc/devices.conf"
    /// The parsed file (read once).
    static var grants: [DeviceGrant]? = nil

    static func all() -> [DeviceGrant] {
        if let grants { return grants }
        guard let text = Initfs.file(configPath) else {
            grants = []
            return []
        }
        let (parsed, bad) = DeviceGrants.parse(Array(text))
        for line in bad { print("root: initfs:///\(configPath) line \(line): not a device grant; skipped") }
        grants = parsed
        return parsed
    }

    /// The named handles `server` gets; nil (with a log line) when one cannot be made.
    static func make(for server: String, machine: Handle) -> [(name: String, handle: Handle)]? {
        var made: [(name: String, handle: Handle)] = []
        for g in all() where g.server == server {
            do throws(SysError) {
                let h: Handle
                switch g.kind {
                case .ioPort(let base, let count): h = try ioportCreate(machine, base: base, count: count)
                case .irq(let number, let isa): h = try irqCreate(machine, number, isa ? .isa : .gsi)
                case .physical(let address, let size): h = try frameCreatePhysical(machine, address: address, size: size)
                case .resource(let kind, let base, let size): h = try resourceCreate(machine, kind: kind, base: base, size: size)
                }
                made.append((staticText(StartupBlock.grantPrefix) + g.name, h))
            } catch {
                print("root: \(server): cannot make its device grant `\(g.name)`: \(error.name)")
                for m in made { _ = try? handleClose(m.handle) }
                return nil
            }
        }
        return made
    }
}
