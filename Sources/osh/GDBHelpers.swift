import Foundation
import KernelCore
import ABI

// The Python part of the gdb script `osh attach` generates: gdb 13 has no Swift demangler, so a frame
// filter gives `bt` demangled names through the toolchain's swift-demangle; and three commands make the
// session know the OS's objects: `osh-bt` (the frame-pointer chain from the current frame, kernel and
// user frames, symbolized by osh), `osh-syscalls` (the kernel's syscall tracker, as `osh syscalls`) and
// `osh-threads` (the kernel's thread registry, Sources/Kernel/Debug/ThreadRegistry.swift, read by symbol).
// gdb 13 knows Swift functions only by their mangled names; the helpers load small object files of ELF
// symbols named as `bt` shows them, so gdb's own `break Scheduler.initialize` works (`osh-break` too).

/// The settings and source of the Python helpers in the generated gdb script.
public enum GDBHelpers {
    /// One ELF of the run as the helpers see it: where its addresses land in the guest.
    public struct Image: Equatable {
        public var name: String
        public var path: String
        /// Added to the ELF's addresses to get guest addresses.
        public var offset: UInt64
        /// The guest address range [low, high) of its PT_LOAD segments.
        public var low: UInt64
        public var high: UInt64
    }

    /// The guest address range of an ELF's PT_LOAD segments plus `offset`, or nil if it cannot be read.
    static func loadRange(elfPath: String, offset: UInt64) -> (UInt64, UInt64)? {
        guard let data = FileManager.default.contents(atPath: elfPath) else { return nil }
        return data.withUnsafeBytes { raw -> (UInt64, UInt64)? in
            guard let elf = try? ELFFile(raw), let phs = try? elf.programHeaders() else { return nil }
            let loads = phs.filter { $0.type == ELFProgramHeader.load && $0.memorySize > 0 }
            guard let lo = loads.map(\.vaddr).min(), let hi = loads.map({ $0.vaddr + $0.memorySize }).max() else { return nil }
            return (lo &+ offset, hi &+ offset)
        }
    }

    /// The kernel and servers of `run` with their guest ranges (ELFs that cannot be read are left out).
    public static func images(of run: VMRun) -> [Image] {
        var out: [Image] = []
        if let k = run.manifest.kernel, let (lo, hi) = loadRange(elfPath: run.path(of: k), offset: 0) {
            out.append(Image(name: "kernel", path: run.path(of: k), offset: 0, low: lo, high: hi))
        }
        for s in run.manifest.servers {
            let p = run.path(of: s)
            let off = AttachScript.loadOffset(of: s, elfPath: p) ?? 0
            if let (lo, hi) = loadRange(elfPath: p, offset: off) {
                out.append(Image(name: s.name ?? URL(fileURLWithPath: p).deletingPathExtension().lastPathComponent,
                                 path: p, offset: off, low: lo, high: hi))
            }
        }
        return out
    }

    /// swift-demangle from PATH, else next to swiftc on PATH (the toolchain's bin directory).
    public static func findDemangler(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let dirs = (path ?? "").split(separator: ":").map(String.init)
        for d in dirs where FileManager.default.isExecutableFile(atPath: d + "/swift-demangle") { return d + "/swift-demangle" }
        for d in dirs where FileManager.default.isExecutableFile(atPath: d + "/swiftc") {
            let real = URL(fileURLWithPath: d + "/swiftc").resolvingSymlinksInPath().deletingLastPathComponent().path
            if FileManager.default.isExecutableFile(atPath: real + "/swift-demangle") { return real + "/swift-demangle" }
        }
        return nil
    }

    /// The path of the running osh executable (for the helpers to call back).
    public static var oshExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// A Python string literal.
    static func py(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            .replacingOccurrences(of: "\n", with: "\\n") + "'"
    }

