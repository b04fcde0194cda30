//! AV-Digits: the built-in dataset. 10,000 real MNIST digits, each paired with a spoken recording
//! of the same digit synthesised by espeak-ng (speakers disjoint between the pool and the test
//! split). See `data/avdigits/README.md` for the data card and `scripts/avdigits/` for the
//! generator.
//!
//! The store keeps clean 8 kHz mu-law clips; background noise is mixed here at the stored
//! per-clip SNR (remapped by [`AudioDegradation::snr_db`]), and the image degradation is applied
//! here too, both from a dataset seed that is independent of the training seed, so the test split
//! is the same for every run that uses the same data settings.

use crate::audio::{self, MelConfig, MelFrontEnd, NoiseKind};
// Declared here rather than in lib.rs: the cache is private to this loader.
#[path = "logmel_cache.rs"]
mod logmel_cache;
use crate::dataset::{Dataset, ModalityData};
use crate::DataError;
use logmel_cache::{DatasetCache, LogMelCache};
use polymodal_core::{ModalityKind, ModalitySpec, SampleId, Split};
use rand::Rng as _;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub const STORE_FILE: &str = "avdigits.safetensors.gz";
pub const CLASS_NAMES: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
/// SNR range (dB) the generator drew each clip's SNR from.
pub const GENERATOR_SNR_DB: [f32; 2] = [0.0, 24.0];
const IMAGE_SIDE: usize = 28;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageDegradation {
    /// Side of a square occluder (pixels, 0 = none) placed at a random position per sample.
    pub occlusion: usize,
    /// Standard deviation of Gaussian pixel noise added to intensities in [0, 1].
    pub noise_std: f32,
    /// Per-sample variation in dominance: this fraction of the samples (each drawn from its own
    /// stream) gets a square occluder of side `heavy_occlusion` instead of `occlusion`.
    /// 0 = off; left out of the settings' serialisation when off, so presets without it keep
    /// their fingerprint.
    #[serde(skip_serializing_if = "is_zero_f32")]
    pub heavy_fraction: f32,
    /// Occluder side (pixels) of the heavily occluded samples.
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub heavy_occlusion: usize,
}

fn is_zero_f32(x: &f32) -> bool {
    *x == 0.0
}

fn is_zero_usize(x: &usize) -> bool {
    *x == 0
}

fn is_generator_range(x: &[f32; 2]) -> bool {
    *x == GENERATOR_SNR_DB
}

impl Default for ImageDegradation {
    fn default() -> Self {
        Self {
            occlusion: 0,
            noise_std: 0.0,
            heavy_fraction: 0.0,
            heavy_occlusion: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioDegradation {
    /// SNR range in dB: each clip's stored SNR (drawn uniformly from the generator's 0..24 dB)
    /// is mapped linearly onto this range. Lower means noisier audio.
    pub snr_db: [f32; 2],
    /// Per-sample variation in dominance: this fraction of the clips (each drawn from its own
    /// stream) has its stored SNR mapped onto `low_snr_db` instead of `snr_db`. 0 = off; left
    /// out of the settings' serialisation when off, so presets without it keep their
    /// fingerprint and log-mel cache key.
    #[serde(skip_serializing_if = "is_zero_f32")]
    pub low_snr_fraction: f32,
    /// SNR range (dB) of the low-SNR clips.
    #[serde(skip_serializing_if = "is_generator_range")]
    pub low_snr_db: [f32; 2],
}

impl Default for AudioDegradation {
    fn default() -> Self {
        Self {
            snr_db: GENERATOR_SNR_DB,
            low_snr_fraction: 0.0,
            low_snr_db: GENERATOR_SNR_DB,
        }
    }
}

/// How to load AV-Digits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AvDigitsConfig {
    /// Directory holding `avdigits.safetensors.gz`.
    pub path: PathBuf,
    /// Seed of the per-sample degradation draws (occluder position, noise waveform, clip offset).
    /// Fixed per dataset, independent of the training seed.
    pub seed: u64,
    pub image: ImageDegradation,
    pub audio: AudioDegradation,
}

impl Default for AvDigitsConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/avdigits"),
            seed: 0,
            image: ImageDegradation::default(),
            audio: AudioDegradation::default(),
        }
    }
}

struct Store {
    images: Vec<u8>,
    labels: Vec<u8>,
    split: Vec<u8>,
    audio: Vec<u8>,
    offsets: Vec<u32>,
    snr_db: Vec<f32>,
    noise_kind: Vec<u8>,
}

