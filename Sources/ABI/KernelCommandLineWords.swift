// The words of the kernel command line, declared once: the kernel parses its command line against this
// list (and warns about a word not in it), root reads its switches by these names, and `osh boot --help`
// prints the list. A word is a flag (`test`) or a `key=value` setting (`log=debug`).

/// One word the kernel command line understands.
public enum KernelWord: UInt8, CaseIterable, Sendable {
    /// Run the in-kernel tests and exit with their verdict.
    case test
    /// The root process runs the userspace test suite.
    case usertest
    /// The root process runs the IPC benchmarks.
    case bench
    /// Panic on purpose three calls deep (tests stack traces).
    case panicTest
    /// Take a kernel page fault on purpose (tests CPU exception reports).
    case faultTest
    /// Print the syscall tracker when the root process exits.
    case syscalls
    /// `panic=halt`: stop instead of ending QEMU after a panic (for a debugger).
    case panic
    /// `log=LEVEL`: the lowest level the serial log shows.
    case log
    /// Reset the machine through a triple fault on purpose (tests osh's report of it).
    case tripleFaultTest
    /// Overflow a thread's kernel stack on purpose (tests the guard page's panic).
    case stackOverflowTest
    /// Run the accelerator check (osh accel --check, with the accelcheck program as root).
    case accelCheck
    /// `acpi=dump`: print every ACPI table and what was parsed from it.
    case acpi
    /// `rounds=N`: round trips per IPC benchmark (with `bench`).
    case rounds
    /// `only=VARIANT`: run one IPC benchmark variant (with `bench`).
    case only
    /// With `bench` (on two CPUs or more): ipcbench measures IPC pairs on CPUs 0 and 1
    /// (scripts/bench-pairs.py) instead of its usual variants.
    case pairs
    /// `exitbench=N`: root times the exit of one process of N threads.
    case exitBench
    /// `smpstress=N`: root runs systest's SMP stress round with N seeds in a row (on
    /// several CPUs for it to mean something), then ends with its verdict.
    case smpStress
    /// `fuzz=SEED[-LAST][,COUNT][,known][,trace][,child=K][,selftest]`: root runs the syscall fuzzer.
    case fuzz
    /// `devtest=kbd|fb`: root drives a device for a host test (the PS/2 keyboard's IRQ, the framebuffer).
    case devTest
    /// `pcid=off`: address spaces share tag 0 and every switch flushes the TLB (as without PCID).
    case pcid
    /// init also starts the services of /etc/init.conf marked `when=inittest` (a service that faults, to
    /// show restarts with back-off and the restart limit).
    case initTest
    /// Root starts initfsd and vfs (as boot servers), then pm, and runs their tests (Sources/Servers/vfspmtest).
    case vfspmTest
    /// `root=DEVICE` (`virtio0p1`, `virtio0`, `LABEL=NAME`; Sources/Formats/RootDevice.swift): every boot
    /// server gets the command line; fsd.fat32 serves that volume and vfs mounts it (its `fat32` import) at
    /// fs:/// instead of a tmpfs.
    case root
    /// `smp=off`: the kernel leaves the other CPUs parked (never sends them INIT/STARTUP); `smp=boot`: it
    /// starts them but every thread runs on CPU 0 (the others idle). By default every CPU runs threads
    /// (`smp=threads`, once the switch for that, is still accepted and changes nothing).
    case smp
    /// init runs bin/disktest: the FAT32 tests on the virtio disk through fsd.fat32 (DiskTests).
    case diskTest
    /// init runs bin/disktest's 32 MiB sequential write and read (make bench's fat32.* figures).
    case fat32Bench
    /// init runs bin/disktest on a damaged image: every request answered, fsd.fat32 alive (DiskTests).
    case damagedDisk
    /// init runs the storage tests (Sources/Servers/storagetest: pcid and virtio-blk, with `osh boot --disk`).
    case storageTest
    /// init also runs the device servers' guest test (bin/devicetest: kbd, moused, timed, rngd) for
    /// InputDeviceTests, which acts on the VM through QMP.
    case deviceTest
    /// Take two spinlocks against their rank order on purpose (tests the lock-order checker's panic).
    case lockOrderTest
    /// init starts fat32test (fsd.fat32 on a RAM disk; Sources/Servers/fat32test), whose exit ends the run.
    case fat32Test
    /// `strace=all|NAME[,NAME…]`: trace the syscalls of every process, or of the programs with those
    /// names (up to four, 15 bytes each), into the kernel's trace buffer (`osh syscalls --trace`).
    case strace
    /// init also starts tracecat (Sources/Servers/tracecat), which prints /etc/init.conf through initfsd,
    /// for the syscall-trace test.
    case traceTest
    /// init runs bin/utilstest: the core utilities (bin/coreutils) on files of a test file server, their
    /// output and exit statuses checked; its exit ends the run.
    case utilsTest
    /// init runs usbtest (Sources/Servers/usbtest: pcid, usbd and the USB keyboard and tablet of
    /// `osh boot --usb`), whose exit ends the run; USBInputTests acts on the VM through QMP.
    case usbTest
    /// init also starts displaytest (Sources/Servers/displaytest): text and colours through outputd, and
    /// fbd's and outputd's answers to malformed requests, for DisplayTests' screendump.
    case displayTest
    /// init starts ttytest (Sources/Servers/ttytest), a small command loop on the console's terminal,
    /// whose exit ends the run (ConsoleTests, `osh boot --exec` without a shell).
    case consoleTest
    /// init runs the POSIX layer's and sh's guest test (Sources/Servers/posixtest), whose exit ends the run.
    case posixTest
    /// `console=serial`: the console stays on COM1 only and leaves outputd's screen to other programs
    /// (displaytest; by default it mirrors the terminal and the kernel log there).
    case console
    /// `killtest=NAME`: root ends boot server NAME (process_kill) 25 s after init started, to show it
    /// restarted (ServerRestartTests).
    case killTest
    /// `ipc_fastpath=off`: sender_call and receiver_reply_recv always take the general path (the IPC
    /// suite runs both ways; the fast path must be observably identical).
    case ipcFastPath

