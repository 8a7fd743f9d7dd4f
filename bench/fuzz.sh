#!/usr/bin/env bash
# Fuzz a target for a bounded time and print how many inputs ran: parse_mail (parse + clean +
# detect personal data, the default) or extract_attachment (PDF/image text through the bounded
# poppler/Tesseract processes; FUZZ_TARGET=extract_attachment, seeded with the attachment corpus).
# Usage: bench/fuzz.sh [SECONDS]   (default 60). Needs `cargo install cargo-fuzz --locked`.
# FUZZ_SANITIZER=none (default address) builds without ASan: the code under test is safe
# Rust, so ASan adds little and costs most of the speed; FUZZ_MAX_LEN caps input size.
# Exit status is non-zero if libFuzzer found a crash (artifact in fuzz/artifacts/).
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")/../fuzz"
# The fuzz crate has its own target dir (fuzz/target, gitignored): a shared
# CARGO_TARGET_DIR would mix sanitizer and normal builds.
unset CARGO_TARGET_DIR
target="${FUZZ_TARGET:-parse_mail}"
mkdir -p "corpus/$target"
if [ "$target" = extract_attachment ]; then
  cp -n ../crates/extract/tests/fixtures/*.pdf ../crates/extract/tests/fixtures/*.png \
    ../crates/extract/tests/fixtures/*.jpg "corpus/$target/"
fi
# Seed with the MIME corpus when present: real structure finds bugs much faster.
seed="${FACTEUR_MIME_CORPUS:-../../shared/data/email-mime-corpus}"
if [ "$target" = parse_mail ] && [ -d "$seed" ]; then
  # Folders reuse names (000.eml...): prefix each seed with its folder.
  find "$seed" -type f ! -name '*.md' ! -name '*SHA256SUMS' | while read -r f; do
    cp -n "$f" "corpus/parse_mail/seed-$(basename "$(dirname "$f")")-$(basename "$f")"
  done

fi
log="$(mktemp)"
status=0
sanitizer="${FUZZ_SANITIZER:-address}"
extra=()
[ -n "${FUZZ_MAX_LEN:-}" ] && extra+=(-max_len="$FUZZ_MAX_LEN")
RUSTC_BOOTSTRAP=1 cargo fuzz run -s "$sanitizer" "$target" "corpus/$target" -- \
  -max_total_time="$secs" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1 || status=$?
execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)"
echo "executions: ${execs:-unknown}"
if [ "$status" -ne 0 ]; then
  echo "fuzzing failed (status $status); crash report:" >&2
  # The Debug dump of the input can be huge: show the panic and the artifact path.
  grep -E "panicked at|^(SUMMARY|==[0-9]+==)|artifact_prefix|Test unit written|Reproduce with" -A2 "$log" | cut -c1-300 >&2
fi
rm -f "$log"
exit "$status"
