#!/usr/bin/env bash
# Refreshes the State design system (DSFR) files that Facteur serves itself
# under /static/dsfr/, from the npm package `@gouvfr/dsfr`: the compiled CSS,
# the Marianne fonts (woff2) and the icons that CSS refers to. Nothing is
# loaded from outside at run time (the CSP stays `default-src 'self'`), and no
# DSFR JavaScript is used: the pages work without it.
#
#   scripts/vendor-dsfr.sh            # the pinned version below
#   DSFR_VERSION=1.16.0 scripts/vendor-dsfr.sh
#
# Then update docs/DSFR.md (version, checksum) and run the browser tests.
set -euo pipefail
VERSION="${DSFR_VERSION:-1.15.3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/crates/web/static/dsfr"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "@gouvfr/dsfr@$VERSION" >/dev/null
tar xzf "gouvfr-dsfr-$VERSION.tgz"
DIST="$WORK/package/dist"

rm -rf "$DEST"
mkdir -p "$DEST/fonts" "$DEST/icons"
cp "$DIST/dsfr.min.css" "$DEST/"
cp "$DIST/favicon/favicon.svg" "$DEST/"
# Only the woff2 fonts: every browser Facteur supports reads woff2 first.
cp "$DIST"/fonts/Marianne-*.woff2 "$DEST/fonts/"
# The icons the stylesheet points at (url(icons/...)), nothing else.
grep -o 'url(icons/[^)]*)' "$DIST/dsfr.min.css" | sed 's/^url(//; s/)$//' | sort -u |
  while read -r f; do
    mkdir -p "$DEST/$(dirname "$f")"
    cp "$DIST/$f" "$DEST/$f"
  done
cp "$WORK/package/LICENSE.md" "$DEST/LICENSE.md" 2>/dev/null || true
SUM="$(sha256sum "$DEST/dsfr.min.css" | cut -d' ' -f1)"
echo "DSFR $VERSION vendored into crates/web/static/dsfr ($(find "$DEST" -type f | wc -l) files)"
echo "dsfr.min.css sha256 $SUM"
