#!/usr/bin/env python3
"""make soak: the system-call fuzzer (Sources/Servers/fuzz) over many seeds, on 1 and on 4 CPUs.

Each boot of the real kernel under TCG (build/osh boot) runs a range of seeds through root's
`fuzz=FIRST-LAST,COUNT` (root checks frames and objects after each seed). A seed fails when root says so
(a bad result or a leak), when the kernel panics during it, or when the boot makes no progress within its
time bound (a hang); the seeds after it are run in a new boot. A seed counts a little under COUNT calls, so
further seeds are added until SOAK_CALLS calls were counted (when no seed failed). For each panic or hang the seed is run again
with `trace` and the last call it made is printed. The last line is `N passed, N failed` over seeds.

Environment (defaults in brackets): SOAK_CALLS [10000000] calls per CPU configuration; SOAK_PER_SEED [20000]
calls per seed; SOAK_SEEDS_PER_BOOT [10]; SOAK_CPUS ["1 4"]; SOAK_FIRST_SEED [1]; SOAK_FLAGS ["known"] extra
fuzz= words, comma-separated (e.g. "known"); SOAK_MIN_RATE [300] calls/s assumed for a boot's time bound.
Usage: scripts/soak.py [BUILD_DIR]"""
import os, re, subprocess, sys, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
calls = int(os.environ.get("SOAK_CALLS", "10000000"))
per_seed = int(os.environ.get("SOAK_PER_SEED", "20000"))
per_boot = int(os.environ.get("SOAK_SEEDS_PER_BOOT", "10"))
cpu_counts = [int(c) for c in os.environ.get("SOAK_CPUS", "1 4").split()]
first_seed = int(os.environ.get("SOAK_FIRST_SEED", "1"))
flags = [f for f in os.environ.get("SOAK_FLAGS", "known").split(",") if f]
min_rate = int(os.environ.get("SOAK_MIN_RATE", "300"))
osh = os.path.join(build, "osh")
modules = [f"{build}/servers/root.elf:root", f"{build}/servers/fuzz.elf:fuzz"]
for f in [osh] + [m.split(":")[0] for m in modules]:
    if not os.path.exists(f):
        sys.exit(f"soak: {f} is missing: run make first")
if calls <= 0 or per_seed <= 0 or per_boot <= 0 or not cpu_counts:
    sys.exit("soak: SOAK_CALLS, SOAK_PER_SEED, SOAK_SEEDS_PER_BOOT must be positive and SOAK_CPUS not empty")
seed_count = (calls + per_seed - 1) // per_seed

def boot(cpus, value, timeout):
    """One boot; returns (status, serial text, run directory)."""
    args = [osh, "boot", "--accel", "tcg", "--cpus", str(cpus), "--timeout", str(timeout),
            "--cmdline", f"fuzz={value}", "--raw"]
    for m in modules:
        args += ["--module", m]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    run = re.search(r"\[run ([^;\]]+)", p.stderr.decode("utf-8", "replace"))
    return p.returncode, p.stdout.decode("utf-8", "replace"), run.group(1) if run else "?"

def last_call(cpus, seed):
    """Runs one seed again with `trace`; the last call (or step) it printed."""
    value = ",".join([str(seed), str(per_seed)] + flags + ["trace"])
    status, serial, run = boot(cpus, value, per_seed // min_rate + 120)
    lines = [l[l.index("fuzz: "):] for l in serial.splitlines() if re.search(r"fuzz: (call|step|child kind) ", l)]
    return (lines[-1] if lines else "no call printed"), status, run

total_passed = total_failed = 0
total_calls = 0
started = time.monotonic()
for cpus in cpu_counts:
    pending = list(range(first_seed, first_seed + seed_count))
    passed = failed = 0
    config_start = time.monotonic()
    config_calls = 0
    chased = 0
    next_seed = first_seed + seed_count
    top_ups = 0
    while pending or (failed == 0 and config_calls < calls and top_ups < 3):
        if not pending:
            top_ups += 1
            # A seed counts its calls (helpers' included), a little under COUNT steps: top up to SOAK_CALLS.
            extra = max(1, (calls - config_calls + per_seed - 1) // per_seed)
            pending = list(range(next_seed, next_seed + extra))
            next_seed += extra
        batch = pending[:per_boot]
        value = ",".join([f"{batch[0]}-{batch[-1]}", str(per_seed)] + flags)
        timeout = len(batch) * per_seed // min_rate + 120
        status, serial, run = boot(cpus, value, timeout)
        results = {}
        for m in re.finditer(r"fuzz: seed (\d+): (\d+) calls, ok", serial):
            results[int(m.group(1))] = ("ok", int(m.group(2)))
        for m in re.finditer(r"fuzz: seed (\d+): (FAIL[^\r\n]*)", serial):
            results.setdefault(int(m.group(1)), ("fail", m.group(2)))
        starts = [int(s) for s in re.findall(r"fuzz: seed (\d+): start", serial)]
        for seed in batch:
            if seed not in results:
                break
            verdict, detail = results[seed]
            if verdict == "ok":
                passed += 1
                config_calls += detail
            else:
                failed += 1
                print(f"soak: cpus {cpus} seed {seed}: {detail} [run {run}]", flush=True)
        done = [s for s in batch if s in results]
        pending = pending[len(done):]
        if len(done) < len(batch):
            # The boot ended inside a seed: a panic, a hang (timeout) or a start failure.
            seed = starts[-1] if starts and starts[-1] not in results else batch[len(done)]
            reason = {2: "kernel panic", 124: "no progress within the time bound (hang)"}.get(status, f"boot ended with status {status}")
            failed += 1
            print(f"soak: cpus {cpus} seed {seed}: FAIL: {reason} [run {run}]", flush=True)
            if chased < 3:
                chased += 1
                call, again, trace_run = last_call(cpus, seed)
                print(f"soak: cpus {cpus} seed {seed}: again with trace (status {again}), last: {call} [run {trace_run}]", flush=True)
            pending = [s for s in pending if s != seed]
        print(f"soak: cpus {cpus}: {passed + failed} seeds, {config_calls}/{calls} calls, "
              f"{int(config_calls / max(time.monotonic() - config_start, 0.001))} calls/s", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - config_start
    print(f"soak: cpus {cpus}: {passed} passed, {failed} failed, {config_calls} calls in {elapsed:.0f} s "
          f"({int(config_calls / max(elapsed, 0.001))} calls/s)", flush=True)
    total_passed += passed
    total_failed += failed
    total_calls += config_calls
print(f"soak: {total_calls} calls in {time.monotonic() - started:.0f} s over {len(cpu_counts)} CPU configurations")
print(f"{total_passed} passed, {total_failed} failed")
sys.exit(0 if total_failed == 0 else 1)