    /// The word as written on the command line (the key, for a setting).
    public var name: StaticString {
        switch self {
        case .test: return "test"
        case .usertest: return "usertest"
        case .bench: return "bench"
        case .panicTest: return "panic_test"
        case .faultTest: return "fault_test"
        case .syscalls: return "syscalls"
        case .panic: return "panic"
        case .log: return "log"
        case .tripleFaultTest: return "triplefault_test"
        case .stackOverflowTest: return "stack_overflow_test"
        case .accelCheck: return "accelcheck"
        case .acpi: return "acpi"
        case .rounds: return "rounds"
        case .only: return "only"
        case .pairs: return "pairs"
        case .exitBench: return "exitbench"
        case .smpStress: return "smpstress"
        case .fuzz: return "fuzz"
        case .devTest: return "devtest"
        case .pcid: return "pcid"
        case .initTest: return "inittest"
        case .vfspmTest: return "vfspmtest"
        case .root: return "root"
        case .smp: return "smp"
        case .diskTest: return "disktest"
        case .fat32Bench: return "fat32bench"
        case .damagedDisk: return "damageddisk"
        case .storageTest: return "storagetest"
        case .deviceTest: return "devicetest"
        case .lockOrderTest: return "lockorder_test"
        case .fat32Test: return "fat32test"
        case .utilsTest: return "utilstest"
        case .strace: return "strace"
        case .traceTest: return "tracetest"
        case .usbTest: return "usbtest"
        case .displayTest: return "displaytest"
        case .consoleTest: return "consoletest"
        case .posixTest: return "posixtest"
        case .console: return "console"
        case .killTest: return "killtest"
        case .ipcFastPath: return "ipc_fastpath"
        }
    }

    /// The value a setting takes (`key=VALUE`; a placeholder in capitals), or nil for a flag.
    public var value: StaticString? {
        switch self {
        case .panic: return "halt"
        case .log: return "LEVEL"
        case .acpi: return "dump"
        case .rounds, .exitBench, .smpStress: return "N"
        case .only: return "VARIANT"
        case .fuzz: return "SEED[-LAST][,COUNT][,known][,trace][,child=K][,selftest]"
        case .devTest: return "kbd|fb"
        case .pcid: return "off"
        case .root: return "DEVICE"
        case .smp: return "off|boot"
        case .strace: return "all|NAME[,NAME]"
        case .console: return "serial"
        case .killTest: return "NAME"
        case .ipcFastPath: return "off"
        default: return nil
        }
    }

