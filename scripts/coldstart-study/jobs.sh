#!/usr/bin/env bash
# Prints the cold-start study's simulations, one command per line, for `run.sh` to run two at a
# time (docs/COLD_START.md, section 5). Every simulation trains one model per seed on the
# first batch a strategy picks from a pretraining run's cached embeddings, and evaluates it on
# test (results.csv) and validation (cells/*/val.json).
#
# Usage: jobs.sh PREFIX PT_PROTO PT_NOPROTO [DATASET_DIR] [SEEDS] [WHICH]
#   PREFIX      run names start with it (runs/PREFIX-...)
#   PT_PROTO    pretraining run with prototypes (β > 0); PT_NOPROTO the one with β = 0
#   DATASET_DIR an imported dataset (empty: AV-Digits)
#   SEEDS       default "[1, 2, 3, 4, 5]": each seed is the selection's and the training's seed
#   WHICH       main | ablation | baselines (default main)
set -euo pipefail
prefix=$1 proto=$2 noproto=$3 ds=${4:-} seeds=${5:-"[1, 2, 3, 4, 5]"} which=${6:-main}
bin=${POLYMODAL:-target/release/polymodal}
dsarg=""
[ -n "$ds" ] && dsarg="--dataset $ds"
sim() { # name budget strategy pretrained [--set ...]
  local name=$1 budget=$2 strategy=$3 pt=$4
  shift 4
  echo "$bin simulate --config configs/pretrain-coldstart-study.toml $dsarg --out runs/$prefix-$name-$budget" \
    "--set active.initial=$budget --set 'active.seeds=$seeds' --set 'active.initial_strategy=\"$strategy\"'" \
    "--set 'active.pretrained=\"$pt\"' $*"
}
case $which in
main)
  for b in 100 50 200; do
    sim mmcsal-proto $b mmcsal "$proto"
    sim random $b random "$noproto"
    sim kmeans-noproto $b kmeans "$noproto"
  done ;;
ablation) # budget 100; the (β, λ_align) grid is chosen on validation from these
  sim mmcsal-noproto 100 mmcsal "$noproto"
  sim mmcsal-proto-lam0 100 mmcsal "$proto" --set active.coldstart.lambda_align=0.0
  sim mmcsal-noproto-lam0 100 mmcsal "$noproto" --set active.coldstart.lambda_align=0.0
  sim cov-only-proto 100 mmcsal "$proto" --set active.coldstart.lambda_align=0.0 --set active.coldstart.gamma=0.0
  sim div-only-proto 100 mmcsal "$proto" --set active.coldstart.coverage_weight=0.0 --set active.coldstart.lambda_align=0.0
  sim align-only-proto 100 mmcsal "$proto" --set active.coldstart.coverage_weight=0.0 --set active.coldstart.gamma=0.0
  sim gamma0-proto 100 mmcsal "$proto" --set active.coldstart.gamma=0.0
  sim gamma3-proto 100 mmcsal "$proto" --set active.coldstart.gamma=3.0 ;;
baselines)
  sim typiclust-noproto 100 typiclust "$noproto"
  sim probcover-noproto 100 probcover "$noproto"
  sim kmeans-proto 100 kmeans "$proto" ;;
esac
