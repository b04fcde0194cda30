//! Shapes, masking and save → load round trips for every fusion.

use burn::tensor::{Distribution, Tensor, TensorData};
use polymodal_core::{ModalityKind, ModalitySpec};
use polymodal_nn::fusion::FusionKind;
use polymodal_nn::ModelConfig;

const FUSIONS: [FusionKind; 6] = FusionKind::ALL;

fn specs() -> Vec<ModalitySpec> {
    vec![
        ModalitySpec {
            name: "image".into(),
            kind: ModalityKind::Image,
            shape: vec![1, 8, 8],
        },
        ModalitySpec {
            name: "vec".into(),
            kind: ModalityKind::Vector,
            shape: vec![5],
        },
    ]
}

fn cfg(fusion: FusionKind) -> ModelConfig {
    ModelConfig {
        fusion,
        feature_dim: 6,
        fusion_dim: 7,
        attention_heads: 1,
        tensor_rank: 0,
        conv_channels: [2, 3],
        mlp_hidden: 4,
        dropout: 0.3,
        text_embed_dim: 5,
    }
}

fn inputs(b: usize) -> Vec<Tensor<2>> {
    let d = polymodal_nn::backend::inference_device();
    vec![
        Tensor::random([b, 64], Distribution::Normal(0.0, 1.0), &d),
        Tensor::random([b, 5], Distribution::Normal(0.0, 1.0), &d),
    ]
}

fn mask(values: &[f32]) -> Tensor<2> {
    let d = polymodal_nn::backend::inference_device();
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len(), 1]), &d)
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn every_fusion_exposes_fused_and_per_modality_outputs() {
    let d = polymodal_nn::backend::inference_device();
    for fusion in FUSIONS {
        let model = cfg(fusion).init(&specs(), 3, &d).unwrap();
        let out = model.forward(inputs(4), vec![mask(&[1.0; 4]), mask(&[1.0; 4])], None);
        assert_eq!(out.fused.dims(), [4, 3], "{fusion:?}");
        assert_eq!(out.per_modality.len(), 2);
        assert_eq!(out.per_modality[1].dims(), [4, 3]);
        assert_eq!(out.features[0].dims(), [4, 6]);
    }
}

#[test]
fn missing_modality_is_zeroed_at_the_fusion_input() {
    let d = polymodal_nn::backend::inference_device();
    for fusion in FUSIONS {
        let model = cfg(fusion).init(&specs(), 3, &d).unwrap();
        let x = inputs(2);
        let mut other = x.clone();
        other[1] = Tensor::random([2, 5], Distribution::Normal(5.0, 1.0), &d);
        let present = vec![mask(&[1.0, 1.0]), mask(&[0.0, 0.0])];
        let a = model.forward(x, present.clone(), None);
        let b = model.forward(other, present, None);
        // With modality 1 absent its values must not matter.
        assert_eq!(values(a.fused), values(b.fused), "{fusion:?}");
        assert!(values(a.features[1].clone()).iter().all(|&v| v == 0.0));
    }
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let d = polymodal_nn::backend::inference_device();
    let dir = tempfile::tempdir().unwrap();
    for fusion in FUSIONS {
        let model = cfg(fusion).init_seeded(&specs(), 3, &d, 7).unwrap();
        let path = dir.path().join(format!("{fusion:?}.safetensors"));
        model.save_safetensors(&path).unwrap();
        let fresh = cfg(fusion).init_seeded(&specs(), 3, &d, 99).unwrap();
        let x = inputs(3);
        let present = vec![mask(&[1.0; 3]), mask(&[1.0, 0.0, 1.0])];
        let before = values(fresh.forward(x.clone(), present.clone(), None).fused);
        let loaded = fresh.load_safetensors(&path).unwrap();
        let original = values(model.forward(x.clone(), present.clone(), None).fused);
        let after = values(loaded.forward(x, present, None).fused);
        assert_eq!(original, after, "{fusion:?}");
        assert_ne!(
            before, after,
            "{fusion:?}: a fresh model should differ before loading"
        );
    }
}

