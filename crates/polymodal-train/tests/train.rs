//! The trainer on a small synthetic two-modality problem.

use polymodal_core::{ModalityKind, ModalitySpec, SampleId, Split};
use polymodal_data::{AugmentConfig, Dataset, ModalityData};
use polymodal_nn::ModelConfig;
use polymodal_train::trainer::{Silent, TrainRequest};
use polymodal_train::{evaluate, predict, train, TrainConfig};
use rand::Rng;

/// 3 classes; modality "strong" separates them well, "weak" barely.
fn synthetic(n: usize) -> Dataset {
    let mut rng = polymodal_core::seed::rng(5, "synthetic");
    let (mut strong, mut weak, mut labels, mut splits) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let y = i % 3;
        for k in 0..4 {
            let centre = if k == y { 2.0 } else { 0.0 };
            strong.push(centre + rng.random_range(-1.0f32..1.0));
            weak.push(centre * 0.3 + rng.random_range(-1.0f32..1.0));
        }
        labels.push(Some(y));
        splits.push(match i % 5 {
            0 => Split::Val,
            1 => Split::Test,
            _ => Split::Train,
        });
    }
    let spec = |name: &str| ModalitySpec {
        name: name.into(),
        kind: ModalityKind::Vector,
        shape: vec![4],
    };
    Dataset {
        name: "synthetic".into(),
        ids: (0..n).map(|i| SampleId(format!("s{i}"))).collect(),
        labels,
        class_names: vec!["a".into(), "b".into(), "c".into()],
        splits,
        modalities: vec![
            ModalityData {
                spec: spec("strong"),
                values: strong,
                present: vec![true; n],
            },
            ModalityData {
                spec: spec("weak"),
                values: weak,
                present: vec![true; n],
            },
        ],
        fingerprint: "synthetic".into(),
    }
}

fn small_model() -> ModelConfig {
    ModelConfig {
        feature_dim: 16,
        mlp_hidden: 32,
        ..ModelConfig::default()
    }
}

fn run(data: &Dataset, seed: u64, dir: &std::path::Path) -> polymodal_train::TrainOutcome {
    run_with(data, seed, dir, |_| {})
}

fn run_with(
    data: &Dataset,
    seed: u64,
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut TrainConfig),
) -> polymodal_train::TrainOutcome {
    let mut cfg = TrainConfig {
        epochs: 8,
        batch_size: 32,
        patience: 0,
        lr: 5e-3,
        ..TrainConfig::default()
    };
    tweak(&mut cfg);
    let train_idx = data.split_indices(Split::Train);
    let val_idx = data.split_indices(Split::Val);
    train(
        TrainRequest {
            data,
            model: &small_model(),
            train: &cfg,
            augment: &AugmentConfig::default(),
            train_indices: &train_idx,
            val_indices: &val_idx,
            seed,
            checkpoint: &dir.join("model.safetensors"),
            init_from: None,
        },
        &mut Silent,
    )
    .unwrap()
}

#[test]
fn learns_and_ranks_the_modalities() {
    let data = synthetic(600);
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(&data, 1, dir.path());
    let device = polymodal_nn::backend::inference_device();
    let test_idx = data.split_indices(Split::Test);
    let report = evaluate(
        &data,
        &predict(&outcome.model, &data, &test_idx, 64, &device),
    )
    .unwrap();
    assert!(
        report.fused.accuracy > 0.9,
        "fused {}",
        report.fused.accuracy
    );
    let strong = report.per_modality["strong"].accuracy;
    let weak = report.per_modality["weak"].accuracy;
    assert!(strong > weak + 0.1, "strong {strong} weak {weak}");
    assert!(dir.path().join("model.safetensors").exists());
    assert_eq!(outcome.history.len(), 8);
    assert!(outcome.history.iter().filter(|m| m.is_best).count() >= 1);
}

#[test]
fn same_seed_same_numbers_different_seed_different_numbers() {
    let data = synthetic(300);
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let key = |o: &polymodal_train::TrainOutcome| {
        o.history
            .iter()
            .map(|m| (m.train_loss, m.val_loss))
            .collect::<Vec<_>>()
    };
    let first = run(&data, 3, a.path());
    let second = run(&data, 3, b.path());
    let other = run(&data, 4, c.path());
    assert_eq!(key(&first), key(&second));
    assert_ne!(key(&first), key(&other));
}

#[test]
fn empty_or_unlabelled_training_sets_are_errors() {
    let mut data = synthetic(30);
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig::default();
    let val = data.split_indices(Split::Val);
    let req = |data: &Dataset, train_idx: &[usize]| {
        train(
            TrainRequest {
                data,
                model: &small_model(),
                train: &cfg,
                augment: &AugmentConfig::default(),
                train_indices: train_idx,
                val_indices: &val,
                seed: 0,
                checkpoint: &dir.path().join("m.safetensors"),
                init_from: None,
            },
            &mut Silent,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    assert!(req(&data, &[]).contains("no training samples"));
    data.labels[2] = None;
    assert!(req(&data, &[2, 3]).contains("sample s2 has no label"));
}

#[test]
fn ogm_modulates_the_strong_modality_in_its_epochs_only() {
    let data = synthetic(300);
    let dir = tempfile::tempdir().unwrap();
    let plain = run(&data, 3, dir.path());
    assert!(plain.ogm_steps.is_empty());
    let outcome = run_with(&data, 3, dir.path(), |c| {
        c.epochs = 4;
        c.ogm.enabled = true;
        c.ogm.start_epoch = 2;
        c.ogm.end_epoch = 3;
    });
    let batches = data.split_indices(Split::Train).len().div_ceil(32);
    assert_eq!(outcome.ogm_steps.len(), 2 * batches);
    assert!(outcome.ogm_steps.iter().all(|s| (2..=3).contains(&s.epoch)));
    for s in &outcome.ogm_steps {
        assert_eq!(s.scores.len(), 2);
        for (k, &c) in s.coefficients.iter().enumerate() {
            assert!(c > 0.0 && c <= 1.0);
            if k != s.dominant {
                assert_eq!(c, 1.0);
            }
        }
        assert!(s.rho >= 1.0);
    }
    // The strong modality dominates most steps.
    let strong = outcome.ogm_steps.iter().filter(|s| s.dominant == 0).count();
    assert!(strong * 2 > outcome.ogm_steps.len(), "{strong}");
    // Modulation changes training (same seed, same data).
    let off = run_with(&data, 3, dir.path(), |c| c.epochs = 4);
    assert_ne!(
        off.history.last().unwrap().train_loss,
        outcome.history.last().unwrap().train_loss
    );
}

#[test]
fn modality_dropout_never_removes_every_modality() {
    let mut rng = polymodal_core::seed::rng(0, "t");
    let n = 4000;
    let mut present = vec![vec![1.0f32; n], vec![1.0; n], vec![1.0; n]];
    present[2][0] = 0.0;
    polymodal_train::trainer::drop_modalities(&mut present, 0.5, &mut rng);
    let mut dropped = 0;
    for i in 0..n {
        let kept: f32 = present.iter().map(|p| p[i]).sum();
        assert!(kept >= 1.0, "sample {i} lost every modality");
        dropped += present.iter().filter(|p| p[i] == 0.0).count();
    }
    assert_eq!(present[2][0], 0.0, "a missing modality stays missing");
    // ~ p of 3n minus the rescued samples (p^3 of them get one modality back).
    let rate = dropped as f64 / (3 * n) as f64;
    assert!((0.40..0.50).contains(&rate), "{rate}");
}
