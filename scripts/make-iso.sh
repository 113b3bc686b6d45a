#!/usr/bin/env bash
# make-iso.sh KERNEL.elf OUT.iso [CMDLINE]: a GRUB rescue ISO (BIOS, plus UEFI when grub-efi-amd64-bin is
# installed) that boots the kernel through multiboot2 with CMDLINE, logging GRUB to COM1 as well.
set -euo pipefail
kernel=$1 out=$2 cmdline=${3:-}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/boot/grub"
cp "$kernel" "$stage/boot/kernel.elf"
cat > "$stage/boot/grub/grub.cfg" <<CFG
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
insmod all_video
set timeout=0
set default=0
menuentry "kernel" {
    multiboot2 /boot/kernel.elf $cmdline
    boot
}
CFG
grub-mkrescue -o "$out" "$stage" >/dev/null 2>"$stage/log" || { cat "$stage/log" >&2; exit 1; }
