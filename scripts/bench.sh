#!/usr/bin/env bash
# make bench: every benchmark, each figure on a line of its own as `NAME VALUE UNIT`.
# Details and progress go to standard error; standard output carries only the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bench-ipc.py build
# The context-switch cost with and without PCID (two address-space switches per round trip), on -cpu max;
# ipc.roundtrip.pcid_on.pcid_active says whether the CPU let the kernel turn PCIDs on (QEMU 7.2's TCG
# offers no PCID, so there both runs switch with a full flush; KVM or hardware shows the difference).
BENCH_CPU=max BENCH_APPEND="only=0w" BENCH_LABEL=pcid_on scripts/bench-ipc.py build
BENCH_CPU=max BENCH_APPEND="only=0w pcid=off" BENCH_LABEL=pcid_off scripts/bench-ipc.py build
# Syscall traces (issue 18): the 0-word round trip while tracing is on for another program only
# (strace_other: every syscall takes the trace test and the traced-process check) and for ipcbench itself
# (strace_on: both sides skip the fast path and write two records per call). Off, the syscall path pays
# one load, compare and branch: ipc.roundtrip.0w.insn above.
BENCH_APPEND="only=0w strace=nobody" BENCH_LABEL=strace_other scripts/bench-ipc.py build
BENCH_APPEND="only=0w strace=ipcbench" BENCH_LABEL=strace_on scripts/bench-ipc.py build
# The general path's cost for the same round trip (issue 17: ipc_fastpath=off sends sender_call and
# receiver_reply_recv there; ipc.roundtrip.fastpath_off.0w.insn against ipc.roundtrip.0w.insn above).
BENCH_APPEND="only=0w ipc_fastpath=off" BENCH_LABEL=fastpath_off scripts/bench-ipc.py build
# Two CPUs (issue 12): one IPC pair on CPU 0, then a pair on each of CPUs 0 and 1 (smp=threads).
scripts/bench-pairs.py build
scripts/bench-initfs.py build
scripts/bench-shell.py build
scripts/bench-profile.py build
swift build -c release --product osh >&2
OSH=.build/release/osh scripts/bench-symbolize.sh build/kernel.elf
scripts/bench-fat32.sh build
