// The pure part of `osh boot`: option values, the kernel command line, and the QEMU argument vector.
// Nothing here touches the file system or spawns anything, so it is unit-tested directly.

import ArgumentParser
import Foundation

/// How the guest is loaded.
public enum BootMode: String, CaseIterable, Codable, Sendable, ExpressibleByArgument {
    /// QEMU's multiboot loader: `-kernel kernel.elf -append CMDLINE`.
    case direct
    /// GRUB from build/os.iso (or a per-run ISO when the command line is not the ISO's own).
    case iso
}

/// The accelerator asked for on the command line.
public enum AccelChoice: String, CaseIterable, Sendable, ExpressibleByArgument {
    case tcg, kvm, auto
}

/// The accelerator actually given to QEMU.
public enum Accel: String, Codable, Sendable {
    case tcg, kvm
}

/// The QEMU machine type (`--machine`); without it QEMU's default (pc) is used.
public enum MachineChoice: String, CaseIterable, Codable, Sendable, ExpressibleByArgument {
    /// Q35 chipset (ICH9): PCIe with an MCFG table, HPET.
    case q35
    /// i440FX chipset with PIIX: PCI, HPET, no MCFG.
    case pc
}

public enum DisplayChoice: String, CaseIterable, Sendable, ExpressibleByArgument {
    case none, gtk, sdl, vnc
}

/// A boot module: an ELF file handed to the kernel by the boot loader with a name as its string
/// (`root` is the root process).
public struct ModuleSpec: Equatable, Sendable {
    public var path: String
    public var name: String

    public init(path: String, name: String) {
        self.path = path
        self.name = name
    }

    /// Parses `--module PATH[:NAME]`; NAME defaults to the file's base name without its extension.
    /// A colon followed by something with a slash is part of the path.
    public static func parse(_ text: String) -> ModuleSpec? {
        var path = text
        var name: String?
        if let colon = text.lastIndex(of: ":") {
            let after = String(text[text.index(after: colon)...])
            if !after.contains("/") {
                path = String(text[..<colon])
                name = after
            }
        }
        if path.isEmpty { return nil }
        let base = (path as NSString).lastPathComponent
        let resolved = name ?? (base as NSString).deletingPathExtension
        guard isValidName(resolved) else { return nil }
        return ModuleSpec(path: path, name: resolved)
    }

    /// Names become a file name (NAME.elf), a word of QEMU's -initrd list and of grub.cfg: letters,
    /// digits, `-`, `_`, `.`; not `kernel` (the kernel's own copy is kernel.elf).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name != "kernel" && !name.hasPrefix(".")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    /// The copy's file name in the run directory (and in a per-run ISO's /boot).
    public var fileName: String { name + ".elf" }
}

/// Everything that determines QEMU's argument vector.
public struct QEMULaunchPlan: Equatable, Sendable {
    public var qemu: String
    public var mode: BootMode
    public var uefi: Bool
    /// The ELF given to `-kernel` (direct mode).
    public var kernel: String?
    /// The ISO given to `-cdrom` (ISO mode).
    public var iso: String?
    /// OVMF firmware code image (UEFI).
    public var ovmf: String?
    public var cmdline: String
    public var cpus: Int
    /// Nil: QEMU's default machine.
    public var machine: MachineChoice? = nil
    public var memoryMB: Int
    public var accel: Accel
    public var display: DisplayChoice
    public var gdbWait: Bool
    public var qmpSocket: String
    public var gdbSocket: String
    /// Boot modules (direct mode: -initrd; ISO mode: already in the ISO's grub.cfg).
    public var modules: [ModuleSpec] = []
    /// Raw disk images, each a virtio-blk PCI device (modern only: virtio 1.x), in order (`--disk`).
    public var disks: [String] = []
    /// An xHCI controller with a USB keyboard and tablet (`--usb`).
    public var usb = false
    /// osh's own QMP socket (VMWatcher); with it, a guest shutdown or reset pauses QEMU so osh can
    /// read the registers before it ends QEMU.
    public var watchSocket: String?
    /// With more than one CPU under TCG, one host thread per CPU (`-accel tcg,thread=multi`): QEMU 7.2
    /// otherwise runs the CPUs in turn on one thread, where they never truly race. Off for recordings
    /// (-icount does not go with multi-threaded TCG).
    public var multiThreadedTCG = true
    /// Whether the TCG CPU offers x2APIC (QEMU 8 and later do on `-cpu max`). Off for recordings: QEMU
    /// 10's icount cannot serve the x2APIC timer's count register through rdmsr (the recording stops with
    /// "Bad icount read" at the kernel's timer calibration), while the xAPIC's MMIO read works.
    public var x2APIC = true

