#!/usr/bin/env python3
"""IPC throughput on two CPUs (issue 12): one boot of QEMU under multi-threaded TCG with two CPUs and
`smp=threads`, where ipcbench's `pairs` mode (Sources/Servers/ipcbench/Pairs.swift) runs one
client/server thread pair pinned to CPU 0, then one pair on CPU 0 and one on CPU 1 at once. Prints
  ipc.roundtrip.pairs1.tcg_per_sec N roundtrips/s   (one pair, one CPU)
  ipc.roundtrip.pairs2.tcg_per_sec N roundtrips/s   (two pairs on two CPUs, together)
  ipc.roundtrip.pairs2.vs_pairs1 R ratio            (the second over the first: 2.00 would be perfect scaling)
Wall-clock figures of TCG: they depend on how many host cores are free. Every kernel entry takes the one
kernel lock (LOCKS.md), so the two CPUs' syscalls run one at a time.
Usage: scripts/bench-pairs.py [BUILD_DIR]; PAIRS_ROUNDS=N round trips per pair (default 50000)."""
import os, re, subprocess, sys

build = sys.argv[1] if len(sys.argv) > 1 else "build"
rounds = int(os.environ.get("PAIRS_ROUNDS", "50000"))
kernel = os.path.join(build, "kernel.elf")
for f in (kernel, f"{build}/servers/root.elf", f"{build}/servers/ipcbench.elf"):
    if not os.path.exists(f):
        sys.exit(f"bench-pairs: {f} is missing: run make first")
command = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-smp", "2", "-m", "512", "-display", "none",
           "-monitor", "none", "-serial", "stdio", "-no-reboot", "-nodefaults",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-kernel", kernel, "-append", f"bench pairs smp=threads rounds={rounds}",
           "-initrd", f"{build}/servers/root.elf root,{build}/servers/ipcbench.elf ipcbench"]
try:
    p = subprocess.run(command, capture_output=True, timeout=900, stdin=subprocess.DEVNULL)
except subprocess.TimeoutExpired:
    sys.exit("bench-pairs: the run did not end within 900 s")
lines = p.stdout.decode("utf-8", "replace").splitlines()
figures = {}
for line in lines:
    m = re.match(r"bench (ipc\.roundtrip\.pairs[12]\.tcg_per_sec) (\d+) (\S+)\s*$", line)
    if m:
        figures[m.group(1)] = (int(m.group(2)), m.group(3))
one, two = figures.get("ipc.roundtrip.pairs1.tcg_per_sec"), figures.get("ipc.roundtrip.pairs2.tcg_per_sec")
if p.returncode != 1 or not one or not two:   # isa-debug-exit status 0 -> QEMU exit 1
    sys.stderr.write("\n".join(lines[-30:]) + "\n" + p.stderr.decode("utf-8", "replace"))
    sys.exit(f"bench-pairs: the run failed (QEMU status {p.returncode})")
print("ipc.roundtrip.pairs1.tcg_per_sec", one[0], one[1])
print("ipc.roundtrip.pairs2.tcg_per_sec", two[0], two[1])
print("ipc.roundtrip.pairs2.vs_pairs1", f"{two[0] / one[0]:.2f}", "ratio")
