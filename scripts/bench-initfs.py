#!/usr/bin/env python3
"""initfs benchmarks: the Swift zstd decoder unpacking build/initfs.tar.zst.

1. In the guest, under `-icount shift=0,sleep=off -smp 1` (the guest TSC counts instructions): root logs
   `root: initfs: F files, B bytes from C compressed; zstd took N TSC ticks`; the figure is N / B.
2. The whole boot to init's first line (`init: started at TSC N`): `boot.init.insn` is N under -icount
   (instructions from reset, the kernel's first line included), `boot.init.tcg_seconds` the wall time from
   QEMU's start to that line under plain TCG.
3. On the host: the decoder's time over libzstd's on the same archive (Sources/ZstdBench, release build).

Prints `NAME VALUE UNIT` lines on standard output; details on standard error.
Usage: scripts/bench-initfs.py [BUILD_DIR]"""
import time, os, re, subprocess, sys

build = sys.argv[1] if len(sys.argv) > 1 else "build"
kernel, root, initfs = f"{build}/kernel.elf", f"{build}/servers/root.elf", f"{build}/initfs.tar.zst"
for f in (kernel, root, initfs):
    if not os.path.exists(f):
        sys.exit(f"bench-initfs: {f} is missing: run make first")
# `bench rounds=1 only=0w`: root unpacks the initfs, runs one tiny ipcbench from it, and powers off.
cmd = ["qemu-system-x86_64", "-accel", "tcg", "-smp", "1", "-m", "512", "-display", "none", "-monitor", "none",
       "-serial", "stdio", "-no-reboot", "-nodefaults", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
       "-icount", "shift=0,sleep=off", "-kernel", kernel, "-append", "bench rounds=1 only=0w",
       "-initrd", f"{root} root,{initfs} initfs"]
p = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, timeout=600)
out = p.stdout.decode("utf-8", "replace")
m = re.search(r"root: initfs: \d+ files, (\d+) bytes from (\d+) compressed; zstd took (\d+) TSC ticks", out)
if p.returncode != 1 or not m:
    sys.stderr.write(out[-3000:])
    sys.exit(f"bench-initfs: the guest run failed (QEMU status {p.returncode})")
size, insn = int(m.group(1)), int(m.group(3))
print("initfs.zstd.insn_per_byte", f"{insn / size:.1f}", "insn/B")

def boot_until_init(icount):
    """Boots the system (no switches) until init's first line `init: started at TSC N`; (N, seconds from
    QEMU's start to that line). Under -icount the guest TSC counts instructions from reset."""
    args = cmd[:]
    args[args.index("bench rounds=1 only=0w")] = ""
    if not icount:
        i = args.index("-icount")
        del args[i:i + 2]
    start = time.monotonic()
    q = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for raw in q.stdout:
            line = raw.decode("utf-8", "replace")
            m = re.search(r"init: started at TSC (\d+)", line)
            if m:
                return int(m.group(1)), time.monotonic() - start
            if time.monotonic() - start > 600:
                break
        sys.exit("bench-initfs: init never started")
    finally:
        q.kill()
        q.wait()

insn, _ = boot_until_init(icount=True)
print("boot.init.insn", insn, "insn")
_, seconds = boot_until_init(icount=False)
print("boot.init.tcg_seconds", f"{seconds:.2f}", "s")
subprocess.run(["swift", "build", "-c", "release", "--product", "ZstdBench"], check=True,
               stdout=sys.stderr, stderr=sys.stderr)
host = subprocess.run([".build/release/ZstdBench", initfs], check=True, capture_output=True, text=True)
sys.stdout.write(host.stdout)
