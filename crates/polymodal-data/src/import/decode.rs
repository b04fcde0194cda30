//! Decoding one manifest cell into model-ready values: images (resized, grey or RGB), audio
//! (decoded, downmixed, resampled, cropped or padded, log-mel), text (inline or from a file) and
//! feature vectors (a row of a `.npy` or safetensors file).
//!
//! Every failure is a `String` reason; the caller attaches the line and id.

use super::schema::ModalitySchema;
use super::CellError;
use crate::audio::{MelConfig, MelFrontEnd};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest image side accepted from a file header (pixels); larger is refused before decoding.
pub const MAX_IMAGE_PIXELS_SIDE: u32 = 16_384;
/// Most bytes an image decoder may allocate for one file.
pub const MAX_IMAGE_ALLOC: u64 = 256 * 1024 * 1024;
/// Source sample rates accepted from an audio header. Real recordings stay far inside; a header
/// claiming 0 Hz panics inside symphonia and one claiming 4 GHz would make the resampler
/// allocate without bound.
pub const SOURCE_RATE: std::ops::RangeInclusive<u32> = 1..=768_000;
/// Most channels accepted from an audio header (symphonia's own channel mask holds 32).
pub const MAX_CHANNELS: u16 = 32;

/// Runs one decoder call so that a panic inside a decoder library (a hostile or corrupt file
/// hitting an unchecked assumption) becomes this cell's error instead of aborting the import.
/// This is the last resort; the explicit header checks below catch the known cases first.
pub fn guarded<T>(cell: &str, f: impl FnOnce() -> Result<T, CellError>) -> Result<T, CellError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            Err(
                format!("the decoder crashed on `{cell}` ({why}); the file is probably corrupt")
                    .into(),
            )
        }
    }
}

fn image_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_PIXELS_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_PIXELS_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    limits
}

/// Resolves a manifest-relative path, refusing anything that escapes the manifest's folder
/// (`..`, absolute paths, symlinks pointing out).
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, CellError> {
    let rel_path = Path::new(rel);
    if rel_path.is_absolute() {
        return Err(format!(
            "path `{rel}` is absolute; paths must be relative to the manifest's folder"
        )
        .into());
    }
    let joined = root.join(rel_path);
    let canonical = joined
        .canonicalize()
        .map_err(|e| format!("cannot open `{rel}`: {e}"))?;
    if !canonical.starts_with(root) {
        return Err(format!("path `{rel}` is outside the manifest's folder").into());
    }
    Ok(canonical)
}

fn read(root: &Path, rel: &str) -> Result<(PathBuf, Vec<u8>), CellError> {
    let path = resolve(root, rel)?;
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read `{rel}`: {e}"))?;
    Ok((path, bytes))
}

/// Whether an image file is colour, read from its header only (the inference pass for
/// `channels` must not decode every image twice).
pub fn image_is_colour(root: &Path, rel: &str) -> Result<bool, CellError> {
    let path = resolve(root, rel)?;
    let mut reader = image::ImageReader::open(&path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| format!("cannot read image `{rel}`: {e}"))?;
    reader.limits(image_limits());
    use image::ImageDecoder;
    let decoder = reader
        .into_decoder()
        .map_err(|e| format!("cannot decode image `{rel}`: {e}"))?;
    Ok(decoder.color_type().has_color())
}

/// `[channels, h, w]` bytes, resized with a triangle filter.
pub fn image(
    root: &Path,
    rel: &str,
    size: [usize; 2],
    channels: usize,
) -> Result<Vec<u8>, CellError> {
    let (_, bytes) = read(root, rel)?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read image `{rel}`: {e}"))?;
    // Dimensions and allocation are checked against the header before any pixel is decoded.
    reader.limits(image_limits());
    let img = reader
        .decode()
        .map_err(|e| format!("cannot decode image `{rel}`: {e}"))?;
    if img.width() == 0 || img.height() == 0 {
        return Err(format!("image `{rel}` has no pixels").into());
    }
    let [h, w] = size;
    let resized = img.resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle);
    Ok(match channels {
        1 => resized.into_luma8().into_raw(),
        _ => {
            // HWC → CHW: the encoders are channel-first.
            let rgb = resized.into_rgb8().into_raw();
            let mut chw = vec![0u8; 3 * h * w];
            for (p, px) in rgb.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    chw[c * h * w + p] = px[c];
                }
            }
            chw
        }
    })
}

