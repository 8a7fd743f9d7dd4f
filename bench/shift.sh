#!/usr/bin/env bash
# The scripted keyboard shift of issue #17: the same agent handles the first 20
# messages of the demo mailbox through a real browser, keyboard only, on the demo of
# the version before the workspace work (BEFORE, default 0032a86) and on the working
# tree's, in one run, in two orders (the default tab reached by keyboard; the first
# open mails by arrival, opened by address). Prints keys and scroll per message and
# writes the reports to bench/results-shift-<date>.json.
#
# Usage: bench/shift.sh [messages]
# Needs ChromeDriver and Chromium: FACTEUR_TEST_WEBDRIVER (scripts/services.sh
# starts one), else chromedriver on PATH is started on port 9516.
# PROFILE=release|dev (default dev: the shift measures keys and pixels, not time).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MESSAGES=${1:-20}
BEFORE=${BEFORE:-0032a86}
PROFILE=${PROFILE:-dev}
SHARED=${FACTEUR_SHARED_DATA:-$ROOT/../shared/data}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUTDIR=$( [[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")
OUT=${OUT:-$ROOT/bench/results-shift-$(date +%F).json}

WORK=$(mktemp -d /tmp/facteur-shift.XXXXXX)
PIDS=()
cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    if [[ $rc -eq 0 ]]; then rm -rf "$WORK"; else echo "failed: logs kept in $WORK" >&2; fi
}
trap cleanup EXIT

if [[ -z ${FACTEUR_TEST_WEBDRIVER:-} ]]; then
    command -v chromedriver >/dev/null || { echo "no FACTEUR_TEST_WEBDRIVER and no chromedriver on PATH" >&2; exit 1; }
    chromedriver --port=9516 >"$WORK/chromedriver.log" 2>&1 &
    PIDS+=($!)
    export FACTEUR_TEST_WEBDRIVER=http://127.0.0.1:9516
    for _ in $(seq 1 50); do curl -fs "$FACTEUR_TEST_WEBDRIVER/status" >/dev/null && break; sleep 0.2; done
fi

# Both binaries from one target directory: the registry crates are built once.
# Cargo puts each build's binary at the same place, so each is copied out.
echo "building $BEFORE (before) …" >&2
# The old tree is checked out under the target directory at a fixed place, so a
# second run rebuilds nothing (Cargo keys workspace crates by their path).
SRC=$CARGO_TARGET_DIR/shift-before-src
if [[ -d $SRC ]]; then
    git -C "$SRC" checkout -q --detach "$BEFORE"
else
    git worktree add -q --detach "$SRC" "$BEFORE"
fi
(cd "$SRC" && cargo build -q --offline --profile "$PROFILE" -p facteur)
cp "$CARGO_TARGET_DIR/$OUTDIR/facteur" "$WORK/facteur-before"
echo "building the working tree (after) …" >&2
cargo build -q --offline --profile "$PROFILE" -p facteur
cargo build -q --offline --profile "$PROFILE" -p facteur-web --example shift
cp "$CARGO_TARGET_DIR/$OUTDIR/facteur" "$WORK/facteur-after"
SHIFT=$CARGO_TARGET_DIR/$OUTDIR/examples/shift

# run VERSION ANSWERS_DIR PORT: builds that version's demo, serves it, runs the shift.
run() {
    local v=$1 answers=$2 port=$3 dir=$WORK/$1
    mkdir -p "$dir"
    echo "demo ($v) …" >&2
    (cd "$dir" && "$WORK/facteur-$v" demo --no-serve --json --data-dir "$dir/demo" \
        --answers "$answers" --shared-data "$SHARED" --listen "127.0.0.1:$port" >"$dir/demo.json" 2>"$dir/demo.log") \
        || { tail -20 "$dir/demo.log" >&2; return 1; }
    local password
    password=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(a["password"] for a in d["accounts"] if a["username"]=="agent"))' "$dir/demo.json")
    # The oracle: each demo mail's label, read from the stored raw mail.
    python3 - "$dir/demo" >"$dir/labels.json" <<'PY'
import email, json, pathlib, sqlite3, sys
dbs = [p for p in pathlib.Path(sys.argv[1]).glob("*.db")]
con = sqlite3.connect(dbs[0])
out = {}
for mid, raw in con.execute("SELECT id, raw FROM messages"):
    m = email.message_from_bytes(bytes(raw))
    out[mid] = m.get("X-Facteur-Demo-Label")
print(json.dumps(out))
PY
    # Two shifts on fresh copies of the demo: the default tab in its order,
    # reached with the keyboard; and the first open messages in arrival order
    # (the same mails in both versions), each opened by its address.
    local order
    for order in queue arrival; do
        rm -rf "$dir/run-$order" && cp -r "$dir/demo" "$dir/run-$order"
        (cd "$dir" && exec "$WORK/facteur-$v" --config "$dir/run-$order/facteur.toml" serve --no-connectors \
            --listen "127.0.0.1:$port" >"$dir/serve-$order.log" 2>&1) &
        local server=$!
        PIDS+=("$server")
        for _ in $(seq 1 600); do
            curl -fs -o /dev/null "http://127.0.0.1:$port/login" && break
            kill -0 "$server" 2>/dev/null || { echo "serve ($v) stopped:" >&2; tail -20 "$dir/serve-$order.log" >&2; return 1; }
            sleep 0.2
        done
        echo "shift ($v, $order) …" >&2
        "$SHIFT" --order "$order" --url "http://127.0.0.1:$port" --user agent --password "$password" \
            --labels "$dir/labels.json" --messages "$MESSAGES" --json >"$dir/shift-$order.json"
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    done
}

run before "$SRC/answers" 18181
run after "$ROOT/answers" 18182

python3 - "$WORK" "$BEFORE" "$(git rev-parse --short HEAD)" "$OUT" <<'PY'
import json, sys
work, before_rev, after_rev, out = sys.argv[1:5]
report = {}
for v, rev in (("before", before_rev), ("after", after_rev + " (working tree)")):
    report[v] = {"rev": rev, **{o: json.load(open(f"{work}/{v}/shift-{o}.json")) for o in ("queue", "arrival")}}
json.dump(report, open(out, "w"), indent=1)
for o in ("queue", "arrival"):
    print(f"-- {o} order")
    for v in ("before", "after"):
        r = report[v][o]
        print(f"{v:<6} {report[v]['rev']:<22} {r['messages']} messages: {r['keys_per_message']:.1f} keys/message, "
              f"{r['scroll_px_per_message']:.0f} px scrolled/message "
              f"({r['validated']} validated, {r['recategorised']} recategorised, {r['escalated']} escalated)")
    b, a = report["before"][o], report["after"][o]
    print(f"ratio after/before: keys {a['keys_total'] / max(1, b['keys_total']):.2f}, "
          f"scroll {a['scroll_px_total'] / max(1, b['scroll_px_total']):.2f}")
print(f"written to {out}")
PY
