#!/usr/bin/env bash
# Installs the Debian packages the build, `make run` and `make test` need, when missing.
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
set -euo pipefail
packages=(qemu-system-x86 xorriso grub-pc-bin grub-efi-amd64-bin grub-common mtools ovmf
          libreadline-dev libzstd-dev libdw-dev elfutils gdb zstd dosfstools fdisk gdisk
          python3-pyte python3-cryptography)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages; run: sudo apt-get update && sudo $line" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${missing[@]}" >&2