    /// One line for `osh boot --help`.
    public var help: StaticString {
        switch self {
        case .test: return "run the in-kernel tests, exit with their verdict"
        case .usertest: return "root runs the userspace test suite"
        case .bench: return "root runs the IPC benchmarks"
        case .panicTest: return "panic on purpose (stack trace test)"
        case .faultTest: return "kernel page fault on purpose (exception report test)"
        case .syscalls: return "print the syscall tracker when root exits"
        case .panic: return "after a panic, halt (for a debugger) instead of exiting"
        case .log: return "lowest log level: trace, debug, info (default), warn, error"
        case .tripleFaultTest: return "triple fault on purpose (osh's stop report test)"
        case .stackOverflowTest: return "overflow a kernel stack on purpose (guard page test)"
        case .accelCheck: return "the accelerator check (osh accel --check boots it)"
        case .acpi: return "print every ACPI table and its parsed contents"
        case .rounds: return "round trips per IPC benchmark (with bench)"
        case .only: return "run one IPC benchmark variant: 0w, 1w, 4w or 1h (with bench)"
        case .pairs: return "ipcbench measures one and two client/server pairs on CPUs 0 and 1 (bench, two CPUs)"
        case .exitBench: return "root times the exit of one process of N threads"
        case .smpStress: return "root runs systest's SMP stress round with N seeds (N,storm: with the process storm)"
        case .fuzz: return "root runs the syscall fuzzer over the seeds (make soak, FuzzTests)"
        case .devTest: return "root waits for a key on IRQ 1 (kbd) or paints the framebuffer (fb), for DeviceTests"
        case .pcid: return "off: no PCID tags, a full TLB flush at every address-space switch"
        case .initTest: return "init also starts the init.conf services marked when=inittest (restart test)"
        case .vfspmTest: return "root starts vfs and pm and runs their tests (vfspmtest)"
        case .root: return "the root file system: virtio0p1, virtio0 or LABEL=NAME (fsd.fat32 serves it)"
        case .smp: return "off: leave the other CPUs parked; boot: start them but run every thread on CPU 0 (by default every CPU runs threads)"
        case .diskTest: return "init runs bin/disktest: FAT32 on the virtio disk (needs osh boot --disk IMG)"
        case .fat32Bench: return "init runs the FAT32 benchmark on the virtio disk (needs osh boot --disk IMG)"
        case .damagedDisk: return "init runs bin/disktest on a damaged disk image: answers, no crash (DiskTests)"
        case .storageTest: return "init runs the storage tests (pcid, virtio-blk; needs osh boot --disk IMG)"
        case .deviceTest: return "init runs bin/devicetest: keys, mouse, time and random bytes through the device servers"
        case .lockOrderTest: return "log while holding a higher-ranked spinlock on purpose (lock-order panic test)"
        case .fat32Test: return "init runs fat32test: fsd.fat32 on a formatted RAM disk (FAT32 guest tests)"
        case .utilsTest: return "init runs bin/utilstest: the core utilities run on test files, their output checked"
        case .strace: return "trace the syscalls of every process or of these programs (osh syscalls --trace)"
        case .traceTest: return "init also starts tracecat, which prints /etc/init.conf (syscall-trace test)"
        case .usbTest: return "init runs bin/usbtest: keys and tablet through usbd, a hot-plugged keyboard (needs osh boot --usb)"
        case .displayTest: return "init also starts displaytest: text and colours on the framebuffer console (outputd)"
        case .consoleTest: return "init runs ttytest, a small command loop on the console's terminal (console tests)"
        case .posixTest: return "init runs the POSIX layer's and sh's guest test (posixtest)"
        case .console: return "serial: the console stays off outputd's screen (by default it mirrors itself there)"
        case .killTest: return "root kills boot server NAME 25 s after init started (restart test)"
        case .ipcFastPath: return "off: sender_call and receiver_reply_recv always take the general IPC path"
        }
    }

    /// True for a `key=value` setting, false for a flag.
    public var isSetting: Bool { value != nil }

    /// The word makes the run a test or a benchmark: init starts no shell on the console then.
    public var isTestRun: Bool {
        switch self {
        case .test, .usertest, .bench, .panicTest, .faultTest, .tripleFaultTest, .stackOverflowTest, .accelCheck,
             .exitBench, .fuzz, .devTest, .initTest, .vfspmTest, .diskTest, .fat32Bench, .damagedDisk, .storageTest,
             .deviceTest, .lockOrderTest, .fat32Test, .utilsTest, .traceTest, .usbTest, .displayTest, .consoleTest,
             .posixTest:
            return true
        default:
            return false
        }
    }

    /// Under this word init ends with the code of the test program init.conf marks `exit`, and root ends
    /// the run with init's verdict.
    public var endsWithInit: Bool {
        switch self {
        case .usertest, .storageTest, .deviceTest, .fat32Test, .utilsTest, .usbTest, .diskTest, .damagedDisk,
             .fat32Bench, .posixTest:
            return true
        default:
            return false
        }
    }
}
