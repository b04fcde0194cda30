"""PyTorch reference for `polymodal vl bench` (crates/polymodal-vl/src/bench.rs).

The same captioner as crates/polymodal-vl/src/model.rs with VlModelConfig::default():

  canvas [B,1,84,84] -> conv3x3 s2 p1 (16) relu -> conv3x3 s2 p1 (32) relu -> conv7x7 s3 p2 (64) relu
  (model.patch_kernel = 7; --patch-kernel 3 gives the earlier conv3x3 s3 p0)
  -> 7x7 = 49 patch tokens -> Linear(64,64) -> LayerNorm (model.image_norm) + learned patch
  position embedding
  text: token embedding + learned text position embedding (vocab 40, d 64)
  prefix: [patches; text] through 2 pre-LN blocks (causal self-attention, 4 heads, q/k/v/o
  Linear with bias; GELU MLP 64-128-64), or cross-attention: text-only causal self-attention
  plus cross-attention to the patches in every block
  final LayerNorm -> Linear(64, vocab); loss = mean CE over the text positions; AdamW(1e-3, wd 0.01)

Data: one fixed random batch (uniform canvas, uniform token ids 4..39), B=32, 24 text positions.
Timing: one warm-up step, then `runs` runs of `steps` steps; median text tokens/s. Generation:
greedy with a KV cache, prompt of 4 tokens, 20 new tokens, median generated tokens/s.

  /path/to/python -m pip install -r bench/requirements-torch.txt
  python bench/vl_decoder_bench.py [--threads 2] [--conditioning prefix|cross_attention]

Prints one JSON line with the same fields as `polymodal vl bench`.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attn(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def split(self, x):
        b, t, d = x.shape
        return x.view(b, t, self.h, d // self.h).transpose(1, 2)

    def attend(self, q, k, v, mask):
        s = q @ k.transpose(2, 3) / math.sqrt(q.shape[-1])
        if mask is not None:
            s = s + mask
        out = F.softmax(s, dim=-1) @ v
        b, h, t, dh = out.shape
        return self.o(out.transpose(1, 2).reshape(b, t, h * dh))

    def causal(self, x, cache):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        if cache is not None and cache[0] is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        tq, tk = q.shape[2], k.shape[2]
        past = tk - tq
        mask = None
        if tq > 1:
            i = torch.arange(tq)[:, None]
            j = torch.arange(tk)[None, :]
            mask = torch.where(j > past + i, -1e9, 0.0)
        if cache is not None:
            cache[0], cache[1] = k, v
        return self.attend(q, k, v, mask)

    def cross(self, x, mem):
        return self.attend(self.split(self.q(x)), self.split(self.k(mem)), self.split(self.v(mem)), None)


class Block(nn.Module):
    def __init__(self, d, h, ff, cross):
        super().__init__()
        self.ln1, self.attn, self.ln2 = nn.LayerNorm(d), Attn(d, h), nn.LayerNorm(d)
        self.ln_x = nn.LayerNorm(d) if cross else None
        self.xattn = Attn(d, h) if cross else None
        self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x, mem, cache):
        x = x + self.attn.causal(self.ln1(x), cache)
        if self.xattn is not None and mem is not None:
            x = x + self.xattn.cross(self.ln_x(x), mem)
        return x + self.ff2(F.gelu(self.ff1(self.ln2(x))))


class Captioner(nn.Module):
    def __init__(self, vocab=40, d=64, layers=2, heads=4, ff=128, max_len=32, cross=False, patch_kernel=7):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, patch_kernel, 3, (patch_kernel - 3) // 2), nn.ReLU())
        self.proj, self.img_pos = nn.Linear(64, d), nn.Embedding(49, d)
        self.ln_img = nn.LayerNorm(d)
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, heads, ff, cross) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)
        self.prefix = not cross

    def image_tokens(self, img):
        x = self.conv(img).flatten(2).transpose(1, 2)
        return self.ln_img(self.proj(x)) + self.img_pos.weight[None]

    def run(self, mem, tokens, caches, text_past):
        t = tokens.shape[1]
        x = self.tok(tokens) + self.pos(torch.arange(text_past, text_past + t))[None]
        if self.prefix and text_past == 0 and mem is not None:
            x = torch.cat([mem, x], 1)
        for i, b in enumerate(self.blocks):
            x = b(x, None if self.prefix else mem, None if caches is None else caches[i])
        return self.head(self.ln_f(x[:, -t:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--conditioning", default="prefix")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--patch-kernel", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    vocab, text_len, b = 40, 24, a.batch
    m = Captioner(vocab=vocab, cross=a.conditioning == "cross_attention", patch_kernel=a.patch_kernel)
    params = sum(p.numel() for p in m.parameters())
    img = torch.rand(b, 1, 84, 84)
    seq = torch.randint(4, vocab, (b, text_len + 1))
    inp, tgt = seq[:, :-1], seq[:, 1:]
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)

    def step():
        logits = m.run(m.image_tokens(img), inp, None, 0)
        loss = F.cross_entropy(logits.reshape(-1, vocab), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    train_runs = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        train_runs.append(b * text_len * a.steps / (time.perf_counter() - t0))

    m.eval()
    prompt = torch.randint(4, vocab, (b, 4))
    new = text_len - 4

    @torch.no_grad()
    def generate():
        mem = m.image_tokens(img)
        caches = [[None, None] for _ in m.blocks]
        logits = m.run(mem, prompt, caches, 0)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        past = prompt.shape[1]
        for _ in range(new - 1):
            logits = m.run(mem, nxt, caches, past)
            past += 1
            nxt = logits[:, -1].argmax(-1, keepdim=True)
        return b * new

    generate()
    gen_runs = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        n = sum(generate() for _ in range(a.steps))
        gen_runs.append(n / (time.perf_counter() - t0))
    print(json.dumps({
        "reference": "pytorch", "torch": torch.__version__, "threads": a.threads,
        "conditioning": a.conditioning, "params": params, "batch": b, "text_len": text_len,
        "train_tokens_per_s": statistics.median(train_runs), "train_runs": train_runs,
        "generate_tokens_per_s": statistics.median(gen_runs), "generate_runs": gen_runs,
    }))


if __name__ == "__main__":
    main()
