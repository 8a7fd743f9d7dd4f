#!/usr/bin/env bash
# Ingest + triage throughput from a real Dovecot: COUNT demo messages delivered into a
# Maildir, then one `facteur sync` (release build) stores, triages (classify, retrieve,
# draft with highlighted passages, as the agents' queue needs) and flags them.
# Usage: bench/imap.sh [COUNT]   (default 10000). Uses the services of
# scripts/services.sh, starting them when Dovecot is not already on 127.0.0.1:10143.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-10000}
DATA=../shared/data
source scripts/services.sh
if (exec 3<>/dev/tcp/127.0.0.1/10143) 2>/dev/null; then
    conf=$(ps -eo args | grep -o '/tmp/facteur-svc[^ ]*/dovecot/dovecot.conf' | head -1)
    MAILROOT=$(dirname "$conf")/mail
else
    services_install
    services_start >/dev/null
    trap services_stop EXIT
    MAILROOT=$FACTEUR_TEST_DOVECOT_MAIL
fi
cargo build --release -q -p facteur
BIN=$PWD/target/release/facteur
OUT=$(mktemp -d)
chmod 755 "$OUT"
USER_NAME="bench$$"
$BIN demo mailbox --count "$COUNT" --out "$OUT/m.mbox" --answers answers --shared-data "$DATA" >/dev/null
python3 - "$OUT/m.mbox" "$MAILROOT/$USER_NAME" <<'PY'
import os, re, sys
mbox, root = sys.argv[1], sys.argv[2]
for d in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(root, d), exist_ok=True)
msgs, cur = [], []
for line in open(mbox, "rb"):
    if line.startswith(b"From ") and (not cur or cur[-1] == b"\n"):
        if cur:
            msgs.append(b"".join(cur))
        cur = []
        continue
    cur.append(re.sub(rb"^>(>*From )", rb"\1", line))
if cur:
    msgs.append(b"".join(cur))
for i, m in enumerate(msgs):
    open(os.path.join(root, "new", f"{1700000000+i}.M{i}P1.bench"), "wb").write(m)
print(f"{len(msgs)} messages delivered")
PY
chown -R nobody:nogroup "$MAILROOT/$USER_NAME"
$BIN train --data answers/demo/examples.jsonl --model "$OUT/data/model" >/dev/null
$BIN kb import --data-dir "$OUT/data" "$DATA/service-public-fiches-2020/kb_fiscalite.jsonl" answers/demo >/dev/null
cat >"$OUT/facteur.toml" <<TOML
data_dir = "$OUT/data"
answers_dir = "$PWD/answers"
[[mailbox]]
name = "bench"
address = "sip.bench@example.test"
[mailbox.imap]
host = "127.0.0.1"
port = 10143
tls = "none"
user = "$USER_NAME"
password_env = "FACTEUR_IMAP_PASSWORD"
folder = "INBOX"
TOML
start=$(date +%s.%N)
FACTEUR_IMAP_PASSWORD=secret /usr/bin/time -f "%U s user, %S s sys" "$BIN" --config "$OUT/facteur.toml" sync --json --no-send >"$OUT/report.json" 2>"$OUT/time.txt"
end=$(date +%s.%N)
python3 - "$OUT/report.json" "$start" "$end" "$(cat "$OUT/time.txt")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); s = float(sys.argv[3]) - float(sys.argv[2])
print(f"fetched {r['fetched']}, stored {r['stored']}, duplicates {r['duplicates_skipped']}, errors {len(r['errors'])}")
print(f"ingest + triage from Dovecot: {r['stored']/s:.0f} messages/s wall ({s:.1f} s; CPU {sys.argv[4]})")
PY
rm -rf "$OUT" "${MAILROOT:?}/$USER_NAME"
