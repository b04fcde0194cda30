#!/usr/bin/env python3
"""Tables of docs/BALANCE_STUDY.md §4 from the run directories (standard library only).

    python3 docs/results/balance-analyze.py ogm RUNS TAG [PREFIX]  # laziness + OGM tables of one grid cell
    python3 docs/results/balance-analyze.py al RUN [RUN ...]       # AL table of simulate runs (rows pooled)

PREFIX is the run-name prefix: b2 (second pass, the default) or b3 (third pass). The third pass
runs each AL seed in its own run directory; `al` pools their results.csv rows.

Paired t-tests: two-sided, on − off for the same seed, df = seeds − 1.
"""
import csv, math, os, sys


def betacf(a, b, x):
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d; d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d; d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-12:
            break
    return h


def betai(a, b, x):
    if x <= 0: return 0.0
    if x >= 1: return 1.0
    bt = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x))
    if x < (a + 1) / (a + b + 2):
        return bt * betacf(a, b, x) / a
    return 1.0 - bt * betacf(b, a, 1 - x) / b


def mean_std(v):
    n = len(v)
    m = sum(v) / n
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1)) if n > 1 else float('nan')
    return m, s


def paired(d):
    n = len(d)
    m, s = mean_std(d)
    if n < 2 or s == 0:
        return m, s, float('nan')
    t = m / (s / math.sqrt(n))
    df = n - 1
    p = betai(df / 2, 0.5, df / (df + t * t))
    return m, s, p


def ms(v):
    m, s = mean_std(v)
    return f"{m:.3f} ± {s:.3f}"


def pd(d):
    m, s, p = paired(d)
    ps = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return f"{m:+.3f} ± {s:.3f}, {ps}"


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def ogm(runs, tag, prefix="b2"):
    lazy = read(os.path.join(runs, f"{prefix}-lazy-{tag}", "laziness.csv"))
    alone = {(int(r['seed']), r['modality']): float(r['alone']) for r in lazy}
    seeds = sorted({int(r['seed']) for r in lazy})
    print(f"#### Laziness, {tag}\n")
    print("| modality | alone | in fused | gap | per-seed gap |")
    print("|---|---|---|---|---|")
    for mod in ['image', 'audio']:
        rs = [r for r in lazy if r['modality'] == mod]
        print(f"| {mod} | {ms([float(r['alone']) for r in rs])} | {ms([float(r['in_fused']) for r in rs])} | "
              f"{ms([float(r['gap']) for r in rs])} | {', '.join('%+.3f' % float(r['gap']) for r in rs)} |")
    fused = {int(r['seed']): float(r['fused']) for r in lazy}
    print(f"\nfused {ms(list(fused.values()))} (seeds {', '.join(map(str, seeds))})\n")

    def cells(name, ogm_on):
        p = os.path.join(runs, name, "results.csv")
        if not os.path.exists(p):
            return None
        out = {}
        for r in read(p):
            if (r['ogm'] == 'true') == ogm_on:
                out[int(r['seed'])] = r
        return out or None

    variants = [
        ("AdamW, OGM off", f"{prefix}-ogm-adamw-{tag}", False, None),
        ("AdamW, OGM-GE (noise)", f"{prefix}-ogm-adamw-{tag}", True, 0),
        ("AdamW, OGM (no noise)", f"{prefix}-ogm-adamw-nonoise-{tag}", True, 0),
        ("SGD, OGM off", f"{prefix}-ogm-sgd-{tag}", False, None),
        ("SGD, OGM-GE (noise)", f"{prefix}-ogm-sgd-{tag}", True, 3),
        ("SGD, OGM (no noise)", f"{prefix}-ogm-sgd-nonoise-{tag}", True, 3),
    ]
    loaded = [(lab, cells(name, on), ref) for lab, name, on, ref in variants]
    print(f"#### Fused training with and without OGM, {tag}\n")
    print("| variant | seeds | fused | image acc | audio acc | audio contribution | audio gap |")
    print("|---|---|---|---|---|---|---|")
    cols = ['accuracy', 'accuracy_image', 'accuracy_audio', 'contribution_audio']
    for lab, c, ref in loaded:
        if c is None:
            print(f"| {lab} | not run | | | | | |")
            continue
        ss = sorted(c)
        vals = [ms([float(c[s][k]) for s in ss]) for k in cols]
        gap = ms([alone[(s, 'audio')] - float(c[s]['accuracy_audio']) for s in ss])
        print(f"| {lab} | {len(ss)} | " + " | ".join(vals) + f" | {gap} |")
        if ref is not None and loaded[ref][1] is not None:
            off = loaded[ref][1]
            common = [s for s in ss if s in off]
            ds = [pd([float(c[s][k]) - float(off[s][k]) for s in common]) for k in cols]
            dgap = pd([float(off[s]['accuracy_audio']) - float(c[s]['accuracy_audio']) for s in common])
            print(f"| paired Δ vs {loaded[ref][0]} | {len(common)} | " + " | ".join(ds) + f" | {dgap} |")
    print()
    for lab, c, ref in loaded:
        if c is not None and ref is not None and loaded[ref][1] is not None:
            off = loaded[ref][1]
            d = [float(c[s]['accuracy_audio']) - float(off[s]['accuracy_audio']) for s in sorted(c) if s in off]
            print(f"- {lab}: per-seed Δ audio accuracy " + ", ".join(f"{x:+.3f}" for x in d))
    print()


