//! Checks on the committed AV-Digits store and on loader errors.

use polymodal_core::Split;
use polymodal_data::{AvDigitsConfig, DataError};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

fn repo_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/avdigits")
}

fn config() -> AvDigitsConfig {
    AvDigitsConfig {
        path: repo_data(),
        ..AvDigitsConfig::default()
    }
}

#[test]
fn built_in_store_has_the_documented_shape_and_splits() {
    let data = config().load().unwrap();
    assert_eq!(data.len(), 10_000);
    assert_eq!(data.num_classes(), 10);
    assert_eq!(data.split_indices(Split::Train).len(), 8_000);
    assert_eq!(data.split_indices(Split::Val).len(), 1_000);
    assert_eq!(data.split_indices(Split::Test).len(), 1_000);
    assert_eq!(data.modalities[0].spec.shape, vec![1, 28, 28]);
    assert_eq!(data.modalities[1].spec.shape, vec![1, 32, 32]);
    let ids: HashSet<_> = data.ids.iter().collect();
    assert_eq!(ids.len(), 10_000, "ids are unique");
    // every class present in every split
    for split in [Split::Train, Split::Val, Split::Test] {
        let classes: HashSet<usize> = data
            .split_indices(split)
            .iter()
            .map(|&i| data.labels[i].unwrap())
            .collect();
        assert_eq!(classes.len(), 10, "{split}");
    }
    // standardised on the train split
    let train = data.split_indices(Split::Train);
    for m in &data.modalities {
        let d = m.spec.numel();
        let mean: f64 = train
            .iter()
            .flat_map(|&i| m.values[i * d..(i + 1) * d].iter())
            .map(|&v| v as f64)
            .sum::<f64>()
            / (train.len() * d) as f64;
        assert!(mean.abs() < 1e-3, "{} mean {mean}", m.spec.name);
    }
}

#[test]
fn pool_and_test_speakers_are_disjoint() {
    let text = std::fs::read_to_string(repo_data().join("manifest.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (split_col, speaker_col) = (col("split"), col("speaker"));
    let mut speakers: HashMap<String, HashSet<String>> = HashMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        speakers
            .entry(f[split_col].to_string())
            .or_default()
            .insert(f[speaker_col].to_string());
    }
    let train = &speakers["train"];
    let test = &speakers["test"];
    assert!(!train.is_empty() && !test.is_empty());
    assert!(train.is_disjoint(test));
}

#[test]
fn loading_is_deterministic_and_settings_change_the_fingerprint() {
    let a = config().load().unwrap();
    let b = config().load().unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.modalities[1].values, b.modalities[1].values);
    let mut noisier = config();
    noisier.audio.snr_db = [-12.0, 0.0];
    noisier.image.occlusion = 10;
    let c = noisier.load().unwrap();
    assert_ne!(a.fingerprint, c.fingerprint);
    assert_ne!(a.modalities[1].values, c.modalities[1].values);
    assert_ne!(a.modalities[0].values, c.modalities[0].values);
}

#[test]
fn missing_store_names_the_path() {
    let cfg = AvDigitsConfig {
        path: PathBuf::from("/nonexistent/avd"),
        ..AvDigitsConfig::default()
    };
    let e = cfg.load().unwrap_err();
    assert!(matches!(e, DataError::Io { .. }));
    assert!(
        e.to_string()
            .contains("/nonexistent/avd/avdigits.safetensors.gz"),
        "{e}"
    );
}

#[test]
fn corrupt_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("avdigits.safetensors.gz"),
        b"not gzip at all",
    )
    .unwrap();
    let cfg = AvDigitsConfig {
        path: dir.path().to_path_buf(),
        ..AvDigitsConfig::default()
    };
    let e = cfg.load().unwrap_err().to_string();
    assert!(
        e.contains("not a valid dataset store") && e.contains("gzip"),
        "{e}"
    );
}

#[test]
fn bad_degradation_settings_are_rejected() {
    let mut cfg = config();
    cfg.image.occlusion = 29;
    assert!(cfg
        .load()
        .unwrap_err()
        .to_string()
        .contains("data.image.occlusion"));
    let mut cfg = config();
    cfg.audio.snr_db = [10.0, 0.0];
    assert!(cfg
        .load()
        .unwrap_err()
        .to_string()
        .contains("data.audio.snr_db"));
}

