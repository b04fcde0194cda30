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
