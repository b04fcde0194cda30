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
#   WHICH       main | ablation | baselines | valgrid | terms | chosen (default main)
#   valgrid: the pre-registered (β, λ_align) grid at budget 100 (docs/COLD_START.md, "Choosing
#   λ_align and β on validation"); choose.py picks from it on validation accuracy.
#   terms: each term alone and γ ∈ {0, 2}, budget 100, prototype embeddings.
#   chosen: the chosen setting at budgets 50 and 200; CHOSEN_PT and CHOSEN_LAM (env) name it.
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
valgrid) # λ_align = 1 on each β is the main/ablation runs' mmcsal-proto-100 and mmcsal-noproto-100
  sim mmcsal-proto 100 mmcsal "$proto"
  sim mmcsal-noproto 100 mmcsal "$noproto"
  for lam in 0.0 0.5 2.0; do # names: lam0, lam0.5, lam2 (as the ablation list's lam0)
    name=lam${lam%.0}
    sim mmcsal-proto-$name 100 mmcsal "$proto" --set active.coldstart.lambda_align=$lam
    sim mmcsal-noproto-$name 100 mmcsal "$noproto" --set active.coldstart.lambda_align=$lam
  done
  if [ -n "${PT_BETA1:-}" ]; then # a third pretraining, β = 1.0 (env PT_BETA1)
    sim mmcsal-beta1 100 mmcsal "$PT_BETA1"
    for lam in 0.0 0.5 2.0; do
      sim mmcsal-beta1-lam${lam%.0} 100 mmcsal "$PT_BETA1" --set active.coldstart.lambda_align=$lam
    done
  fi ;;
terms)
  sim div-only-proto 100 mmcsal "$proto" --set active.coldstart.coverage_weight=0.0 --set active.coldstart.lambda_align=0.0
  sim align-only-proto 100 mmcsal "$proto" --set active.coldstart.coverage_weight=0.0 --set active.coldstart.gamma=0.0
  sim gamma0-proto 100 mmcsal "$proto" --set active.coldstart.gamma=0.0
  sim gamma2-proto 100 mmcsal "$proto" --set active.coldstart.gamma=2.0 ;;
chosen) # the setting choose.py picked, at the other budgets (budget 100 is in valgrid)
  tag=${CHOSEN_TAG:?set CHOSEN_TAG, e.g. mmcsal-noproto-lam0} pt=${CHOSEN_PT:?} lam=${CHOSEN_LAM:?}
  for b in 50 200; do
    sim "$tag" $b mmcsal "$pt" --set active.coldstart.lambda_align=$lam
  done ;;
baselines)
  sim typiclust-noproto 100 typiclust "$noproto"
  sim probcover-noproto 100 probcover "$noproto"
  sim kmeans-proto 100 kmeans "$proto" ;;
esac
