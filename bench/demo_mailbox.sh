#!/usr/bin/env bash
# The demo mailbox as an agent meets it (#16 items 5-6): `facteur demo mailbox` (default
# seed, 500 mails: tax mails wrapped from the held-apart answers/demo/eval.jsonl, never
# the training examples, and out-of-scope questions), triaged by the demo model trained
# on answers/demo/examples.jsonl, lexical and with the embedding view (EMBEDDINGS=0
# skips it). A mail's type is that of the eval.jsonl text its body carries; a body
# carrying none is out of scope. Prints top-1, coverage and precision at the model's
# abstain rule on the in-scope mails, and the out-of-scope mails given a type.
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
lexical() { env -u FACTEUR_EMBEDDING_MODEL -u FACTEUR_EMBEDDING_URL "$@"; }
lexical "$BIN" train --data answers/demo/examples.jsonl --model "$W/lexical" --json >/dev/null
lexical "$BIN" triage --json --model "$W/lexical" "$W/mail.mbox" >"$W/lexical.jsonl"
RUNS=("$W/lexical.jsonl")
if [[ ${EMBEDDINGS:-1} == 1 ]]; then
    export FACTEUR_EMBEDDING_MODEL=$FACTEUR_TEST_EMBEDDING_MODEL
    "$BIN" train --data answers/demo/examples.jsonl --model "$W/e5" --json >/dev/null
    "$BIN" triage --json --model "$W/e5" "$W/mail.mbox" >"$W/e5.jsonl"
    RUNS+=("$W/e5.jsonl")
fi
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
    print(f"{name:8s} in-scope {len(ins)}: top-1 {top1:.3f}, coverage {len(ans) / len(ins):.3f} at precision {prec:.3f}; "
          f"out of scope {len(oos)}: {drafted} given a type ({drafted / max(1, len(oos)):.3f})")
PY
