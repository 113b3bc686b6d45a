#!/usr/bin/env bash
# Makes a disk image for `make run` and the storage tests: a GPT disk with one FAT32 partition (Microsoft
# basic data, GPT name OSDISK, volume label OSDISK, 512-byte clusters) holding a few files put there by
# mtools. Usage: scripts/make-disk.sh IMAGE [SIZE_MIB] [PARTITION_MIB]
#   The partition starts at 1 MiB (sector 2048) and is PARTITION_MIB long (default: the rest of the disk
#   but the GPT backup). Files: /hello.txt, /docs/A long name from the host.txt, /README.TXT.
set -euo pipefail
image=$1
size=${2:-64}
part=${3:-$((size - 2))}
rm -f "$image"
truncate -s "${size}M" "$image"
sgdisk -n "1:2048:+${part}M" -t 1:0700 -c 1:OSDISK "$image" >/dev/null
offset=$((2048 * 512))
# (mkfs.fat warns that the file is larger than the partition: that is the GPT backup and the spare space)
out=$(mkfs.fat -F 32 -s 1 -n OSDISK --offset 2048 "$image" $((part * 1024)) 2>&1) || { echo "$out" >&2; exit 1; }
export MTOOLS_SKIP_CHECK=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'hello from the host\n' > "$tmp/hello.txt"
printf 'long\n' > "$tmp/long.txt"
printf 'A disk made by scripts/make-disk.sh: GPT, one FAT32 partition labelled OSDISK.\n' > "$tmp/readme.txt"
mcopy -i "$image@@$offset" "$tmp/hello.txt" ::/hello.txt
mmd -i "$image@@$offset" ::/docs
mcopy -i "$image@@$offset" "$tmp/long.txt" "::/docs/A long name from the host.txt"
mcopy -i "$image@@$offset" "$tmp/readme.txt" ::/README.TXT
