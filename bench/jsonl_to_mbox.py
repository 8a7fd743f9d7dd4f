#!/usr/bin/env python3
"""Writes an mbox on stdout: one plain UTF-8 mail with no subject per JSON line of the
given files, its body the line's "text" (the held-apart and calibration sets read as
mail by the product). Usage: bench/jsonl_to_mbox.py FILE.jsonl... > OUT.mbox"""
import json, sys
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            continue
        body = "\n".join(">" + l if l.startswith("From ") else l for l in json.loads(line)["text"].splitlines())
        print("From citizen@example.test Thu Jan  1 00:00:00 2020\nFrom: citizen@example.test\n"
              "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
              f"Content-Transfer-Encoding: 8bit\n\n{body}\n")