    public init(qemu: String, mode: BootMode, uefi: Bool = false, kernel: String? = nil, iso: String? = nil,
                ovmf: String? = nil, cmdline: String = "", cpus: Int = 1, machine: MachineChoice? = nil, memoryMB: Int = 512,
                accel: Accel = .tcg, display: DisplayChoice = .none, gdbWait: Bool = false,
                qmpSocket: String, gdbSocket: String, modules: [ModuleSpec] = [], watchSocket: String? = nil) {
        self.modules = modules
        self.watchSocket = watchSocket
        self.qemu = qemu
        self.mode = mode
        self.uefi = uefi
        self.kernel = kernel
        self.iso = iso
        self.ovmf = ovmf
        self.cmdline = cmdline
        self.cpus = cpus
        self.machine = machine
        self.memoryMB = memoryMB
        self.accel = accel
        self.display = display
        self.gdbWait = gdbWait
        self.qmpSocket = qmpSocket
        self.gdbSocket = gdbSocket
    }
}

public enum BootPlanning {
    /// The default OVMF firmware location (Debian's ovmf package).
    public static let defaultOVMF = "/usr/share/OVMF/OVMF_CODE.fd"
    public static let defaultMemoryMB = 512
    /// `--cpus` values accepted: one CPU up to what an 8-bit xAPIC ID can name on both machine types.
    public static let validCPUs = 1...255
    /// Default `--timeout` in `--test` mode, in seconds.
    public static let defaultTestTimeout = 300.0

    /// QEMU's argument vector (argv[0] included) for a plan.
    public static func qemuArguments(_ plan: QEMULaunchPlan) -> [String] {
        var args = [plan.qemu, "-name", "osh"]
        switch plan.accel {
        case .tcg: args += ["-accel", plan.cpus > 1 && plan.multiThreadedTCG ? "tcg,thread=multi" : "tcg",
                            "-cpu", plan.x2APIC ? "max" : "max,-x2apic"]
        case .kvm: args += ["-accel", "kvm", "-cpu", "host"]
        }
        if let machine = plan.machine { args += ["-machine", machine.rawValue] }
        args += ["-smp", String(plan.cpus), "-m", "\(plan.memoryMB)M"]
        switch plan.display {
        case .none: args += ["-display", "none"]
        case .gtk: args += ["-display", "gtk"]
        case .sdl: args += ["-display", "sdl"]
        // The first free VNC display from :0, local connections only.
        case .vnc: args += ["-display", "vnc=127.0.0.1:0,to=99"]
        }
        args += [
            "-monitor", "none",
            // The serial port is QEMU's stdin/stdout, which are pipes owned by osh.
            "-serial", "stdio",
            "-no-reboot",
            "-nic", "none",
            // No sound: QEMU 10 otherwise opens a default audio backend for VNC (PipeWire, which
            // prints errors on stderr where no daemon or configuration is found).
            "-audiodev", "none,id=noaudio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-qmp", "unix:\(plan.qmpSocket),server=on,wait=off",
            "-chardev", "socket,id=gdb0,path=\(plan.gdbSocket),server=on,wait=off",
            "-gdb", "chardev:gdb0",
        ]
        if let watch = plan.watchSocket {
            args += ["-qmp", "unix:\(watch),server=on,wait=off", "-action", "shutdown=pause"]
        }
        if plan.gdbWait { args.append("-S") }
        args += diskArguments(plan.disks)
        if plan.usb { args += usbArguments }
        if plan.uefi, let ovmf = plan.ovmf {
            args += ["-drive", "if=pflash,format=raw,readonly=on,file=\(ovmf)"]
        }
        switch plan.mode {
        case .direct:
            args += ["-kernel", plan.kernel ?? "kernel.elf", "-append", plan.cmdline]
            if !plan.modules.isEmpty { args += ["-initrd", initrdArgument(plan.modules)] }
        case .iso:
            args += ["-cdrom", plan.iso ?? "os.iso", "-boot", "d"]
        }
        return args
    }

