//! Head modes: jointly trained auxiliary heads vs linear probes on detached features.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Distribution, Tensor};
use polymodal_core::{ModalityKind, ModalitySpec, SampleId, Split};
use polymodal_data::{AugmentConfig, Dataset, ModalityData};
use polymodal_nn::fusion::FusionKind;
use polymodal_nn::{ModelConfig, MultimodalClassifier};
use polymodal_train::probe::Probe;
use polymodal_train::trainer::{Silent, TrainRequest};
use polymodal_train::{evaluate, predict, train, HeadMode, TrainConfig, TrainOutcome};
use rand::Rng;
use std::collections::BTreeMap;

/// Names of the parameters that received a gradient, with the gradient's max |value|.
struct GradNames<'a> {
    grads: &'a GradientsParams,
    path: Vec<String>,
    out: BTreeMap<String, f32>,
}

impl ModuleVisitor for GradNames<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let max: f32 = g.abs().max().into_scalar();
            self.out.insert(self.path.join("."), max);
        }
    }
}

fn conv_specs() -> Vec<ModalitySpec> {
    ["image", "audio"]
        .iter()
        .map(|n| ModalitySpec {
            name: n.to_string(),
            kind: if *n == "image" {
                ModalityKind::Image
            } else {
                ModalityKind::Audio
            },
            shape: vec![1, 8, 8],
        })
        .collect()
}

#[test]
fn probe_loss_never_reaches_encoders_or_fusion() {
    let d = polymodal_nn::backend::training_device();
    for fusion in FusionKind::ALL {
        if fusion == FusionKind::Late {
            continue;
        }
        let cfg = ModelConfig {
            fusion,
            feature_dim: 6,
            fusion_dim: 4,
            attention_heads: 2,
            conv_channels: [2, 3],
            ..ModelConfig::default()
        };
        let model: MultimodalClassifier = cfg.init_seeded(&conv_specs(), 3, &d, 7).unwrap();
        let x = vec![
            Tensor::<2>::random([5, 64], Distribution::Normal(0.0, 1.0), &d),
            Tensor::<2>::random([5, 64], Distribution::Normal(0.0, 1.0), &d),
        ];
        let ones = Tensor::<2>::ones([5, 1], &d);
        for detach in [false, true] {
            let out = model.forward_with(x.clone(), vec![ones.clone(), ones.clone()], None, detach);
            // The probe loss alone: only the per-modality logits.
            let mut loss = out.per_modality[0].clone().powf_scalar(2.0).mean();
            loss = loss + out.per_modality[1].clone().powf_scalar(2.0).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let mut names = GradNames {
                grads: &grads,
                path: vec![],
                out: BTreeMap::new(),
            };
            model.visit(&mut names);
            let reached_encoders = names
                .out
                .iter()
                .any(|(k, &v)| k.starts_with("encoders") && v > 0.0);
            let outside_heads: Vec<&String> = names
                .out
                .iter()
                .filter(|(k, &v)| !k.starts_with("heads") && v > 0.0)
                .map(|(k, _)| k)
                .collect();
            if detach {
                assert!(
                    outside_heads.is_empty(),
                    "{fusion:?}: probe loss reached {outside_heads:?}"
                );
                assert!(names.out.keys().any(|k| k.starts_with("heads.0")));
                assert!(names.out.keys().any(|k| k.starts_with("heads.1")));
            } else {
                assert!(
                    reached_encoders,
                    "{fusion:?}: joint heads must train encoders"
                );
            }
        }
        // Detaching changes no forward value.
        let a = model.forward_with(x.clone(), vec![ones.clone(), ones.clone()], None, false);
        let b = model.forward_with(x.clone(), vec![ones.clone(), ones.clone()], None, true);
        assert_eq!(values(a.fused), values(b.fused));
        assert_eq!(
            values(a.per_modality[1].clone()),
            values(b.per_modality[1].clone())
        );
    }
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// 3 classes; "strong" separates them well, "weak" barely (as tests/train.rs).
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

fn model_cfg() -> ModelConfig {
    ModelConfig {
        feature_dim: 16,
        mlp_hidden: 32,
        ..ModelConfig::default()
    }
}

fn run(
    data: &Dataset,
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut TrainConfig),
) -> TrainOutcome {
    let mut cfg = TrainConfig {
        epochs: 6,
        batch_size: 32,
        patience: 0,
        lr: 5e-3,
        ..TrainConfig::default()
    };
    tweak(&mut cfg);
    std::fs::create_dir_all(dir).unwrap();
    train(
        TrainRequest {
            data,
            model: &model_cfg(),
            train: &cfg,
            augment: &AugmentConfig::default(),
            train_indices: &data.split_indices(Split::Train),
            val_indices: &data.split_indices(Split::Val),
            seed: 3,
            checkpoint: &dir.join("model.safetensors"),
            init_from: None,
        },
        &mut Silent,
    )
    .unwrap()
}

