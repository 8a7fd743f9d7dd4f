#!/usr/bin/env bash
# Ingest + triage throughput from a real Dovecot: COUNT demo messages delivered into a
# Maildir, then one `facteur sync` (release build) stores, triages (classify, retrieve,
# draft; the highlighted passages are computed when an agent opens the message) and
# flags them, a fetched batch at a time.
# Usage: bench/imap.sh [COUNT]   (default 10000). Uses the services of
# scripts/services.sh, starting them when Dovecot is not already on 127.0.0.1:10143.
# ATTACH_EVERY=N attaches one of the attachment corpus's text-layer PDFs
# (crates/extract/tests/fixtures, 1 or 2 pages) to every Nth message, so triage
# also reads attachments (`[attachments] read = true`, the default; OCR stays off).
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
# FACTEUR_BIN=path measures another build (e.g. an older commit's, side by side).
if [[ -z ${FACTEUR_BIN:-} ]]; then cargo build --release -q -p facteur; fi
BIN=${FACTEUR_BIN:-$PWD/target/release/facteur}
OUT=$(mktemp -d)
chmod 755 "$OUT"
USER_NAME="bench$$"
$BIN demo mailbox --count "$COUNT" --out "$OUT/m.mbox" --answers answers --shared-data "$DATA" >/dev/null
python3 - "$OUT/m.mbox" "$MAILROOT/$USER_NAME" "${ATTACH_EVERY:-0}" crates/extract/tests/fixtures <<'PY'
import email, email.policy, glob, os, re, sys
mbox, root, every, fixtures = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
pdfs = [p for p in sorted(glob.glob(os.path.join(fixtures, "*.pdf"))) if "scan-" not in os.path.basename(p)]
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
attached = 0
for i, m in enumerate(msgs):
    if every and i % every == 0:
        mail = email.message_from_bytes(m, policy=email.policy.default)
        pdf = pdfs[attached % len(pdfs)]
        mail.add_attachment(open(pdf, "rb").read(), maintype="application", subtype="pdf",
                            filename=os.path.basename(pdf))
        m = mail.as_bytes()
        attached += 1
    open(os.path.join(root, "new", f"{1700000000+i}.M{i}P1.bench"), "wb").write(m)
print(f"{len(msgs)} messages delivered, {attached} with a PDF attached")
PY
chown -R nobody:nogroup "$MAILROOT/$USER_NAME"
$BIN train --data answers/demo/examples.jsonl --model "$OUT/data/model" >/dev/null
# FACTEUR_DATA_DIR too: builds before 26a1678 put the audit key in the default data dir.
FACTEUR_DATA_DIR="$OUT/data" $BIN kb import --data-dir "$OUT/data" "$DATA/service-public-fiches-2020/kb_fiscalite.jsonl" answers/demo >/dev/null
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
python3 - "$OUT/report.json" "$start" "$end" "$(tail -1 "$OUT/time.txt")" "$OUT/data/facteur.db" <<'PY'
import json, sqlite3, sys
r = json.load(open(sys.argv[1])); s = float(sys.argv[3]) - float(sys.argv[2])
db = sqlite3.connect(sys.argv[5])
texts = db.execute("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM attachment_texts").fetchone()
triaged = db.execute("SELECT COUNT(*) FROM messages WHERE state <> 'new'").fetchone()[0]
print(f"triaged {triaged}, attachment texts read {texts[0]} (of {texts[1]} messages)")
print(f"fetched {r['fetched']}, stored {r['stored']}, duplicates {r['duplicates_skipped']}, errors {len(r['errors'])}")
if r['errors']:
    print("errors:", r['errors'][:3])
print(f"ingest + triage from Dovecot: {r['stored']/s:.0f} messages/s wall ({s:.1f} s; CPU {sys.argv[4]})")
PY
rm -rf "$OUT" "${MAILROOT:?}/$USER_NAME"
