#!/usr/bin/env bash
# The hallucination study of docs/HALLUCINATION.md, one model variant and seed per call:
#   bash bench/vl_study.sh prefix 1     # or: cross 1
# Assumes `polymodal vl build-scenes --config configs/vl-scenes.toml --out runs/vl-scenes` ran.
# Trains the baseline (unless its run exists), evaluates it on val, val_bias, test and
# test_bias, writes its VD statistics, then trains and evaluates every variant of $KINDS with
# the baseline of the same seed as reference. A variant's settings (chosen on val_bias, see
# docs/HALLUCINATION.md) are in SETS below; a run whose eval.json exists is skipped.
set -euo pipefail
variant=${1:?prefix or cross}
seed=${2:-1}
bin=${BIN:-./target/release/polymodal}
nice=${NICE:-nice -n 5}
splits=val,val_bias,test,test_bias
base=runs/vl-$variant-base-s$seed
[ -f "$base/summary.json" ] || $nice $bin vl train --config configs/vl-$variant.toml --out "$base" --set train.seed=$seed
[ -f "$base/eval.json" ] || $nice $bin vl eval --run "$base" --splits $splits
[ -f "$base/vd-stats.md" ] || $nice $bin vl vd-stats --run "$base" --split val > "$base/vd-stats.md"
# name:kind:extra --set arguments (space-separated)
SETS=${SETS:-"vd_discrete:vd_discrete:variant.delta=0.5,variant.w_neg=2.0
vd_continuous:vd_continuous:variant.alpha=2.0,variant.kappa=0.5
filter:filter:variant.fraction=0.1
prior:prior:variant.gamma=1.0"}
while IFS=: read -r name kind extra; do
  [ -n "$name" ] || continue
  run=runs/vl-$variant-$name-s$seed
  args=(--set train.seed=$seed --set variant.kind=$kind)
  if [[ "$extra" != *variant.online=true* ]]; then args+=(--set "variant.reference=\"$base/model\""); fi
  IFS=, read -ra kv <<< "$extra"
  for x in "${kv[@]}"; do [ -n "$x" ] && args+=(--set "$x"); done
  [ -f "$run/summary.json" ] || $nice $bin vl train --config configs/vl-$variant.toml --out "$run" "${args[@]}"
  [ -f "$run/eval.json" ] || $nice $bin vl eval --run "$run" --splits $splits
done <<< "$SETS"
