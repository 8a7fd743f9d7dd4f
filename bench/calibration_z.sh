#!/usr/bin/env bash
# How z of the calibrated threshold was chosen (docs/CLASSIFIER.md, "Calibration on
# held-apart mail"), on the demo's calibration mails alone: the demo model (lexical,
# and with the embedding view unless EMBEDDINGS=0) trained with target precision 0,
# so that every calibration mail the out-of-scope checks let through is answered;
# then, 300 times, the threshold fitted on a random half of the mails (Wilson lower
# bound of precision >= 0.95, z standard errors) is read on the other half.
# Usage: bench/calibration_z.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${EMBEDDINGS:-1} == 1 ]]; then
    FACTEUR_EMBED_CACHE=${FACTEUR_EMBED_CACHE:-$HOME/.cache/facteur}
    source scripts/services.sh
    embedding_install
fi
cargo build --release -q -p facteur
BIN=$PWD/${CARGO_TARGET_DIR:-target}/release/facteur
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
CAL=answers/demo/calibration.jsonl
python3 bench/jsonl_to_mbox.py "$CAL" >"$W/cal.mbox"
lexical() { env -u FACTEUR_EMBEDDING_MODEL -u FACTEUR_EMBEDDING_URL "$@"; }
lexical "$BIN" train --data answers/demo/examples.jsonl --model "$W/lexical" --target-precision 0 --json >/dev/null
lexical "$BIN" triage --json --model "$W/lexical" "$W/cal.mbox" >"$W/lexical.jsonl"
RUNS=("$W/lexical.jsonl")
if [[ ${EMBEDDINGS:-1} == 1 ]]; then
    export FACTEUR_EMBEDDING_MODEL=$FACTEUR_TEST_EMBEDDING_MODEL
    "$BIN" train --data answers/demo/examples.jsonl --model "$W/e5" --target-precision 0 --json >/dev/null
    "$BIN" triage --json --model "$W/e5" "$W/cal.mbox" >"$W/e5.jsonl"
    RUNS+=("$W/e5.jsonl")
fi
python3 - "$CAL" "${RUNS[@]}" <<'PY'
import json, math, os, random, sys
labels = [json.loads(l)["label"] for l in open(sys.argv[1], encoding="utf-8")]
def wilson_lower(k, n, z):
    if n == 0:
        return 0.0
    p, z2 = k / n, z * z
    return (p + z2 / (2 * n) - z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))) / (1 + z2 / n)
def fit(points, z, target=0.95):
    # calib::threshold_for_precision_bound
    s, best, c = sorted(points, key=lambda p: -p[0]), None, 0
    for i, (conf, ok) in enumerate(s):
        c += ok
        if (i + 1 == len(s) or s[i + 1][0] < conf) and wilson_lower(c, i + 1, z) >= target - 1e-9:
            best = conf
    return 1.01 if best is None else best
for f in sys.argv[2:]:
    rows = [json.loads(l) for l in open(f, encoding="utf-8")]
    # (confidence, right, in scope, let through by the out-of-scope checks)
    data = [(r["confidence"], bool(r.get("top")) and r["top"][0]["label"] == l, l != "hors-perimetre",
             r.get("category") is not None) for r, l in zip(rows, labels)]
    n_in = sum(d[2] for d in data)
    print(f"{os.path.basename(f).removesuffix('.jsonl')}: {sum(d[3] for d in data)} of {len(data)} let through, "
          f"top-1 on in-scope {sum(d[1] for d in data if d[2]) / n_in:.3f}")
    for z in (0, 0.5, 1.0, 1.645):
        rng, precs, covs = random.Random(7), [], []
        for _ in range(300):
            idx = list(range(len(data)))
            rng.shuffle(idx)
            a, b = [data[i] for i in idx[: len(idx) // 2]], [data[i] for i in idx[len(idx) // 2 :]]
            t = fit([(d[0], d[1]) for d in a if d[3]], z)
            answered = [d for d in b if d[3] and d[0] >= t]
            precs.append(sum(d[1] for d in answered) / len(answered) if answered else 1.0)
            covs.append(sum(d[2] for d in answered) / sum(d[2] for d in b))
        precs.sort()
        print(f"  z={z}: other half's precision mean {sum(precs) / len(precs):.3f}, 10th pct. {precs[len(precs) // 10]:.3f}; coverage {sum(covs) / len(covs):.3f}")
PY
