// Device capabilities for boot servers: root reads initfs:///etc/devices.conf (Sources/Formats/
// DeviceGrants.swift) and makes, from the machine's Resource, each grant listed for a server (an IOPort,
// an IRQ object, a physical Frame, a Resource narrowed to the boot framebuffer, or a narrowed Resource for pcid), passed as `grant:NAME`. A driver thus holds its own device's ports and
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

    /// The pages of the boot framebuffer (system_info's mode), nil when the boot loader set up none.
    static func framebufferRange() -> (base: UInt64, size: UInt64)? {
        guard let address = try? systemInfo(.framebufferAddress), address != 0,
              let pitch = try? systemInfo(.framebufferPitch), let height = try? systemInfo(.framebufferHeight)
        else { return nil }
        let base = address & ~(pageSize - 1)
        return (base, (address + pitch * height - base + pageSize - 1) & ~(pageSize - 1))
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
                case .framebuffer:
                    guard let range = framebufferRange() else { continue }
                    h = try resourceCreate(machine, kind: .physical, base: range.base, size: range.size)
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
