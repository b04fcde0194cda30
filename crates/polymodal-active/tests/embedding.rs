//! BADGE / BMMAL: the factorised distance equals the one on the materialised embedding, the
//! first pick is the max-norm embedding, and BMMAL with unit scales is BADGE.

mod common;

use common::{linear_head_context, uniform, Sizes};
use polymodal_active::kernels::{kmeanspp, Blocks, FirstCentre, GradEmbedding, Metric};
use polymodal_active::strategy::{bmmal_scales, Badge, Bmmal, Strategy};
use polymodal_core::seed::rng;
use rand::Rng as _;

/// `g_i = concat_m (s_mi · a_i ⊗ z_mi)`, built explicitly: `[C · Σd]`.
fn materialise(
    probs: &[f32],
    classes: usize,
    z: &[Vec<f32>],
    dims: &[usize],
    scales: Option<&[Vec<f32>]>,
    i: usize,
) -> Vec<f32> {
    let p = &probs[i * classes..(i + 1) * classes];
    let y = (0..classes).fold(0, |b, c| if p[c] > p[b] { c } else { b });
    let mut g = Vec::new();
    for (m, &d) in dims.iter().enumerate() {
        let s = scales.map_or(1.0, |s| s[m][i]);
        for (c, &pc) in p.iter().enumerate() {
            let a = pc - if c == y { 1.0 } else { 0.0 };
            for k in 0..d {
                g.push(s * a * z[m][i * d + k]);
            }
        }
    }
    g
}

fn sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn random_probs(n: usize, c: usize, seed: u64) -> Vec<f32> {
    let mut r = rng(seed, "probs");
    (0..n)
        .flat_map(|_| {
            common::softmax(
                &uniform(&mut r, c)
                    .iter()
                    .map(|x| 3.0 * x)
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

fn check_factorised(scales: Option<Vec<Vec<f32>>>) {
    let (n, c, dims) = (7, 4, [3usize, 2]);
    let mut r = rng(1, "z");
    let z: Vec<Vec<f32>> = dims.iter().map(|&d| uniform(&mut r, n * d)).collect();
    let probs = random_probs(n, c, 2);
    let blocks = Blocks::new("z", &z, &dims, n).unwrap();
    let g = GradEmbedding::new(probs.clone(), c, blocks, scales.clone()).unwrap();
    let explicit: Vec<Vec<f32>> = (0..n)
        .map(|i| materialise(&probs, c, &z, &dims, scales.as_deref(), i))
        .collect();
    for i in 0..n {
        let norm = sq(&explicit[i], &vec![0.0; explicit[i].len()]);
        assert!((g.sq_norm(i) - norm).abs() < 1e-5, "norm {i}");
        for j in 0..n {
            let want = sq(&explicit[i], &explicit[j]);
            let got = g.sq_dist(i, j);
            assert!(
                (got - want).abs() < 1e-5,
                "d({i},{j}) = {got}, materialised {want}"
            );
        }
    }
}

#[test]
fn badge_factorised_distance_equals_materialised() {
    check_factorised(None);
}

#[test]
fn bmmal_block_scaled_distance_equals_materialised() {
    let mut r = rng(3, "s");
    let scales = (0..2)
        .map(|_| (0..7).map(|_| r.random::<f32>()).collect())
        .collect();
    check_factorised(Some(scales));
}

#[test]
fn badge_first_pick_is_the_max_norm_embedding() {
    let mut ctx = linear_head_context(&Sizes::default(), 9);
    let probs = ctx.fused_probs.clone().unwrap();
    let z = ctx.features.clone().unwrap();
    let dims = ctx.feature_dims.clone();
    let norms: Vec<f32> = (0..ctx.pool.len())
        .map(|i| {
            let g = materialise(&probs, ctx.classes, &z, &dims, None, i);
            g.iter().map(|x| x * x).sum()
        })
        .collect();
    let best = (0..norms.len()).fold(0, |b, i| if norms[i] > norms[b] { i } else { b });
    for seed in 0..3 {
        let picked = Badge.select(&mut ctx, 5, &mut rng(seed, "t")).unwrap();
        assert_eq!(picked[0], ctx.pool[best]);
    }
}

#[test]
fn bmmal_with_unit_scales_is_badge() {
    // equal single-modality subset probabilities make the two Shapley values equal → scales 1
    let mut ctx = linear_head_context(&Sizes::default(), 10);
    let subset = ctx.subset_probs.as_mut().unwrap();
    subset[2] = subset[1].clone();
    let n = ctx.pool.len();
    let scales = bmmal_scales(
        ctx.subset_probs.as_ref().unwrap(),
        ctx.fused_probs.as_ref().unwrap(),
        2,
        n,
        ctx.classes,
    )
    .unwrap();
    assert!(scales.iter().flatten().all(|&s| s == 1.0));
    for seed in 0..3 {
        let a = Badge.select(&mut ctx, 12, &mut rng(seed, "t")).unwrap();
        let b = Bmmal.select(&mut ctx, 12, &mut rng(seed, "t")).unwrap();
        assert_eq!(a, b, "seed {seed}");
    }
    // and at the kernel level: explicit unit scales == no scales
    let z = ctx.features.clone().unwrap();
    let probs = ctx.fused_probs.clone().unwrap();
    let blocks = Blocks::new("z", &z, &ctx.feature_dims, n).unwrap();
    let g0 = GradEmbedding::new(probs.clone(), ctx.classes, blocks.clone(), None).unwrap();
    let g1 = GradEmbedding::new(probs, ctx.classes, blocks, Some(vec![vec![1.0; n]; 2])).unwrap();
    let p0 = kmeanspp(&g0, 20, FirstCentre::MaxNorm, &mut rng(5, "k")).unwrap();
    let p1 = kmeanspp(&g1, 20, FirstCentre::MaxNorm, &mut rng(5, "k")).unwrap();
    assert_eq!(p0, p1);
}

#[test]
fn bmmal_differs_from_badge_when_a_modality_dominates() {
    let ctx = linear_head_context(&Sizes::default(), 11);
    let n = ctx.pool.len();
    let scales = bmmal_scales(
        ctx.subset_probs.as_ref().unwrap(),
        ctx.fused_probs.as_ref().unwrap(),
        2,
        n,
        ctx.classes,
    )
    .unwrap();
    // every sample: one block keeps 1, the other is in [0, 1]
    for (&a, &b) in scales[0].iter().zip(&scales[1]) {
        assert!(
            a.max(b) == 1.0 && (0.0..=1.0).contains(&a.min(b)),
            "{a} {b}"
        );
    }
    assert!(scales.iter().flatten().any(|&s| s < 0.99));
}
