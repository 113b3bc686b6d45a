#!/usr/bin/env python3
"""manifest-note.py MANIFEST OUT: the ELF note body for a program's manifest (Sources/ABI/Manifest.swift):
owner "manifest", type 1, the manifest's text as the descriptor. The Makefile adds it to the program's
ELF file as the section .note.manifest. Refuses a manifest that is not name=, imports=, exports= lines."""
import re, struct, sys

src, out = sys.argv[1], sys.argv[2]
# An optional `kind=server|program` line says where the initfs puts the program (sbin/ or bin/, read by
# the Makefile); it is not part of the note.
raw = [l for l in open(src, "rb").read().decode("utf-8").split("\n") if l]
kinds = [l for l in raw if l.startswith("kind=")]
if len(kinds) > 1 or any(k not in ("kind=server", "kind=program") for k in kinds):
    sys.exit(f"manifest-note.py: {src}: kind= must be server or program, at most once")
lines = [l for l in raw if not l.startswith("kind=")]
text = ("\n".join(lines) + "\n").encode("utf-8")
keys = [l.split("=", 1)[0] for l in lines]
name = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ok = sorted(keys) == ["exports", "imports", "name"] and all("=" in l for l in lines)
for l in lines if ok else []:
    key, value = l.split("=", 1)
    items = value.split(",") if value else []
    # An import may end in `?`: optional (root starts the importer without it when nobody exports it).
    if key == "imports":
        items = [i[:-1] if i.endswith("?") else i for i in items]
        if len(set(items)) != len(items):
            ok = False
    if (key == "name" and len(items) != 1) or not all(name.match(i) for i in items):
        ok = False
if not ok:
    sys.exit(f"manifest-note.py: {src}: want name=NAME, imports=A,B? and exports=C lines (names of letters, digits, - _ .)")
owner = b"manifest\0"
pad = lambda b: b + b"\0" * (-len(b) % 4)
open(out, "wb").write(struct.pack("<III", len(owner), len(text), 1) + pad(owner) + pad(text))
