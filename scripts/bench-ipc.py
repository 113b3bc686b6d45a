#!/usr/bin/env python3
"""IPC round-trip benchmark (Sources/Servers/ipcbench), and root's copy-on-write and pager
faults (`frame.cow_fault.insn`, `frame.pager_fault.insn`, printed before it), two runs of QEMU under TCG:

1. with `-icount shift=0,sleep=off -smp 1`, where the guest TSC counts instructions: the guest prints
   `bench ipc.roundtrip.V.insn N insn` (instructions per round trip, deterministic run to run);
2. without icount: the host times the guest's `bench mark start V` / `bench mark end V` lines as they
   arrive on the serial console and reports round trips per second of TCG wall-clock time.

Prints one `NAME VALUE UNIT` line per figure on standard output; details on standard error.
Usage: scripts/bench-ipc.py [BUILD_DIR]; BENCH_CPU=MODEL (e.g. max) passes -cpu MODEL to QEMU (default:
QEMU's own, qemu64, which has no SMEP/SMAP, PCID or INVPCID); BENCH_APPEND='WORDS' adds kernel command-line
words (e.g. `pcid=off`, `only=0w`); BENCH_LABEL=L names the figures ipc.roundtrip.L.V.… instead of
ipc.roundtrip.V.… (scripts/bench.sh uses it for the PCID on/off pair)."""
import os, re, subprocess, sys, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
rounds = int(os.environ.get("IPC_ROUNDS", "20000"))
kernel = os.path.join(build, "kernel.elf")
modules = f"{build}/servers/root.elf root,{build}/servers/ipcbench.elf ipcbench"
for f in (kernel, f"{build}/servers/root.elf", f"{build}/servers/ipcbench.elf"):
    if not os.path.exists(f):
        sys.exit(f"bench-ipc: {f} is missing: run make first")

cpu = ["-cpu", os.environ["BENCH_CPU"]] if os.environ.get("BENCH_CPU") else []
append = (" " + os.environ["BENCH_APPEND"]) if os.environ.get("BENCH_APPEND") else ""
label = os.environ.get("BENCH_LABEL", "")

def named(name):
    return name.replace("ipc.roundtrip.", f"ipc.roundtrip.{label}.", 1) if label else name

def qemu(extra):
    return ["qemu-system-x86_64", "-accel", "tcg", "-smp", "1", "-m", "512", "-display", "none",
            "-monitor", "none", "-serial", "stdio", "-no-reboot", "-nodefaults",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", kernel, "-append", f"bench rounds={rounds}{append}", "-initrd", modules] + cpu + extra

def run(extra, timeout=600):
    """Runs QEMU, returning (status, [(arrival time, line)])."""
    p = subprocess.Popen(qemu(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    lines = []
    deadline = time.monotonic() + timeout
    for raw in p.stdout:
        lines.append((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\r\n")))
        if time.monotonic() > deadline:
            p.kill()
            break
    status = p.wait()
    if status != 1:   # isa-debug-exit status 0 -> QEMU exit 1
        sys.stderr.write("".join(l + "\n" for _, l in lines[-30:]))
        sys.stderr.write(p.stderr.read().decode("utf-8", "replace"))
        sys.exit(f"bench-ipc: the benchmark run failed (QEMU status {status})")
    return lines

figures = []
counted = run(["-icount", "shift=0,sleep=off"])
if label:
    # Whether the kernel really tagged address spaces (QEMU 7.2's TCG offers no PCID, even with -cpu max).
    tlb = next((l for _, l in counted if "tlb: PCID" in l), "")
    sys.stderr.write(f"bench-ipc: {label}: {tlb.strip()}\n")
    figures.append((named("ipc.roundtrip.pcid_active"), "1" if "tlb: PCID on" in tlb else "0", "bool"))
for _, line in counted:
    m = re.match(r"bench ((?:ipc|frame)\.\S+) (\d+) (\S+)$", line)
    if m:
        figures.append((named(m.group(1)), m.group(2), m.group(3)))
marks = {}
for at, line in run([]):
    m = re.match(r"bench mark (start|end) (\S+)$", line)
    if m:
        marks.setdefault(m.group(2), {})[m.group(1)] = at
for variant, t in marks.items():
    if "start" in t and "end" in t and t["end"] > t["start"]:
        figures.append((named(f"ipc.roundtrip.{variant}.tcg_per_sec"), str(int(rounds / (t["end"] - t["start"]))), "roundtrips/s"))
if not figures:
    sys.exit("bench-ipc: no figures printed by the guest")
for name, value, unit in figures:
    print(name, value, unit)
