"""Table of every vl run's eval.json under runs/ (docs/HALLUCINATION.md): python3 bench/vl_table.py"""
import json,glob,os
rows=[]
for f in sorted(glob.glob('runs/vl-*-s*/eval.json')):
    r=json.load(open(f))
    for e in r['splits']:
        p={k:v for k,v in e['pope']}
        rows.append((r['conditioning'],e['split'],r['seed'],r['variant'],e['chair']['chair_i'],e['chair']['chair_s'],e['chair']['recall'],e['chair']['length'],p['random']['f1'],p['popular']['f1'],p['adversarial']['f1'],p['adversarial']['yes_ratio'],e['partner_mentions'],e['partner_cases']))
rows.sort(key=lambda x:(x[0]!='Prefix',['val_bias','test','test_bias'].index(x[1]),x[2],x[3]!='baseline'))
print('| model | split | seed | variant | CHAIR_i | CHAIR_s | recall | length | POPE F1 random | popular | adversarial | adv. yes-ratio | partner named when absent |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
for x in rows:
    print('| %s | %s | %d | %s | %.3f | %.3f | %.3f | %.2f | %.3f | %.3f | %.3f | %.3f | %d/%d |'%x)
