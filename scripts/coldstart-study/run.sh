#!/usr/bin/env bash
# Runs the commands of jobs.sh PARALLEL (default 2) at a time, niced, one rayon thread each, a log per run in
# logs/. Usage: scripts/coldstart-study/jobs.sh ... | scripts/coldstart-study/run.sh
set -euo pipefail
mkdir -p logs
xargs -d '\n' -P "${PARALLEL:-2}" -I{} bash -c 'cmd="$1"; out=$(echo "$cmd" | sed -E "s/.*--out runs\/([^ ]+).*/\1/");
  if [ -f "runs/$out/results.csv" ]; then echo "skip $out"; exit 0; fi
  echo "start $out $(date -u +%T)"; eval "nice -n 5 env RAYON_NUM_THREADS=1 $cmd" > "logs/$out.log" 2>&1;
  echo "done $out rc=$? $(date -u +%T)"' _ {}
