#!/usr/bin/env bash
# Classification benchmark: facteur and the peers of ../shared/bench/baselines.py on the
# same fixed splits, in one run. Prints a side-by-side table (and JSON lines with --json).
# Usage: bench/classify.sh [DATA_DIR]   (default: ../shared/data/bench next to the repo)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/bench}
PEERS=../shared/bench/baselines.py
python3 -c 'import sklearn, fasttext' 2>/dev/null || pip install -q "numpy<2" scikit-learn fasttext-wheel==0.9.2
cargo build --release -q -p facteur
# Respect a per-developer target dir (CARGO_TARGET_DIR), else the repo's target/.
BIN=${CARGO_TARGET_DIR:-target}/release/facteur
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
printf '%-14s %-18s %8s %8s %9s %12s %8s\n' dataset system macro-F1 accuracy train_s pred/s cov@95P
for ds in cdtn_topics sp_dossiers; do
    train=$DATA/${ds}_train.jsonl test=$DATA/${ds}_test.jsonl
    $BIN train --data "$train" --model "$OUT/$ds" --json >"$OUT/$ds.train.json"
    $BIN eval --model "$OUT/$ds" --data "$test" --json >"$OUT/$ds.eval.json"
    python3 - "$ds" "$OUT/$ds.train.json" "$OUT/$ds.eval.json" <<'PY'
import json, sys
ds, tr, ev = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(f"{ds:14s} {'facteur':18s} {ev['macro_f1']:8.4f} {ev['accuracy']:8.4f} {tr['train_seconds']:9.2f} {ev['predict_per_second']:12.0f} {ev['coverage_at_95_precision']:8.3f}")
PY
    python3 "$PEERS" "$train" "$test" --json 2>/dev/null >"$OUT/$ds.peers.json"
    python3 - "$ds" "$OUT/$ds.peers.json" <<'PY'
import json, sys
ds = sys.argv[1]
for r in json.load(open(sys.argv[2])):
    print(f"{ds:14s} {r['peer']:18s} {r['macro_f1']:8.4f} {r['accuracy']:8.4f} {r['train_seconds']:9.2f} {r['predict_per_second']:12.0f} {'-':>8s}")
PY
done
