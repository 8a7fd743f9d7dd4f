#!/usr/bin/env python3
"""Few-shot training files: at most N examples per label drawn from a *_train.jsonl file
(seeded, so every system and peer trains on the same subsample). A new service starts with
about 15 mails per request type; this is how #16's few-shot claim is measured.

Usage: bench/few_shot.py TRAIN.jsonl OUT.jsonl [--per-class 15] [--seed 0]
"""
import json, random, sys
from collections import defaultdict


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    src, out = args[0], args[1]
    n = int(args[args.index("--per-class") + 1]) if "--per-class" in args else 15
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
    by = defaultdict(list)
    for line in open(src, encoding="utf-8"):
        if line.strip():
            r = json.loads(line)
            by[r["label"]].append(r)
    rng = random.Random(seed)
    rows = []
    for label in sorted(by):
        ex = by[label][:]
        rng.shuffle(ex)
        rows.extend(ex[:n])
    rng.shuffle(rows)
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{out}: {len(rows)} examples, {len(by)} labels, <= {n} per label", file=sys.stderr)


if __name__ == "__main__":
    main()
