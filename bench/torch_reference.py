"""PyTorch reference benchmark for polymodal's default fused model.

Mirrors the Rust model (crates/polymodal-nn, ModelConfig::default(), fusion = concat) and
its training step (crates/polymodal-train/src/trainer.rs) so that burn's throughput can be
reported as a ratio against PyTorch on the same CPU:

  image  [B,1,28,28] -> conv3x3(16) relu pool2 -> conv3x3(32) relu pool2 -> fc(1568,128) relu
  audio  [B,1,32,32] -> conv3x3(16) relu pool2 -> conv3x3(32) relu pool2 -> fc(2048,128) relu
  inverted dropout p=0.2 on both features (one mask, shared by heads and fusion)
  heads Linear(128,10) per modality; concat fusion Linear(256,10)
  loss = (CE(fused) + CE(img) + CE(aud)) / 3;  AdamW(lr=1e-3, weight_decay=0.01)

Data: 16 fixed random batches (standard-normal inputs, uniform labels 0..9), cycled.
Timing: >= 2 s warm-up, then 5 runs of 3 s; median samples/s for training and for
inference (eval, no_grad, forward + softmax on all three heads).

  pip install -r bench/requirements-torch.txt
  python bench/torch_reference.py [--threads 2] [--batch 64] [--infer-batch 256] [--quick]

Prints the parameter count, then one JSON line.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_encoder(hw: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (hw // 4) ** 2, 128), nn.ReLU(),
    )


class FusedModel(nn.Module):
    def __init__(self, classes: int = 10, p: float = 0.2):
        super().__init__()
        self.img, self.aud = conv_encoder(28), conv_encoder(32)
        self.img_head, self.aud_head = nn.Linear(128, classes), nn.Linear(128, classes)
        self.fusion = nn.Linear(256, classes)
        self.drop = nn.Dropout(p)  # inverted dropout; identity in eval mode

    def forward(self, x_img, x_aud):
        z_img, z_aud = self.drop(self.img(x_img)), self.drop(self.aud(x_aud))
        fused = self.fusion(torch.cat([z_img, z_aud], dim=1))
        return fused, self.img_head(z_img), self.aud_head(z_aud)


def make_batches(batch: int, n: int = 16):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(batch, 1, 28, 28, generator=g),
             torch.randn(batch, 1, 32, 32, generator=g),
             torch.randint(0, 10, (batch,), generator=g)) for _ in range(n)]


def measure(step, batches, batch: int, warmup_s: float, runs: int, run_s: float):
    """Calls step(batch_tuple) for warmup_s, then `runs` windows of run_s; returns samples/s."""
    i = 0
    t_end = time.perf_counter() + warmup_s
    while time.perf_counter() < t_end:
        step(batches[i % len(batches)]); i += 1
    rates = []
    for _ in range(runs):
        n, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < run_s:
            step(batches[i % len(batches)]); i += 1; n += 1
        rates.append(n * batch / elapsed)
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--infer-batch", type=int, default=256)
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 run of 1 s")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warmup_s, runs, run_s = (1.0, 1, 1.0) if args.quick else (2.0, 5, 3.0)

    model = FusedModel()
    params = sum(p.numel() for p in model.parameters())
    print(f"params: {params}")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def train_step(b):
        x_img, x_aud, y = b
        fused, l_img, l_aud = model(x_img, x_aud)
        loss = (F.cross_entropy(fused, y) + F.cross_entropy(l_img, y) + F.cross_entropy(l_aud, y)) / 3
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer_step(b):
        with torch.no_grad():
            for logits in model(b[0], b[1]):
                logits.softmax(dim=1)

    model.train()
    train = measure(train_step, make_batches(args.batch), args.batch, warmup_s, runs, run_s)
    model.eval()
    infer = measure(infer_step, make_batches(args.infer_batch), args.infer_batch, warmup_s, runs, run_s)

    print(json.dumps({
        "framework": "pytorch", "torch": torch.__version__, "threads": args.threads,
        "batch": args.batch, "train_samples_per_s": round(statistics.median(train), 1),
        "train_runs": [round(r, 1) for r in train],
        "infer_batch": args.infer_batch, "infer_samples_per_s": round(statistics.median(infer), 1),
        "infer_runs": [round(r, 1) for r in infer], "params": params,
    }))


if __name__ == "__main__":
    main()