    /// `--usb`: QEMU's xHCI controller (`xhci`) with a keyboard (`usbkbd`) and a tablet (`usbtablet`) on
    /// its bus; a device added later with QMP `device_add` (bus xhci.0) is plugged into a free port.
    public static let usbArguments = ["-device", "qemu-xhci,id=xhci",
                                      "-device", "usb-kbd,id=usbkbd,bus=xhci.0",
                                      "-device", "usb-tablet,id=usbtablet,bus=xhci.0"]

    /// `-drive`/`-device` pairs for raw images as modern virtio-blk PCI devices (disk0, disk1, …); a
    /// comma inside a path is doubled.
    public static func diskArguments(_ disks: [String]) -> [String] {
        disks.enumerated().flatMap { i, path in
            ["-drive", "file=\(path.replacingOccurrences(of: ",", with: ",,")),format=raw,if=none,id=disk\(i)",
             "-device", "virtio-blk-pci,drive=disk\(i),disable-legacy=on"]
        }
    }

    /// QEMU's multiboot -initrd value: `PATH NAME` per module (the whole text is the module's string,
    /// the first word the file), separated by commas; a comma inside a path is doubled.
    public static func initrdArgument(_ modules: [ModuleSpec]) -> String {
        modules.map { $0.path.replacingOccurrences(of: ",", with: ",,") + " " + $0.name }.joined(separator: ",")
    }

    /// The kernel command line: the user's words, then `test` in test mode and `panic=halt` for
    /// `--dump-on-panic` (each unless already present).
    public static func kernelCommandLine(user: String?, test: Bool, panicHalt: Bool = false) -> String {
        var words = (user ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if test && !words.contains("test") { words.append("test") }
        if panicHalt && !words.contains("panic=halt") { words.append("panic=halt") }
        return words.joined(separator: " ")
    }

    /// Parses `--memory`: plain megabytes (`512`), or with a suffix `M`/`MB`/`MiB`, `G`/`GB`/`GiB`
    /// (case-insensitive). Nil when invalid or not positive.
    public static func parseMemory(_ text: String) -> Int? {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        let digits = lower.prefix(while: { $0.isASCII && $0.isNumber })
        guard let value = Int(digits), value > 0 else { return nil }
        let multiplier: Int
        switch lower.dropFirst(digits.count) {
        case "", "m", "mb", "mib": multiplier = 1
        case "g", "gb", "gib": multiplier = 1024
        default: return nil
        }
        let (mb, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : mb
    }

    /// In ISO mode GRUB's configuration is baked into the ISO: boot it as built when the user asked
    /// for no command line, otherwise build a per-run ISO whose grub.cfg carries the command line.
    /// Modules given with --module also need one (the default module is in the ISO `make` built), and so
    /// does a kernel given with --kernel (and no --iso): the ISO must boot that kernel.
    public static func needsPerRunISO(mode: BootMode, cmdline: String, explicitModules: Bool = false,
                                      explicitKernel: Bool = false) -> Bool {
        mode == .iso && (!cmdline.isEmpty || explicitModules || explicitKernel)
    }

    /// grub.cfg for a per-run ISO: boot /boot/kernel.elf through multiboot2 at once with `cmdline`,
    /// each module from /boot/NAME.elf with NAME as its string.
    public static func grubConfig(cmdline: String, modules: [ModuleSpec] = []) -> String {
        let words = cmdline.split(separator: " ").map { grubQuote(String($0)) }
        var lines = [(["multiboot2", "/boot/kernel.elf"] + words).joined(separator: " ")]
        for m in modules { lines.append("module2 /boot/\(m.fileName) \(grubQuote(m.name))") }
        let body = lines.map { "    " + $0 + "\n" }.joined()
        return "set timeout=0\nset default=0\nmenuentry \"os\" {\n" + body + "    boot\n}\n"
    }

    /// Quotes a word for GRUB's shell-like parser (single quotes; a quote is closed, escaped, reopened).
    static func grubQuote(_ word: String) -> String {
        let safe = word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "=_-.,:/+".contains($0)) }
        if safe { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
