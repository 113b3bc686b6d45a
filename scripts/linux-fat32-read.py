#!/usr/bin/env python3
"""Linux's own FAT driver reading a file of a disk image, as the reference of `fat32.read.linux_ratio`.

Usage: scripts/linux-fat32-read.py BUILD IMAGE PATH
  Boots Debian's kernel (linux-image-amd64's current image package) with an initramfs of busybox-static
  and the modules the read needs (virtio_pci, virtio_blk, vfat and what they depend on, read from each
  module's .modinfo) in the same QEMU as `osh boot` (TCG, -cpu max, 512 MiB, one CPU, the image as a
  modern virtio-blk PCI device). The initramfs mounts partition 1 of the disk read-only, drops the page
  cache, reads PATH once in 1 MiB blocks (dd) and prints `linuxref: read NS ns for BYTES bytes`, the
  time taken from the kernel's monotonic clock (/proc/timer_list) before and after. This script prints
  that line. The packages are fetched once with `apt-get download` (Debian's mirror) into
  BUILD/linuxref, which also keeps the kernel and the initramfs.
"""
import gzip
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

WANTED = ["virtio_pci", "virtio_blk", "vfat", "nls_cp437", "nls_ascii"]

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /lib/modules/$m.ko || echo "linuxref: insmod $m failed"; done
i=0
while [ ! -b /dev/vda1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mount -t vfat -o ro /dev/vda1 /mnt || { echo "linuxref: mount failed"; poweroff -f; }
sync
echo 3 > /proc/sys/vm/drop_caches
now() { sed -n 's/^now at \([0-9]*\) nsecs$/\1/p' /proc/timer_list | head -1; }
t0=$(now)
dd if="/mnt/$READ_PATH" of=/dev/null bs=1M 2>/dev/null
t1=$(now)
echo "linuxref: read $((t1 - t0)) ns for $(stat -c %s "/mnt/$READ_PATH") bytes"
poweroff -f
"""


def run(argv, **kw):
    return subprocess.run(argv, check=True, **kw)


def cpio_newc(entries):
    """entries: (name, mode, data bytes or None for a directory). The newc archive's bytes."""
    out = bytearray()
    ino = 1

    def pad(n):
        return b"\0" * ((4 - n % 4) % 4)

    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        data = data or b""
        fields = [ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        head = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += head + name.encode() + b"\0"
        out += pad(len(head) + len(name) + 1)
        out += data + pad(len(data))
        ino += 1
    return bytes(out)


def depends(ko):
    m = re.search(rb"depends=([\w,-]*)\0", ko.read_bytes())
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def prepare(build):
    out = build / "linuxref"
    kernel, initrd = out / "vmlinuz", out / "initramfs.cpio.gz"
    if kernel.exists() and initrd.exists():
        return kernel, initrd
    out.mkdir(parents=True, exist_ok=True)
    deps = run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True).stdout
    m = re.search(r"Depends: (linux-image-[0-9][^\s]*)", deps)
    if not m:
        sys.exit("linux-fat32-read: apt-cache names no kernel image package for linux-image-amd64")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run(["apt-get", "download", m.group(1), "busybox-static"], cwd=tmp, capture_output=True)
        root = tmp / "x"
        for deb in tmp.glob("*.deb"):
            run(["dpkg-deb", "-x", str(deb), str(root)])
        modules = {ko.name[:-3]: ko for ko in root.glob("lib/modules/*/kernel/**/*.ko")}
        order = []

        def add(name):
            key = name if name in modules else name.replace("-", "_")
            if key in order:
                return
            if key not in modules:
                sys.exit(f"linux-fat32-read: module {name} is not in {m.group(1)}")
            for d in depends(modules[key]):
                add(d)
            order.append(key)

        for w in WANTED:
            add(w)
        entries = [(d, 0o040755, None) for d in ["bin", "dev", "proc", "sys", "mnt", "lib", "lib/modules"]]
        entries.append(("bin/busybox", 0o100755, (root / "bin/busybox").read_bytes()))
        entries.append(("init", 0o100755, INIT.encode()))
        entries.append(("modules.order", 0o100644, ("\n".join(order) + "\n").encode()))
        for name in order:
            entries.append((f"lib/modules/{name}.ko", 0o100644, modules[name].read_bytes()))
        initrd.write_bytes(gzip.compress(cpio_newc(entries)))
        vmlinuz = next(root.glob("boot/vmlinuz-*"))
        kernel.write_bytes(vmlinuz.read_bytes())
    return kernel, initrd


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.splitlines()[2])
    build, image, path = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    kernel, initrd = prepare(build)
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "512M",
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot", "-nic", "none",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", f"console=ttyS0 quiet panic=-1 READ_PATH={path}",
            "-drive", f"file={image},format=raw,if=none,id=disk0",
            "-device", "virtio-blk-pci,drive=disk0,disable-legacy=on"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=900)
        serial = r.stdout
    except subprocess.TimeoutExpired as e:
        serial = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    line = re.search(r"linuxref: read (\d+) ns for (\d+) bytes", serial)
    if not line:
        sys.stderr.write(serial[-3000:])
        sys.exit("linux-fat32-read: the Linux guest printed no figure")
    print(line.group(0))


if __name__ == "__main__":
    main()
