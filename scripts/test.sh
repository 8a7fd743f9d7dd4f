#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need (Debian packages,
# the Python peers), starts the real services on loopback, runs every test of the
# workspace, and stops the services whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
# A clean clone gains nothing from incremental compilation, and its files were a
# quarter of target/ (1.5 of 5.7 GB): a CI disk once filled mid-link.
export CARGO_INCREMENTAL=0
source scripts/services.sh
services_install
python3 -c 'import sklearn, bm25s, Stemmer, fasttext' 2>/dev/null ||
    pip install -q "numpy<2" scikit-learn fasttext-wheel==0.9.2 bm25s PyStemmer
services_start
trap services_stop EXIT
LOG=$(mktemp)
# The store suite runs twice: on SQLite (the embedded default) and on PostgreSQL.
status=0
# --no-fail-fast: one failing test binary must not hide the results of the others.
echo "== store tests on SQLite"
env -u FACTEUR_TEST_PG_URL cargo test --locked --no-fail-fast -p facteur-store "$@" 2>&1 | tee -a "$LOG" || status=1
echo "== whole workspace (store on PostgreSQL, real IMAP, SMTP and Chromium)"
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee -a "$LOG" || status=1
echo "== Debian package: dpkg -i, systemd-analyze verify, facteur commands as the facteur user"
# The debug binary the workspace tests just built for their integration tests
# (CARGO_BIN_EXE_facteur): a separate `cargo build -p facteur` would resolve other
# features and compile much of the tree a second time, and a release build ~11 min.
if [ "$(id -u)" = 0 ] && [ ! -x target/debug/facteur ]; then
    echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (no target/debug/facteur: the workspace build failed above)" | tee -a "$LOG"; status=1
elif [ "$(id -u)" = 0 ]; then
    bash scripts/test-package.sh target/debug/facteur 2>&1 | tee -a "$LOG" || status=1
elif [ -n "${CI:-}" ]; then
    echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (the package test needs root under CI)" | tee -a "$LOG"; status=1
else
    echo "package test SKIPPED: needs root"
fi
# One closing line for the whole run (cargo's own last line is the doc-tests').
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) g += $(i-1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, g }' "$LOG"
rm -f "$LOG"
exit "$status"