    /// The gdb `python … end` block for `run`.
    public static func script(for run: VMRun, osh: String = oshExecutable, demangler: String? = findDemangler()) -> String {
        let images = images(of: run).map {
            "(\(py($0.name)), \(py($0.path)), 0x\(String($0.offset, radix: 16)), 0x\(String($0.low, radix: 16)), 0x\(String($0.high, radix: 16)))"
        }
        // Every program ELF osh can find for the run (run directory, BUILD/servers), by full build ID:
        // osh-bt names user frames with the program the kernel's process table gives for CR3.
        let programs = FrameNamer.candidateELFs(run: run).sorted { $0.key < $1.key }.map { "(\(py($0.key)), \(py($0.value)))" }
        return """
        python
        OSH = \(py(osh))
        OSH_RUN = \(py(run.url.path))
        OSH_DEMANGLER = \(demangler.map(py) ?? "None")
        OSH_IMAGES = [\(images.joined(separator: ", "))]
        OSH_PROGRAMS = [\(programs.joined(separator: ", "))]
        OSH_PROCESS_TABLE = (\(py(ProcessTableLayout.symbol)), \(ProcessTableLayout.entries), \(ProcessTableLayout.entryWords), \(ProcessTableLayout.nameLengthWord), \(ProcessTableLayout.nameWord), \(ProcessTableLayout.maxName), \(ProcessTableLayout.buildIDLengthWord), \(ProcessTableLayout.buildIDWord), \(ProcessTableLayout.maxBuildID), \(ProcessTableLayout.pageTableRootWord))
        \(pythonSource)
        end

        """
    }

    /// The helpers (Python 3, gdb's API). Kept free of tabs: gdb's `python` block is indentation-sensitive.
    static let pythonSource = #"""
    import gdb, subprocess
    from gdb.FrameDecorator import FrameDecorator

    _osh_names = {}

    def osh_demangle(name):
        """Swift's mangled names ($e…, $s…) demangled by swift-demangle; anything else as is."""
        if not isinstance(name, str) or not OSH_DEMANGLER or not name.lstrip('_').startswith(('$e', '$s', '$S')):
            return name
        if name not in _osh_names:
            try:
                out = subprocess.run([OSH_DEMANGLER, '--compact', '--simplified', name], capture_output=True,
                                     text=True, timeout=10).stdout.strip()
            except Exception:
                out = ''
            _osh_names[name] = out or name
        return _osh_names[name]

    class OshSwiftFrame(FrameDecorator):
        """A frame whose function name is demangled."""
        def function(self):
            return osh_demangle(super().function())

    class OshSwiftNames:
        """Frame filter: Swift names in `bt` demangled."""
        def __init__(self):
            self.name = 'osh-swift-names'
            self.priority = 100
            self.enabled = True
            gdb.frame_filters[self.name] = self
        def filter(self, frames):
            return map(OshSwiftFrame, frames)

    OshSwiftNames()

    def osh_image(address):
        """The images of the run whose guest range holds `address` (user programs share 0x400000)."""
        return [i for i in OSH_IMAGES if i[3] <= address < i[4]]

    def osh_running_program():
        """('NAME pid N', ELF path) of the process whose page-table root CR3 holds, from the kernel's process
        table (debug_processes) and the run's ELFs by build ID; None when CR3 or the table cannot be read
        (a core file has no CR3) or no ELF of the run has that build ID."""
        import struct
        symbol, entries, words, name_len, name_at, name_max, id_len, id_at, id_max, root_at = OSH_PROCESS_TABLE
        try:
            root = int(gdb.selected_frame().read_register('cr3')) & 0x000ffffffffff000
            base = int(gdb.parse_and_eval('(unsigned long)&' + symbol))
            table = bytes(gdb.selected_inferior().read_memory(base, entries * words * 8))
        except Exception:
            return None
        if root == 0:
            return None
        for i in range(entries):
            e = struct.unpack_from('<%dQ' % words, table, i * words * 8)
            if e[0] == 0 or e[root_at] != root or e[id_len] == 0:
                continue
            start = i * words * 8
            name = table[start + name_at * 8:start + name_at * 8 + min(e[name_len], name_max)].decode('utf-8', 'replace')
            build_id = table[start + id_at * 8:start + id_at * 8 + min(e[id_len], id_max)].hex()
            for path, full in OSH_PROGRAMS:
                if full.startswith(build_id):
                    return ('%s pid %d' % (name, e[0] - 1), path)
            return None
        return None

