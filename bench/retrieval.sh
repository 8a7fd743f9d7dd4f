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
$BIN kb eval --data-dir "$OUT/kb" --queries "$QUERIES" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(f"{\"facteur\":10s} {r[\"ndcg_at_10\"]:8.4f} {r[\"recall_at_10\"]:10.4f} {r[\"mrr_at_10\"]:8.4f} {sys.argv[1]:>9s} {r[\"queries_per_second\"]:10.0f}")
' "$index_s"
python3 ../shared/bench/retrieval_baseline.py "${FICHES[@]}" --queries "$QUERIES" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(f"{r[\"peer\"]:10s} {r[\"ndcg_at_10\"]:8.4f} {r[\"recall_at_10\"]:10.4f} {r[\"mrr_at_10\"]:8.4f} {r[\"index_seconds\"]:9.2f} {r[\"queries_per_second\"]:10.0f}")
'