fn tensor_bytes(
    st: &SafeTensors,
    path: &Path,
    name: &str,
    dtype: Dtype,
    shape: Option<&[usize]>,
) -> Result<Vec<u8>, DataError> {
    let bad = |reason: String| DataError::BadTensor {
        path: path.to_path_buf(),
        name: name.to_string(),
        reason,
    };
    let t = st
        .tensor(name)
        .map_err(|e| bad(format!("missing or unreadable ({e})")))?;
    if t.dtype() != dtype {
        return Err(bad(format!("dtype {:?}, expected {dtype:?}", t.dtype())));
    }
    if let Some(shape) = shape {
        if t.shape() != shape {
            return Err(bad(format!("shape {:?}, expected {shape:?}", t.shape())));
        }
    }
    Ok(t.data().to_vec())
}

fn le_u32(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("chunk of 4")))
        .collect()
}

fn le_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("chunk of 4")))
        .collect()
}

fn read_store(path: &Path) -> Result<(Store, Vec<u8>), DataError> {
    let gz = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .map_err(|e| DataError::BadStore {
            path: path.to_path_buf(),
            reason: format!("gzip: {e}"),
        })?;
    let st = SafeTensors::deserialize(&raw).map_err(|e| DataError::BadStore {
        path: path.to_path_buf(),
        reason: format!("safetensors: {e}"),
    })?;
    let labels = tensor_bytes(&st, path, "labels", Dtype::U8, None)?;
    let n = labels.len();
    let store = Store {
        images: tensor_bytes(
            &st,
            path,
            "images",
            Dtype::U8,
            Some(&[n, IMAGE_SIDE, IMAGE_SIDE]),
        )?,
        split: tensor_bytes(&st, path, "split", Dtype::U8, Some(&[n]))?,
        audio: tensor_bytes(&st, path, "audio", Dtype::U8, None)?,
        offsets: le_u32(&tensor_bytes(
            &st,
            path,
            "audio_offsets",
            Dtype::U32,
            Some(&[n + 1]),
        )?),
        snr_db: le_f32(&tensor_bytes(&st, path, "snr_db", Dtype::F32, Some(&[n]))?),
        noise_kind: tensor_bytes(&st, path, "noise_kind", Dtype::U8, Some(&[n]))?,
        labels,
    };
    let bad = |reason: String| DataError::BadStore {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(i) = store
        .labels
        .iter()
        .position(|&l| l as usize >= CLASS_NAMES.len())
    {
        return Err(bad(format!(
            "sample {} has label {}",
            sample_id(i),
            store.labels[i]
        )));
    }
    if let Some(i) = store.split.iter().position(|&s| s > 2) {
        return Err(bad(format!(
            "sample {} has split code {}",
            sample_id(i),
            store.split[i]
        )));
    }
    if let Some(i) = store.noise_kind.iter().position(|&k| k > 2) {
        return Err(bad(format!(
            "sample {} has noise kind {}",
            sample_id(i),
            store.noise_kind[i]
        )));
    }
    let monotone = store.offsets.windows(2).all(|w| w[0] <= w[1]);
    if !monotone || store.offsets.last().copied() != Some(store.audio.len() as u32) {
        return Err(bad("audio offsets do not index the audio buffer".into()));
    }
    Ok((store, gz))
}

pub fn sample_id(i: usize) -> String {
    format!("avd-{i:05}")
}

/// Mean and standard deviation of the train split's rows, used to standardise a modality.
fn train_stats(values: &[f32], d: usize, splits: &[Split]) -> (f32, f32) {
    let mut sum = 0f64;
    let mut sq = 0f64;
    let mut count = 0usize;
    for (row, s) in values.chunks_exact(d).zip(splits) {
        if *s == Split::Train {
            for &v in row {
                sum += v as f64;
                sq += (v as f64) * (v as f64);
            }
            count += d;
        }
    }
    let mean = sum / count.max(1) as f64;
    let var = (sq / count.max(1) as f64 - mean * mean).max(1e-12);
    (mean as f32, var.sqrt() as f32)
}

fn standardise(values: &mut [f32], d: usize, splits: &[Split]) {
    let (mean, std) = train_stats(values, d, splits);
    values.iter_mut().for_each(|v| *v = (*v - mean) / std);
}

impl AvDigitsConfig {
    pub fn store_path(&self) -> PathBuf {
        self.path.join(STORE_FILE)
    }

    fn validate(&self) -> Result<(), DataError> {
        if self.image.occlusion > IMAGE_SIDE {
            return Err(DataError::Config(format!(
                "data.image.occlusion = {} is larger than the {IMAGE_SIDE}-pixel image",
                self.image.occlusion
            )));
        }
        if !(self.image.noise_std.is_finite() && self.image.noise_std >= 0.0) {
            return Err(DataError::Config(
                "data.image.noise_std must be a finite number >= 0".into(),
            ));
        }
        for (key, [lo, hi]) in [
            ("snr_db", self.audio.snr_db),
            ("low_snr_db", self.audio.low_snr_db),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(DataError::Config(format!(
                    "data.audio.{key} = [{lo}, {hi}] must be two finite numbers, low first"
                )));
            }
        }
        for (key, f) in [
            ("image.heavy_fraction", self.image.heavy_fraction),
            ("audio.low_snr_fraction", self.audio.low_snr_fraction),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return Err(DataError::Config(format!(
                    "data.{key} = {f} must be in [0, 1]"
                )));
            }
        }
        if self.image.heavy_occlusion > IMAGE_SIDE {
            return Err(DataError::Config(format!(
                "data.image.heavy_occlusion = {} is larger than the {IMAGE_SIDE}-pixel image",
                self.image.heavy_occlusion
            )));
        }
        Ok(())
    }

    /// Sample `i`'s degraded waveform: the clip at its seeded offset in a one-window buffer,
    /// mixed with noise at its SNR. The log-mel front end and the labelling page's audio player
    /// both start here, so what a person hears is what the model's input was computed from.
    fn render_wave(&self, store: &Store, i: usize, window: usize) -> Vec<f32> {
        let [lo, hi] = if self.is_low_snr(i) {
            self.audio.low_snr_db
        } else {
            self.audio.snr_db
        };
        let [glo, ghi] = GENERATOR_SNR_DB;
        let (a, b) = (store.offsets[i] as usize, store.offsets[i + 1] as usize);
        let clip: Vec<f32> = store.audio[a..b]
            .iter()
            .map(|&c| audio::mulaw_decode(c))
            .collect();
        let mut rng = polymodal_core::seed::rng(self.seed, &format!("audio/{}", sample_id(i)));
        let room = window.saturating_sub(clip.len());
        let offset = rng.random_range(0..=room);
        let snr = lo + (store.snr_db[i] - glo) / (ghi - glo) * (hi - lo);
        let kind = NoiseKind::from_code(store.noise_kind[i]).expect("validated");
        audio::place_and_mix(&clip, window, offset, snr, kind, &mut rng)
    }

    /// The degraded waveforms, for listening (the log-mels in [`Self::load`] are computed from
    /// exactly these).
    pub fn waves(&self) -> Result<AvDigitsWaves, DataError> {
        self.validate()?;
        let (store, _) = read_store(&self.store_path())?;
        Ok(AvDigitsWaves {
            config: self.clone(),
            store,
        })
    }

    /// Loads the store and runs the front ends. Deterministic in the config.
    pub fn load(&self) -> Result<Dataset, DataError> {
        self.validate()?;
        let path = self.store_path();
        // Every setting but the directory (which is where the cache lives), serialised whole so
        // that a field added later is part of the key without touching the cache.
        let settings = serde_json::to_string(&AvDigitsConfig {
            path: PathBuf::new(),
            ..self.clone()
        })
        .expect("settings serialise");
        let dataset_cache =
            DatasetCache::key(&path, &settings).map(|key| DatasetCache::new(&self.path, &key));
        if let Some(dataset) = dataset_cache.as_ref().and_then(DatasetCache::read) {
            if dataset.validate().is_ok() && dataset.validate_finite().is_ok() {
                return Ok(dataset);
            }
        }
        let (store, gz) = read_store(&path)?;
        let n = store.labels.len();
        let splits: Vec<Split> = store
            .split
            .iter()
            .map(|&s| match s {
                0 => Split::Train,
                1 => Split::Val,
                _ => Split::Test,
            })
            .collect();

        let image_d = IMAGE_SIDE * IMAGE_SIDE;
        let mut images = vec![0f32; n * image_d];
        for (i, (dst, src)) in images
            .chunks_exact_mut(image_d)
            .zip(store.images.chunks_exact(image_d))
            .enumerate()
        {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s as f32 / 255.0;
            }
            self.degrade_image(i, dst);
        }
        standardise(&mut images, image_d, &splits);

        let mel = MelFrontEnd::new(MelConfig::default());
        let mel_cfg = mel.config().clone();
        let window = mel_cfg.sample_rate;
        let audio_d = mel_cfg.n_mels * mel_cfg.frames;
        let mut audio_values = vec![0f32; n * audio_d];
        let render = |i: usize, dst: &mut [f32]| {
            dst.copy_from_slice(&mel.log_mel(&self.render_wave(&store, i, window)));
        };
        // The rendered log-mels depend on nothing but these inputs (the image settings are not
        // among them), so a cached copy under this key is exactly what rendering would give.
        let cache_settings = serde_json::json!({
            "seed": self.seed,
            "audio": self.audio,
            "mel": format!("{mel_cfg:?}"),
        });
        let cache = LogMelCache::new(
            &self.path,
            &LogMelCache::key(&gz, &cache_settings.to_string()),
        );
        if let Some(cached) = cache.read(n * audio_d) {
            audio_values = cached;
        } else {
            // Each sample's audio depends only on its own seed stream, so splitting the work
            // across threads cannot change the values.
            let threads = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8);
            let per_thread = n.div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                for (t, part) in audio_values.chunks_mut(per_thread * audio_d).enumerate() {
                    let render = &render;
                    scope.spawn(move || {
                        for (k, dst) in part.chunks_exact_mut(audio_d).enumerate() {
                            render(t * per_thread + k, dst);
                        }
                    });
                }
            });
            cache.write(&audio_values);
        }
        standardise(&mut audio_values, audio_d, &splits);

        // The store file's bytes hold the labels and splits (ids are positional), so hashing
        // what was read covers ids, labels and splits as well as the pixels and audio.
        let mut h = Sha256::new();
        h.update(&gz);
        let settings =
            serde_json::json!({"seed": self.seed, "image": self.image, "audio": self.audio});
        h.update(settings.to_string().as_bytes());
        let fingerprint = format!("sha256:{:x}", h.finalize());

        let dataset = Dataset {
            name: "avdigits".into(),
            ids: (0..n).map(|i| SampleId(sample_id(i))).collect(),
            labels: store.labels.iter().map(|&l| Some(l as usize)).collect(),
            class_names: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
            splits,
            modalities: vec![
                ModalityData {
                    spec: ModalitySpec {
                        name: "image".into(),
                        kind: ModalityKind::Image,
                        shape: vec![1, IMAGE_SIDE, IMAGE_SIDE],
                    },
                    values: images,
                    present: vec![true; n],
                },
                ModalityData {
                    spec: ModalitySpec {
                        name: "audio".into(),
                        kind: ModalityKind::Audio,
                        shape: vec![1, mel_cfg.n_mels, mel_cfg.frames],
                    },
                    values: audio_values,
                    present: vec![true; n],
                },
            ],
            fingerprint,
        };
        dataset.validate()?;
        dataset.validate_finite()?;
        if let Some(cache) = &dataset_cache {
            cache.write(&dataset);
        }
        Ok(dataset)
    }

    /// Whether sample `i` is one of the `audio.low_snr_fraction` low-SNR clips. The draw has
    /// its own stream, so the other per-sample draws are the same with or without it.
    pub fn is_low_snr(&self, i: usize) -> bool {
        self.audio.low_snr_fraction > 0.0
            && polymodal_core::seed::rng(self.seed, &format!("audio-low/{}", sample_id(i)))
                .random::<f32>()
                < self.audio.low_snr_fraction
    }

    /// Whether sample `i` is one of the `image.heavy_fraction` heavily occluded images (own
    /// stream, as [`Self::is_low_snr`]).
    pub fn is_heavy_image(&self, i: usize) -> bool {
        self.image.heavy_fraction > 0.0
            && polymodal_core::seed::rng(self.seed, &format!("image-heavy/{}", sample_id(i)))
                .random::<f32>()
                < self.image.heavy_fraction
    }

    fn degrade_image(&self, i: usize, img: &mut [f32]) {
        let cfg = &self.image;
        let occlusion = if self.is_heavy_image(i) {
            cfg.heavy_occlusion
        } else {
            cfg.occlusion
        };
        if occlusion == 0 && cfg.noise_std == 0.0 {
            return;
        }
        let mut rng = polymodal_core::seed::rng(self.seed, &format!("image/{}", sample_id(i)));
        if occlusion > 0 {
            let k = occlusion;
            let y0 = rng.random_range(0..=IMAGE_SIDE - k);
            let x0 = rng.random_range(0..=IMAGE_SIDE - k);
            for y in y0..y0 + k {
                img[y * IMAGE_SIDE + x0..y * IMAGE_SIDE + x0 + k].fill(0.0);
            }
        }
        if cfg.noise_std > 0.0 {
            let noise = audio::noise(NoiseKind::White, img.len(), &mut rng);
            for (p, e) in img.iter_mut().zip(noise) {
                *p = (*p + cfg.noise_std * e).clamp(0.0, 1.0);
            }
        }
    }
}

