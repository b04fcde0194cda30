//! Self-supervised pretraining on a small synthetic pool: labels are never read, the checkpoint
//! round-trips, the encoders load into a classifier, missing modalities stay out.

use polymodal_core::{ModalityKind, ModalitySpec, SampleId, Split};
use polymodal_data::{AugmentConfig, Dataset, ModalityData};
use polymodal_nn::ModelConfig;
use polymodal_train::pretrain::{
    self, embed_all, load_pretrained_encoders, pool_rows, PretrainConfig, PretrainRequest, Quiet,
    Unlabelled,
};
use rand::Rng;

/// Two vector modalities that share a latent class (so pairing is learnable) and a 1x4x4
/// image modality; every fifth sample lacks the image.
fn synthetic(n: usize) -> Dataset {
    let mut rng = polymodal_core::seed::rng(7, "pretrain-synthetic");
    let (mut a, mut b, mut img, mut labels, mut splits) = (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let y = i % 4;
        for k in 0..6 {
            let c = if k == y { 2.0 } else { 0.0 };
            a.push(c + rng.random_range(-0.5f32..0.5));
            b.push(c * 0.8 + rng.random_range(-0.5f32..0.5));
        }
        for k in 0..16 {
            img.push(if k % 4 == y { 1.0 } else { 0.0 } + rng.random_range(0.0f32..0.2));
        }
        labels.push(Some(y));
        splits.push(if i % 6 == 0 {
            Split::Test
        } else {
            Split::Train
        });
    }
    let spec = |name: &str, kind, shape: Vec<usize>| ModalitySpec {
        name: name.into(),
        kind,
        shape,
    };
    Dataset {
        name: "synthetic".into(),
        ids: (0..n).map(|i| SampleId(format!("s{i}"))).collect(),
        labels,
        class_names: (0..4).map(|c| format!("c{c}")).collect(),
        splits,
        modalities: vec![
            ModalityData {
                spec: spec("a", ModalityKind::Vector, vec![6]),
                values: a,
                present: vec![true; n],
            },
            ModalityData {
                spec: spec("b", ModalityKind::Vector, vec![6]),
                values: b,
                present: vec![true; n],
            },
            ModalityData {
                spec: spec("img", ModalityKind::Image, vec![1, 4, 4]),
                values: img,
                present: (0..n).map(|i| i % 5 != 0).collect(),
            },
        ],
        fingerprint: "synthetic".into(),
    }
}

fn small_model() -> ModelConfig {
    ModelConfig {
        feature_dim: 16,
        mlp_hidden: 24,
        conv_channels: [4, 4],
        ..ModelConfig::default()
    }
}

fn params(epochs: usize) -> pretrain::PretrainParams {
    params_config(epochs).validate().unwrap()
}

fn params_config(epochs: usize) -> PretrainConfig {
    PretrainConfig {
        epochs,
        batch_size: 32,
        lr: 3e-3,
        embed_dim: 8,
        proj_hidden: 16,
        prototypes: 6,
        cross_prototypes: true,
        diagnostic_samples: 50,
        ..PretrainConfig::default()
    }
}

fn run(data: &Dataset, p: &pretrain::PretrainParams) -> pretrain::Pretrained {
    let rows = pool_rows(data);
    pretrain::pretrain(
        PretrainRequest {
            pool: Unlabelled::of(data, &rows),
            model: &small_model(),
            params: p,
            augment: &AugmentConfig::default(),
        },
        &mut Quiet,
    )
    .unwrap()
}

/// The log without timings.
fn logs(t: &pretrain::Pretrained) -> Vec<String> {
    t.history
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.seconds = 0.0;
            format!("{l:?}")
        })
        .collect()
}

/// Bit patterns of every embedding of every sample (rows of all splits).
fn embeddings(t: &pretrain::Pretrained, data: &Dataset) -> Vec<Vec<u32>> {
    let all: Vec<usize> = (0..data.len()).collect();
    embed_all(&t.model, Unlabelled::of(data, &all), 16)
        .iter()
        .map(|m| m.iter().map(|v| v.to_bits()).collect())
        .collect()
}

#[test]
fn same_seed_gives_bit_identical_pretraining_and_another_seed_does_not() {
    // Same config and seed => same numbers: every logged value (Debug of f64, i.e. exact) and
    // every embedding bit, including on a second thread running at the same time (the rayon
    // pool and burn's autodiff graph are shared by the threads of a process).
    let data = synthetic(90);
    let p = params(2);
    let base = run(&data, &p);
    let other = {
        let data = data.clone();
        let p = p.clone();
        std::thread::spawn(move || {
            let t = run(&data, &p);
            (logs(&t), embeddings(&t, &data))
        })
    };
    let again = run(&data, &p);
    assert_eq!(logs(&base), logs(&again));
    assert_eq!(embeddings(&base, &data), embeddings(&again, &data));
    let (other_logs, other_emb) = other.join().unwrap();
    assert_eq!(logs(&base), other_logs);
    assert_eq!(embeddings(&base, &data), other_emb);
    let reseeded = run(
        &data,
        &PretrainConfig {
            seed: p.seed + 1,
            ..params_config(2)
        }
        .validate()
        .unwrap(),
    );
    assert_ne!(logs(&base), logs(&reseeded));
}

