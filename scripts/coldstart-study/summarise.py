#!/usr/bin/env python3
"""Tables of the cold-start study from simulate run directories (docs/COLD_START.md, section 5).

Usage: summarise.py RUN [RUN ...] [--vs BASELINE_RUN ...]
For each run: test accuracy of the round-0 model per seed (results.csv), mean ± sample std,
and the validation accuracy (cells/round0/seed*/round0/val.json) when present. With --vs,
paired differences run − baseline over the seeds both have (mean ± std, wins/ties/losses).
"""
import csv
import json
import os
import statistics
import sys


def load(run):
    test, val = {}, {}
    with open(os.path.join(run, "results.csv")) as f:
        for row in csv.DictReader(f):
            if row["round"] == "0":
                test[int(row["seed"])] = float(row["accuracy"])
    for seed in test:
        p = os.path.join(run, "cells", "round0", f"seed{seed}", "round0", "val.json")
        if os.path.exists(p):
            val[seed] = json.load(open(p))["accuracy"]
    return test, val


def ms(v):
    v = list(v)
    if not v:
        return "–"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.3f} ± {sd:.3f}"


def main():
    args = sys.argv[1:]
    vs = []
    if "--vs" in args:
        i = args.index("--vs")
        args, vs = args[:i], args[i + 1:]
    vs = [b for b in vs if os.path.exists(os.path.join(b, "results.csv"))]
    base = {b: load(b)[0] for b in vs}
    print("| run | test accuracy (mean ± std) | per seed | val accuracy |" + "".join(f" − {os.path.basename(b)} (paired; w/t/l) |" for b in vs))
    print("|---|---|---|---|" + "---|" * len(vs))
    for run in args:
        if not os.path.exists(os.path.join(run, "results.csv")):
            continue
        test, val = load(run)
        seeds = sorted(test)
        line = f"| {os.path.basename(run)} | {ms(test[s] for s in seeds)} | {', '.join(f'{test[s]:.3f}' for s in seeds)} | {ms(val[s] for s in sorted(val))} |"
        for b in vs:
            common = [s for s in seeds if s in base[b]]
            d = [test[s] - base[b][s] for s in common]
            w = sum(x > 0 for x in d)
            t = sum(x == 0 for x in d)
            line += f" {ms(d)} ({w}/{t}/{len(d) - w - t}) |"
        print(line)


if __name__ == "__main__":
    main()