#[test]
fn probes_leave_the_encoders_exactly_as_fused_only_training() {
    let data = synthetic(300);
    let tmp = tempfile::tempdir().unwrap();
    let fused_only = run(&data, &tmp.path().join("a"), |c| {
        c.loss_weights.per_modality = 0.0;
    });
    let probed = run(&data, &tmp.path().join("b"), |c| c.heads = HeadMode::Probe);
    assert_eq!(fused_only.best_epoch, probed.best_epoch);
    let device = polymodal_nn::backend::inference_device();
    let test = data.split_indices(Split::Test);
    let pa = Probe::new(&fused_only.model, &data, &test, 64, &device);
    let pb = Probe::new(&probed.model, &data, &test, 64, &device);
    // Same encoders (bit for bit), same fusion.
    assert_eq!(pa.features(), pb.features());
    let ((fa, ha), (fb, hb)) = (pa.probs(), pb.probs());
    assert_eq!(fa, fb);
    // The heads differ: trained probes vs untouched initial heads.
    assert_ne!(ha, hb);
    // The probes learned: the strong modality's probe is well above chance (1/3; 0.65 measured
    // on this fixture).
    let report = evaluate(&data, &predict(&probed.model, &data, &test, 64, &device)).unwrap();
    let strong = report.per_modality["strong"].accuracy;
    assert!(strong > 0.5, "strong probe accuracy {strong}");
    // Joint heads, by contrast, train the encoders: different features.
    let joint = run(&data, &tmp.path().join("c"), |_| {});
    let pc = Probe::new(&joint.model, &data, &test, 64, &device);
    assert_ne!(pa.features(), pc.features());
}

#[test]
fn both_modes_save_load_and_evaluate() {
    let data = synthetic(240);
    let tmp = tempfile::tempdir().unwrap();
    let device = polymodal_nn::backend::inference_device();
    let test = data.split_indices(Split::Test);
    for mode in [HeadMode::Joint, HeadMode::Probe] {
        let dir = tmp.path().join(mode.to_string());
        let out = run(&data, &dir, |c| c.heads = mode);
        let reloaded = model_cfg()
            .init(&data.specs(), data.num_classes(), &device)
            .unwrap()
            .load_safetensors(&dir.join("model.safetensors"))
            .unwrap();
        let a = predict(&out.model, &data, &test, 64, &device);
        let b = predict(&reloaded, &data, &test, 64, &device);
        assert_eq!(a.fused, b.fused, "{mode}");
        assert_eq!(a.per_modality, b.per_modality, "{mode}");
        let report = evaluate(&data, &b).unwrap();
        // Well above chance (1/3); 0.71 measured for joint heads on this fixture.
        assert!(
            report.fused.accuracy > 0.5,
            "{mode}: {}",
            report.fused.accuracy
        );
        for name in ["strong", "weak"] {
            let acc = report.per_modality[name].accuracy;
            assert!((0.0..=1.0).contains(&acc), "{mode} {name}: {acc}");
        }
    }
}

#[test]
fn probe_heads_with_late_fusion_are_refused() {
    let cfg = TrainConfig {
        heads: HeadMode::Probe,
        ..TrainConfig::default()
    };
    let late = ModelConfig {
        fusion: FusionKind::Late,
        ..ModelConfig::default()
    };
    let err = cfg.validate_for(&late).unwrap_err().to_string();
    assert!(err.contains("train.heads") && err.contains("late"), "{err}");
    assert!(cfg.validate_for(&ModelConfig::default()).is_ok());
    // The key parses and a wrong value names the choices.
    let parsed: TrainConfig = serde_json::from_str(r#"{"heads": "probe"}"#).unwrap();
    assert_eq!(parsed.heads, HeadMode::Probe);
    let bad = serde_json::from_str::<TrainConfig>(r#"{"heads": "frozen"}"#)
        .unwrap_err()
        .to_string();
    assert!(bad.contains("joint") && bad.contains("probe"), "{bad}");
}
