//! A small, learnable example folder in the manifest layout: PNG images, WAV recordings at
//! several sample rates (some stereo), captions (inline and in `.txt` files), a few missing
//! cells. `polymodal data example` writes it for the guide; the tests import it.

use polymodal_core::seed;
use rand::Rng;
use std::fmt::Write as _;
use std::path::Path;

pub const CLASSES: [&str; 3] = ["low", "mid", "high"];
const TONES_HZ: [f32; 3] = [330.0, 660.0, 1320.0];
const RATES: [u32; 3] = [11_025, 22_050, 8_000];

/// Writes `per_class * 3` samples and `manifest.csv` into `dir`. Deterministic in `seed`.
pub fn write(dir: &Path, per_class: usize, seed_value: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("images"))?;
    std::fs::create_dir_all(dir.join("audio"))?;
    std::fs::create_dir_all(dir.join("captions"))?;
    let mut rng = seed::rng(seed_value, "example");
    let mut manifest = String::from("id,label,image,audio,caption\n");
    for i in 0..per_class * CLASSES.len() {
        let class = i % CLASSES.len();
        let id = format!("s{i:03}");
        let image = format!("images/{id}.png");
        write_png(&dir.join(&image), class, i % 4 == 0, &mut rng)?;
        let audio = format!("audio/{id}.wav");
        let rate = RATES[i % RATES.len()];
        let channels = if i % 5 == 0 { 2 } else { 1 };
        write_wav(&dir.join(&audio), TONES_HZ[class], rate, channels, &mut rng)?;
        let caption = caption(class, &mut rng);
        // Every 7th sample has no recording, every 11th no caption: missing, not broken.
        let audio_cell = if i % 7 == 3 { String::new() } else { audio };
        let caption_cell = match i % 11 {
            5 => String::new(),
            2 => {
                let p = format!("captions/{id}.txt");
                std::fs::write(dir.join(&p), &caption)?;
                p
            }
            _ => format!("\"{caption}\""),
        };
        let _ = writeln!(
            manifest,
            "{id},{},{image},{audio_cell},{caption_cell}",
            CLASSES[class]
        );
    }
    std::fs::write(dir.join("manifest.csv"), manifest)
}

fn caption(class: usize, rng: &mut impl Rng) -> String {
    const WORDS: [[&str; 3]; 3] = [
        ["deep", "rumbling", "bass"],
        ["steady", "middle", "voice"],
        ["shrill", "whistle", "bright"],
    ];
    const FILLER: [&str; 6] = ["a", "recording", "of", "the", "sound", "clip"];
    // Half the captions carry a class word, so text alone is informative but not perfect.
    let mut words: Vec<&str> = (0..4)
        .map(|_| FILLER[rng.random_range(0..FILLER.len())])
        .collect();
    if rng.random_bool(0.6) {
        words.insert(
            rng.random_range(0..=words.len()),
            WORDS[class][rng.random_range(0..3)],
        );
    }
    words.join(" ")
}

fn write_png(path: &Path, class: usize, colour: bool, rng: &mut impl Rng) -> std::io::Result<()> {
    let (w, h) = (24u32, 20u32);
    // A bright bar whose height (row) encodes the class, plus noise.
    let row0 = [3u32, 8, 13][class] + rng.random_range(0..3);
    let pixel = |x: u32, y: u32, rng: &mut dyn rand::RngCore| -> u8 {
        let base = if (row0..row0 + 4).contains(&y) && (2..w - 2).contains(&x) {
            200.0
        } else {
            30.0
        };
        (base + rng.random_range(-30.0..30.0f32)).clamp(0.0, 255.0) as u8
    };
    let err = |e: image::ImageError| std::io::Error::other(e.to_string());
    if colour {
        let mut img = image::RgbImage::new(w, h);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let v = pixel(x, y, rng);
            *p = image::Rgb([v, v / 2, 255 - v]);
        }
        img.save(path).map_err(err)
    } else {
        let mut img = image::GrayImage::new(w, h);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = image::Luma([pixel(x, y, rng)]);
        }
        img.save(path).map_err(err)
    }
}

/// 16-bit PCM WAV: a tone with random phase, length 0.5–1.2 s, and noise.
pub fn write_wav(
    path: &Path,
    hz: f32,
    rate: u32,
    channels: u16,
    rng: &mut impl Rng,
) -> std::io::Result<()> {
    let seconds = rng.random_range(0.5..1.2f32);
    let phase = rng.random_range(0.0..std::f32::consts::TAU);
    let n = (seconds * rate as f32) as usize;
    let mut samples = Vec::with_capacity(n * channels as usize);
    for t in 0..n {
        let s = 0.4 * (std::f32::consts::TAU * hz * t as f32 / rate as f32 + phase).sin()
            + rng.random_range(-0.1..0.1f32);
        for _ in 0..channels {
            samples.push((s * 32767.0) as i16);
        }
    }
    std::fs::write(path, crate::audio::wav_pcm16(&samples, rate, channels))
}

/// A C-order float32 `.npy` file of shape `[rows, dim]` (NPY format 1.0).
pub fn npy_f32(rows: usize, dim: usize, values: &[f32]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}")
            .into_bytes();
    // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(&header);
    b.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    b
}
