"""A synthetic 100,000-sample pool for timing `polymodal select --arrays` (docs/SELECT_ARRAYS.md).

C = 10, two 64-d modalities, subset_probs of a linear late-fusion model; writes big.safetensors (72 MB).
"""
import numpy as np
from safetensors.numpy import save_file
rng = np.random.default_rng(0)
N, C, D = 100_000, 10, 64
def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True)); return (e / e.sum(-1, keepdims=True)).astype(np.float32)
z = {m: rng.normal(size=(N, D)).astype(np.float32) for m in ["audio", "image"]}
w = {m: rng.normal(size=(D, C)).astype(np.float32) * 0.2 for m in z}
sub = np.stack([softmax(sum((z[m] @ w[m] for b, m in enumerate(sorted(z)) if s >> b & 1), np.zeros((N, C), np.float32))) for s in range(4)])
save_file({"ids": np.arange(N, dtype=np.int64), "probs": sub[3].copy(), "subset_probs": sub, **{f"feat_{m}": z[m] for m in z}}, "big.safetensors")
