#!/usr/bin/env bash
# FAT32 figures (make bench): a fresh 80 MiB GPT image (scripts/make-disk.sh, a 78 MiB FAT32 partition)
# booted with `fat32bench`: disktest writes a 32 MiB file through fsd.fat32 and virtio-blk with a 1 MiB
# window, then reads it back, and logs both times (the guest's monotonic clock). Plain TCG, as a user
# boots. Prints `fat32.write.tcg_mib_per_sec` and `fat32.read.tcg_mib_per_sec`; details on standard error.
# The Linux reference: the host puts a 32 MiB file of random bytes on the image as /REF.BIN; disktest
# reads it first, cold (`fat32.read.cold_tcg_mib_per_sec`), and then Linux's own FAT driver reads the
# same file of the same image in the same QEMU (scripts/linux-fat32-read.py: Debian's kernel and
# busybox-static). `fat32.read.linux_ratio` is Linux's read time over ours for that file (1.0: as fast
# as Linux; 0.5: half its speed), both on plain TCG in this one run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
image=$(mktemp --suffix=.img)
ref=$(mktemp)
trap 'rm -f "$image" "$ref"' EXIT
scripts/make-disk.sh "$image" 80 78
head -c $((32 << 20)) /dev/urandom > "$ref"
MTOOLS_SKIP_CHECK=1 mcopy -i "$image@@$((2048 * 512))" "$ref" ::/REF.BIN
log=$("$build/osh" boot --accel tcg --timeout 900 --disk "$image" --cmdline "fat32bench root=LABEL=OSDISK" 2>&1 >/dev/null || true)
run=$(grep -o '\[run [^];]*' <<<"$log" | tail -1 | sed 's/^\[run //')
serial="$run/serial.log"
[ -f "$serial" ] || { echo "bench-fat32: no run directory in: $log" >&2; exit 1; }
write=$(sed -n 's/.*disktest: bench write \([0-9]*\) ns for \([0-9]*\) bytes.*/\1 \2/p' "$serial")
read=$(sed -n 's/.*disktest: bench read \([0-9]*\) ns for \([0-9]*\) bytes.*/\1 \2/p' "$serial")
cold=$(sed -n 's/.*disktest: bench coldread \([0-9]*\) ns for \([0-9]*\) bytes.*/\1 \2/p' "$serial")
if [ -z "$write" ] || [ -z "$read" ] || [ -z "$cold" ]; then
    tail -20 "$serial" >&2
    echo "bench-fat32: the guest printed no figures" >&2
    exit 1
fi
rate() { awk -v ns="$1" -v bytes="$2" 'BEGIN { printf "%.2f", bytes / 1048576 / (ns / 1e9) }'; }
echo "fat32.write.tcg_mib_per_sec $(rate $write) MiB/s"
echo "fat32.read.tcg_mib_per_sec $(rate $read) MiB/s"
echo "fat32.read.cold_tcg_mib_per_sec $(rate $cold) MiB/s"
linux=$(scripts/linux-fat32-read.py "$build" "$image" REF.BIN | sed -n 's/^linuxref: read \([0-9]*\) ns for \([0-9]*\) bytes$/\1 \2/p')
[ -n "$linux" ] || { echo "bench-fat32: no Linux figure" >&2; exit 1; }
read -r linux_ns linux_bytes <<<"$linux"
read -r cold_ns cold_bytes <<<"$cold"
[ "$linux_bytes" = "$cold_bytes" ] || { echo "bench-fat32: Linux read $linux_bytes bytes, disktest $cold_bytes" >&2; exit 1; }
echo "fat32.read.linux_tcg_mib_per_sec $(rate $linux_ns $linux_bytes) MiB/s"
echo "fat32.read.linux_ratio $(awk -v l="$linux_ns" -v o="$cold_ns" 'BEGIN { printf "%.2f", l / o }')"
