#!/usr/bin/env python3
"""Builds a paired image + speech digit dataset from Debian packages only (no model hubs):

- image: the 5,000 real handwritten 20x20 digits of OpenCV's `digits.png` (Debian package
  `opencv-doc`, `usr/share/doc/opencv-doc/examples/data/digits.png`: 100 x 50 tiles, 500 per
  digit, digit d in tile rows 5d..5d+4);
- speech: the digit's English word spoken by espeak-ng (Debian package `espeak-ng`), one
  utterance per sample with its own speaker (an espeak-ng voice + variant), speed and pitch.

Speakers are split between the splits: train, val and test each use their own speakers, so a
model cannot recognise a test sample's voice. Writes `OUT/img/*.png`, `OUT/wav/*.wav` and
`OUT/manifest.csv` (id,label,split,image,speech) for `polymodal data import`.

Python standard library only (zlib PNG decode/encode); espeak-ng on PATH.
Usage: generate.py DIGITS_PNG OUT [--seed 0] [--per-digit 500]
"""
import argparse
import os
import random
import struct
import subprocess
import zlib

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# (espeak-ng language voice, variant): 24 speakers, 16 for train, 4 for val, 4 for test.
LANGS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd"]
VARIANTS = ["m1", "m3", "f2", "f4"]
SPEAKERS = [(l, v) for l in LANGS for v in VARIANTS]


def read_grey_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, colour, interlace) == (8, 0, 0), "expected 8-bit grey, not interlaced"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    rows, prev, stride = [], bytearray(w), w + 1
    for y in range(h):
        f, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for x in range(w):
            a = line[x - 1] if x else 0
            b = prev[x]
            c = prev[x - 1] if x else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, rows


def write_grey_png(path, rows):
    h, w = len(rows), len(rows[0])
    chunk = lambda k, b: struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b))
    raw = b"".join(b"\x00" + r for r in rows)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("digits_png")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-digit", type=int, default=500)
    args = ap.parse_args()
    w, h, rows = read_grey_png(args.digits_png)
    assert (w, h) == (2000, 1000), f"unexpected digits.png size {w}x{h}"
    rng = random.Random(args.seed)
    speakers = SPEAKERS[:]
    rng.shuffle(speakers)
    by_split = {"train": speakers[:16], "val": speakers[16:20], "test": speakers[20:24]}
    os.makedirs(os.path.join(args.out, "img"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "wav"), exist_ok=True)
    lines = ["id,label,split,image,speech"]
    for d in range(10):
        tiles = [(r, c) for r in range(5 * d, 5 * d + 5) for c in range(100)]
        rng.shuffle(tiles)
        for k, (r, c) in enumerate(tiles[: args.per_digit]):
            # 80 / 10 / 10 per digit.
            split = "train" if k < 0.8 * args.per_digit else ("val" if k < 0.9 * args.per_digit else "test")
            sid = f"d{d}-r{r:02d}c{c:02d}"
            tile = [rows[20 * r + y][20 * c:20 * c + 20] for y in range(20)]
            write_grey_png(os.path.join(args.out, "img", sid + ".png"), tile)
            lang, variant = rng.choice(by_split[split])
            speed, pitch = rng.randint(140, 200), rng.randint(25, 75)
            wav = os.path.join(args.out, "wav", sid + ".wav")
            subprocess.run(
                ["espeak-ng", "-v", f"{lang}+{variant}", "-s", str(speed), "-p", str(pitch), "-w", wav, WORDS[d]],
                check=True,
            )
            lines.append(f"{sid},{d},{split},img/{sid}.png,wav/{sid}.wav")
    open(os.path.join(args.out, "manifest.csv"), "w").write("\n".join(lines) + "\n")
    print(f"wrote {len(lines) - 1} samples to {args.out}")


if __name__ == "__main__":
    main()