#[test]
fn the_same_weights_save_to_the_same_bytes() {
    // Run directories are compared byte for byte to check reproducibility; the header used to
    // carry HashMap-ordered metadata that changed between saves.
    let d = polymodal_nn::backend::inference_device();
    let dir = tempfile::tempdir().unwrap();
    let model = cfg(FusionKind::Concat)
        .init_seeded(&specs(), 3, &d, 7)
        .unwrap();
    let files: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            let path = dir.path().join(format!("{i}.safetensors"));
            model.save_safetensors(&path).unwrap();
            std::fs::read(&path).unwrap()
        })
        .collect();
    assert!(files.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn loading_a_missing_or_mismatched_checkpoint_fails_clearly() {
    let d = polymodal_nn::backend::inference_device();
    let model = cfg(FusionKind::Concat).init(&specs(), 3, &d).unwrap();
    let e = model
        .load_safetensors(std::path::Path::new("/nope.safetensors"))
        .unwrap_err();
    assert!(e.to_string().contains("/nope.safetensors") && e.to_string().contains("not found"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.safetensors");
    cfg(FusionKind::Late)
        .init(&specs(), 3, &d)
        .unwrap()
        .save_safetensors(&path)
        .unwrap();
    let concat = cfg(FusionKind::Concat).init(&specs(), 3, &d).unwrap();
    assert!(
        concat.load_safetensors(&path).is_err(),
        "late has no fusion head to load"
    );
}

#[test]
fn unsupported_modalities_and_bad_configs_are_errors() {
    let d = polymodal_nn::backend::inference_device();
    let seq = vec![ModalitySpec {
        name: "frames".into(),
        kind: ModalityKind::Sequence,
        shape: vec![16, 3],
    }];
    let e = cfg(FusionKind::Concat).init(&seq, 3, &d).unwrap_err();
    assert!(e.to_string().contains("frames"), "{e}");
    let mut bad = cfg(FusionKind::Concat);
    bad.dropout = 1.0;
    assert!(bad
        .init(&specs(), 3, &d)
        .unwrap_err()
        .to_string()
        .contains("dropout"));
}

/// The token-bag text encoder: padding (id 0) does not change the output, and the model with a
/// text modality saves and reloads to identical outputs.
#[test]
fn text_encoder_ignores_padding_and_round_trips() {
    let d = polymodal_nn::backend::inference_device();
    let specs = vec![
        ModalitySpec {
            name: "caption".into(),
            kind: ModalityKind::Text,
            shape: vec![4],
        },
        ModalitySpec {
            name: "vec".into(),
            kind: ModalityKind::Vector,
            shape: vec![5],
        },
    ];
    let model = cfg(FusionKind::Concat)
        .init_seeded(&specs, 3, &d, 9)
        .unwrap();
    let ids = |v: [f32; 8]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [2, 4]), &d);
    let vec_in = Tensor::random([2, 5], Distribution::Normal(0.0, 1.0), &d);
    let present = [mask(&[1.0, 1.0]), mask(&[1.0, 1.0])];
    let a = model.encode(
        vec![
            ids([7.0, 9.0, 0.0, 0.0, 3.0, 3.0, 3.0, 0.0]),
            vec_in.clone(),
        ],
        &present,
    );
    let b = model.encode(
        vec![
            ids([9.0, 7.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0]),
            vec_in.clone(),
        ],
        &present,
    );
    // Mean pooling: order and repetition of the same token do not matter, padding is ignored.
    let (fa, fb) = (values(a.features[0].clone()), values(b.features[0].clone()));
    for (x, y) in fa.iter().zip(&fb) {
        assert!((x - y).abs() < 1e-6, "{fa:?} vs {fb:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save_safetensors(&path).unwrap();
    let back = cfg(FusionKind::Concat)
        .init(&specs, 3, &d)
        .unwrap()
        .load_safetensors(&path)
        .unwrap();
    let input = || {
        vec![
            ids([7.0, 9.0, 0.0, 0.0, 3.0, 3.0, 3.0, 0.0]),
            vec_in.clone(),
        ]
    };
    let out1 = model.forward(input(), present.to_vec(), None);
    let out2 = back.forward(input(), present.to_vec(), None);
    assert_eq!(values(out1.fused), values(out2.fused));
    // The token-reading fusions accept text: its tokens are the (padding-zeroed) embeddings.
    for fusion in [FusionKind::CrossAttention, FusionKind::Tensor] {
        let m = cfg(fusion).init_seeded(&specs, 3, &d, 2).unwrap();
        let out = m.forward(input(), present.to_vec(), None);
        assert_eq!(out.fused.dims(), [2, 3], "{fusion:?}");
        assert!(values(out.fused).iter().all(|v| v.is_finite()));
    }
}

#[test]
fn low_rank_tensor_fusion_saves_reloads_and_masks() {
    let d = polymodal_nn::backend::inference_device();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(FusionKind::Tensor);
    c.tensor_rank = 3;
    let model = c.init_seeded(&specs(), 3, &d, 5).unwrap();
    let path = dir.path().join("lmf.safetensors");
    model.save_safetensors(&path).unwrap();
    let loaded = c
        .init_seeded(&specs(), 3, &d, 6)
        .unwrap()
        .load_safetensors(&path)
        .unwrap();
    let x = inputs(2);
    let present = vec![mask(&[1.0, 1.0]), mask(&[1.0, 0.0])];
    assert_eq!(
        values(model.forward(x.clone(), present.clone(), None).fused),
        values(loaded.forward(x, present, None).fused)
    );
    // The full form refuses widths it cannot materialise.
    let mut huge = cfg(FusionKind::Tensor);
    huge.feature_dim = 2000;
    let e = huge.init(&specs(), 3, &d).unwrap_err().to_string();
    assert!(e.contains("tensor_rank"), "{e}");
}

#[test]
fn cross_attention_mixes_modalities_through_tokens() {
    let d = polymodal_nn::backend::inference_device();
    let model = cfg(FusionKind::CrossAttention)
        .init_seeded(&specs(), 3, &d, 3)
        .unwrap();
    let x = inputs(2);
    let present = vec![mask(&[1.0, 1.0]), mask(&[1.0, 1.0])];
    let enc = model.encode(x.clone(), &present);
    let tokens = enc.tokens.as_ref().expect("cross-attention reads tokens");
    // 8x8 image through two 2x2 pools: 4 cells of 3 channels; the vector: one token.
    assert_eq!(tokens[0].dims(), [2, 4, 3]);
    assert_eq!(tokens[1].dims(), [2, 1, 6]);
    // Changing only the image changes the fused output through attention.
    let mut other = x.clone();
    other[0] = Tensor::random([2, 64], Distribution::Normal(3.0, 1.0), &d);
    let a = values(model.forward(x, present.clone(), None).fused);
    let b = values(model.forward(other, present, None).fused);
    assert_ne!(a, b);
}

#[test]
fn encoder_parameters_are_found_by_ownership() {
    let d = polymodal_nn::backend::inference_device();
    for fusion in FUSIONS {
        let model = cfg(fusion).init(&specs(), 3, &d).unwrap();
        let all = polymodal_nn::params::named_params(&model, "");
        for m in 0..2 {
            let own = model.encoder_params(m);
            assert!(!own.is_empty());
            let prefix = format!("encoders.{m}.");
            let expected: Vec<_> = all
                .iter()
                .filter(|p| p.name.starts_with(&prefix))
                .cloned()
                .collect();
            assert_eq!(own, expected, "{fusion:?}");
        }
        // Conv kernels (4-D) and linear layers (2-D) alike: ownership, not rank.
        let names: Vec<String> = model
            .encoder_params(0)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert!(names.iter().any(|n| n.contains("conv1")), "{names:?}");
        assert!(names.iter().any(|n| n.contains("fc")), "{names:?}");
        let total: usize = all.iter().map(|p| p.numel).sum();
        assert_eq!(total, model.parameter_count());
    }
}
