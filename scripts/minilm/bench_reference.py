#!/usr/bin/env python3
"""Embedding throughput of sentence-transformers on PyTorch CPU (sentences/s), on the same
sentences as crates/polymodal-text/examples/bench_embed.rs.

Usage: python3 scripts/minilm/bench_reference.py [MODEL_DIR] [N] [BATCH] [RUNS] [THREADS]
THREADS defaults to torch's own choice (all cores).
"""
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
args = sys.argv[1:]
model_dir = args[0] if len(args) > 0 else str(ROOT / ".cache/models/all-MiniLM-L6-v2")
n = int(args[1]) if len(args) > 1 else 512
batch = int(args[2]) if len(args) > 2 else 32
runs = int(args[3]) if len(args) > 3 else 5
if len(args) > 4:
    torch.set_num_threads(int(args[4]))

WORDS = (
    "the model learns from a small labelled set of images audio clips and captions while "
    "active learning picks which examples to annotate next so accuracy rises quickly with "
    "fewer labels overall today"
).split()
assert len(WORDS) == 32
texts = [
    " ".join(WORDS[(i * 7 + j * 13) % 32] for j in range(10 + i % 5)) + "." for i in range(n)
]

model = SentenceTransformer(model_dir, device="cpu")
model.eval()
with torch.inference_mode():
    model.encode(texts[:batch], batch_size=batch)
    rates, cpu_rates = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        model.encode(texts, batch_size=batch)
        rates.append(n / (time.perf_counter() - t))
        # Process CPU time over all threads: less sensitive to other load on a shared machine.
        cpu_rates.append(n / max(time.process_time() - c, 1e-9))
print(
    f"RESULT torch-cpu minilm sentences={n} batch={batch} threads={torch.get_num_threads()} "
    f"torch={torch.__version__} median_sps={statistics.median(rates):.1f} "
    f"median_sps_per_cpu_s={statistics.median(cpu_rates):.1f} "
    f"runs={[round(r, 1) for r in rates]}"
)
