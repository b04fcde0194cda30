//! OGM-GE: the coefficient, the choice of parameters by ownership, and the trainer option.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Distribution, Tensor};
use polymodal_core::{ModalityKind, ModalitySpec};
use polymodal_nn::fusion::FusionKind;
use polymodal_nn::{ModelConfig, MultimodalClassifier};
use polymodal_train::ogm::{coefficient, modulate, plan};
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn coefficient_is_in_zero_one_and_decreasing() {
    let mut last = 1.0;
    for &alpha in &[0.01, 0.1, 0.8, 5.0, 1e6] {
        for &rho in &[0.0, 1.0, 1.5, 10.0, 1e3, 1e12, f64::INFINITY] {
            let k = coefficient(alpha, rho);
            assert!(k > 0.0 && k <= 1.0, "alpha {alpha} rho {rho}: k = {k}");
        }
    }
    for i in 0..100 {
        let k = coefficient(0.8, 1.0 + i as f64 * 0.1);
        assert!(k < last);
        last = k;
        // Equals 1 - tanh(α·ρ) where tanh is not yet 1.
        assert!((k - (1.0 - (0.8 * (1.0 + i as f64 * 0.1)).tanh())).abs() < 1e-12);
    }
    assert_eq!(coefficient(0.8, 0.0), 1.0);
}

#[test]
fn plan_modulates_only_the_dominant_modality() {
    // docs/METHODS.md §5.2 with audio weak: score_v / score_a = 3 → visual (index 0) modulated.
    let (dom, rho, k) = plan(&[30.0, 10.0], 0.5);
    assert_eq!(dom, 0);
    assert!((rho - 3.0).abs() < 1e-12);
    assert!((k[0] - (1.0 - (1.5f64).tanh())).abs() < 1e-12);
    assert_eq!(k[1], 1.0);
    let (dom, rho, k) = plan(&[4.0, 8.0], 0.5);
    assert_eq!((dom, rho), (1, 2.0));
    assert_eq!(k[0], 1.0);
    assert!(k[1] < 1.0);
    // Nothing to compare against: no modulation.
    let (_, rho, k) = plan(&[5.0, 0.0], 0.5);
    assert!(rho.is_nan());
    assert_eq!(k, vec![1.0, 1.0]);
}

fn specs() -> Vec<ModalitySpec> {
    vec![
        ModalitySpec {
            name: "image".into(),
            kind: ModalityKind::Image,
            shape: vec![1, 8, 8],
        },
        ModalitySpec {
            name: "audio".into(),
            kind: ModalityKind::Audio,
            shape: vec![1, 8, 8],
        },
    ]
}

fn cfg(fusion: FusionKind) -> ModelConfig {
    ModelConfig {
        fusion,
        feature_dim: 6,
        fusion_dim: 4,
        attention_heads: 2,
        conv_channels: [2, 3],
        mlp_hidden: 4,
        dropout: 0.0,
        ..ModelConfig::default()
    }
}

/// Gradients of a fused + auxiliary loss on random data.
fn grads_of(model: &MultimodalClassifier) -> GradientsParams {
    let d = polymodal_nn::backend::training_device();
    let x = vec![
        Tensor::<2>::random([5, 64], Distribution::Normal(0.0, 1.0), &d),
        Tensor::<2>::random([5, 64], Distribution::Normal(0.0, 1.0), &d),
    ];
    let ones = Tensor::<2>::ones([5, 1], &d);
    let out = model.forward(x, vec![ones.clone(), ones], None);
    let mut loss = out.fused.powf_scalar(2.0).mean();
    for l in out.per_modality {
        loss = loss + l.powf_scalar(2.0).mean();
    }
    GradientsParams::from_grads(loss.backward(), model)
}

struct Read<'a> {
    grads: &'a GradientsParams,
    path: Vec<String>,
    out: BTreeMap<String, Vec<f32>>,
}

impl ModuleVisitor for Read<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let v = g
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap();
            self.out.insert(self.path.join("."), v);
        }
    }
}

fn read(model: &MultimodalClassifier, grads: &GradientsParams) -> BTreeMap<String, Vec<f32>> {
    let mut r = Read {
        grads,
        path: vec![],
        out: BTreeMap::new(),
    };
    model.visit(&mut r);
    r.out
}

fn changed(a: &BTreeMap<String, Vec<f32>>, b: &BTreeMap<String, Vec<f32>>) -> BTreeSet<String> {
    assert_eq!(a.len(), b.len());
    a.iter()
        .filter(|(k, v)| b[*k] != **v)
        .map(|(k, _)| k.clone())
        .collect()
}

#[test]
fn modulated_parameters_are_exactly_the_dominant_encoders() {
    let d = polymodal_nn::backend::training_device();
    for fusion in FusionKind::ALL {
        let model = cfg(fusion).init_seeded(&specs(), 3, &d, 11).unwrap();
        let mut grads = grads_of(&model);
        let before = read(&model, &grads);
        modulate(&mut grads, &model, &[1.0, 0.5], None);
        let after = read(&model, &grads);
        let expected: BTreeSet<String> = model
            .encoder_params(1)
            .into_iter()
            .map(|p| p.name)
            .collect();
        // Every parameter the audio encoder owns (conv kernels, biases, the linear layer), and
        // nothing else: not the image encoder, not the heads, not the fusion.
        assert_eq!(changed(&before, &after), expected, "{fusion:?}");
        for name in &expected {
            let scaled: Vec<f32> = before[name].iter().map(|x| x * 0.5).collect();
            assert_eq!(after[name], scaled, "{name}");
        }
        // GE noise touches every encoder parameter of both modalities, still nothing else.
        let mut rng = polymodal_core::seed::rng(1, "t");
        modulate(&mut grads, &model, &[1.0, 1.0], Some(&mut rng));
        let noisy = read(&model, &grads);
        let encoders: BTreeSet<String> = (0..2)
            .flat_map(|m| model.encoder_params(m))
            .map(|p| p.name)
            .collect();
        assert_eq!(changed(&after, &noisy), encoders, "{fusion:?}");
    }
    // Sanity: the names really are module paths.
    let model = cfg(FusionKind::Concat).init(&specs(), 3, &d).unwrap();
    let names: Vec<String> = model
        .encoder_params(1)
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("encoders.1.")),
        "{names:?}"
    );
}
