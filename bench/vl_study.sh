#!/usr/bin/env bash
# The hallucination study of docs/HALLUCINATION.md, one model variant per call:
#   bash bench/vl_study.sh prefix 1     # or: cross 1
# Assumes `polymodal vl build-scenes --config configs/vl-scenes.toml --out runs/vl-scenes` ran.
# Trains the baseline (unless its run exists), evaluates it, trains the image-negative
# reweighted model (discrete, defaults δ = 0.5, w_neg = 2) with the baseline as reference,
# evaluates it, and prints the VD statistics of the baseline.
set -euo pipefail
variant=${1:?prefix or cross}
seed=${2:-1}
bin=./target/release/polymodal
base=runs/vl-$variant-base-s$seed
[ -f "$base/summary.json" ] || $bin vl train --config configs/vl-$variant.toml --out "$base" --set train.seed=$seed
[ -f "$base/eval.json" ] || $bin vl eval --run "$base"
$bin vl vd-stats --run "$base" --split val > "$base/vd-stats.md"
for kind in ${KINDS:-vd_discrete}; do
  run=runs/vl-$variant-$kind-s$seed
  [ -f "$run/summary.json" ] || $bin vl train --config configs/vl-$variant.toml --out "$run" \
    --set train.seed=$seed --set variant.kind=$kind --set "variant.reference=\"$base/model\""
  [ -f "$run/eval.json" ] || $bin vl eval --run "$run"
done
