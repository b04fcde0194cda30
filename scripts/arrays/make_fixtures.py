"""Writes the fixtures of crates/polymodal-lab/tests/arrays.rs (`polymodal select --arrays`).

A tiny two-modality late-fusion "model" in numpy: per-modality features z_audio [N, 3] and
z_image [N, 5], per-modality logits W_m z_m, fused logits = bias + the sum over the modalities
present, so subset_probs[s] = softmax(bias + sum_{m in s} W_m z_m) with bit 0 = audio and
bit 1 = image (modalities ordered by name), and probs = subset_probs[3]. mc_probs are 4 passes
with a random dropout mask on the features. Everything is float32; the .npz copies store probs
as float64 (an exact upcast) and feat_image in Fortran order, so the Rust side must convert and
transpose to get bit-identical arrays.

Usage (numpy and safetensors from PyPI):
    python3 -m venv /tmp/arrays-venv
    /tmp/arrays-venv/bin/pip install numpy==2.4.6 safetensors==0.8.0
    /tmp/arrays-venv/bin/python scripts/arrays/make_fixtures.py
"""

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parents[2] / "crates/polymodal-lab/tests/fixtures/arrays"
N, C, T = 24, 3, 4
DIMS = {"audio": 3, "image": 5}  # sorted by name: bit 0 = audio, bit 1 = image


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def main():
    rng = np.random.default_rng(7)
    feats = {m: rng.normal(size=(N, d)).astype(np.float32) for m, d in DIMS.items()}
    weights = {m: rng.normal(size=(d, C)).astype(np.float32) for m, d in DIMS.items()}
    bias = rng.normal(size=C).astype(np.float32) * 0.1
    names = sorted(DIMS)

    def fused(present, masks=None):
        logits = np.broadcast_to(bias, (N, C)).astype(np.float32)
        for m in present:
            z = feats[m] if masks is None else feats[m] * masks[m]
            logits = logits + z @ weights[m]
        return softmax(logits)

    subset = np.stack(
        [fused([m for b, m in enumerate(names) if s >> b & 1]) for s in range(1 << len(names))]
    )
    probs = subset[-1].copy()
    mc = np.stack(
        [
            fused(names, {m: (rng.random(feats[m].shape) > 0.3) / 0.7 for m in names})
            for _ in range(T)
        ]
    )

    int_ids = (100 + 3 * np.arange(N)).astype(np.int64)  # not 0..N: rows and ids differ
    str_ids = [f"clip-{i:02d}" for i in range(N)]
    str_ids[5] = "naïve-05"  # non-ASCII: UTF-8 in safetensors metadata, UCS-4 in <U arrays

    arrays = {"probs": probs, "subset_probs": subset, "mc_probs": mc}
    arrays.update({f"feat_{m}": feats[m] for m in names})

    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"ids": int_ids, **arrays}, str(OUT / "pool.safetensors"))
    save_file(arrays, str(OUT / "pool_str.safetensors"), metadata={"ids": json.dumps(str_ids)})

    npz = dict(arrays)
    npz["probs"] = probs.astype(np.float64)
    npz["feat_image"] = np.asfortranarray(feats["image"])
    np.savez(OUT / "pool.npz", ids=int_ids, **npz)
    np.savez_compressed(OUT / "pool_str.npz", ids=np.array(str_ids), **npz)

    # bytes ids (numpy S dtype, UTF-8) with only the required probs
    np.savez(OUT / "bytes_ids.npz", ids=np.array([i.encode() for i in str_ids]), probs=probs)
    # object arrays need pickle, which the reader refuses (with a hint to use .astype(str))
    np.savez(OUT / "object_ids.npz", ids=np.array(str_ids, dtype=object), probs=probs)

    labelled_rows = [0, 5, 9]
    # plain list: blank line, padding and a leading zero ("0127" is the integer id 127)
    (OUT / "labelled.txt").write_text(
        f"{int_ids[0]}\n\n  {int_ids[5]}  \n0{int_ids[9]}\n"
    )
    (OUT / "labelled_str.csv").write_text(
        "label,id\n" + "".join(f"cat,{str_ids[r]}\n" for r in labelled_rows),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
