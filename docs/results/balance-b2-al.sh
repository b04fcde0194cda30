#!/bin/bash
# usage: al.sh <heads> <binary>
cd /work/wt-bal
H=$1; B=$2
echo "== $(date -u +%T) start al-comp-$H with $B"
nice -n 5 env RAYON_NUM_THREADS=1 $B simulate --config configs/al-avdigits-competition.toml \
  --out runs/b2-al-comp-$H --set "train.heads=\"$H\"" > logs/b2-al-comp-$H.log 2>&1
echo "== $(date -u +%T) end al-comp-$H rc=$?"
