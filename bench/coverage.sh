#!/usr/bin/env bash
# Coverage an agent can trust (docs/CLASSIFIER.md, "Abstain rule"): coverage and
# precision at the model's own abstain rule, the coverage-precision curve and the
# out-of-scope draft rate, for the previous rule (one global threshold) and today's
# (per-type thresholds with shrinkage + evidence guard), and today's with the embedding
# view and its nearest-example out-of-scope check ("e5"; EMBEDDINGS=0 skips it).
# Usage: bench/coverage.sh [SHARED_DATA] [--test]
#   default: the train-only selection sets (80/20 holdouts of the *_train files and of
#   the demo training examples, out-of-scope dev half); --test: the one final report
#   (shared *_train -> *_test, demo examples -> the held-apart answers/demo/eval.jsonl,
#   out-of-scope report half). Never tune on --test.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
MODE=${2:-}
if [[ ${EMBEDDINGS:-1} == 1 ]]; then
    FACTEUR_EMBED_CACHE=${FACTEUR_EMBED_CACHE:-$HOME/.cache/facteur}
    source scripts/services.sh
    embedding_install
fi
cargo build --release -q -p facteur-classify --example coverage
BIN=${CARGO_TARGET_DIR:-target}/release/examples/coverage
SETS=$(mktemp -d)
trap 'rm -rf "$SETS"' EXIT
python3 bench/coverage_sets.py "$DATA" "$SETS"
OLD="per_type_thresholds=false evidence_quantile=0"
run() { # name train eval oos
    rules="previous today"; [[ ${EMBEDDINGS:-1} == 1 ]] && rules="$rules e5"
    for rule in $rules; do
        cfg=""; [ $rule = previous ] && cfg=$OLD
        [ $rule = e5 ] && cfg="--embedding-model $FACTEUR_TEST_EMBEDDING_MODEL"
        # shellcheck disable=SC2086
        printf '%s %s ' "$1" "$rule"; "$BIN" "$2" "$3" $4 $cfg | head -1
    done
}
if [ "$MODE" = --test ]; then
    run sp_dossiers "$DATA/bench/sp_dossiers_train.jsonl" "$DATA/bench/sp_dossiers_test.jsonl" ""
    run cdtn_topics "$DATA/bench/cdtn_topics_train.jsonl" "$DATA/bench/cdtn_topics_test.jsonl" ""
    run demo answers/demo/examples.jsonl answers/demo/eval.jsonl "$SETS/oos_report.jsonl"
else
    for ds in sp_dossiers cdtn_topics; do run $ds "$SETS/${ds}_fit.jsonl" "$SETS/${ds}_holdout.jsonl" ""; done
    run demo "$SETS/demo_fit.jsonl" "$SETS/demo_holdout.jsonl" "$SETS/oos_dev.jsonl"
fi
