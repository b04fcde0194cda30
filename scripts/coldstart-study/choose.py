#!/usr/bin/env python3
"""Chooses (β, λ_align) of MMCSAL on validation accuracy, by the rule pre-registered in
docs/COLD_START.md ("Choosing λ_align and β on validation"): the setting with the highest mean
validation accuracy over the seeds (cells/round0/seed*/round0/val.json) of the budget-100 grid;
means equal to 3 decimals go to the default (β = 0.5, λ_align = 1). Test accuracy is printed
next to it for the report, and never enters the choice.

Usage: choose.py PREFIX   (reads runs/PREFIX-mmcsal-{proto,noproto,beta1}[-lamX]-100)
Self-check of the rule: python3 -m doctest scripts/coldstart-study/choose.py
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from summarise import load, ms  # noqa: E402

DEFAULT = (0.5, 1.0)
# (β, λ_align) -> run name suffix; λ_align = 1 is the plain mmcsal-{proto,noproto} run.
EMBEDDINGS = {0.5: "proto", 0.0: "noproto", 1.0: "beta1"}
GRID = {
    (beta, lam): f"mmcsal-{EMBEDDINGS[beta]}{'' if lam == 1.0 else '-lam' + format(lam, 'g')}"
    for beta in (0.5, 0.0, 1.0)
    for lam in (0.0, 0.5, 1.0, 2.0)
}


def choose(val_means):
    """The pre-registered rule: highest mean validation accuracy, compared at 3 decimals, ties
    to the default; among tied non-default settings the first in sorted order.

    >>> choose({(0.5, 1.0): 0.4104, (0.0, 0.0): 0.4121})
    (0.0, 0.0)
    >>> choose({(0.5, 1.0): 0.4121, (0.0, 0.0): 0.41214})
    (0.5, 1.0)
    >>> choose({(0.5, 2.0): 0.43, (0.0, 0.5): 0.43, (0.5, 1.0): 0.42})
    (0.0, 0.5)
    >>> choose({})
    Traceback (most recent call last):
    ...
    ValueError: no validation accuracy in the grid
    """
    if not val_means:
        raise ValueError("no validation accuracy in the grid")
    best = max(round(v, 3) for v in val_means.values())
    tied = sorted(k for k, v in val_means.items() if round(v, 3) == best)
    return DEFAULT if DEFAULT in tied else tied[0]


def main():
    prefix = sys.argv[1]
    rows, val_means = [], {}
    for (beta, lam), name in GRID.items():
        run = f"runs/{prefix}-{name}-100"
        if not os.path.exists(os.path.join(run, "results.csv")):
            rows.append(f"| {beta:g} | {lam:g} | (not run) | | |")
            continue
        test, val = load(run)
        if len(val) != len(test):
            sys.exit(f"{run}: val.json missing for some seeds")
        val_means[(beta, lam)] = statistics.mean(val.values())
        seeds = sorted(val)
        rows.append(
            f"| {beta:g} | {lam:g} | {ms(val[s] for s in seeds)} | {', '.join(f'{val[s]:.3f}' for s in seeds)} "
            f"| {ms(test[s] for s in seeds)} |"
        )
    print("| β | λ_align | validation accuracy (mean ± std) | per seed | test accuracy (not used) |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    beta, lam = choose(val_means)
    print(f"\nchosen: β = {beta:g}, λ_align = {lam:g} (run {prefix}-{GRID[(beta, lam)]}-100)")


if __name__ == "__main__":
    main()
