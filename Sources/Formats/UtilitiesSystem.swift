// The system utilities' formatting: ps (pm's process records), free (the kernel's frame counts),
// uptime (the monotonic clock), df (statfs), date (timed's wall clock), lspci (pcid's functions, with
// names for the common classes) and `syscalls` (the kernel's tracker table). Pure logic, host-tested in
// Tests/FormatsTests/UtilitiesTests.swift.

#if !USERSPACE
import ABI
#endif

public enum SystemFormat {
    /// ps's header and one line per process: PID PPID STATE THREADS MEM(KiB) NAME.
    public static let psHeader = "  PID  PPID S THR    MEM NAME"

    public static func psLine(_ r: ProcessRecord) -> String {
        UtilityFormat.right("\(r.id)", 5) + " " + UtilityFormat.right("\(r.parent)", 5) + " "
            + (r.state == .running ? "R" : "Z") + " " + UtilityFormat.right("\(r.threads)", 3) + " "
            + UtilityFormat.right("\(r.pages * 4)K", 6) + " " + String(decoding: r.name, as: UTF8.self)
    }

    /// free's lines: the kernel's free frames and heap pages, in KiB (or `-h` units).
    public static func free(freeFrames: UInt64, heapPages: UInt64, human: Bool) -> [String] {
        func size(_ pages: UInt64) -> String {
            human ? UtilityFormat.human(pages * 4096) : "\(pages * 4)"
        }
        return ["            free     kernel heap",
                "Mem:  " + UtilityFormat.right(size(freeFrames), 10) + " " + UtilityFormat.right(size(heapPages), 15)]
    }

    /// `up 1:02:03` style: days, hours, minutes, seconds of `nanoseconds` since boot.
    public static func uptime(nanoseconds: UInt64) -> String {
        let seconds = nanoseconds / 1_000_000_000
        let days = seconds / 86_400, rest = seconds % 86_400
        var s = "up "
        if days > 0 { s += days == 1 ? "1 day, " : "\(days) days, " }
        s += "\(rest / 3600):" + UtilityFormat.two(Int64(rest / 60 % 60)) + ":" + UtilityFormat.two(Int64(rest % 60))
        return s
    }

    /// df's header and one line: size, used, free (1K blocks, or `-h` units), use%, the path.
    /// df's header, GNU df's columns (`Filesystem 1K-blocks Used Available Use% Mounted on`).
    public static func dfHeader(human: Bool) -> String {
        UtilityFormat.left("Filesystem", 14) + " " + (human
            ? UtilityFormat.right("Size", 5) + " " + UtilityFormat.right("Used", 5) + " " + UtilityFormat.right("Avail", 5)
            : UtilityFormat.right("1K-blocks", 10) + " " + UtilityFormat.right("Used", 10) + " " + UtilityFormat.right("Available", 10))
            + " Use% Mounted on"
    }

    /// One df line: the source, size, used and free (KiB: size and used rounded up, free down, as GNU
    /// df does), Use% rounded up, the mount point.
    public static func dfLine(source: String, size: UInt64, free: UInt64, point: String, human: Bool) -> String {
        let used = size >= free ? size - free : 0
        // Use% rounds up, as df does.
        let percent = size == 0 ? "-" : "\((used * 100 + size - 1) / size)%"
        let head = UtilityFormat.left(source, 14) + " "
        if human {
            return head + UtilityFormat.right(UtilityFormat.human(size), 5) + " " + UtilityFormat.right(UtilityFormat.human(used), 5)
                + " " + UtilityFormat.right(UtilityFormat.human(free), 5) + " " + UtilityFormat.right(percent, 4) + " " + point
        }
        return head + UtilityFormat.right("\((size + 1023) / 1024)", 10) + " " + UtilityFormat.right("\((used + 1023) / 1024)", 10)
            + " " + UtilityFormat.right("\(free / 1024)", 10) + " " + UtilityFormat.right(percent, 4) + " " + point
    }

    static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// date's default form, `Fri Nov 27 10:05:55 UTC 2026` (the weekday of 1970-01-01 was a Thursday).
    public static func date(unixSeconds: Int64) -> String {
        let t = CivilDateTime(unixSeconds: unixSeconds)
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let weekday = weekdays[Int(((days % 7) + 7) % 7)]
        return weekday + " " + months[Int(t.month - 1)] + " " + UtilityFormat.right("\(t.day)", 2) + " "
            + UtilityFormat.two(t.hour) + ":" + UtilityFormat.two(t.minute) + ":" + UtilityFormat.two(t.second)
            + " UTC \(t.year)"
    }

    /// `date -I` / `date +%s`-like forms: ISO 8601 date and time in UTC.
    public static func isoDate(unixSeconds: Int64) -> String {
        let t = CivilDateTime(unixSeconds: unixSeconds)
        return "\(t.year)-" + UtilityFormat.two(t.month) + "-" + UtilityFormat.two(t.day) + "T" + UtilityFormat.two(t.hour)
            + ":" + UtilityFormat.two(t.minute) + ":" + UtilityFormat.two(t.second) + "Z"
    }

