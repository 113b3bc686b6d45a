#!/usr/bin/env python3
"""osh profile's cost: the same guest work (the IPC benchmark, `bench rounds=N`) booted twice under TCG,
once plainly (`osh boot`) and once under `osh profile` at its default rate (100 samples a second), each
timed from start to the guest's exit. The work is the same guest instructions both times, so the ratio of
wall times is the ratio of guest instructions per wall second without and with sampling (goal: < 1.2).

Prints `osh.profile.overhead RATIO ratio` on standard output; details on standard error.
Usage: scripts/bench-profile.py [BUILD_DIR]"""
import os, subprocess, sys, tempfile, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
rounds = os.environ.get("PROFILE_ROUNDS", "20000")
osh = os.path.join(build, "osh")
common = ["--accel", "tcg", "--cmdline", f"bench rounds={rounds}", "--timeout", "600"]

def timed(args):
    with tempfile.TemporaryDirectory() as scratch:
        # Runs go to a scratch build directory's run/, the kernel and modules come from BUILD.
        files = ["--build-dir", scratch, "--kernel", f"{build}/kernel.elf",
                 "--module", f"{build}/servers/root.elf:root", "--module", f"{build}/initfs.tar.zst:initfs"]
        start = time.monotonic()
        p = subprocess.run([osh] + args + files + common, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        seconds = time.monotonic() - start
        sys.stderr.write(f"bench-profile: {' '.join(args[:1])}: {seconds:.2f} s, status {p.returncode}\n")
        if p.returncode != 0:
            sys.stderr.write(p.stderr[-2000:])
            sys.exit(f"bench-profile: osh {args[0]} failed")
        return seconds

plain = timed(["boot"])
profiled = timed(["profile", "--seconds", "600"])
print("osh.profile.overhead", f"{profiled / plain:.2f}", "ratio")