def al(runs):
    rows = [r for run in runs for r in read(os.path.join(run, "results.csv"))]
    strategies = list(dict.fromkeys(r['strategy'] for r in rows))
    by = {}
    for r in rows:
        by.setdefault((r['strategy'], int(r['seed'])), []).append(r)
    # Only seeds whose every strategy finished every round.
    rounds = max(int(r['round']) for r in rows)
    seeds = sorted({s for (_, s) in by if all(len(by.get((k, s), [])) == rounds + 1 for k in strategies)})

    def aubc(rs):
        pts = sorted((int(r['n_labeled']), float(r['accuracy'])) for r in rs)
        area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(pts, pts[1:]))
        return area / (pts[-1][0] - pts[0][0])

    def final(rs, k):
        return float(max(rs, key=lambda r: int(r['round']))[k])

    print(f"seeds {seeds}\n")
    print("| strategy | AUBC | per seed | final fused | final image | final audio | audio share per round |")
    print("|---|---|---|---|---|---|---|")
    A = {}
    for k in strategies:
        a = [aubc(by[(k, s)]) for s in seeds]
        A[k] = a
        share = []
        for rd in range(rounds + 1):
            share.append(mean_std([float(next(r for r in by[(k, s)] if int(r['round']) == rd)['contribution_audio']) for s in seeds])[0])
        print(f"| {k} | {ms(a)} | {', '.join(f'{x:.3f}' for x in a)} | "
              f"{ms([final(by[(k, s)], 'accuracy') for s in seeds])} | {ms([final(by[(k, s)], 'accuracy_image') for s in seeds])} | "
              f"{ms([final(by[(k, s)], 'accuracy_audio') for s in seeds])} | {' / '.join(f'{x:.2f}' for x in share)} |")
    print()
    print("| strategy | fused, rounds 0–%d | image, rounds 0–%d | audio, rounds 0–%d |" % (rounds, rounds, rounds))
    print("|---|---|---|---|")
    for k in strategies:
        cells = []
        for col in ['accuracy', 'accuracy_image', 'accuracy_audio']:
            per = [mean_std([float(next(r for r in by[(k, s)] if int(r['round']) == rd)[col]) for s in seeds])[0]
                   for rd in range(rounds + 1)]
            cells.append(' / '.join(f'{x:.3f}' for x in per))
        print(f"| {k} | " + " | ".join(cells) + " |")
    print()
    for a, b in [('bmmal', 'badge'), ('bmmal', 'random'), ('badge', 'random')]:
        if a in A and b in A:
            print(f"- AUBC {a} − {b}: {pd([x - y for x, y in zip(A[a], A[b])])}")
            fa = [final(by[(a, s)], 'accuracy_audio') - final(by[(b, s)], 'accuracy_audio') for s in seeds]
            print(f"  final audio accuracy {a} − {b}: {pd(fa)}")
            print(f"  per seed: AUBC " + ", ".join(f"{x - y:+.4f}" for x, y in zip(A[a], A[b]))
                  + "; final audio " + ", ".join(f"{x:+.3f}" for x in fa))
    print()


if __name__ == '__main__':
    if sys.argv[1] == 'ogm':
        ogm(sys.argv[2], sys.argv[3], *sys.argv[4:5])
    else:
        al(sys.argv[2:])
