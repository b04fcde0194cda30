#!/bin/bash
# The third pass of docs/BALANCE_STUDY.md (§4.8): every job of the pass, in the order of value,
# at most 2 at a time, each single-threaded and niced. Binary: /work/bin/pm-bal3 (main at 76a1c75),
# copied once before the pass. usage: balance-b3-queue.sh [job ...]   (default: all, in order)
set -u
cd /work/wt-bal3
B=/work/bin/pm-bal3
CUTOFF=08:10   # no job starts after this (UTC); the reporting cutoff is 08:15
mkdir -p logs runs
BUDGET() { echo --set train.max_train_samples=2000 --set train.epochs=5 --set train.patience=5; }
CMP=(compare --config configs/fusion-compare.toml --set train.max_train_samples=2000 --set train.epochs=5
     --set train.patience=5 --set 'compare.fusions=["concat"]' --set 'compare.seeds=[1, 2, 3, 4, 5]'
     --set compare.workers=1)
SGD=(--set 'train.optimizer="sgd"' --set train.lr=0.05 --set train.momentum=0.9 --set train.weight_decay=0.0001)
C1=(--set data.image.occlusion=0 --set data.image.heavy_fraction=0.3 --set data.image.heavy_occlusion=18
    --set 'data.audio.snr_db=[0.0, 24.0]' --set data.audio.low_snr_fraction=0.3 --set 'data.audio.low_snr_db=[-20.0, -8.0]')
C2=(--set data.image.occlusion=0 --set data.image.heavy_fraction=0.2 --set data.image.heavy_occlusion=16
    --set 'data.audio.snr_db=[6.0, 30.0]' --set data.audio.low_snr_fraction=0.2 --set 'data.audio.low_snr_db=[-16.0, -4.0]')
C3=(--set data.image.occlusion=0 --set data.image.heavy_fraction=0.4 --set data.image.heavy_occlusion=18
    --set 'data.audio.snr_db=[6.0, 30.0]' --set data.audio.low_snr_fraction=0.2 --set 'data.audio.low_snr_db=[-16.0, -4.0]')

args_of() {   # prints nothing; sets A=(...) for job $1
  local j=$1 H S
  case $j in
    al-comp-*-s*)   # al-comp-<heads>-s<seed>: one seed of the AL simulation per run directory
      H=${j#al-comp-}; S=${H##*-s}; H=${H%-s*}
      A=(simulate --config configs/al-avdigits-competition.toml --out runs/b3-$j
         --set "train.heads=\"$H\"" --set "active.seeds=[$S]") ;;
    lazy-default-*)
      H=${j#lazy-default-}
      A=(laziness --config configs/avdigits.toml --split test --seeds 1,2,3,4,5 --out runs/b3-$j
         $(BUDGET) --set "train.heads=\"$H\"") ;;
    ogm-adamw-default-*)
      H=${j##*-}
      A=("${CMP[@]}" --set "train.heads=\"$H\"" --out runs/b3-$j --set 'compare.ogm=[false, true]' --set train.ogm.noise=true) ;;
    ogm-adamw-nonoise-default-*)
      H=${j##*-}
      A=("${CMP[@]}" --set "train.heads=\"$H\"" --out runs/b3-$j --set 'compare.ogm=[true]' --set train.ogm.noise=false) ;;
    ogm-sgd-default-*)
      H=${j##*-}
      A=("${CMP[@]}" "${SGD[@]}" --set "train.heads=\"$H\"" --out runs/b3-$j --set 'compare.ogm=[false, true]' --set train.ogm.noise=true) ;;
    ogm-sgd-nonoise-default-*)
      H=${j##*-}
      A=("${CMP[@]}" "${SGD[@]}" --set "train.heads=\"$H\"" --out runs/b3-$j --set 'compare.ogm=[true]' --set train.ogm.noise=false) ;;
    prereg-full-c[123])   # the §2 amendment: full budget (8,000 x 15), seed 1, validation split
      local c=${j#prereg-full-}; local -n D=${c^^}
      A=(laziness --config configs/avdigits.toml --split val --seeds 1 --workers 1 --out runs/b3-$j
         --set 'train.heads="probe"' "${D[@]}") ;;
    *) echo "unknown job $j" >&2; return 1 ;;
  esac
}

run_one() {
  local j=$1
  args_of "$j" || return 1
  echo "== $(date -u +%T) start $j: ${A[*]}"
  nice -n 5 env RAYON_NUM_THREADS=1 $B "${A[@]}" > logs/b3-$j.log 2>&1
  echo "== $(date -u +%T) end $j rc=$?"
}

if [ $# -gt 0 ]; then JOBS=("$@"); else
  JOBS=()
  for s in 1 2 3 4 5; do JOBS+=(al-comp-probe-s$s); done
  for s in 1 2 3 4 5; do JOBS+=(al-comp-joint-s$s); done
  for h in probe joint; do
    JOBS+=(lazy-default-$h ogm-adamw-default-$h ogm-adamw-nonoise-default-$h ogm-sgd-default-$h ogm-sgd-nonoise-default-$h)
  done
  JOBS+=(prereg-full-c1 prereg-full-c2 prereg-full-c3)
fi

for j in "${JOBS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  if [[ "$(date -u +%H:%M)" > "$CUTOFF" ]]; then echo "== $(date -u +%T) cutoff: $j not started"; continue; fi
  run_one "$j" &
  sleep 2
done
wait
echo "== $(date -u +%T) queue done"