/// The front end of one audio modality: target rate, window, and the mel plan (built once).
pub struct AudioFrontEnd {
    pub sample_rate: usize,
    pub samples: usize,
    mel: MelFrontEnd,
}

impl AudioFrontEnd {
    pub fn new(schema: &ModalitySchema) -> Self {
        let r = schema.resolved();
        let sample_rate = r.sample_rate.unwrap_or_default();
        let samples = (r.duration.unwrap_or_default() * sample_rate as f64).round() as usize;
        let frames = r.frames.unwrap_or_default();
        // ~32 ms windows as in the built-in set, rounded up to a power of two for the FFT.
        let n_fft = ((sample_rate as f64 * 0.032) as usize)
            .next_power_of_two()
            .max(64);
        let hop = (samples.saturating_sub(n_fft) / (frames - 1).max(1)).max(1);
        Self {
            sample_rate,
            samples,
            mel: MelFrontEnd::new(MelConfig {
                sample_rate,
                n_fft,
                hop,
                n_mels: r.n_mels.unwrap_or_default(),
                frames,
            }),
        }
    }

    pub fn shape(&self) -> [usize; 3] {
        let c = self.mel.config();
        [1, c.n_mels, c.frames]
    }

    /// Decodes, downmixes, resamples and crops/pads a file, then returns its log-mel.
    pub fn process(&self, root: &Path, rel: &str) -> Result<Vec<f32>, CellError> {
        let (path, bytes) = read(root, rel)?;
        let seconds = self.samples as f64 / self.sample_rate as f64;
        let (mono, rate) = decode_audio(&path, bytes, seconds)
            .map_err(|e| format!("cannot decode audio `{rel}`: {e}"))?;
        if mono.is_empty() {
            return Err(format!("audio `{rel}` has no samples").into());
        }
        let mut wave = resample(&mono, rate, self.sample_rate)
            .map_err(|e| format!("cannot resample audio `{rel}` from {rate} Hz: {e}"))?;
        wave.resize(self.samples, 0.0);
        let out = self.mel.log_mel(&wave);
        if out.iter().any(|v| !v.is_finite()) {
            return Err(format!("audio `{rel}` gives non-finite features").into());
        }
        Ok(out)
    }
}

/// Input samples decoded past the kept window so the resampler's filter sees the same
/// neighbourhood as if the whole file had been decoded (rubato's FFT resampler works in
/// 1024-frame chunks; four chunks of margin is well beyond its reach).
const RESAMPLER_MARGIN: usize = 4 * 1024;

/// The sample rate and channel count a WAV file's `fmt ` chunk claims, read before symphonia
/// sees the file (it panics on a rate of 0). `None` for a file that is not RIFF/WAVE or has no
/// readable `fmt ` chunk: symphonia then reports its own error.
pub fn wav_header(bytes: &[u8]) -> Option<(u32, u16)> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut pos = 12usize;
    while pos.checked_add(8)? <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().ok()?) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            let fmt = bytes.get(body..body.checked_add(8)?)?;
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
            return Some((rate, channels));
        }
        // Chunks are padded to an even length.
        pos = body.checked_add(len)?.checked_add(len & 1)?;
    }
    None
}

/// Mono f32 samples (only as many as `seconds` needs, plus a resampler margin) and the file's
/// sample rate.
fn decode_audio(path: &Path, bytes: Vec<u8>, seconds: f64) -> Result<(Vec<f32>, usize), CellError> {
    if let Some((rate, channels)) = wav_header(&bytes) {
        if !SOURCE_RATE.contains(&rate) {
            return Err(format!(
                "the header claims a sample rate of {rate} Hz (accepted: {}..={} Hz)",
                SOURCE_RATE.start(),
                SOURCE_RATE.end()
            )
            .into());
        }
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(format!(
                "the header claims {channels} channels (accepted: 1..={MAX_CHANNELS})"
            )
            .into());
        }
    }
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::errors::Error as SymError;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;

    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes)), Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| e.to_string())?;
    let mut format = probed.format;
    let track = format.default_track().ok_or("no audio track")?.clone();
    let rate = track
        .codec_params
        .sample_rate
        .ok_or("unknown sample rate")?;
    if !SOURCE_RATE.contains(&rate) {
        return Err(format!(
            "the stream claims a sample rate of {rate} Hz (accepted: {}..={} Hz)",
            SOURCE_RATE.start(),
            SOURCE_RATE.end()
        )
        .into());
    }
    let rate = rate as usize;
    // Audio past the kept window is never decoded: an hour-long file costs what a second does.
    let needed = (seconds * rate as f64).ceil() as usize + RESAMPLER_MARGIN;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| e.to_string())?;
    let mut mono = Vec::new();
    while mono.len() < needed {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(e.to_string().into()),
        };
        if packet.track_id() != track.id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A corrupt frame inside an otherwise good stream: skip it as players do.
            Err(SymError::DecodeError(_)) => continue,
            Err(e) => return Err(e.to_string().into()),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        if channels > usize::from(MAX_CHANNELS) {
            return Err(format!(
                "the stream has {channels} channels (accepted: 1..={MAX_CHANNELS})"
            )
            .into());
        }
        let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buf.copy_interleaved_ref(decoded);
        mono.extend(
            buf.samples()
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
    }
    Ok((mono, rate))
}

