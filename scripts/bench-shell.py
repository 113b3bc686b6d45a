#!/usr/bin/env python3
"""Shell benchmarks (issue 13): the system booted as `make run` boots it (no switches), up to sh's prompt.

1. boot.prompt.insn: under `-icount shift=0,sleep=off -smp 1` (the guest TSC counts instructions from
   reset) sh logs `sh: first prompt at TSC N` as it is about to show its first prompt; the figure is N.
2. boot.prompt.tcg_seconds: plain TCG, the wall time from QEMU's start to the prompt `/ $ ` on the serial
   line.
3. shell.spawn.insn: under -icount, sh's `time initfs:///bin/true` (posix_spawn through pm, the program's
   start and exit, waitpid) reports the TSC ticks it took: the smallest of 5 runs.

Prints `NAME VALUE UNIT` lines on standard output; details on standard error.
Usage: scripts/bench-shell.py [BUILD_DIR]"""
import os, re, select, subprocess, sys, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
kernel, root, initfs = f"{build}/kernel.elf", f"{build}/servers/root.elf", f"{build}/initfs.tar.zst"
for f in (kernel, root, initfs):
    if not os.path.exists(f):
        sys.exit(f"bench-shell: {f} is missing: run make first")


def qemu(icount):
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-smp", "1", "-m", "512", "-display", "none", "-monitor", "none",
           "-serial", "stdio", "-no-reboot", "-nodefaults", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-kernel", kernel, "-append", "", "-initrd", f"{root} root,{initfs} initfs"]
    if icount:
        cmd += ["-icount", "shift=0,sleep=off"]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


class Serial:
    def __init__(self, q):
        self.q, self.text = q, ""

    def wait(self, pattern, seconds=600):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text)
            if m:
                self.text = self.text[m.end():]
                return m
            r, _, _ = select.select([self.q.stdout], [], [], 1)
            if r:
                chunk = os.read(self.q.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.text += chunk.decode("utf-8", "replace")
        sys.stderr.write(self.text[-3000:])
        sys.exit(f"bench-shell: never saw {pattern!r}")

    def type(self, text):
        self.q.stdin.write(text.encode())
        self.q.stdin.flush()


q = qemu(icount=True)
try:
    s = Serial(q)
    insn = int(s.wait(r"sh: first prompt at TSC (\d+)").group(1))
    s.wait(r"/ \$ ")
    runs = []
    for _ in range(5):
        s.type("time initfs:///bin/true\r")
        m = s.wait(r"time: [\d.]+ ms, (\d+) TSC ticks, status 0")
        runs.append(int(m.group(1)))
        s.wait(r"/ \$ ")
    sys.stderr.write(f"bench-shell: time initfs:///bin/true under -icount: {runs}\n")
finally:
    q.kill()
    q.wait()
print("boot.prompt.insn", insn, "insn")
print("shell.spawn.insn", min(runs), "insn")

start = time.monotonic()
q = qemu(icount=False)
try:
    Serial(q).wait(r"/ \$ ")
    seconds = time.monotonic() - start
finally:
    q.kill()
    q.wait()
print("boot.prompt.tcg_seconds", f"{seconds:.2f}", "s")
