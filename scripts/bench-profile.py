#!/usr/bin/env python3
"""osh profile's cost: the IPC benchmark (`bench rounds=N`) booted under TCG, plainly and with
`osh profile --run` sampling it at the default rate (100 a second). The host times the guest's
`bench mark start V` / `bench mark end V` lines as they arrive (as bench-ipc.py does): the same round trips
(the same guest instructions) take longer with sampling, so the ratio of the two times is the ratio of
guest instructions per wall second without and with sampling (goal: < 1.2). The two runs alternate
PROFILE_REPEAT times (default 3) and each side's median is taken: the host is shared and noisy.

Prints `osh.profile.overhead RATIO ratio` on standard output; details on standard error.
Usage: scripts/bench-profile.py [BUILD_DIR]"""
import os, re, subprocess, sys, tempfile, time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
rounds = os.environ.get("PROFILE_ROUNDS", "20000")
osh = os.path.join(build, "osh")

def measured(profile):
    """Boots the benchmark (profiled or not) and returns the seconds between its first start mark and
    its last end mark."""
    with tempfile.TemporaryDirectory() as scratch:
        # Runs go to a scratch build directory's run/, the kernel and modules come from BUILD.
        args = [osh, "boot", "--build-dir", scratch, "--kernel", f"{build}/kernel.elf",
                "--module", f"{build}/servers/root.elf:root", "--module", f"{build}/initfs.tar.zst:initfs",
                "--accel", "tcg", "--raw", "--cmdline", f"bench rounds={rounds}", "--timeout", "600"]
        boot = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        sampler = None
        marks = []
        for raw in boot.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if profile and sampler is None:
                latest = os.path.join(scratch, "run", "latest")
                if os.path.exists(os.path.join(latest, "qmp.sock")):
                    sampler = subprocess.Popen([osh, "profile", "--run", os.path.realpath(latest), "--seconds", "600"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            if re.match(r"bench mark (start|end) \S+$", line):
                marks.append(time.monotonic())
        status = boot.wait()
        if sampler:
            sampler.wait()
        if status != 0 or len(marks) < 2 or (profile and sampler is None):
            sys.exit(f"bench-profile: the benchmark run failed (osh status {status}, {len(marks)} marks)")
        seconds = marks[-1] - marks[0]
        sys.stderr.write(f"bench-profile: {'profiled' if profile else 'plain'}: {seconds:.2f} s of round trips\n")
        return seconds

repeat = int(os.environ.get("PROFILE_REPEAT", "3"))
plain, profiled = [], []
for _ in range(repeat):
    plain.append(measured(False))
    profiled.append(measured(True))
median = lambda xs: sorted(xs)[len(xs) // 2]
print("osh.profile.overhead", f"{median(profiled) / median(plain):.2f}", "ratio")