/// FFT resampling (rubato) from `from` to `to` Hz.
pub fn resample(signal: &[f32], from: usize, to: usize) -> Result<Vec<f32>, CellError> {
    use rubato::audioadapter_buffers::direct::InterleavedSlice;
    use rubato::{Fft, FixedSync, Resampler};
    if from == to {
        return Ok(signal.to_vec());
    }
    let mut resampler =
        Fft::<f32>::new(from, to, 1024, 1, FixedSync::Both).map_err(|e| e.to_string())?;
    let input = InterleavedSlice::new(signal, 1, signal.len()).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&input, signal.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
}

/// Inline text, or the contents of a `.txt` file when the cell ends in `.txt` and is either a
/// single path-like word or (spaces allowed) names a file that exists. Empty text is an error:
/// a missing text is an empty cell.
pub fn text(root: &Path, cell: &str) -> Result<String, CellError> {
    let is_file = cell.to_ascii_lowercase().ends_with(".txt")
        && !cell.contains('\n')
        && (!cell.contains(char::is_whitespace) || resolve(root, cell).is_ok());
    let text = if is_file {
        let (_, bytes) = read(root, cell)?;
        String::from_utf8(bytes).map_err(|_| format!("text file `{cell}` is not UTF-8"))?
    } else {
        cell.to_string()
    };
    if text.trim().is_empty() {
        return Err(if is_file {
            format!("text file `{cell}` is empty")
        } else {
            "empty text".into()
        }
        .into());
    }
    Ok(text.trim().to_string())
}

/// A loaded feature file: `[rows, dim]` f32 (a 1-D file is one row).
#[derive(Debug)]
pub struct FeatureTable {
    pub rows: usize,
    pub dim: usize,
    pub values: Vec<f32>,
}

/// A feature file's contents, or why it could not be read (shared by every row pointing to it).
type LoadedTable = Arc<Result<FeatureTable, CellError>>;

/// Feature files, each loaded once however many rows point into it.
#[derive(Default)]
pub struct FeatureFiles {
    cache: std::sync::Mutex<HashMap<(PathBuf, String), LoadedTable>>,
}

/// A parsed vector reference: `file.npy`, `file.npy#ROW`, `file.safetensors#TENSOR#ROW`.
struct VectorRef<'a> {
    file: &'a str,
    tensor: String,
    row: Option<usize>,
}

fn parse_ref(cell: &str) -> Result<VectorRef<'_>, CellError> {
    let parts: Vec<&str> = cell.split('#').collect();
    let row = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("feature reference `{cell}`: `{s}` is not a row number"))
    };
    let is_st = parts[0].to_ascii_lowercase().ends_with(".safetensors");
    match (is_st, parts.as_slice()) {
        (false, [f]) => Ok(VectorRef {
            file: f,
            tensor: String::new(),
            row: None,
        }),
        (false, [f, r]) => Ok(VectorRef {
            file: f,
            tensor: String::new(),
            row: Some(row(r)?),
        }),
        (true, [f, t]) => Ok(VectorRef {
            file: f,
            tensor: t.to_string(),
            row: None,
        }),
        (true, [f, t, r]) => Ok(VectorRef {
            file: f,
            tensor: t.to_string(),
            row: Some(row(r)?),
        }),
        _ => Err(format!(
            "feature reference `{cell}`: expected FILE.npy[#ROW] or FILE.safetensors#TENSOR[#ROW]"
        )
        .into()),
    }
}

