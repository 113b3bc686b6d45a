#!/usr/bin/env bash
# FAT32 figures (make bench): a fresh 80 MiB GPT image (scripts/make-disk.sh, a 78 MiB FAT32 partition)
# booted with `fat32bench`: disktest writes a 32 MiB file through fsd.fat32 and virtio-blk with a 1 MiB
# window, then reads it back, and logs both times (the guest's monotonic clock). Plain TCG, as a user
# boots. Prints `fat32.write.tcg_mib_per_sec` and `fat32.read.tcg_mib_per_sec`; details on standard error.
# The Linux reference (`fat32.read.linux_ratio`) is not measured: see the README's Storage section.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
image=$(mktemp --suffix=.img)
trap 'rm -f "$image"' EXIT
scripts/make-disk.sh "$image" 80 78
log=$("$build/osh" boot --accel tcg --timeout 900 --disk "$image" --cmdline "fat32bench root=LABEL=OSDISK" 2>&1 >/dev/null || true)
run=$(grep -o '\[run [^];]*' <<<"$log" | tail -1 | sed 's/^\[run //')
serial="$run/serial.log"
[ -f "$serial" ] || { echo "bench-fat32: no run directory in: $log" >&2; exit 1; }
write=$(sed -n 's/.*disktest: bench write \([0-9]*\) ns for \([0-9]*\) bytes.*/\1 \2/p' "$serial")
read=$(sed -n 's/.*disktest: bench read \([0-9]*\) ns for \([0-9]*\) bytes.*/\1 \2/p' "$serial")
if [ -z "$write" ] || [ -z "$read" ]; then
    tail -20 "$serial" >&2
    echo "bench-fat32: the guest printed no figures" >&2
    exit 1
fi
rate() { awk -v ns="$1" -v bytes="$2" 'BEGIN { printf "%.2f", bytes / 1048576 / (ns / 1e9) }'; }
echo "fat32.write.tcg_mib_per_sec $(rate $write) MiB/s"
echo "fat32.read.tcg_mib_per_sec $(rate $read) MiB/s"
