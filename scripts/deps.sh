#!/usr/bin/env bash
# Installs the Debian packages the build, `make run` and `make test` need, when missing.
# QEMU must be 10 or later (README, osh: QEMU 7.2's replay never answers reverse-finish and stops
# answering reverse-stepi): on Debian 12 it comes from bookworm-backports, whose source this script adds
# (same mirror as the machine's own bookworm source), and an installed older QEMU is upgraded.
# As root it runs apt-get; otherwise it prints the exact commands to run and fails. Running it again
# changes nothing.
set -euo pipefail
packages=(xorriso grub-pc-bin grub-efi-amd64-bin grub-common mtools ovmf
          libreadline-dev libzstd-dev libdw-dev elfutils gdb zstd dosfstools fdisk gdisk
          python3-pyte python3-cryptography)
qemu_packages=(qemu-system-x86 qemu-utils)
qemu_minimum=1:10.0
backports_list=/etc/apt/sources.list.d/bookworm-backports.list
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
old_qemu=()
for p in "${qemu_packages[@]}"; do
    version=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
    if ! installed "$p" || ! dpkg --compare-versions "$version" ge "$qemu_minimum"; then old_qemu+=("$p"); fi
done
[ ${#missing[@]} -eq 0 ] && [ ${#old_qemu[@]} -eq 0 ] && exit 0

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
# Debian 12's own QEMU is 7.2; later releases have 10 or newer in their main suite.
target=()
[ ${#old_qemu[@]} -gt 0 ] && [ "$codename" = bookworm ] && target=(-t bookworm-backports)

# apt's bookworm main source, and whether a bookworm-backports source is configured.
bookworm_uri() {
    apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null \
        | awk '$2 == "bookworm" && $3 == "main" { print $1; exit }'
}
have_backports() {
    apt-get indextargets --no-release-info --format '$(RELEASE)' 2>/dev/null | grep -qx bookworm-backports
}

if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages; run:" >&2
    if [ ${#target[@]} -gt 0 ] && ! have_backports; then
        echo "  echo 'deb $(bookworm_uri || true) bookworm-backports main' | sudo tee $backports_list" >&2
    fi
    echo "  sudo apt-get update" >&2
    [ ${#missing[@]} -gt 0 ] && echo "  sudo apt-get install -y ${missing[*]}" >&2
    [ ${#old_qemu[@]} -gt 0 ] && echo "  sudo apt-get install -y ${target[*]} ${qemu_packages[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ ${#target[@]} -gt 0 ] && ! have_backports; then
    uri=$(bookworm_uri)
    if [ -z "$uri" ]; then
        echo "deps.sh: apt has no Debian bookworm main source to take bookworm-backports from" >&2
        exit 1
    fi
    signed=""
    [ -f "$keyring" ] && signed="[signed-by=$keyring] "
    echo "adding bookworm-backports (${uri}) to $backports_list" >&2
    echo "deb ${signed}${uri} bookworm-backports main" > "$backports_list"
fi
apt-get update -qq >&2
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    apt-get install -y -qq "${missing[@]}" >&2
fi
if [ ${#old_qemu[@]} -gt 0 ]; then
    echo "installing QEMU 10 or later: ${target[*]} ${qemu_packages[*]}" >&2
    apt-get install -y -qq "${target[@]}" "${qemu_packages[@]}" >&2
    for p in "${qemu_packages[@]}"; do
        version=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
        if ! dpkg --compare-versions "$version" ge "$qemu_minimum"; then
            echo "deps.sh: $p is ${version:-not installed}, osh needs $qemu_minimum or later" >&2
            exit 1
        fi
    done
fi