impl FeatureFiles {
    pub fn vector(&self, root: &Path, cell: &str) -> Result<Vec<f32>, CellError> {
        let r = parse_ref(cell)?;
        let path = resolve(root, r.file)?;
        let key = (path.clone(), r.tensor.clone());
        let table = {
            let mut cache = self
                .cache
                .lock()
                .map_err(|_| "feature cache poisoned".to_string())?;
            cache
                .entry(key)
                .or_insert_with(|| Arc::new(load_table(&path, r.file, &r.tensor)))
                .clone()
        };
        let table = table.as_ref().as_ref().map_err(Clone::clone)?;
        let row = match (r.row, table.rows) {
            (Some(i), n) if i < n => i,
            (Some(i), n) => {
                return Err(format!(
                    "feature reference `{cell}`: row {i} is out of range (file has {n} rows)"
                )
                .into())
            }
            (None, 1) => 0,
            (None, n) => {
                return Err(
                    format!("feature reference `{cell}`: the file has {n} rows; add #ROW").into(),
                )
            }
        };
        let v = table.values[row * table.dim..(row + 1) * table.dim].to_vec();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(format!("feature reference `{cell}`: non-finite value").into());
        }
        Ok(v)
    }
}

fn load_table(path: &Path, rel: &str, tensor: &str) -> Result<FeatureTable, CellError> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{rel}`: {e}"))?;
    let (shape, values) = if tensor.is_empty() {
        read_npy(&bytes).map_err(|e| format!("cannot read `{rel}` as .npy: {e}"))?
    } else {
        read_safetensor(&bytes, tensor).map_err(|e| format!("cannot read `{rel}`: {e}"))?
    };
    let (rows, dim) = match shape.as_slice() {
        [d] => (1, *d),
        [r, d] => (*r, *d),
        s => return Err(format!("`{rel}`: expected a 1-D or 2-D array, got shape {s:?}").into()),
    };
    if dim == 0 {
        return Err(format!("`{rel}`: vectors are empty").into());
    }
    Ok(FeatureTable { rows, dim, values })
}

fn read_npy(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), CellError> {
    use npyz::{DType, NpyFile, TypeStr};
    let npy = NpyFile::new(bytes).map_err(|e| e.to_string())?;
    if npy.order() == npyz::Order::Fortran {
        return Err("Fortran-order arrays are not supported; save with C order".into());
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    // The header's shape must fit in the file before anything is allocated from it: a
    // truncated or hand-edited header would otherwise ask for any amount of memory.
    let item = npy.dtype().num_bytes().unwrap_or(0).max(1);
    let claimed = shape
        .iter()
        .try_fold(item, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("the header's shape {shape:?} overflows"))?;
    if claimed > bytes.len() {
        return Err(format!(
            "the header claims shape {shape:?} ({claimed} bytes) but the file has {} bytes",
            bytes.len()
        )
        .into());
    }
    let ts: TypeStr = match npy.dtype() {
        DType::Plain(ts) => ts,
        other => return Err(format!("unsupported dtype {}", other.descr()).into()),
    };
    let values: Vec<f32> = match (ts.type_char(), ts.size_field()) {
        (npyz::TypeChar::Float, 4) => npy.into_vec::<f32>().map_err(|e| e.to_string())?,
        (npyz::TypeChar::Float, 8) => npy
            .into_vec::<f64>()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        (npyz::TypeChar::Int, 4) => npy
            .into_vec::<i32>()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        (npyz::TypeChar::Int, 8) => npy
            .into_vec::<i64>()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        _ => return Err(format!("unsupported dtype `{ts}`; use float32 or float64").into()),
    };
    Ok((shape, values))
}

fn read_safetensor(bytes: &[u8], name: &str) -> Result<(Vec<usize>, Vec<f32>), CellError> {
    use safetensors::{Dtype, SafeTensors};
    let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let t = st
        .tensor(name)
        .map_err(|_| format!("no tensor `{name}` (has: {})", st.names().join(", ")))?;
    let data = t.data();
    let values: Vec<f32> = match t.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        other => return Err(format!("tensor `{name}` has dtype {other:?}; use F32 or F64").into()),
    };
    Ok((t.shape().to_vec(), values))
}
