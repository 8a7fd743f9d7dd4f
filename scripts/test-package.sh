#!/usr/bin/env bash
# The Debian package as an administrator meets it, on this machine (root, with or
# without systemd as PID 1): build it from a facteur binary, dpkg -i, check the
# units with systemd-analyze verify, then run facteur commands as the facteur
# user against /etc/facteur/facteur.toml: migrate --check, import, backup during
# an import, restore elsewhere (checksums, counts, audit head), citizen export
# and erase (no trace left in the database file), retention purge, audit verify.
# Called by scripts/test.sh with the debug binary the test build produced.
# Ends with a cargo-style "test result:" line, which test.sh counts.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/facteur}
[ "$(id -u)" = 0 ] || { echo "test-package.sh needs root (dpkg -i)" >&2; exit 1; }
pass=0 fail=0
LOGS=$(mktemp -d); chmod 755 "$LOGS"
check() {
    local name=$1; shift
    if "$@" >"$LOGS/$name.log" 2>&1; then
        pass=$((pass + 1)); echo "test package::$name ... ok"
    else
        fail=$((fail + 1)); echo "test package::$name ... FAILED"; sed 's/^/    /' "$LOGS/$name.log" | tail -20
    fi
}
as_facteur() { runuser -u facteur -- /usr/bin/facteur --config /etc/facteur/facteur.toml "$@"; }

DEB=$(DEB_GZIP_LEVEL=1 scripts/package-deb.sh "$BIN" target/debian) || { echo "test result: FAILED. 0 passed; 1 failed; 0 ignored"; exit 1; }
# A previous run's install is replaced, with a fresh data directory.
dpkg --purge facteur >/dev/null 2>&1 || true
check dpkg_install dpkg -i "$DEB"
check system_user_and_data_dir bash -c 'getent passwd facteur && [ "$(stat -c %U:%a /var/lib/facteur)" = facteur:750 ] && [ -f /var/lib/facteur/answers/taxonomy.toml ]'
check config_not_world_readable bash -c '[ "$(stat -c %U:%G:%a /etc/facteur/facteur.toml)" = root:facteur:640 ]'
U=/lib/systemd/system
check systemd_analyze_verify systemd-analyze verify "$U/facteur-serve.service" "$U/facteur-sync.service" "$U/facteur-sync.timer"
# A template is verified through an instance of it.
check systemd_analyze_verify_worker bash -c "d=\$(mktemp -d) && cp $U/facteur-worker@.service \$d/ && ln -s facteur-worker@.service \$d/facteur-worker@1.service && systemd-analyze verify \$d/facteur-worker@1.service"
check units_hardened bash -c "for u in facteur-serve.service facteur-worker@.service facteur-sync.service; do for k in ProtectSystem=strict ReadWritePaths=/var/lib/facteur NoNewPrivileges=true PrivateTmp=true 'CapabilityBoundingSet=\$' User=facteur; do grep -q \"^\$k\" $U/\$u || { echo \"\$u lacks \$k\"; exit 1; }; done; done"
check listen_is_loopback grep -q '^listen = "127.0.0.1:' /etc/facteur/facteur.toml

cat >> /etc/facteur/facteur.toml <<'TOML'

[[mailbox]]
name = "sip-test"
address = "sip-test@service.test"
TOML
check migrate_check_as_facteur bash -c 'as_facteur() { runuser -u facteur -- /usr/bin/facteur --config /etc/facteur/facteur.toml "$@"; }; as_facteur migrate --check --json | grep -q "\"pending\""'
FIX=$(mktemp -d); chmod 755 "$FIX"; cp crates/cli/tests/fixtures/demande-rib.eml "$FIX/"
# 300 demo messages to import while the backup runs.
as_facteur demo mailbox --out "$FIX/many.mbox" --count 300 >/dev/null 2>&1 || true
chmod 644 "$FIX"/*
check import_as_facteur as_facteur import --mailbox sip-test "$FIX/demande-rib.eml" --json
BK=/var/lib/facteur/backup-test
if [ -f "$FIX/many.mbox" ]; then as_facteur import --mailbox sip-test "$FIX/many.mbox" --json >/dev/null 2>&1 & IMPORT=$!; else IMPORT=; fi
sleep 1
check backup_during_import as_facteur backup --to "$BK" --json
[ -n "$IMPORT" ] && wait "$IMPORT"
R=$(mktemp -d); chmod 755 "$R"; chown facteur:facteur "$R"
check restore_elsewhere_checks_counts_and_audit_head runuser -u facteur -- env FACTEUR_DATA_DIR="$R/data" /usr/bin/facteur --config /etc/facteur/facteur.toml restore --from "$BK" --json
check restored_audit_verifies bash -c "runuser -u facteur -- env FACTEUR_DATA_DIR=$R/data /usr/bin/facteur --config /etc/facteur/facteur.toml audit verify --json | grep -q '\"ok\":true'"
check restore_refuses_a_damaged_backup bash -c "f=\$(ls $BK/data/*.db); printf 'x' >> \$f; ! runuser -u facteur -- env FACTEUR_DATA_DIR=$R/data2 /usr/bin/facteur --config /etc/facteur/facteur.toml restore --from $BK"
EX=/var/lib/facteur/export-test
check citizen_export as_facteur citizen export --address Helene.Martin@example.test --to "$EX" --by "Claire Superviseure"
check citizen_export_has_the_mail bash -c "grep -q helene.martin $EX/citizen.json && ls $EX/*.eml"
check citizen_erase as_facteur citizen erase --address helene.martin@example.test --by "Claire Superviseure" --reason "art. 17 RGPD, demande 2026-12" --json
check erase_leaves_no_trace_in_the_database bash -c "! grep -qai 'helene.martin@example.test' /var/lib/facteur/facteur.db /var/lib/facteur/facteur.db-wal 2>/dev/null"
check retention_purge_as_facteur as_facteur retention purge --json
check audit_verify_after_purge_and_erase bash -c 'runuser -u facteur -- /usr/bin/facteur --config /etc/facteur/facteur.toml audit verify --json | grep -q "\"ok\":true"'
check dpkg_purge dpkg --purge facteur
echo "package: $pass passed, $fail failed"
if [ "$fail" = 0 ]; then r=ok; else r=FAILED; fi
echo "test result: $r. $pass passed; $fail failed; 0 ignored"
[ "$fail" = 0 ]
