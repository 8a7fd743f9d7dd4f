#!/usr/bin/env python3
"""Builds the sets of bench/coverage.sh from ../shared/data (train splits only, never a
*_test file): the out-of-scope mix for the tax demo model (service-public questions
outside the tax taxonomy + CDTN labour-law queries from cdtn_topics_train), split by a
hash of the text into a dev half (to choose settings) and a report half; and 80/20
per-class holdout splits of sp_dossiers_train, cdtn_topics_train and the demo
training examples (holdout.py's split, seed 4242), to choose the abstain settings. Usage: bench/coverage_sets.py SHARED_DATA OUT_DIR"""
import collections, hashlib, json, os, random, sys
def split_by_label(rows, seed, share=0.2):
    # holdout.py's split (that module imports scikit-learn at load time).
    by = collections.defaultdict(list)
    for r in rows: by[r["label"]].append(r["text"])
    rng = random.Random(seed); tr, te = [], []
    for l in sorted(by):
        t = sorted(set(by[l])); rng.shuffle(t)
        k = int(round(len(t) * share)) if len(t) >= 3 else 0
        te += [{"text": x, "label": l} for x in t[:k]]; tr += [{"text": x, "label": l} for x in t[k:]]
    rng.shuffle(tr); return tr, te
data, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
def write(name, rows):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
oos = []
for l in open(os.path.join(data, "service-public-fiches-2020/questions_reponses.jsonl"), encoding="utf-8"):
    r = json.loads(l)
    if not r.get("is_fiscalite"):
        oos.append({"text": r["question"], "label": "hors-champ:service-public"})
for l in open(os.path.join(data, "bench/cdtn_topics_train.jsonl"), encoding="utf-8"):
    r = json.loads(l)
    oos.append({"text": r["text"], "label": "hors-champ:cdtn"})
half = lambda t: int(hashlib.sha256(t.encode()).hexdigest(), 16) % 2
write("oos_dev.jsonl", [r for r in oos if half(r["text"]) == 0])
write("oos_report.jsonl", [r for r in oos if half(r["text"]) == 1])
demo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../answers/demo/examples.jsonl")
for ds, path in (("sp_dossiers", f"{data}/bench/sp_dossiers_train.jsonl"),
                 ("cdtn_topics", f"{data}/bench/cdtn_topics_train.jsonl"), ("demo", demo)):
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    tr, te = split_by_label(rows, 4242)
    write(f"{ds}_fit.jsonl", tr)
    write(f"{ds}_holdout.jsonl", te)