/// A 4-sample store in the AV-Digits layout, with the given labels and split codes.
fn tiny_store(dir: &std::path::Path, labels: [u8; 4], split: [u8; 4]) {
    use safetensors::{tensor::TensorView, Dtype};
    let n = 4;
    let images: Vec<u8> = (0..n * 28 * 28).map(|i| (i % 251) as u8).collect();
    let audio: Vec<u8> = (0..n * 100).map(|i| (i % 200) as u8 + 20).collect();
    let offsets: Vec<u8> = (0..=n as u32)
        .flat_map(|i| (i * 100).to_le_bytes())
        .collect();
    let snr: Vec<u8> = [6.0f32, 12.0, 18.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let kinds = [0u8, 1, 2, 0];
    let views = vec![
        (
            "images",
            TensorView::new(Dtype::U8, vec![n, 28, 28], &images),
        ),
        ("labels", TensorView::new(Dtype::U8, vec![n], &labels)),
        ("split", TensorView::new(Dtype::U8, vec![n], &split)),
        ("audio", TensorView::new(Dtype::U8, vec![n * 100], &audio)),
        (
            "audio_offsets",
            TensorView::new(Dtype::U32, vec![n + 1], &offsets),
        ),
        ("snr_db", TensorView::new(Dtype::F32, vec![n], &snr)),
        ("noise_kind", TensorView::new(Dtype::U8, vec![n], &kinds)),
    ];
    let views: Vec<(&str, TensorView<'_>)> =
        views.into_iter().map(|(k, v)| (k, v.unwrap())).collect();
    let raw = safetensors::serialize(views, None).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    std::fs::write(
        dir.join(polymodal_data::avdigits::STORE_FILE),
        gz.finish().unwrap(),
    )
    .unwrap();
}

/// The fingerprint hashes the store file as read, which holds the labels and splits (ids are
/// positional): a relabelled or re-split store is a different dataset.
#[test]
fn relabelled_or_resplit_store_has_another_fingerprint_and_bad_labels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AvDigitsConfig {
        path: dir.path().to_path_buf(),
        ..AvDigitsConfig::default()
    };
    tiny_store(dir.path(), [0, 1, 2, 3], [0, 0, 1, 2]);
    let a = cfg.load().unwrap();
    a.validate().unwrap();
    assert_eq!(a.labelled_indices(Split::Train), [0, 1]);
    tiny_store(dir.path(), [0, 1, 2, 4], [0, 0, 1, 2]);
    let b = cfg.load().unwrap();
    assert_ne!(a.fingerprint, b.fingerprint);
    tiny_store(dir.path(), [0, 1, 2, 3], [0, 1, 0, 2]);
    assert_ne!(a.fingerprint, cfg.load().unwrap().fingerprint);
    tiny_store(dir.path(), [0, 1, 12, 3], [0, 0, 1, 2]);
    let e = cfg.load().unwrap_err().to_string();
    assert!(e.contains("sample avd-00002 has label 12"), "{e}");
}

/// The labelling page plays `waves()`: it must be exactly the waveform the log-mels came from.
/// The loader standardises every log-mel value with one train-split mean and std, so each stored
/// value is an affine function of `log_mel(waveform)` with the same two constants for all
/// samples: solve them from sample 0 and check every value of two other samples.
#[test]
fn waveforms_for_listening_are_what_the_log_mels_were_computed_from() {
    use polymodal_data::audio::{wav_from_signal, MelConfig, MelFrontEnd};
    let cfg = config();
    let data = cfg.load().unwrap();
    let waves = cfg.waves().unwrap();
    assert_eq!(waves.len(), data.len());
    assert_eq!(waves.sample_rate(), 8000);
    assert!(waves.waveform(data.len()).is_none());
    let mel = MelFrontEnd::new(MelConfig::default());
    let audio = &data.modalities[1];
    let raw0 = mel.log_mel(&waves.waveform(0).unwrap());
    let std0 = audio.row(0);
    let arg = |better: fn(f32, f32) -> bool| {
        (0..raw0.len())
            .reduce(|i, j| if better(raw0[j], raw0[i]) { j } else { i })
            .unwrap()
    };
    let (a, b) = (arg(|x, y| x > y), arg(|x, y| x < y));
    let scale = (std0[a] - std0[b]) / (raw0[a] - raw0[b]);
    let shift = std0[a] - scale * raw0[a];
    for i in [17, 4321] {
        let raw = mel.log_mel(&waves.waveform(i).unwrap());
        for (k, (&r, &s)) in raw.iter().zip(audio.row(i)).enumerate() {
            assert!((scale * r + shift - s).abs() < 1e-3, "sample {i} value {k}");
        }
    }
    // As a WAV: 16-bit mono at the front end's rate, one second long.
    let wav = wav_from_signal(&waves.waveform(3).unwrap(), waves.sample_rate());
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(
        polymodal_data::import::decode::wav_header(&wav),
        Some((8000, 1))
    );
    assert_eq!(wav.len(), 44 + 2 * 8000);
}

/// A repeated load is served whole from `<data dir>/.logmel-cache/*.dataset`: the same values
/// bit for bit and the same fingerprint. Another setting, or a store file that changed, has its
/// own entry.
#[test]
fn repeated_load_comes_from_the_dataset_cache_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AvDigitsConfig {
        path: dir.path().to_path_buf(),
        ..AvDigitsConfig::default()
    };
    tiny_store(dir.path(), [0, 1, 2, 3], [0, 0, 1, 2]);
    let entries = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.path().join(".logmel-cache"))
            .map(|r| r.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "dataset"));
        v.sort();
        v
    };
    assert!(entries().is_empty());
    let a = cfg.load().unwrap();
    assert_eq!(entries().len(), 1, "the first load writes the cache");
    let b = cfg.load().unwrap();
    assert_eq!(entries().len(), 1, "the second load reads it");
    let bits = |d: &polymodal_data::Dataset| -> Vec<Vec<u32>> {
        d.modalities
            .iter()
            .map(|m| m.values.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(
        (&a.ids, &a.labels, &a.splits),
        (&b.ids, &b.labels, &b.splits)
    );

    let mut other = cfg.clone();
    other.image.noise_std = 0.1;
    assert_ne!(other.load().unwrap().fingerprint, a.fingerprint);
    assert_eq!(entries().len(), 2, "another setting is another entry");

    // A damaged entry is a miss: the load computes the same dataset again.
    for e in entries() {
        std::fs::write(&e, b"PMAVDSET garbage").unwrap();
    }
    let c = cfg.load().unwrap();
    assert_eq!(bits(&a), bits(&c));
    assert_eq!(a.fingerprint, c.fingerprint);

    // A relabelled store (same size) is not served from the old entry.
    tiny_store(dir.path(), [0, 1, 2, 4], [0, 0, 1, 2]);
    let d = cfg.load().unwrap();
    assert_eq!(d.labels[3], Some(4));
    assert_ne!(d.fingerprint, a.fingerprint);
}
