"""Tables of the vl runs' eval.json under runs/ (docs/HALLUCINATION.md).

  python3 bench/vl_table.py            # per run (every split)
  python3 bench/vl_table.py --mean     # mean ± std over seeds, and the claim check on test_bias

Run directories are named runs/vl-<prefix|cross>-<name>-s<seed> (bench/vl_study.sh); <name> is
the variant's study name (base = baseline). Only seeds whose baseline exists are compared.
"""
import glob
import json
import re
import statistics
import sys

SPLITS = ['val', 'val_bias', 'test', 'test_bias']
rows = {}
for f in sorted(glob.glob('runs/vl-*-s*/eval.json')):
    m = re.match(r'runs/vl-(prefix|cross)-(.+)-s(\d+)/eval.json', f)
    if not m:
        continue
    model, name, seed = m.group(1), m.group(2), int(m.group(3))
    r = json.load(open(f))
    for e in r['splits']:
        p = {k: v for k, v in e['pope']}
        c = e['chair']
        rows[(model, name, seed, e['split'])] = dict(
            chair_i=c['chair_i'], chair_s=c['chair_s'], recall=c['recall'], length=c['length'],
            f1_random=p['random']['f1'], f1_popular=p['popular']['f1'],
            f1_adversarial=p['adversarial']['f1'], acc_adversarial=p['adversarial']['accuracy'],
            yes_adversarial=p['adversarial']['yes_ratio'],
            partner=e['partner_mentions'] / max(e['partner_cases'], 1))

KEYS = ['chair_i', 'chair_s', 'recall', 'length', 'f1_random', 'f1_popular', 'f1_adversarial',
        'yes_adversarial', 'partner']
HEAD = ('| CHAIR_i | CHAIR_s | recall | length | POPE F1 random | popular | adversarial | '
        'adv. yes-ratio | partner named when absent |')
names = sorted({k[1] for k in rows}, key=lambda n: (n != 'base', n))


def fmt(xs):
    if len(xs) == 1:
        return '%.3f' % xs[0]
    return '%.3f ± %.3f' % (statistics.mean(xs), statistics.stdev(xs))


if '--mean' not in sys.argv:
    print('| model | variant | seed | split ' + HEAD)
    print('|---' * 13 + '|')
    for (model, name, seed, split), v in sorted(
            rows.items(), key=lambda kv: (kv[0][0], SPLITS.index(kv[0][3]), kv[0][2],
                                          names.index(kv[0][1]))):
        print('| %s | %s | %d | %s | ' % (model, name, seed, split)
              + ' | '.join('%.3f' % v[k] for k in KEYS) + ' |')
    sys.exit()

splits = [s for s in sys.argv[1:] if s in SPLITS] or ['val_bias', 'test', 'test_bias']
for split in splits:
    print('\n%s (mean ± std over seeds)\n' % split)
    print('| model | variant | seeds ' + HEAD)
    print('|---' * 12 + '|')
    for model in ['prefix', 'cross']:
        for name in names:
            seeds = sorted(s for (m, n, s, sp) in rows if m == model and n == name and sp == split)
            if not seeds:
                continue
            vals = [rows[(model, name, s, split)] for s in seeds]
            print('| %s | %s | %s | ' % (model, name, ','.join(map(str, seeds)))
                  + ' | '.join(fmt([v[k] for v in vals]) for k in KEYS) + ' |')

print('\nClaim on test_bias: CHAIR_i -30 %, length and recall within 5 %, POPE adversarial F1 up '
      '(relative change vs the same-seed baseline, mean over seeds)\n')
print('| model | variant | seeds | ΔCHAIR_i | Δlength | Δrecall | ΔF1 adversarial | holds |')
print('|---|---|---|---|---|---|---|---|')
for model in ['prefix', 'cross']:
    for name in names:
        if name == 'base':
            continue
        seeds = sorted(s for (m, n, s, sp) in rows if m == model and n == name
                       and sp == 'test_bias' and (model, 'base', s, 'test_bias') in rows)
        if not seeds:
            continue
        d = {k: [] for k in ['chair_i', 'length', 'recall']}
        df1 = []
        for s in seeds:
            a, b = rows[(model, 'base', s, 'test_bias')], rows[(model, name, s, 'test_bias')]
            for k in d:
                d[k].append((b[k] - a[k]) / a[k] if a[k] else float('nan'))
            df1.append(b['f1_adversarial'] - a['f1_adversarial'])
        mean = {k: statistics.mean(v) for k, v in d.items()}
        holds = (mean['chair_i'] <= -0.30 and abs(mean['length']) <= 0.05
                 and abs(mean['recall']) <= 0.05 and statistics.mean(df1) > 0)
        print('| %s | %s | %s | %+.1f %% | %+.1f %% | %+.1f %% | %+.3f | %s |' % (
            model, name, ','.join(map(str, seeds)), 100 * mean['chair_i'], 100 * mean['length'],
            100 * mean['recall'], statistics.mean(df1), 'yes' if holds else 'no'))
