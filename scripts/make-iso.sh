#!/usr/bin/env bash
# make-iso.sh KERNEL.elf OUT.iso [CMDLINE [MODULE_PATH:NAME ...]]: a GRUB rescue ISO (BIOS, plus UEFI when
# grub-efi-amd64-bin is installed) that boots the kernel through multiboot2 with CMDLINE, each module
# from /boot/NAME.elf with NAME as its string (the root process is the module named root), logging GRUB to
# COM1 as well.
set -euo pipefail
kernel=$1 out=$2 cmdline=${3:-}
shift $(( $# < 3 ? $# : 3 ))
stage=$(mktemp -d)
# grub-mkrescue's messages go beside the staging tree, not into it (xorriso would pack a growing file).
log=$(mktemp)
trap 'rm -rf "$stage" "$log"' EXIT
mkdir -p "$stage/boot/grub"
cp "$kernel" "$stage/boot/kernel.elf"
modules=""
for spec in "$@"; do
    path=${spec%:*} name=${spec##*:}
    if [ "$path" = "$spec" ] || [ -z "$name" ] || [[ ! "$name" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || [ "$name" = kernel ]; then
        echo "make-iso.sh: bad module '$spec' (want PATH:NAME, NAME of letters, digits, _ . -, not kernel)" >&2
        exit 2
    fi
    [ -f "$path" ] || { echo "make-iso.sh: module not found: $path" >&2; exit 1; }
    cp "$path" "$stage/boot/$name.elf"
    modules+="    module2 /boot/$name.elf $name"$'\n'
done
cat > "$stage/boot/grub/grub.cfg" <<CFG
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
insmod all_video
set timeout=0
set default=0
menuentry "kernel" {
    multiboot2 /boot/kernel.elf $cmdline
${modules}    boot
}
CFG
grub-mkrescue -o "$out" "$stage" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