/// AV-Digits audio as waveforms, rendered on demand with the dataset's degradation settings.
pub struct AvDigitsWaves {
    config: AvDigitsConfig,
    store: Store,
}

impl std::fmt::Debug for AvDigitsWaves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvDigitsWaves")
            .field("samples", &self.len())
            .field("config", &self.config)
            .finish()
    }
}

impl AvDigitsWaves {
    pub fn len(&self) -> usize {
        self.store.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn sample_rate(&self) -> u32 {
        MelConfig::default().sample_rate as u32
    }

    /// Sample `i`'s waveform at [`Self::sample_rate`]; `None` past the end.
    pub fn waveform(&self, i: usize) -> Option<Vec<f32>> {
        (i < self.len()).then(|| {
            self.config
                .render_wave(&self.store, i, MelConfig::default().sample_rate)
        })
    }
}

#[cfg(test)]
mod degradation_tests {
    use super::*;

    #[test]
    fn settings_without_the_competition_fields_serialise_as_before() {
        // The fingerprint and the log-mel cache key hash these JSON strings; the expected
        // strings are what the settings serialised to before the per-sample fields existed.
        let image = ImageDegradation {
            occlusion: 10,
            ..ImageDegradation::default()
        };
        assert_eq!(
            serde_json::to_string(&image).unwrap(),
            r#"{"occlusion":10,"noise_std":0.0}"#
        );
        let audio = AudioDegradation {
            snr_db: [-12.0, 12.0],
            ..AudioDegradation::default()
        };
        assert_eq!(
            serde_json::to_string(&audio).unwrap(),
            r#"{"snr_db":[-12.0,12.0]}"#
        );
        let with = AudioDegradation {
            low_snr_fraction: 0.3,
            low_snr_db: [-20.0, -5.0],
            ..audio
        };
        assert!(serde_json::to_string(&with).unwrap().contains("low_snr_db"));
    }

