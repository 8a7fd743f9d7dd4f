#!/usr/bin/env python3
"""Check the demo knowledge-base content: standard answers, taxonomy, examples.

Usage: python3 answers/check.py [ANSWERS_DIR]   (Python >= 3.11, no dependency)
Exits 1 and lists every problem found. This mirrors the rules the Rust validator
applies, so content can be checked without building the workspace.
"""
import datetime
import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
DEMO = ROOT / "demo"
REQUIRED = {
    "id": str, "title": str, "version": int, "status": str, "request_types": list,
    "valid_from": datetime.date, "valid_until": datetime.date, "language": str,
    "variables": list, "links": list, "author": str, "reviewed_by": str,
    "demo": bool, "sources": list, "notes": str,
}
STATUSES = {"draft", "validated", "retired"}
ALLOWED_VARS = {"civilite", "nom", "annee", "reference", "signature", "date_du_jour", "formule_appel"}
URL = re.compile(r"https?://\S+")
PHONE = re.compile(r"(?<!\d)(?:0\d(?:[ .]?\d\d){4}|\d \d{3} \d{3} \d{3})(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")
GREETING = {"fr": "Bonjour {{civilite}} {{nom}},", "en": "Dear {{civilite}} {{nom}},"}
TRAIN_PER_LABEL, EVAL_PER_LABEL, CALIBRATION_PER_LABEL = 25, 8, 6

errors = []
def err(where, msg):
    errors.append(f"{where}: {msg}")

tax = tomllib.loads((ROOT / "taxonomy.toml").read_text(encoding="utf-8"))["request_type"]
types = [t["id"] for t in tax]
for t in tax:
    for k in ("id", "label", "label_en", "description"):
        if not isinstance(t.get(k), str) or not t[k]:
            err("taxonomy.toml", f"{t.get('id')}: missing {k}")
if len(set(types)) != len(types):
    err("taxonomy.toml", "duplicate ids")

answered, keys = Counter(), set()
for path in sorted(DEMO.glob("*.md")):
    text = path.read_text(encoding="utf-8")
    parts = text.split("+++\n")
    if len(parts) < 3 or parts[0] != "":
        err(path.name, "front matter must sit between two '+++' lines at the top")
        continue
    try:
        fm = tomllib.loads(parts[1])
    except tomllib.TOMLDecodeError as e:
        err(path.name, f"front matter does not parse: {e}")
        continue
    body = "+++\n".join(parts[2:])
    for k, ty in REQUIRED.items():
        if k not in fm:
            err(path.name, f"missing field {k}")
        elif not isinstance(fm[k], ty) or (ty is int and isinstance(fm[k], bool)):
            err(path.name, f"field {k} should be {ty.__name__}")
    if errors and errors[-1].startswith(path.name + ": missing"):
        continue
    lang = fm["language"]
    expected_name = fm["id"] + (".md" if lang == "fr" else f".{lang}.md")
    if path.name != expected_name:
        err(path.name, f"file name should be {expected_name}")
    if (fm["id"], lang) in keys:
        err(path.name, "duplicate (id, language)")
    keys.add((fm["id"], lang))
    if fm["status"] not in STATUSES:
        err(path.name, f"unknown status {fm['status']}")
    if fm["valid_from"] > fm["valid_until"]:
        err(path.name, "valid_from after valid_until")
    for rt in fm["request_types"]:
        if rt not in types:
            err(path.name, f"request type {rt} not in taxonomy")
        elif fm["status"] == "validated" and lang == "fr":
            answered[rt] += 1
    used = set(VAR.findall(body))
    declared = set(fm["variables"])
    if used - declared:
        err(path.name, f"variables used but not declared: {sorted(used - declared)}")
    if declared - used:
        err(path.name, f"variables declared but unused: {sorted(declared - used)}")
    if declared - ALLOWED_VARS:
        err(path.name, f"unknown variables: {sorted(declared - ALLOWED_VARS)}")
    first = body.lstrip("\n").split("\n", 1)[0]
    if lang in GREETING and first not in (GREETING[lang], "{{formule_appel}}"):
        err(path.name, f"greeting line should be {GREETING[lang]!r} or '{{{{formule_appel}}}}'")
    found = [u.rstrip(".,;:!?)»\"'") for u in URL.findall(body)]
    found += PHONE.findall(body) + EMAIL.findall(body)
    for f in found:
        if f not in fm["links"]:
            err(path.name, f"{f!r} appears in the body but not in links")
    for l in fm["links"]:
        if l not in body:
            err(path.name, f"link {l!r} is whitelisted but not used in the body")
    if fm["demo"] is not True:
        err(path.name, "demo content must say demo = true")

for t in types:
    if answered[t] == 0:
        err("taxonomy.toml", f"request type {t} has no validated French answer")

def check_jsonl(name, per_label, extra_labels=()):
    counts = Counter()
    texts = set()
    for i, line in enumerate((DEMO / name).read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            err(f"{name}:{i}", f"invalid JSON: {e}")
            continue
        if set(row) != {"text", "label"} or not row["text"].strip():
            err(f"{name}:{i}", "expected exactly non-empty 'text' and 'label'")
            continue
        if row["label"] not in types and row["label"] not in extra_labels:
            err(f"{name}:{i}", f"label {row['label']} not in taxonomy")
        counts[row["label"]] += 1
        texts.add(row["text"].strip().lower())
    for t in types:
        if counts[t] != per_label:
            err(name, f"{t}: {counts[t]} examples, expected {per_label}")
    return texts

train = check_jsonl("examples.jsonl", TRAIN_PER_LABEL)
test = check_jsonl("eval.jsonl", EVAL_PER_LABEL)
for dup in sorted(train & test):
    err("eval.jsonl", f"also in examples.jsonl: {dup!r}")
# The calibration mails: 6 per type and out-of-scope ones, apart from both sets.
calibration = check_jsonl("calibration.jsonl", CALIBRATION_PER_LABEL, ("hors-perimetre",))
for dup in sorted(calibration & (train | test)):
    err("calibration.jsonl", f"also in examples.jsonl or eval.jsonl: {dup!r}")

if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"ok: {len(types)} request types, {len(keys)} answers, "
      f"{len(train)} training, {len(test)} evaluation and {len(calibration)} calibration examples")
