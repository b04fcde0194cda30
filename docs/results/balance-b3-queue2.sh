#!/bin/bash
# Addendum to the third pass (docs/BALANCE_STUDY.md §4.8, addendum): AL on the DEFAULT preset at
# the scale of the competition-preset AL runs (300 random labels + 3 rounds of 300, 10 epochs,
# random / BADGE / BMMAL), probe heads seeds 1-5, then joint heads seeds 1-5, one run directory
# per seed. Starts after the main queue (balance-b3-queue.sh) has started its last job, and keeps
# at most 2 processes of the pass's binary running in total. No job starts after 08:10 UTC.
set -u
cd /work/wt-bal3
B=/work/bin/pm-bal3
CUTOFF=08:10
until grep -q "start prereg-full-c3" logs/b3-queue.log; do sleep 10; done
running() { pgrep -fc "^$B " || true; }
for H in probe joint; do
  for S in 1 2 3 4 5; do
    j=al-default-$H-s$S
    while [ "$(running)" -ge 2 ]; do sleep 10; done
    if [[ "$(date -u +%H:%M)" > "$CUTOFF" ]]; then echo "== $(date -u +%T) cutoff: $j not started"; continue; fi
    A=(simulate --config configs/al-avdigits.toml --out runs/b3-$j
       --set 'active.strategies=["random", "badge", "bmmal"]' --set active.initial=300
       --set active.per_round=300 --set active.rounds=3 --set active.workers=1 --set train.epochs=10
       --set "train.heads=\"$H\"" --set "active.seeds=[$S]")
    echo "== $(date -u +%T) start $j: ${A[*]}"
    ( nice -n 5 env RAYON_NUM_THREADS=1 $B "${A[@]}" > logs/b3-$j.log 2>&1; echo "== $(date -u +%T) end $j rc=$?" ) &
    sleep 15
  done
done
wait
echo "== $(date -u +%T) queue2 done"
