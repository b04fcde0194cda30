"""Straightforward BADGE / BMMAL k-means++ reference with MATERIALISED gradient embeddings,
as the official BADGE and BMMAL code does (embedding g_i = (p_i - onehot(argmax p_i)) (x) z_i,
shape [N, C * sum(d)], then k-means++ seeding with D^2 sampling, first centre = max norm).

Used only to compare speed and memory with polymodal's factorised kernel on the same shapes:

  python3 bench/badge_reference.py --pool 20000 --classes 10 --dims 256,256 --budget 200
  cargo run --release -- bench selection --strategy badge --pool 20000 --classes 10 \
      --dims 256,256 --budget 200 --labelled 0

Inputs are random (uniform features, softmax of random logits) like polymodal's synthetic
context; timing covers building the embedding and the seeding. Prints one JSON line.
"""
import argparse
import json
import resource
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", type=int, default=20000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--dims", default="256,256")
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1000)
    a = ap.parse_args()
    dims = [int(d) for d in a.dims.split(",")]
    rng = np.random.default_rng(a.seed)
    n, c = a.pool, a.classes
    z = rng.uniform(-1, 1, size=(n, sum(dims))).astype(np.float32)
    logits = rng.uniform(-4, 4, size=(n, c)).astype(np.float32)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)

    t0 = time.perf_counter()
    yhat = p.argmax(1)
    err = p.copy()
    err[np.arange(n), yhat] -= 1.0
    g = (err[:, :, None] * z[:, None, :]).reshape(n, -1)  # [N, C * sum(d)], materialised
    t_embed = time.perf_counter() - t0

    t1 = time.perf_counter()
    first = int(np.argmax((g * g).sum(1)))
    chosen = [first]
    taken = np.zeros(n, dtype=bool)
    taken[first] = True
    d2 = ((g - g[first]) ** 2).sum(1)
    while len(chosen) < a.budget:
        w = np.where(taken, 0.0, d2).astype(np.float64)
        idx = int(rng.choice(n, p=w / w.sum()))
        chosen.append(idx)
        taken[idx] = True
        d2 = np.minimum(d2, ((g - g[idx]) ** 2).sum(1))
    t_seed = time.perf_counter() - t1
    print(json.dumps({
        "implementation": "numpy materialised",
        "numpy": np.__version__,
        "pool": n, "classes": c, "dims": dims, "budget": a.budget,
        "embedding_gb": g.nbytes / 1e9,
        "embedding_seconds": t_embed,
        "seeding_seconds": t_seed,
        "selection_seconds": t_embed + t_seed,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