    def osh_symbolize(image, addresses, return_addresses):
        """osh symbolize on one ELF: per address a list of (function, file:line:column) (inlined first)."""
        args = [OSH, 'symbolize', '--elf', image[1]] + (['--return-address'] if return_addresses else [])
        args += ['0x%x' % (a - image[2]) for a in addresses]
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
        except Exception as e:
            return [[('??', str(e))] for _ in addresses]
        blocks = [b for b in out.split('\n\n') if b.strip()]
        result = []
        for b in blocks:
            lines = b.strip('\n').split('\n')
            result.append([(lines[i], lines[i + 1] if i + 1 < len(lines) else '??') for i in range(0, len(lines), 2)])
        return result + [[('??', '??')]] * (len(addresses) - len(result))

    class OshBacktrace(gdb.Command):
        """osh-bt [N]: the frame-pointer chain from the selected frame, through the kernel's trap and
    syscall frames into user code, symbolized by osh with the run's kernel and program ELFs (at most N
    frames, default 64). User frames are named by the program of the process whose page-table root CR3
    holds (the kernel's process table, its ELF found by build ID); without CR3 (a core file) by the
    run's modules."""
        def __init__(self):
            super().__init__('osh-bt', gdb.COMMAND_STACK)
        def invoke(self, arg, from_tty):
            limit = int(arg) if arg.strip() else 64
            frame = gdb.selected_frame()
            pc = int(frame.read_register('rip')) & 0xffffffffffffffff
            fp = int(frame.read_register('rbp')) & 0xffffffffffffffff
            inferior = gdb.selected_inferior()
            chain = [pc]
            while fp != 0 and fp % 8 == 0 and len(chain) < limit:
                try:
                    words = bytes(inferior.read_memory(fp, 16))
                except gdb.MemoryError:
                    break
                next_fp = int.from_bytes(words[:8], 'little')
                ret = int.from_bytes(words[8:], 'little')
                if ret == 0:
                    break
                chain.append(ret)
                fp = next_fp
            running = osh_running_program() if any(a < 0x800000000000 for a in chain) else None
            for n, address in enumerate(chain):
                if running and address < 0x800000000000:
                    # A user address: the program of the running process (process table), not a guess
                    # among the run's modules (every program links at 0x400000).
                    images = [(running[0], running[1], 0, 0, 0x800000000000)]
                else:
                    images = osh_image(address)
                if not images:
                    print('#%-2d 0x%016x (no ELF of this run holds it)' % (n, address))
                    continue
                image = images[0]
                frames = osh_symbolize(image, [address], n > 0)[0]
                note = image[0] if len(images) == 1 else image[0] + ' (or ' + ', '.join(i[0] for i in images[1:]) + ')'
                for k, (function, place) in enumerate(frames):
                    prefix = '#%-2d 0x%016x' % (n, address) if k == 0 else ' ' * 23 + '(inlined)'
                    print('%s in %s at %s [%s]' % (prefix, function, place, note))

    class OshSyscalls(gdb.Command):
        """osh-syscalls: the kernel's syscall and method-call counts of this run (as `osh syscalls`)."""
        def __init__(self):
            super().__init__('osh-syscalls', gdb.COMMAND_STATUS)
        def invoke(self, arg, from_tty):
            r = subprocess.run([OSH, 'syscalls', '--run', OSH_RUN] + gdb.string_to_argv(arg),
                               capture_output=True, text=True, timeout=60)
            print((r.stdout + r.stderr).rstrip('\n'))

    OSH_THREAD_STATES = ['created', 'ready', 'running', 'blocked', 'dead']

