#!/usr/bin/env bash
# make bench: every benchmark, each figure on a line of its own as `NAME VALUE UNIT`.
# Details and progress go to standard error; standard output carries only the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bench-ipc.py build
scripts/bench-initfs.py build
scripts/bench-profile.py build
swift build -c release --product osh >&2
OSH=.build/release/osh scripts/bench-symbolize.sh build/kernel.elf
