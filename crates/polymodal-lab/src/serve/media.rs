//! What the page shows of one sample: the original image and audio files where they are known
//! (AV-Digits audio rendered as WAV), PNGs encoded here from the stored values, raw text, and
//! a vector summary.

use crate::project::{LoadedData, Originals};
use polymodal_core::ModalityKind;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct VectorSummary {
    pub dim: usize,
    pub min: f32,
    pub max: f32,
    pub mean: f32,
    pub first: Vec<f32>,
}

#[derive(Debug, Serialize)]
pub struct ModalityView {
    pub name: String,
    pub kind: &'static str,
    pub present: bool,
    /// Relative URL of a PNG (without the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Relative URL of something an `<audio>` element plays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<VectorSummary>,
    /// What the labeller should know about how this is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn kind_name(k: ModalityKind) -> &'static str {
    match k {
        ModalityKind::Image => "image",
        ModalityKind::Audio => "audio",
        ModalityKind::Text => "text",
        ModalityKind::Vector => "vector",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// Percent-encodes a path segment (ids are arbitrary strings).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The original file (or rendered waveform) of one sample's image or audio, with its type.
pub struct Original {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Content types browsers display or play, by the extensions the importer decodes.
fn content_type(path: &std::path::Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        _ => return None,
    })
}

/// Reads the original behind `row`'s `modality`. `None` when there is none: not recorded, the
/// file moved or left the manifest's folder, or an extension no browser can show.
pub fn original(
    data: &LoadedData,
    originals: &Originals,
    row: usize,
    modality: usize,
) -> Option<Original> {
    let m = data.data.modalities.get(modality)?;
    if !m.present.get(row).copied().unwrap_or(false) {
        return None;
    }
    match originals {
        Originals::None => None,
        Originals::Files(files) => {
            let path = files.path(&m.spec.name, row)?;
            let content_type = content_type(&path)?;
            let bytes = std::fs::read(&path).ok()?;
            Some(Original {
                content_type,
                bytes,
            })
        }
        Originals::AvDigits(waves) => {
            if m.spec.kind != ModalityKind::Audio {
                return None;
            }
            let wave = waves.waveform(row)?;
            Some(Original {
                content_type: "audio/wav",
                bytes: polymodal_data::audio::wav_from_signal(&wave, waves.sample_rate()),
            })
        }
    }
}

/// Whether [`original`] will find something, without reading it.
fn original_known(originals: &Originals, m: &polymodal_data::ModalityData, row: usize) -> bool {
    match originals {
        Originals::None => false,
        Originals::Files(files) => files
            .path(&m.spec.name, row)
            .is_some_and(|p| content_type(&p).is_some()),
        Originals::AvDigits(waves) => m.spec.kind == ModalityKind::Audio && row < waves.len(),
    }
}

/// The recorded source path, for telling the labeller what could not be found.
fn recorded(originals: &Originals, modality: &str, row: usize) -> Option<String> {
    match originals {
        Originals::Files(files) => files
            .files
            .get(modality)?
            .get(row)?
            .as_ref()
            .map(|rel| files.root.join(rel).display().to_string()),
        _ => None,
    }
}

pub fn views(data: &LoadedData, originals: &Originals, row: usize) -> Vec<ModalityView> {
    let d = &data.data;
    d.modalities
        .iter()
        .map(|m| {
            let present = m.present[row];
            let mut v = ModalityView {
                name: m.spec.name.clone(),
                kind: kind_name(m.spec.kind),
                present,
                image: None,
                audio: None,
                text: None,
                vector: None,
                note: None,
            };
            if !present {
                return v;
            }
            let url = format!(
                "media/{}/{}",
                encode_segment(&d.ids[row].0),
                encode_segment(&m.spec.name)
            );
            let original_url = format!(
                "original/{}/{}",
                encode_segment(&d.ids[row].0),
                encode_segment(&m.spec.name)
            );
            let known = original_known(originals, m, row);
            let missing_note = |what: &str| match recorded(originals, &m.spec.name, row) {
                Some(p) => format!("the original {what} `{p}` is not readable any more (moved, or not a type browsers show); showing the stored copy"),
                None => format!("no original {what} is recorded for this dataset; showing the stored copy"),
            };
            match m.spec.kind {
                ModalityKind::Image if known => {
                    v.image = Some(original_url);
                    v.note = Some("the original file (the model sees it resized)".into());
                }
                ModalityKind::Image => {
                    v.image = Some(url);
                    v.note = Some(match originals {
                        // The store holds AV-Digits' originals; the picture adds its degradation.
                        Originals::AvDigits(_) => {
                            "as the model sees it, with the dataset's occluder and noise".into()
                        }
                        _ => missing_note("image"),
                    });
                }
                ModalityKind::Audio => {
                    v.image = Some(url);
                    let picture = "log-mel spectrogram: low frequencies at the bottom, time left to right";
                    v.note = Some(if known {
                        v.audio = Some(original_url);
                        match originals {
                            Originals::AvDigits(_) => format!("{picture}; the player plays the noisy waveform the spectrogram was computed from"),
                            _ => format!("{picture}; the player plays the original file"),
                        }
                    } else {
                        format!("{picture}; {}", missing_note("audio file"))
                    });
                }
                ModalityKind::Text => {
                    let raw = data
                        .texts
                        .get(&m.spec.name)
                        .and_then(|t| t.get(row))
                        .cloned()
                        .flatten();
                    if raw.is_none() {
                        v.note = Some("the raw text is not stored for this dataset".into());
                    }
                    v.text = raw;
                }
                _ => {
                    let row_values = m.row(row);
                    let n = row_values.len().max(1) as f32;
                    v.vector = Some(VectorSummary {
                        dim: row_values.len(),
                        min: row_values.iter().copied().fold(f32::INFINITY, f32::min),
                        max: row_values.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                        mean: row_values.iter().sum::<f32>() / n,
                        first: row_values.iter().take(8).copied().collect(),
                    });
                    v.note = Some("values as the model sees them (standardised per dimension)".into());
                }
            }
            v
        })
        .collect()
}

/// A PNG of an image or log-mel modality row, each sample stretched to 0..255 (the stored
/// values are standardised, so only their relative levels mean anything to the eye).
/// `None` when the modality has no picture or the sample lacks it.
pub fn png(data: &LoadedData, row: usize, modality: usize) -> Option<Vec<u8>> {
    let m = data.data.modalities.get(modality)?;
    if !m.present.get(row).copied().unwrap_or(false) {
        return None;
    }
    let (c, h, w) = match m.spec.shape.as_slice() {
        [c, h, w] => (*c, *h, *w),
        [h, w] => (1, *h, *w),
        _ => return None,
    };
    if !matches!(m.spec.kind, ModalityKind::Image | ModalityKind::Audio) || !(c == 1 || c == 3) {
        return None;
    }
    let values = m.row(row);
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    let to_u8 = |v: f32| {
        if v.is_finite() {
            ((v - lo) * scale).round().clamp(0.0, 255.0) as u8
        } else {
            0
        }
    };
    // Log-mel rows are mel bands from low to high; pictures put low frequencies at the bottom.
    let flip = m.spec.kind == ModalityKind::Audio;
    let mut buf = Vec::with_capacity(h * w * c);
    for y in 0..h {
        let sy = if flip { h - 1 - y } else { y };
        for x in 0..w {
            for ch in 0..c {
                buf.push(to_u8(values[ch * h * w + sy * w + x]));
            }
        }
    }
    let color = if c == 3 {
        image::ExtendedColorType::Rgb8
    } else {
        image::ExtendedColorType::L8
    };
    let mut out = Vec::new();
    let enc = image::codecs::png::PngEncoder::new(&mut out);
    image::ImageEncoder::write_image(enc, &buf, w as u32, h as u32, color).ok()?;
    Some(out)
}
