#!/bin/bash
# usage: grid.sh <preset:comp|default> <heads:probe|joint>
# The balance study grid at the registered budget, 5 seeds. Binary: main at 705d723.
set -u
cd /work/wt-bal
B=/work/bal-study-polymodal
P=$1; H=$2
RUN="nice -n 5 env RAYON_NUM_THREADS=1 $B"
BUDGET=(--set train.max_train_samples=2000 --set train.epochs=5 --set train.patience=5 --set "train.heads=\"$H\"")
if [ "$P" = comp ]; then
  LCFG=configs/avdigits-competition.toml
  DATA=(--set data.image.occlusion=0 --set data.image.heavy_fraction=0.2 --set data.image.heavy_occlusion=16
        --set 'data.audio.snr_db=[6.0, 30.0]' --set data.audio.low_snr_fraction=0.2 --set 'data.audio.low_snr_db=[-16.0, -4.0]')
else
  LCFG=configs/avdigits.toml
  DATA=()
fi
CMP=(compare --config configs/fusion-compare.toml "${BUDGET[@]}" --set 'compare.fusions=["concat"]'
     --set 'compare.seeds=[1, 2, 3, 4, 5]' --set compare.workers=1 "${DATA[@]}")
SGD=(--set 'train.optimizer="sgd"' --set train.lr=0.05 --set train.momentum=0.9 --set train.weight_decay=0.0001)
T=$P-$H
run() { local name=$1; shift; echo "== $(date -u +%T) start $name"; $RUN "$@" > logs/$name.log 2>&1; echo "== $(date -u +%T) end $name rc=$?"; }
run b2-lazy-$T laziness --config $LCFG --split test --seeds 1,2,3,4,5 --out runs/b2-lazy-$T "${BUDGET[@]}"
run b2-ogm-adamw-$T "${CMP[@]}" --out runs/b2-ogm-adamw-$T --set 'compare.ogm=[false, true]' --set train.ogm.noise=true
run b2-ogm-adamw-nonoise-$T "${CMP[@]}" --out runs/b2-ogm-adamw-nonoise-$T --set 'compare.ogm=[true]' --set train.ogm.noise=false
run b2-ogm-sgd-$T "${CMP[@]}" "${SGD[@]}" --out runs/b2-ogm-sgd-$T --set 'compare.ogm=[false, true]' --set train.ogm.noise=true
run b2-ogm-sgd-nonoise-$T "${CMP[@]}" "${SGD[@]}" --out runs/b2-ogm-sgd-nonoise-$T --set 'compare.ogm=[true]' --set train.ogm.noise=false
