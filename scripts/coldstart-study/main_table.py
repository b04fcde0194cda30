#!/usr/bin/env python3
"""The main table of docs/COLD_START.md section 5 for one run prefix (av or ds): per budget,
test accuracy mean ± std over seeds of MMCSAL (prototype embeddings), random and k-means (no
prototype embeddings), and the paired per-seed differences of MMCSAL against each.
Usage: main_table.py PREFIX [MMCSAL_TAG]
MMCSAL_TAG names the MMCSAL runs (default mmcsal-proto, the method's defaults; e.g.
mmcsal-beta1-lam0 for the setting chosen on validation: runs/PREFIX-MMCSAL_TAG-B)."""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from summarise import load, ms  # noqa: E402

prefix = sys.argv[1]
tag = sys.argv[2] if len(sys.argv) > 2 else "mmcsal-proto"
names = [("MMCSAL", tag), ("random", "random"), ("k-means (no prototypes)", "kmeans-noproto")]
print("| budget | " + " | ".join(n for n, _ in names) + " | MMCSAL − random (paired, wins/5) | MMCSAL − k-means (paired, wins/5) |")
print("|---|" + "---|" * (len(names) + 2))
for b in (50, 100, 200):
    runs = {k: f"runs/{prefix}-{k}-{b}" for _, k in names}
    if not all(os.path.exists(os.path.join(r, "results.csv")) for r in runs.values()):
        continue
    acc = {k: load(r)[0] for k, r in runs.items()}
    cells = [f"{ms(acc[k].values())} ({', '.join(f'{acc[k][s]:.3f}' for s in sorted(acc[k]))})" for _, k in names]
    diffs = []
    for other in ("random", "kmeans-noproto"):
        d = [acc[tag][s] - acc[other][s] for s in sorted(acc[tag])]
        diffs.append(f"{statistics.mean(d):+.3f} ± {statistics.stdev(d):.3f} ({sum(x > 0 for x in d)}/5)")
    print(f"| {b} | " + " | ".join(cells) + " | " + " | ".join(diffs) + " |")
