#!/usr/bin/env bash
# Build the Debian package from an already built facteur binary, with dpkg-deb
# (no cargo-deb needed: CI packages the debug binary its test build produced;
# a release is `cargo build --release --locked -p facteur` then this script with
# target/release/facteur).
# Usage: scripts/package-deb.sh [BINARY] [OUT_DIR]   → prints the .deb's path.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/facteur}
OUT=${2:-target/debian}
[ -x "$BIN" ] || { echo "no binary at $BIN: build it first (cargo build --release --locked -p facteur)" >&2; exit 1; }
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
ARCH=$(dpkg --print-architecture)
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
install -D -m 0755 "$BIN" "$ROOT/usr/bin/facteur"
install -D -m 0640 packaging/facteur.toml "$ROOT/etc/facteur/facteur.toml"
for u in packaging/systemd/*; do
    install -D -m 0644 "$u" "$ROOT/lib/systemd/system/$(basename "$u")"
done
install -D -m 0644 docs/DEPLOY.md "$ROOT/usr/share/doc/facteur/DEPLOY.md"
install -D -m 0644 README.md "$ROOT/usr/share/doc/facteur/README.md"
mkdir -p "$ROOT/usr/share/facteur"
cp -r answers "$ROOT/usr/share/facteur/answers"
install -d "$ROOT/DEBIAN"
install -m 0755 packaging/debian/postinst packaging/debian/postrm packaging/debian/prerm "$ROOT/DEBIAN/"
echo /etc/facteur/facteur.toml > "$ROOT/DEBIAN/conffiles"
SIZE=$(du -sk "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CTL
Package: facteur
Version: $VERSION
Architecture: $ARCH
Maintainer: Facteur maintainers <facteur@example.invalid>
Installed-Size: $SIZE
Depends: adduser, libc6
Recommends: nginx, poppler-utils
Suggests: postgresql-client, tesseract-ocr, tesseract-ocr-fra
Section: mail
Priority: optional
Homepage: https://example.invalid/facteur
Description: self-hosted assistant for public services' shared mailboxes
 Facteur reads a shared mailbox, protects personal data, recognises the
 request type and prepares a reply from validated standard answers; a named
 agent always decides. Offline, CPU only. Units: facteur-serve.service,
 facteur-worker@.service, facteur-sync.timer.
CTL
mkdir -p "$OUT"
DEB="$OUT/facteur_${VERSION}_${ARCH}.deb"
# gzip: xz takes over 10 minutes on a debug binary on 2 cores.
dpkg-deb --root-owner-group -Zgzip -z"${DEB_GZIP_LEVEL:-6}" --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
