#!/usr/bin/env bash
# Load test of the agents' queue page: 10,000 triaged messages, wrk with 64
# connections for 60 s on loopback. Target: 0 errors, p99 < 100 ms.
# Usage: bench/web-load.sh [messages] [duration]   (needs wrk: apt-get install -y wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-10000}
DURATION=${2:-60s}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

cargo build --release -q -p facteur-web --example seed_queue
BIN=$CARGO_TARGET_DIR/release/examples/seed_queue

DIR=$(mktemp -d /tmp/facteur-web-load.XXXXXX)
PORT=${PORT:-18080}
"$BIN" --db "$DIR/web.db" --messages "$MESSAGES" --listen "127.0.0.1:$PORT" >"$DIR/out" 2>"$DIR/server.log" &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT

# Seeding takes a while: wait for the server to say it listens.
for _ in $(seq 1 1200); do
    grep -q '^LISTENING=' "$DIR/out" 2>/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    sleep 0.5
done
COOKIE=$(sed -n 's/^COOKIE=//p' "$DIR/out")
MAILBOX=$(sed -n 's/^MAILBOX=//p' "$DIR/out")
URL="http://127.0.0.1:$PORT/mailboxes/$MAILBOX/queue"
grep '^seeded' "$DIR/server.log" || true

# Sanity: the page is the real queue (200, 50 rows), not a login redirect.
CODE=$(curl -s -o "$DIR/page.html" -w '%{http_code}' -H "Cookie: $COOKIE" "$URL")
ROWS=$(grep -o 'class="queue-row"' "$DIR/page.html" | wc -l)
echo "GET $URL -> $CODE, $ROWS rows"
[[ $CODE == 200 && $ROWS -gt 0 ]] || { echo "queue page not served" >&2; exit 1; }
LOG_BEFORE=$(wc -l <"$DIR/server.log")

# wrk counts non-2xx/3xx responses itself ("Non-2xx or 3xx responses").
wrk -t2 -c64 -d"$DURATION" --latency -H "Cookie: $COOKIE" "$URL" | tee "$DIR/wrk.txt"
grep -q 'Non-2xx' "$DIR/wrk.txt" || echo "Non-2xx or 3xx responses: 0"

# The server must not log per request, let alone personal data.
LOG_AFTER=$(wc -l <"$DIR/server.log")
echo "server log lines during the run: $((LOG_AFTER - LOG_BEFORE))"
if grep -Eqi 'citoyen|example\.org|demande [0-9]' "$DIR/server.log"; then
    echo "PERSONAL DATA IN THE SERVER LOG:" >&2
    grep -Ei 'citoyen|example\.org|demande [0-9]' "$DIR/server.log" | head >&2
    exit 1
fi
echo "no personal data in the server log"