    #[test]
    fn per_sample_fractions_are_drawn_independently_and_near_their_rate() {
        let mut cfg = AvDigitsConfig::default();
        cfg.image.heavy_fraction = 0.3;
        cfg.image.heavy_occlusion = 16;
        cfg.audio.low_snr_fraction = 0.4;
        let n = 5000;
        let heavy = (0..n).filter(|&i| cfg.is_heavy_image(i)).count() as f64 / n as f64;
        let low = (0..n).filter(|&i| cfg.is_low_snr(i)).count() as f64 / n as f64;
        let both = (0..n)
            .filter(|&i| cfg.is_heavy_image(i) && cfg.is_low_snr(i))
            .count() as f64
            / n as f64;
        // Binomial std at n = 5000 is under 0.007: 0.03 is over four of them.
        assert!((heavy - 0.3).abs() < 0.03, "{heavy}");
        assert!((low - 0.4).abs() < 0.03, "{low}");
        assert!((both - 0.12).abs() < 0.03, "{both}");
        cfg.image.heavy_fraction = 0.0;
        assert!((0..n).all(|i| !cfg.is_heavy_image(i)));
    }

    #[test]
    fn bad_competition_settings_name_the_key() {
        let mut cfg = AvDigitsConfig::default();
        cfg.audio.low_snr_fraction = 1.5;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("data.audio.low_snr_fraction"), "{e}");
        let mut cfg = AvDigitsConfig::default();
        cfg.image.heavy_occlusion = 40;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("data.image.heavy_occlusion"), "{e}");
        let mut cfg = AvDigitsConfig::default();
        cfg.audio.low_snr_db = [5.0, -5.0];
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("data.audio.low_snr_db"), "{e}");
    }
}
