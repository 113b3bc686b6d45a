#!/usr/bin/env bash
# Times `osh symbolize --elf ELF` against `llvm-symbolizer --obj=ELF` on the same 100,000 addresses,
# spread evenly over the ELF's executable sections, and prints one line:
#   symbolize.100k.osh_over_llvm <osh time / llvm time> ratio
#
# Usage: OSH=.build/release/osh scripts/bench-symbolize.sh ELF
# Environment: OSH (default .build/release/osh), LLVM_SYMBOLIZER (default llvm-symbolizer on PATH),
# COUNT (default 100000), RUNS (best of, default 3). Details go to standard error.
set -euo pipefail

ELF=${1:?usage: OSH=path/to/osh $0 ELF}
OSH=${OSH:-.build/release/osh}
LLVM_SYMBOLIZER=${LLVM_SYMBOLIZER:-llvm-symbolizer}
COUNT=${COUNT:-100000}
RUNS=${RUNS:-3}

[ -f "$ELF" ] || { echo "bench-symbolize: $ELF: no such file" >&2; exit 1; }
[ -x "$OSH" ] || { echo "bench-symbolize: $OSH: not an executable (build with swift build -c release)" >&2; exit 1; }
command -v "$LLVM_SYMBOLIZER" >/dev/null || { echo "bench-symbolize: $LLVM_SYMBOLIZER not found" >&2; exit 1; }

exec python3 - "$ELF" "$OSH" "$LLVM_SYMBOLIZER" "$COUNT" "$RUNS" <<'PY'
import struct, subprocess, sys, tempfile, time, os

elf, osh, llvm, count, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
data = open(elf, "rb").read()
if data[:4] != b"\x7fELF" or data[4] != 2:
    sys.exit("bench-symbolize: %s: not an ELF64 file" % elf)
shoff, = struct.unpack_from("<Q", data, 0x28)
shentsize, shnum = struct.unpack_from("<HH", data, 0x3a)
sections = []
for i in range(shnum):
    _, kind, flags, addr, _, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
    # SHF_ALLOC | SHF_EXECINSTR, with contents
    if flags & 0x6 == 0x6 and kind != 8 and size > 0:
        sections.append((addr, size))
total = sum(size for _, size in sections)
if total == 0:
    sys.exit("bench-symbolize: %s: no executable sections" % elf)
addresses = []
for i in range(count):
    offset = i * total // count
    for addr, size in sections:
        if offset < size:
            addresses.append(addr + offset)
            break
        offset -= size
distinct = len(set(addresses))

with tempfile.TemporaryDirectory() as tmp:
    listing = os.path.join(tmp, "addresses")
    with open(listing, "w") as f:
        f.write("".join("0x%x\n" % a for a in addresses))

    def best(argv):
        times = []
        for _ in range(runs):
            with open(listing, "rb") as stdin, open(os.path.join(tmp, "out"), "wb") as out:
                start = time.perf_counter()
                subprocess.run(argv, stdin=stdin, stdout=out, check=True)
                times.append(time.perf_counter() - start)
        with open(os.path.join(tmp, "out"), "rb") as f:
            blocks = f.read().count(b"\n\n")
        return min(times), blocks

    llvm_time, llvm_blocks = best([llvm, "--obj=" + elf])
    osh_time, osh_blocks = best([osh, "symbolize", "--elf", elf])

sys.stderr.write("bench-symbolize: %s: %d addresses (%d distinct) over %d bytes of text; best of %d: "
                 "osh %.3fs, llvm-symbolizer %.3fs; output blocks osh %d, llvm %d\n"
                 % (elf, count, distinct, total, runs, osh_time, llvm_time, osh_blocks, llvm_blocks))
print("symbolize.100k.osh_over_llvm %.3f ratio" % (osh_time / llvm_time))
PY
