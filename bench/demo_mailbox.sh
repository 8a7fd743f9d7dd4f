#!/usr/bin/env bash
# The demo mailbox as an agent meets it (#16 items 5-6): `facteur demo mailbox` (default
# seed, 500 mails: tax mails wrapped from the held-apart answers/demo/eval.jsonl, never
# the training examples, and out-of-scope questions), triaged by the demo model trained
# on answers/demo/examples.jsonl, lexical and with the embedding view (EMBEDDINGS=0
# skips it), each with its out-of-fold threshold and calibrated on
# answers/demo/calibration.jsonl (as the demo model is). Also the held-apart texts
# bare, with the out-of-scope report half. A mail's type is that of the eval.jsonl
# text its body carries; a body carrying none is out of scope. Prints top-1,
# coverage and precision at the model's abstain rule on the in-scope mails, and the
# out-of-scope mails given a type.
# Usage: bench/demo_mailbox.sh [SHARED_DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
if [[ ${EMBEDDINGS:-1} == 1 ]]; then
    FACTEUR_EMBED_CACHE=${FACTEUR_EMBED_CACHE:-$HOME/.cache/facteur}
    source scripts/services.sh
    embedding_install
fi
cargo build --release -q -p facteur
BIN=$PWD/${CARGO_TARGET_DIR:-target}/release/facteur
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$BIN" demo mailbox --out "$W/mail.mbox" --answers answers --shared-data "$DATA" >/dev/null
# The second mailbox: the held-apart texts bare, one mail each with no subject, and
# the out-of-scope report half of bench/coverage_sets.py (2,225 texts, never used to
# choose a setting).
python3 bench/coverage_sets.py "$DATA" "$W/sets" >/dev/null
python3 bench/jsonl_to_mbox.py answers/demo/eval.jsonl "$W/sets/oos_report.jsonl" >"$W/bare.mbox"
lexical() { env -u FACTEUR_EMBEDDING_MODEL -u FACTEUR_EMBEDDING_URL "$@"; }
# Each model twice: with the out-of-fold threshold, and calibrated on the demo's
# calibration mails (answers/demo/calibration.jsonl, as `facteur demo` does).
CAL=(--calibrate answers/demo/calibration.jsonl)
RUNS=()
for view in lexical e5; do
    run=lexical
    if [[ $view == e5 ]]; then
        [[ ${EMBEDDINGS:-1} == 1 ]] || continue
        export FACTEUR_EMBEDDING_MODEL=$FACTEUR_TEST_EMBEDDING_MODEL
        run=env
    fi
    for cal in oof cal; do
        args=()
        [[ $cal == cal ]] && args=("${CAL[@]}")
        $run "$BIN" train --data answers/demo/examples.jsonl --model "$W/$view-$cal" "${args[@]}" --json >/dev/null
        for box in mail bare; do
            $run "$BIN" triage --json --model "$W/$view-$cal" "$W/$box.mbox" >"$W/$box-$view-$cal.jsonl"
            RUNS+=("$W/$box-$view-$cal.jsonl")
        done
    done
done
python3 - answers/demo/eval.jsonl "${RUNS[@]}" <<'PY'
import json, os, sys, unicodedata
norm = lambda s: " ".join(unicodedata.normalize("NFC", s).split())
ev = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
def label_of(body):
    b, best = norm(body), None
    for e in ev:
        t = norm(e["text"])
        if t and t in b and (best is None or len(t) > len(best[0])):
            best = (t, e["label"])
    return best[1] if best else None
for f in sys.argv[2:]:
    rows = [json.loads(l) for l in open(f, encoding="utf-8")]
    tagged = [(r, label_of(r["body"])) for r in rows]
    ins = [(r, l) for r, l in tagged if l]
    oos = [r for r, l in tagged if not l]
    top1 = sum(1 for r, l in ins if r.get("top") and r["top"][0]["label"] == l) / len(ins)
    ans = [(r, l) for r, l in ins if r.get("category")]
    prec = sum(1 for r, l in ans if r["category"] == l) / max(1, len(ans))
    drafted = sum(1 for r in oos if r.get("category"))
    name = os.path.basename(f).removesuffix(".jsonl")
    print(f"{name:17s} in-scope {len(ins)}: top-1 {top1:.3f}, coverage {len(ans) / len(ins):.3f} at precision {prec:.3f}; "
          f"out of scope {len(oos)}: {drafted} given a type ({drafted / max(1, len(oos)):.3f})")
PY
