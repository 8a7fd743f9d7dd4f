#!/usr/bin/env bash
# End-to-end triage throughput: parse, clean, protect, classify, retrieve and draft, on
# a generated mbox of 20,000 messages (the demo mailbox generator over the shared data,
# plus every message of the MIME robustness corpus). One process, one thread.
# Usage: bench/triage.sh [COUNT]   (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-20000}
DATA=../shared/data
cargo build --release -q -p facteur
BIN=$PWD/target/release/facteur
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
corpus_files=$(find "$DATA/email-mime-corpus" -type f ! -name '*.md' ! -name '*SHA256SUMS' ! -name 'COPYING*' | sort)
n_corpus=$(echo "$corpus_files" | wc -l)
$BIN demo mailbox --count $((COUNT - n_corpus)) --out "$OUT/mail.mbox" --answers answers --shared-data "$DATA" >/dev/null
# Append the corpus as mbox messages (mboxrd-escaped) so hostile mail is part of the mix.
python3 - "$OUT/mail.mbox" $corpus_files <<'PY'
import re, sys
out = open(sys.argv[1], "ab")
for p in sys.argv[2:]:
    data = open(p, "rb").read()
    out.write(b"From bench@facteur.invalid Mon Nov 23 09:00:00 2026\n")
    for line in data.split(b"\n"):
        if re.match(rb"^>*From ", line):
            line = b">" + line
        out.write(line + b"\n")
    out.write(b"\n")
PY
$BIN train --data answers/demo/examples.jsonl --model "$OUT/model" >/dev/null
$BIN kb import --data-dir "$OUT/kb" "$DATA/service-public-fiches-2020/kb_fiscalite.jsonl" answers/demo >/dev/null
size=$(du -h "$OUT/mail.mbox" | cut -f1)
echo "mbox: $COUNT messages, $size"
measure() {
    local label=$1; shift
    local start end n
    start=$(date +%s.%N)
    n=$(taskset -c 0 "$BIN" triage --json "$@" "$OUT/mail.mbox" | wc -l)
    end=$(date +%s.%N)
    python3 -c "import sys; n=$n; s=$end-$start; print(f'{sys.argv[1]:44s} {n:6d} messages  {s:6.2f} s  {n/s:8.0f} messages/s (1 core)')" "$label"
}
measure "parse+clean+protect (no model, no kb)"
measure "+ classify" --model "$OUT/model"
measure "+ classify + retrieve + draft" --model "$OUT/model" --data-dir "$OUT/kb"
