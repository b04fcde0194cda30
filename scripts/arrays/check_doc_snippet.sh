#!/usr/bin/env bash
# Runs the PyTorch export snippet of docs/SELECT_ARRAYS.md as printed, then `polymodal select`
# with every strategy on the files it wrote. Needs torch, numpy and safetensors in $PYTHON
# (e.g. a venv: pip install torch numpy safetensors) and a built binary in $POLYMODAL.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
POLYMODAL="${POLYMODAL:-$root/target/release/polymodal}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# the first ```python block of the page
awk '/^```python$/ {on = 1; next} on && /^```$/ {exit} on {print}' \
    "$root/docs/SELECT_ARRAYS.md" > "$work/export.py"
(cd "$work" && "$PYTHON" export.py)
for file in pool-late.safetensors pool-concat.safetensors; do
    for s in random entropy margin least_confidence bald coreset kmeans badge bmmal; do
        "$POLYMODAL" select --arrays "$work/$file" --strategy "$s" --budget 20 \
            --labelled "$work/labelled.txt" --out "$work/batch.csv"
        test "$(wc -l < "$work/batch.csv")" -eq 21
        if grep -qxF -f "$work/labelled.txt" <(cut -d, -f2 "$work/batch.csv"); then
            echo "$file $s: selected a labelled id" >&2
            exit 1
        fi
        "$POLYMODAL" select --arrays "$work/$file" --strategy "$s" --budget 20 --json > /dev/null
    done
    echo "$file: 9 strategies ok"
done
"$POLYMODAL" select --arrays "$work/pool-late.safetensors" --strategy bmmal --budget 5 \
    --labelled "$work/labelled.txt"
