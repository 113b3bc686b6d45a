#!/bin/sh
# Regenerates the ACPI host tests' data (Tests/KernelCoreTests/Resources/ACPI/*.acpi) from real QEMU
# firmware tables: boots the kernel with `acpi=dump` on each machine type and CPU count, and keeps the
# `acpi-hex` lines the kernel prints (see Sources/Kernel/Boot/ACPIBoot.swift) without their prefix.
# Usage: scripts/acpi-testdata.sh [BUILD_DIR]   (after `make all`)
set -eu
build=${1:-build}
out=Tests/KernelCoreTests/Resources/ACPI
mkdir -p "$out"
boot() {  # NAME OSH-OPTIONS...
    name=$1; shift
    log=$(mktemp)
    # `--test` ends the run after the in-kernel tests, which run after the dump.
    "$build/osh" boot --accel tcg --timeout 240 --raw --test --cmdline acpi=dump "$@" >"$log" 2>&1 </dev/null || true
    tr -d '\r' <"$log" | sed -n 's/^acpi-hex //p' >"$out/$name.acpi"
    rm -f "$log"
    grep -q '^rsdp ' "$out/$name.acpi" || { echo "acpi-testdata: no RSDP in the $name boot" >&2; exit 1; }
    echo "$out/$name.acpi: $(wc -l <"$out/$name.acpi") lines"
}
boot q35-smp1 --machine q35 --cpus 1
boot q35-smp4 --machine q35 --cpus 4
boot pc-smp1 --machine pc --cpus 1
boot pc-smp4 --machine pc --cpus 4
boot q35-smp2-grub --machine q35 --cpus 2 --boot iso
boot pc-smp2-uefi --machine pc --cpus 2 --uefi
boot q35-smp4-uefi --machine q35 --cpus 4 --uefi