#[test]
fn labels_permuted_or_removed_give_the_same_training() {
    // Pretraining takes `Unlabelled`, which has no labels to read; this checks the whole path
    // end to end, exactly: pretraining is bit-reproducible (test above), so any label read
    // would show as a changed bit.
    let data = synthetic(90);
    let p = params(2);
    let base = run(&data, &p);
    let mut permuted = data.clone();
    permuted.labels.rotate_left(7);
    permuted.labels[3] = Some(0);
    let mut removed = data.clone();
    removed.labels = vec![None; data.len()];
    removed.class_names = vec!["x".into(), "y".into()];
    for (what, other) in [("permuted", &permuted), ("removed", &removed)] {
        let t = run(other, &p);
        assert_eq!(logs(&base), logs(&t), "{what}");
        assert_eq!(embeddings(&base, &data), embeddings(&t, other), "{what}");
    }
    assert_eq!(logs(&base).len(), 2);
    // Each part of the loss and every diagnostic is logged, finite.
    let l = &base.history[1];
    assert_eq!(
        (l.proto.len(), l.gap.len(), l.usage_entropy.len()),
        (3, 3, 3)
    );
    assert!(l.cross.is_finite() && l.cross_proto > 0.0 && l.temperature > 0.0);
    assert!(l
        .usage_entropy
        .iter()
        .all(|&h| (0.0..=(6f64).ln() + 1e-9).contains(&h)));
}

#[test]
fn save_load_round_trip_gives_the_same_embeddings_and_the_encoders_load_into_a_classifier() {
    let data = synthetic(60);
    let p = params(1);
    let t = run(&data, &p);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encoder.safetensors");
    t.model.save_safetensors(&path).unwrap();
    let back = pretrain::load(&data.specs(), &small_model(), &p, &path).unwrap();
    let all: Vec<usize> = (0..data.len()).collect();
    let view = Unlabelled::of(&data, &all);
    let e1 = embed_all(&t.model, view, 16);
    assert_eq!(e1, embed_all(&back, view, 7));
    // Absent modality rows are zero, present rows unit length.
    let d = e1[2].len() / data.len();
    for i in 0..data.len() {
        let norm: f32 = e1[2][i * d..(i + 1) * d].iter().map(|v| v * v).sum();
        if data.modalities[2].present[i] {
            assert!((norm - 1.0).abs() < 1e-4, "row {i}: {norm}");
        } else {
            assert_eq!(norm, 0.0, "row {i}");
        }
    }
    // The classifier's encoders now compute exactly the pretrained encoders' features.
    let device = polymodal_nn::backend::inference_device();
    let clf = small_model()
        .init_seeded(&data.specs(), 4, &device, 3)
        .unwrap();
    let clf = load_pretrained_encoders(clf, &path).unwrap();
    let x = burn::tensor::Tensor::<2>::from_data(
        burn::tensor::TensorData::new(data.modalities[0].values[..12].to_vec(), [2, 6]),
        &device,
    );
    let f1 = polymodal_train::tensors::to_vec(clf.encoders[0].forward(x.clone()));
    let f2 = polymodal_train::tensors::to_vec(back.encoders[0].forward(x));
    assert_eq!(f1, f2);
    // A checkpoint of other modalities is refused with the missing tensors named.
    let other = ModelConfig {
        feature_dim: 12,
        ..small_model()
    }
    .init_seeded(&data.specs(), 4, &device, 3)
    .unwrap();
    let e = load_pretrained_encoders(other, &path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("encoder.safetensors"), "{e}");
}

#[test]
fn contrastive_pretraining_learns_the_pairing() {
    // The pairs share a latent class (4 of them): the cross-modal loss ends below chance,
    // ln(batch) = ln 32 = 3.466 for a batch of 32 with one positive each.
    let data = synthetic(90);
    let t = run(&data, &params(6));
    let last = t.history.last().unwrap().cross;
    assert!(last < (32f64).ln(), "InfoNCE {last}");
}

#[test]
fn one_modality_is_refused() {
    let mut data = synthetic(20);
    data.modalities.truncate(1);
    let rows = pool_rows(&data);
    let e = pretrain::pretrain(
        PretrainRequest {
            pool: Unlabelled::of(&data, &rows),
            model: &small_model(),
            params: &params(1),
            augment: &AugmentConfig::default(),
        },
        &mut Quiet,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("at least two modalities"), "{e}");
}
