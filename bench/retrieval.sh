#!/usr/bin/env bash
# Retrieval benchmark: facteur's knowledge base and the BM25 French peer of
# ../shared/bench/retrieval_baseline.py on the same fiches and queries, in one run.
# Usage: bench/retrieval.sh [DATA_ROOT]   (default: ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
FICHES=("$DATA"/service-public-fiches-2020/fiches_*.jsonl)
QUERIES=$DATA/bench/retrieval_queries.jsonl
python3 -c 'import bm25s, Stemmer' 2>/dev/null || pip install -q bm25s PyStemmer
cargo build --release -q -p facteur
BIN=target/release/facteur
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
start=$(date +%s.%N)
$BIN kb import --data-dir "$OUT/kb" "${FICHES[@]}" --json >/dev/null
end=$(date +%s.%N)
index_s=$(python3 -c "print(f'{$end - $start:.2f}')")
printf '%-10s %8s %10s %8s %9s %10s\n' system nDCG@10 recall@10 MRR@10 index_s queries/s
$BIN kb eval --data-dir "$OUT/kb" --queries "$QUERIES" --json >"$OUT/ours.json"
python3 ../shared/bench/retrieval_baseline.py "${FICHES[@]}" --queries "$QUERIES" --json >"$OUT/peer.json"
python3 - "$OUT/ours.json" "$OUT/peer.json" "$index_s" <<'PY'
import json, sys
ours, peer, index_s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
print(f"{'facteur':10s} {ours['ndcg_at_10']:8.4f} {ours['recall_at_10']:10.4f} {ours['mrr_at_10']:8.4f} {index_s:>9s} {ours['queries_per_second']:10.0f}")
print(f"{peer['peer']:10s} {peer['ndcg_at_10']:8.4f} {peer['recall_at_10']:10.4f} {peer['mrr_at_10']:8.4f} {peer['index_seconds']:9.2f} {peer['queries_per_second']:10.0f}")
print(f"ratio      nDCG {ours['ndcg_at_10']/peer['ndcg_at_10']:.3f}x   speed {ours['queries_per_second']/peer['queries_per_second']:.2f}x")
PY
