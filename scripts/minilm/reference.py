#!/usr/bin/env python3
"""Writes crates/polymodal-text/tests/data/minilm_reference.json: golden token ids and
embeddings from sentence-transformers (PyTorch) for the Rust port to be checked against.

Usage: python3 scripts/minilm/reference.py [MODEL_DIR] [OUT_JSON]
Needs: pip install sentence-transformers (torch on CPU is enough). Runs offline: the model is
loaded from the folder scripts/minilm/fetch.sh fetched, never from a hub.
"""
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".cache/models/all-MiniLM-L6-v2"
out = (
    Path(sys.argv[2])
    if len(sys.argv) > 2
    else ROOT / "crates/polymodal-text/tests/data/minilm_reference.json"
)

LONG = (
    "Active learning chooses which unlabelled examples an annotator should label next, so that "
    "a model reaches a target accuracy with far fewer labels than random sampling would need; "
    "in the multimodal setting each example may carry an image, an audio clip and a caption, "
    "some of which are missing, and the acquisition function has to weigh how uncertain the "
    "fused prediction is against how much each modality contributes to it."
)

# Embedded and tokenized: each exercises a different part of the pipeline.
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "a",
    LONG,
    "Hello, world! How's it going? (Fine—thanks...) #tags & e-mails: me@example.com",
    "Café naïve résumé Ångström Crème Brûlée",
    "我喜欢机器学习 and deep learning.",
    "In 2023, 3.14159 × 42 = 131.95 and 1,000,000 people paid $9.99 (≈ 10%).",
    "Data-efficient multimodal learning with ACTIVE sampling",
]

# Tokenized only: corner cases of normalisation, splitting, unknown words and truncation.
TOKENIZER_CASES = [
    "",
    "   ",
    "[MASK] is a special token, and so are [CLS] and [SEP]; [mask] is not.",
    "ΟΔΥΣΣΕΥΣ Σίσυφος İstanbul straße",
    "tab\there\nnewline\r\nnul\x00 zero\u200bwidth soft\u00adhyphen nbsp\u00a0x bom\ufeffy",
    "emoji 🙂👍🏽 and symbols ©®™ ← →",
    "x" * 101 + " " + "y" * 100 + " supercalifragilisticexpialidocious",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ and e\u0301 combining",
    "안녕하세요 こんにちは สวัสดี مرحبا Привет",
    "don't won't l'été «quotes» „more“ ‘single’",
    " ".join(["word"] * 300),
    " ".join(f"token{i}" for i in range(200)),
]

model = SentenceTransformer(str(model_dir), device="cpu")
model.eval()
max_len = int(model.max_seq_length)


def ids_of(text):
    # model.tokenize is exactly what encode() uses (strip, truncation to max_seq_length).
    feats = model.tokenize([text])
    return [int(i) for i in feats["input_ids"][0].tolist()]


with torch.inference_mode():
    emb = model.encode(SENTENCES, batch_size=32, convert_to_numpy=True)
emb = np.asarray(emb, dtype=np.float32)

doc = {
    "generator": "scripts/minilm/reference.py",
    "versions": {
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "torch": torch.__version__,
    },
    "max_seq_length": max_len,
    "embedding_dim": int(emb.shape[1]),
    "sentences": [
        # float(np.float32) is exact in a double, and json writes shortest round-trip reprs.
        {"text": t, "ids": ids_of(t), "embedding": [float(x) for x in emb[i]]}
        for i, t in enumerate(SENTENCES)
    ],
    "tokenizer_cases": [{"text": t, "ids": ids_of(t)} for t in TOKENIZER_CASES],
}
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"wrote {out}: {len(SENTENCES)} sentences, {len(TOKENIZER_CASES)} tokenizer cases, max_seq_length {max_len}")