    class OshThreads(gdb.Command):
        """osh-threads: the kernel's threads and processes with their state, read from the thread registry
    (the kernel symbol debug_threads, Sources/Kernel/Debug/threads.S); the thread whose kernel stack
    is the per-CPU one is marked as on the CPU."""
        def __init__(self):
            super().__init__('osh-threads', gdb.COMMAND_STATUS)
        def invoke(self, arg, from_tty):
            try:
                base = int(gdb.parse_and_eval('(unsigned long)&debug_threads'))
                dropped = int(gdb.parse_and_eval('*(unsigned long *)&debug_threads_dropped'))
                raw = bytes(gdb.selected_inferior().read_memory(base, 256 * 64))
            except gdb.error as e:
                raise gdb.GdbError('osh-threads: cannot read the kernel thread registry: %s' % e)
            words = [int.from_bytes(raw[i:i + 8], 'little') for i in range(0, len(raw), 8)]
            try:
                running_stack = int(gdb.parse_and_eval('*(unsigned long *)&percpu_storage')) & 0xffffffffffffffff
            except gdb.error:
                running_stack = None
            threads = []
            for slot in range(256):
                tid1, pid, state, prio, stack = words[slot * 8:slot * 8 + 5]
                if tid1:
                    name = OSH_THREAD_STATES[state] if state < len(OSH_THREAD_STATES) else 'state %d' % state
                    notes = []
                    if tid1 == 1:
                        notes.append('the idle thread')
                    if stack == running_stack:
                        notes.append('on the CPU')
                    threads.append((pid, tid1 - 1, name, prio, ', '.join(notes)))
            processes = sorted(set(t[0] for t in threads))
            print('%d threads in %d processes' % (len(threads), len(processes)))
            for pid in processes:
                print('process %d%s' % (pid, ' (the kernel)' if any(t[1] == 0 for t in threads if t[0] == pid) else ''))
                for t in sorted(x for x in threads if x[0] == pid):
                    print('  thread %-4d %-8s priority %-3d %s' % (t[1], t[2], t[3], t[4]))
            if dropped:
                print('(%d threads found the registry full and are not listed)' % dropped)

