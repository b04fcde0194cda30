//! Exact Shapley values and BMMAL dominance scales.

mod common;

use common::{softmax, uniform};
use polymodal_active::shapley::{
    contributions_at, dominance_scales, mean_contributions, mean_contributions_of, shapley_values,
    shapley_values_at,
};
use polymodal_active::strategy::bmmal_scales;
use polymodal_core::seed::rng;

/// `2^M x [n, C]` random softmax rows.
fn random_subset_probs(m: usize, n: usize, c: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut r = rng(seed, "subset");
    (0..1 << m)
        .map(|_| (0..n).flat_map(|_| softmax(&uniform(&mut r, c))).collect())
        .collect()
}

#[test]
fn two_modalities_match_the_closed_form() {
    let (n, c) = (9, 4);
    let v = random_subset_probs(2, n, c, 1);
    let phi = shapley_values(&v, 2, n, c).unwrap();
    // docs/METHODS.md §1.3: v0 = {}, v1 = {m1}, v2 = {m2}, v12 = {m1, m2} (bitmask 1 = m1, 2 = m2)
    for k in 0..n * c {
        let (v0, v1, v2, v12) = (v[0][k], v[1][k], v[2][k], v[3][k]);
        let phi1 = ((v12 - v2) + (v1 - v0)) / 2.0;
        let phi2 = ((v12 - v1) + (v2 - v0)) / 2.0;
        assert!((phi[0][k] - phi1).abs() < 1e-6);
        assert!((phi[1][k] - phi2).abs() < 1e-6);
    }
}

#[test]
fn efficiency_holds_for_two_to_four_modalities() {
    let (n, c) = (6, 3);
    for m in 2..=4 {
        let v = random_subset_probs(m, n, c, m as u64);
        let phi = shapley_values(&v, m, n, c).unwrap();
        let full = (1 << m) - 1;
        for k in 0..n * c {
            let sum: f32 = phi.iter().map(|p| p[k]).sum();
            assert!((sum - (v[full][k] - v[0][k])).abs() < 1e-5, "M={m}");
        }
    }
}

#[test]
fn additive_game_gives_each_player_its_weight() {
    // M = 3, v(S) = Σ_{m ∈ S} w_m (per sample and class)
    let (n, c) = (4, 2);
    let mut r = rng(7, "w");
    let w: Vec<Vec<f32>> = (0..3).map(|_| uniform(&mut r, n * c)).collect();
    let v: Vec<Vec<f32>> = (0..8usize)
        .map(|s| {
            (0..n * c)
                .map(|k| (0..3).filter(|m| s & (1 << m) != 0).map(|m| w[m][k]).sum())
                .collect()
        })
        .collect();
    let phi = shapley_values(&v, 3, n, c).unwrap();
    for m in 0..3 {
        for k in 0..n * c {
            assert!((phi[m][k] - w[m][k]).abs() < 1e-6);
        }
    }
}

#[test]
fn contributions_sum_to_one_and_match_the_at_class_values() {
    let (n, c) = (10, 5);
    for m in 2..=4 {
        let v = random_subset_probs(m, n, c, 20 + m as u64);
        let phi = shapley_values(&v, m, n, c).unwrap();
        let classes: Vec<usize> = (0..n).map(|i| (i * 3) % c).collect();
        let contrib = contributions_at(&phi, n, c, &classes).unwrap();
        let at = shapley_values_at(&v, m, n, c, &classes).unwrap();
        for i in 0..n {
            let s: f32 = contrib.iter().map(|x| x[i]).sum();
            assert!((s - 1.0).abs() < 1e-6);
            for k in 0..m {
                assert!((at[k][i] - phi[k][i * c + classes[i]]).abs() < 1e-7);
            }
        }
        let mean = mean_contributions(&contrib);
        assert!((mean.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let mean_all = mean_contributions_of(&contrib, &(0..n).collect::<Vec<_>>()).unwrap();
        for (a, b) in mean.iter().zip(&mean_all) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}

#[test]
fn mean_contribution_of_selected_rows() {
    let contrib = vec![vec![0.9, 0.5, 0.2], vec![0.1, 0.5, 0.8]];
    let m = mean_contributions_of(&contrib, &[0, 2]).unwrap();
    assert!((m[0] - 0.55).abs() < 1e-6 && (m[1] - 0.45).abs() < 1e-6);
    assert!(mean_contributions_of(&contrib, &[3]).is_err());
}

#[test]
fn bmmal_scales_on_hand_made_subset_probs() {
    // 3 samples, 2 classes; index = bitmask of kept modalities
    let v = vec![
        vec![0.5, 0.5, 0.5, 0.5, 0.5, 0.5], // {}
        vec![0.8, 0.2, 0.6, 0.4, 0.5, 0.5], // {m1}
        vec![0.5, 0.5, 0.6, 0.4, 0.3, 0.7], // {m2}
        vec![0.9, 0.1, 0.7, 0.3, 0.2, 0.8], // {m1, m2} = fused
    ];
    let fused = v[3].clone();
    let s = bmmal_scales(&v, &fused, 2, 3, 2).unwrap();
    // sample 0, ŷ = 0: phi1 = (0.4 + 0.3) / 2 = 0.35, phi2 = (0.1 + 0) / 2 = 0.05
    // c1 = 0.875, c2 = 0.125 → m1 dominant: s1 = 1, s2 = 1 - 0.75 = 0.25
    assert_eq!(s[0][0], 1.0);
    assert!((s[1][0] - 0.25).abs() < 1e-5, "{}", s[1][0]);
    // sample 1, ŷ = 0: symmetric (phi1 = phi2) → tie → both 1
    assert_eq!((s[0][1], s[1][1]), (1.0, 1.0));
    // sample 2, ŷ = 1: phi1 = ((0.8 - 0.7) + 0) / 2 = 0.05, phi2 = (0.3 + 0.2) / 2 = 0.25
    // c1 = 1/6, c2 = 5/6 → m2 dominant: s2 = 1, s1 = 1 - 4/6
    assert_eq!(s[1][2], 1.0);
    assert!((s[0][2] - (1.0 - 4.0 / 6.0)).abs() < 1e-5, "{}", s[0][2]);
    // general M: the dominant modality keeps 1, the others 1 - (c_max - c_m)
    let s3 = dominance_scales(&[vec![0.5], vec![0.3], vec![0.2]]);
    assert_eq!(s3[0][0], 1.0);
    assert!((s3[1][0] - 0.8).abs() < 1e-6 && (s3[2][0] - 0.7).abs() < 1e-6);
}

#[test]
fn shape_errors_name_the_subset_array() {
    let v = random_subset_probs(2, 3, 2, 0);
    let err = shapley_values(&v[..3], 2, 3, 2).unwrap_err().to_string();
    assert!(err.contains("subset_probs"), "{err}");
    let err = shapley_values(&v, 2, 4, 2).unwrap_err().to_string();
    assert!(err.contains("subset_probs[0]"), "{err}");
}