    /// The PCI class name lspci shows for a class and subclass (the PCI Code and ID Assignment
    /// Specification's names for the common ones), or `Class XXYY`.
    public static func pciClassName(_ cls: UInt8, _ sub: UInt8) -> String {
        switch (cls, sub) {
        case (0x01, 0x00): return "SCSI storage controller"
        case (0x01, 0x01): return "IDE interface"
        case (0x01, 0x06): return "SATA controller"
        case (0x01, 0x08): return "Non-Volatile memory controller"
        case (0x01, _): return "Mass storage controller"
        case (0x02, 0x00): return "Ethernet controller"
        case (0x02, _): return "Network controller"
        case (0x03, 0x00): return "VGA compatible controller"
        case (0x03, _): return "Display controller"
        case (0x04, 0x01): return "Multimedia audio controller"
        case (0x04, 0x03): return "Audio device"
        case (0x04, _): return "Multimedia controller"
        case (0x05, _): return "Memory controller"
        case (0x06, 0x00): return "Host bridge"
        case (0x06, 0x01): return "ISA bridge"
        case (0x06, 0x04): return "PCI bridge"
        case (0x06, 0x80): return "Bridge"
        case (0x06, _): return "Bridge"
        case (0x07, 0x00): return "Serial controller"
        case (0x07, _): return "Communication controller"
        case (0x08, _): return "System peripheral"
        case (0x09, _): return "Input device controller"
        case (0x0c, 0x03): return "USB controller"
        case (0x0c, 0x05): return "SMBus"
        case (0x0c, _): return "Serial bus controller"
        case (0x00, 0x01): return "VGA compatible unclassified device"
        case (0x00, _): return "Unclassified device"
        case (0xff, _): return "Unassigned class"
        default: return "Class " + UtilityFormat.hex(UInt64(cls), digits: 2) + UtilityFormat.hex(UInt64(sub), digits: 2)
        }
    }

    /// One lspci line: `00:1f.2 SATA controller [0106]: 8086:2922 (rev 02)`.
    public static func lspciLine(bus: UInt8, device: UInt8, function: UInt8, cls: UInt8, sub: UInt8,
                                 vendor: UInt16, deviceID: UInt16, revision: UInt8) -> String {
        UtilityFormat.hex(UInt64(bus), digits: 2) + ":" + UtilityFormat.hex(UInt64(device), digits: 2) + "."
            + UtilityFormat.hex(UInt64(function), digits: 1) + " " + pciClassName(cls, sub) + " ["
            + UtilityFormat.hex(UInt64(cls), digits: 2) + UtilityFormat.hex(UInt64(sub), digits: 2) + "]: "
            + UtilityFormat.hex(UInt64(vendor), digits: 4) + ":" + UtilityFormat.hex(UInt64(deviceID), digits: 4)
            + (revision != 0 ? " (rev " + UtilityFormat.hex(UInt64(revision), digits: 2) + ")" : "")
    }

    /// `syscalls`' lines from the tracker table (TrackerLayout's words): each syscall and each object
    /// type's methods with a non-zero count, the busiest first (ties by number), as `osh syscalls` lists
    /// them; nil when the table's magic or version is wrong.
    public static func trackerLines(_ table: [UInt64]) -> [String]? {
        guard table.count >= TrackerLayout.totalWords, table[0] == TrackerLayout.magic,
              table[1] == TrackerLayout.version else { return nil }
        var calls: [(count: UInt64, number: Int, name: String)] = []
        for call in Syscall.allCases where Int(call.rawValue) < TrackerLayout.syscallSlots {
            let n = table[TrackerLayout.headerWords + Int(call.rawValue)]
            if n > 0 { calls.append((n, Int(call.rawValue), staticText(call.name))) }
        }
        calls.sort { $0.count != $1.count ? $0.count > $1.count : $0.number < $1.number }
        let width = calls.map { $0.name.utf8.count }.max() ?? 0
        var lines = calls.map { UtilityFormat.left($0.name, width) + " " + UtilityFormat.right("\($0.count)", 10) }
        for type in ObjectType.allCases where type != .none && Int(type.rawValue) < TrackerLayout.objectSlots {
            let n = table[TrackerLayout.headerWords + TrackerLayout.syscallSlots + Int(type.rawValue)]
            if n > 0 { lines.append("methods of " + staticText(type.name) + " " + "\(n)") }
        }
        let unknown = table[TrackerLayout.totalWords - 1]
        if unknown > 0 { lines.append("unknown numbers \(unknown)") }
        return lines
    }

    static func staticText(_ s: StaticString) -> String {
        String(decoding: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
    }
}
