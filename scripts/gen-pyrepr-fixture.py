#!/usr/bin/env python3
"""Writes test/fixtures/pyrepr.json: CPython's own repr() and the Morph SDK digest chain for tricky strings.

The committed fixture is the ground truth for src/core/pyrepr.ts; tests never run Python.
Run: python3 scripts/gen-pyrepr-fixture.py > test/fixtures/pyrepr.json
"""
import hashlib, json, sys, unicodedata

def chain(parent, ident):
    h = hashlib.sha256(); h.update(parent.encode()); h.update(b"\n"); h.update(ident.encode()); return h.hexdigest()

def ident(cmd):
    # Exactly what morphcloud's Snapshot.build hashes for a string step.
    return "_run_command_effect()" + str({"command": cmd, "background": False, "get_pty": True})

cases = [
    "echo hi", "echo bye", "", " ", "it's", 'say "hi"', "both ' and \"", "back\\slash", "C:\\path\\to",
    "line1\nline2", "tab\there", "cr\rlf\r\n", "\x00nul", "\x07bell\x1b[0m", "\x7f del", "\x80\x9f\xa0\xad",
    "caf\u00e9 na\u00efve", "\u00a0nbsp", "\u2028\u2029", "\u200b\u200d\ufeff", "\u3000ideographic space",
    "\u65e5\u672c\u8a9e", "emoji \U0001f600", "\U000e0001 tag", "\ue000 private", "\U0010ffff",
    "\u0378 unassigned", "mix 'q' \"d\" \\ \n\t", "apt-get install -y curl && echo 'done'",
    "set -euo pipefail\nif [ -f x ]; then\n  echo \"$HOME\"\nfi\n", "\u00ff\u0100\uffff",
]
# A sweep of code points whose category is the same in CPython's Unicode tables and in recent JavaScript
# engines (code points assigned in Unicode 15+ are left out: their printability depends on the Python version).
for cp in list(range(0, 0x250)) + list(range(0x2000, 0x2070)) + [0xd7ff, 0xe000, 0xf8ff, 0xfff9, 0xfffd, 0x1f4a9, 0xe007f]:
    cases.append("x" + chr(cp) + "y")

out = []
for c in cases:
    out.append({"s": c, "repr": repr(c), "digest": chain("snapshot_abc", ident(c))})
json.dump({"python": sys.version.split()[0], "unicode": unicodedata.unidata_version, "cases": out}, sys.stdout, ensure_ascii=True, indent=0)
sys.stdout.write("\n")
