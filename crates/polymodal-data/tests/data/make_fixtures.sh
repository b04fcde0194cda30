#!/usr/bin/env bash
# Rebuilds the tiny compressed-audio fixtures of tests/import.rs: the same 0.3 s 440 Hz tone,
# 22,050 Hz stereo, as FLAC and Ogg Vorbis (sox) and MP3 (PyPI lameenc). The tests write WAV, PNG,
# JPEG, BMP and WebP themselves; these three formats have no encoder among our Rust dependencies.
set -euo pipefail
cd "$(dirname "$0")"
sox -n -r 22050 -c 2 -b 16 tone.wav synth 0.3 sine 440 vol 0.5
sox tone.wav tone.flac
sox tone.wav -C 0 tone.ogg
python3 - <<'PY'
import lameenc, wave
w = wave.open("tone.wav", "rb")
enc = lameenc.Encoder()
enc.set_bit_rate(64); enc.set_in_sample_rate(w.getframerate()); enc.set_channels(w.getnchannels()); enc.set_quality(7)
data = enc.encode(w.readframes(w.getnframes())) + enc.flush()
open("tone.mp3", "wb").write(data)
PY
rm tone.wav
