#!/usr/bin/env bash
# Fuzz the parse_mail target (parse + clean + detect personal data) for a bounded time and print how many inputs ran.
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
mkdir -p corpus/parse_mail
# Seed with the MIME corpus when present: real structure finds bugs much faster.
seed="${FACTEUR_MIME_CORPUS:-../../shared/data/email-mime-corpus}"
if [ -d "$seed" ]; then
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
RUSTC_BOOTSTRAP=1 cargo fuzz run -s "$sanitizer" parse_mail corpus/parse_mail -- \
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