    def osh_elf_functions(path):
        """(name, address) of the STT_FUNC symbols of an ELF64 file's .symtab."""
        import struct
        with open(path, 'rb') as f:
            data = f.read()
        shoff, = struct.unpack_from('<Q', data, 0x28)
        shentsize, shnum = struct.unpack_from('<HH', data, 0x3a)
        sections = [struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize) for i in range(shnum)]
        out = []
        for sh in sections:
            if sh[1] != 2:                                  # SHT_SYMTAB
                continue
            strtab = sections[sh[6]]
            for k in range(sh[5] // 24):
                name, info, _, _, value, _ = struct.unpack_from('<IBBHQQ', data, sh[4] + k * 24)
                if info & 0xf == 2 and value:              # STT_FUNC
                    end = data.index(b'\0', strtab[4] + name)
                    out.append((data[strtab[4] + name:end].decode('utf-8', 'replace'), value))
        return out

    _osh_function_index = None

    def osh_function_index():
        """Every function of the run's ELFs as (simplified demangled name, mangled name), demangled in one
    swift-demangle run."""
        global _osh_function_index
        if _osh_function_index is None:
            names = sorted(set(n for image in OSH_IMAGES for n, _ in osh_elf_functions(image[1])))
            demangled = names
            if OSH_DEMANGLER:
                out = subprocess.run([OSH_DEMANGLER, '--compact', '--simplified'], input='\n'.join(names) + '\n',
                                     capture_output=True, text=True, timeout=120).stdout.split('\n')
                if len(out) >= len(names):
                    demangled = out[:len(names)]
            _osh_function_index = list(zip(demangled, names))
        return _osh_function_index

    def osh_function_matches(wanted):
        """Mangled names of the functions called `wanted`: a Swift name as `bt` shows it, with or without
    its argument labels and with any leading qualifiers left out (`initialize`, `Scheduler.initialize`,
    `kmain(_:_:)`), or a plain symbol name."""
        found = []
        for demangled, mangled in osh_function_index():
            full = demangled[len('static '):] if demangled.startswith('static ') else demangled
            base = full.split('(')[0]
            for candidate in (full, base):
                if candidate == wanted or candidate.endswith('.' + wanted) or mangled == wanted:
                    found.append(mangled)
                    break
        return found

    class OshBreak(gdb.Command):
        """osh-break NAME: a breakpoint on every function called NAME in Swift's terms (gdb 13 has no
    Swift language support, so its own `break` knows Swift functions only by their mangled names), e.g.
    `osh-break Scheduler.initialize`, `osh-break programMain`."""
        def __init__(self):
            super().__init__('osh-break', gdb.COMMAND_BREAKPOINTS)
        def invoke(self, arg, from_tty):
            wanted = arg.strip()
            matches = osh_function_matches(wanted)
            if not matches:
                raise gdb.GdbError('osh-break: no function called %s in this run\'s ELFs' % wanted)
            for mangled in matches:
                gdb.execute('break %s' % mangled)

    OshBreak()

    def osh_alias_object(path, base, size, symbols):
        """Writes an ELF64 relocatable object whose .text (no bits, `size` bytes) holds the function
    symbols (name, address); gdb loads it with `add-symbol-file PATH -s .text BASE`."""
        import struct
        strtab = bytearray(b'\0')
        entries = [bytes(24)]
        for name, address in symbols:
            entries.append(struct.pack('<IBBHQQ', len(strtab), 0x12, 0, 1, address - base, 0))  # GLOBAL FUNC in .text
            strtab += name.encode() + b'\0'
        symtab = b''.join(entries)
        shstrtab = b'\0.text\0.symtab\0.strtab\0.shstrtab\0'
        body = bytearray(64)
        symoff = len(body); body += symtab
        stroff = len(body); body += strtab
        shstroff = len(body); body += shstrtab
        while len(body) % 8:
            body += b'\0'
        shoff = len(body)
        section = lambda name, kind, flags, offset, size, link=0, info=0, align=1, entsize=0: struct.pack(
            '<IIQQQQIIQQ', name, kind, flags, 0, offset, size, link, info, align, entsize)
        body += bytes(64)
        body += section(1, 8, 6, 0, size, align=16)                               # .text: NOBITS, AX
        body += section(7, 2, 0, symoff, len(symtab), link=3, info=1, align=8, entsize=24)
        body += section(15, 3, 0, stroff, len(strtab))
        body += section(23, 3, 0, shstroff, len(shstrtab))
        body[0:64] = struct.pack('<4sBBBBBxxxxxxxHHIQQQIHHHHHH', b'\x7fELF', 2, 1, 1, 0, 0,
                                 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 5, 4)
        with open(path, 'wb') as f:
            f.write(body)

    def osh_load_swift_names():
        """Makes gdb's own `break NAME` know Swift functions by name: gdb 13 has no Swift language, so it
    knows them only by their mangled linkage names; here every function also gets ELF symbols named as
    `bt` shows it (`Scheduler.initialize()`) and without the labels (`Scheduler.initialize`), loaded from a
    small object file per ELF of the run."""
        import atexit, os, shutil, tempfile
        names = dict((mangled, demangled) for demangled, mangled in osh_function_index())
        directory = tempfile.mkdtemp(prefix='osh-gdb-names-')
        atexit.register(shutil.rmtree, directory, True)         # gdb finalizes Python when it exits
        for image in OSH_IMAGES:
            symbols = []
            for mangled, address in osh_elf_functions(image[1]):
                demangled = names.get(mangled, mangled)
                if demangled == mangled:
                    continue
                full = demangled[len('static '):] if demangled.startswith('static ') else demangled
                if ' ' in full:                                 # specializations, thunks, outlined copies
                    continue
                for alias in sorted(set([full, full.split('(')[0]])):
                    symbols.append((alias, address + image[2]))
            if not symbols:
                continue
            base = min(a for _, a in symbols)
            size = max(a for _, a in symbols) - base + 1
            path = os.path.join(directory, image[0] + '-swift-names.o')
            osh_alias_object(path, base, size, symbols)
            gdb.execute('add-symbol-file %s -s .text 0x%x' % (path, base), to_string=True)

    if OSH_DEMANGLER:
        try:
            osh_load_swift_names()
        except Exception as e:
            print('osh: Swift names for `break` not loaded: %s' % e)
    OshBacktrace()
    OshSyscalls()
    OshThreads()
    """#
}
