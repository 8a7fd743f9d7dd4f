#!/usr/bin/env python3
"""Paired holdout on a TRAIN file only: repeated 80/20 per-class splits drawn exactly as
../shared/data/bench/make_bench.py draws the test split (other seeds), ours vs the peer
LinearSVC char_wb 2-5. Usage: bench/holdout.py TRAIN.jsonl N_SPLITS ["key=value ..." ...]
(env BENCH = bench_classify binary, SHARE = test share, SEED_BASE = split seeds are
SEED_BASE+1..SEED_BASE+N, default 1000 as in round 5; round 6 used 5000 and 7000 for
fresh draws). Never given a *_test file."""
import json, random, collections, subprocess, sys, tempfile, os
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC
from sklearn.pipeline import make_pipeline
from sklearn.metrics import f1_score
BIN = os.environ.get("BENCH", os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/examples/bench_classify"))
def split_by_label(rows, seed, share=float(os.environ.get("SHARE", "0.2"))):
    by = collections.defaultdict(list)
    for r in rows: by[r["label"]].append(r["text"])
    rng = random.Random(seed); tr, te = [], []
    for l in sorted(by):
        t = sorted(set(by[l])); rng.shuffle(t)
        k = int(round(len(t) * share)) if len(t) >= 3 else 0
        te += [{"text": x, "label": l} for x in t[:k]]; tr += [{"text": x, "label": l} for x in t[k:]]
    rng.shuffle(tr); return tr, te
def main():
    src = sys.argv[1]; n = int(sys.argv[2]); configs = sys.argv[3:] or [""]
    rows = [json.loads(l) for l in open(src, encoding="utf-8") if l.strip()]
    res = collections.defaultdict(list)
    d = tempfile.mkdtemp()
    base = int(os.environ.get("SEED_BASE", "1000"))
    secs = collections.defaultdict(list)
    print(f"seed base {base}, splits {base + 1}..{base + n}", file=sys.stderr)
    for s in range(1, n + 1):
        tr, te = split_by_label(rows, base + s)
        ptr, pte = f"{d}/tr.jsonl", f"{d}/te.jsonl"
        for p, rr in ((ptr, tr), (pte, te)):
            with open(p, "w", encoding="utf-8") as f:
                for r in rr: f.write(json.dumps(r, ensure_ascii=False) + "\n")
        pipe = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True), LinearSVC(C=1.0))
        pipe.fit([r["text"] for r in tr], [r["label"] for r in tr])
        pred = pipe.predict([r["text"] for r in te])
        res["peer"].append(f1_score([r["label"] for r in te], pred, average="macro", zero_division=0))
        for c in configs:
            out = subprocess.run([BIN, ptr, pte, "--save", f"{d}/m"] + c.split(), capture_output=True, text=True, check=True).stdout
            j = json.loads(out.strip().splitlines()[-1])
            res[c or "default"].append(j["report"]["macro_f1"])
            secs[c or "default"].append(j["train_seconds"])
        print(s, {k: round(v[-1], 4) for k, v in res.items()}, file=sys.stderr)
    import statistics as st
    print(f"seed base {base}, {n} splits of {src}")
    for k, v in res.items():
        if k in secs: print(f"{k:40s} mean train seconds {st.mean(secs[k]):.2f} (max {max(secs[k]):.2f})")
    for k, v in res.items():
        diff = [a - b for a, b in zip(v, res["peer"])]
        dd = [a - b for a, b in zip(v, res[configs[0] or "default"])]
        se = lambda x: (st.stdev(x) / len(x) ** 0.5) if len(x) > 1 else 0.0
        print(f"{k:40s} mean {st.mean(v):.4f}  vs peer {st.mean(diff):+.4f} ± {se(diff):.4f} wins {sum(x>0 for x in diff)}/{len(diff)}  vs first {st.mean(dd):+.4f} ± {se(dd):.4f} wins {sum(x>0 for x in dd)}/{len(dd)}")
if __name__ == "__main__":
    main()
