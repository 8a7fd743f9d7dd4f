#!/usr/bin/env bash
# Scale-out benchmark: 1, 2 and 4 `facteur worker` processes on one PostgreSQL 15
# triage N messages (default 20,000) imported with --defer-triage, then send R
# validated replies (default 1,000) to the local SMTP server. A last run with 4
# workers kills one with kill -9 half-way. Every run checks: each message stored
# once and triaged, every job done, each reply received exactly once.
#
#   bench/scale.sh [N] [R]        WORKERS="1 2 4" to choose the runs, KILL_RUN=0 to skip the kill -9 run
#
# Uses the services of scripts/services.sh (started here unless FACTEUR_TEST_PG_URL
# and FACTEUR_TEST_SMTP_MAILDIR are set and answer). Prints a Markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-20000}
R=${2:-1000}
WORKERS=${WORKERS:-"1 2 4"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-scale}
SHARED=${FACTEUR_SHARED_DATA:-$ROOT/../shared/data}

# FACTEUR_BIN=path skips the release build (e.g. to try the script on a debug build).
if [[ -z ${FACTEUR_BIN:-} ]]; then cargo build --release -q -p facteur; fi
cargo build -q -p facteur --example validate_replies
VALIDATE=$CARGO_TARGET_DIR/debug/examples/validate_replies
F=${FACTEUR_BIN:-$CARGO_TARGET_DIR/release/facteur}

if [[ -z ${FACTEUR_TEST_PG_URL:-} || -z ${FACTEUR_TEST_SMTP_MAILDIR:-} ]] ||
    ! (exec 3<>/dev/tcp/127.0.0.1/15432) 2>/dev/null; then
    # shellcheck source=/dev/null
    source "$ROOT/scripts/services.sh"
    services_install
    services_start >&2
    trap services_stop EXIT
fi
PG=$FACTEUR_TEST_PG_URL
BASE=${PG%/*}
W=$(mktemp -d /tmp/facteur-scale.XXXXXX)
echo "work dir $W" >&2

"$F" demo --data-dir "$W/demo" --no-serve --count 50 --answers "$ROOT/answers" \
    --shared-data "$SHARED" >/dev/null
"$F" demo mailbox --count "$N" --out "$W/in.mbox" --answers "$ROOT/answers" \
    --shared-data "$SHARED" >/dev/null

q() { psql "$1" -At -v ON_ERROR_STOP=1 -c "$2"; }
now() { date +%s.%N; }

config() { # DB → config file
    cat >"$W/$1.toml" <<EOF
data_dir = "$W/demo"
database_url = "$BASE/$1"
answers_dir = "$ROOT/answers"
outbox_lease_seconds = 5
[[mailbox]]
name = "sip-test"
address = "sip.test@example.test"
[mailbox.smtp]
host = "${FACTEUR_TEST_SMTP%:*}"
port = ${FACTEUR_TEST_SMTP#*:}
tls = "none"
EOF
    echo "$W/$1.toml"
}

# Size of an empty, migrated database: subtracted to get bytes per message.
q "$PG" "CREATE DATABASE scale_empty_$$" >/dev/null
"$F" --config "$(config "scale_empty_$$")" messages count >/dev/null
EMPTY=$(q "$PG" "SELECT pg_database_size('scale_empty_$$')")

echo "| workers | kill -9 | import (msg/s) | triage wall (s) | triage (msg/s) | send wall (s) | sent (replies/s) | stored once | triaged | replies received / distinct | DB bytes per message |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
run() { # WORKERS KILL(0/1)
    local w=$1 kill=$2 db="scale_${1}w_${2}_$$" cfg pids=() t0 t1 t2 t3 t4 left
    q "$PG" "CREATE DATABASE $db" >/dev/null
    cfg=$(config "$db")
    local url="$BASE/$db"
    t0=$(now)
    "$F" --config "$cfg" import --defer-triage --json --mailbox sip-test "$W/in.mbox" >"$W/$db.import.json"
    t1=$(now)
    for i in $(seq 1 "$w"); do
        "$F" --config "$cfg" worker --no-send --job-lease-seconds 10 --json-stats \
            >"$W/$db.t$i.json" 2>"$W/$db.t$i.err" &
        pids+=($!)
    done
    local killed=0
    while :; do
        left=$(q "$url" "SELECT count(*) FROM jobs WHERE kind='triage' AND state<>'done'")
        [[ $left == 0 ]] && break
        if [[ $kill == 1 && $killed == 0 && $left -le $((N / 2)) ]]; then
            kill -9 "${pids[0]}"; killed=1
        fi
        sleep 0.2
    done
    t2=$(now)
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    local domain="$db.example.test"
    FACTEUR_BENCH_DB=$url FACTEUR_BENCH_REPLIES=$R FACTEUR_BENCH_DOMAIN=$domain \
        "$VALIDATE" >/dev/null
    pids=()
    t3=$(now)
    for i in $(seq 1 "$w"); do
        "$F" --config "$cfg" worker --no-imap --send-interval-ms 200 --json-stats \
            >"$W/$db.s$i.json" 2>"$W/$db.s$i.err" &
        pids+=($!)
    done
    killed=0
    while :; do
        local sent
        sent=$(q "$url" "SELECT count(*) FROM outbox WHERE state='sent'")
        [[ $sent == "$R" ]] && break
        if [[ $kill == 1 && $killed == 0 && $sent -ge $((R / 2)) ]]; then
            kill -9 "${pids[0]}"; killed=1
        fi
        sleep 0.2
    done
    t4=$(now)
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    local stored distinct new done total uniq size
    stored=$(q "$url" "SELECT count(*) FROM messages")
    distinct=$(q "$url" "SELECT count(DISTINCT (mailbox_id, message_id)) FROM messages")
    new=$(q "$url" "SELECT count(*) FROM messages WHERE state='new'")
    done=$(q "$url" "SELECT count(*) FROM jobs WHERE kind='triage' AND state='done'")
    total=$(grep -rl "@$domain" "$FACTEUR_TEST_SMTP_MAILDIR/new" "$FACTEUR_TEST_SMTP_MAILDIR/cur" 2>/dev/null | wc -l)
    uniq=$(grep -rh "^Message-ID:.*@$domain" "$FACTEUR_TEST_SMTP_MAILDIR/new" "$FACTEUR_TEST_SMTP_MAILDIR/cur" 2>/dev/null | sort -u | wc -l)
    size=$(q "$url" "SELECT pg_database_size('$db')")
    local ok_store="no" ok_triage="no"
    [[ $stored == "$N" && $distinct == "$N" ]] && ok_store="yes ($stored)"
    [[ $new == 0 && $done == "$N" ]] && ok_triage="yes ($done jobs)"
    awk -v w="$w" -v k="$kill" -v n="$N" -v r="$R" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" \
        -v s="$ok_store" -v tr="$ok_triage" -v tot="$total" -v u="$uniq" -v size="$size" -v empty="$EMPTY" 'BEGIN {
        printf "| %d | %s | %.0f | %.1f | %.0f | %.1f | %.0f | %s | %s | %d / %d | %.0f |\n",
            w, (k ? "yes" : "no"), n / (t1 - t0), t2 - t1, n / (t2 - t1), t4 - t3, r / (t4 - t3),
            s, tr, tot, u, (size - empty) / n }'
}
for w in $WORKERS; do run "$w" 0; done
if [[ ${KILL_RUN:-1} == 1 ]]; then run 4 1; fi
