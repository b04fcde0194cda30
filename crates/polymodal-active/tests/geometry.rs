//! Core-set and k-means on hand-checkable geometry.

use polymodal_active::kernels::{kcenter_greedy, kmeans_select, Blocks};
use polymodal_active::strategy::{Coreset, Kmeans, Strategy};
use polymodal_active::ArrayContext;
use polymodal_core::seed::rng;

fn line(xs: &[f32]) -> Vec<Vec<f32>> {
    vec![xs.to_vec()]
}

#[test]
fn kcenter_on_a_line_with_a_labelled_centre_is_farthest_first() {
    // labelled centre at 0; pool x = 1, 2, 5, 9, 10 (positions 0..5)
    // δ² = 1, 4, 25, 81, 100 → 10; then 5 (25 vs 1, 4, 1); then 2 (4 vs 1, 1);
    // then 1 and 9 tie at δ² = 1 → lower position (x = 1) first, then 9
    let mut ctx = ArrayContext::new(vec![40, 41, 42, 43, 44], vec![7], 2, vec![1]);
    ctx.features = Some(line(&[1.0, 2.0, 5.0, 9.0, 10.0]));
    ctx.labelled_features = Some(line(&[0.0]));
    let picked = Coreset.select(&mut ctx, 4, &mut rng(0, "t")).unwrap();
    assert_eq!(picked, vec![44, 42, 41, 40]);
}

#[test]
fn kcenter_on_a_line_without_labelled_data_starts_farthest_from_the_mean() {
    // x = 0, 1, 2, 5, 9, 10; mean 4.5 → 10 first (5.5 away), then 0, 5, 2, then 1 / 9 tie → 1
    let xs = line(&[0.0, 1.0, 2.0, 5.0, 9.0, 10.0]);
    let points = Blocks::new("x", &xs, &[1], 6).unwrap();
    assert_eq!(
        kcenter_greedy(&points, None, 6).unwrap(),
        vec![5, 0, 3, 2, 1, 4]
    );
}

#[test]
fn kcenter_blocks_concatenate_modalities() {
    // two 1-d blocks = points in the plane; labelled centre at the origin
    let a = vec![vec![3.0, 0.0, 1.0], vec![0.0, 4.0, 1.0]];
    let points = Blocks::new("x", &a, &[1, 1], 3).unwrap();
    let c = vec![vec![0.0], vec![0.0]];
    let centre = Blocks::new("c", &c, &[1, 1], 1).unwrap();
    assert_eq!(
        kcenter_greedy(&points, Some(&centre), 3).unwrap(),
        vec![1, 0, 2]
    );
}

#[test]
fn kmeans_takes_one_representative_per_separated_cluster() {
    // three tight clusters around 0, 100 and 200 (1-d), the middle member of each is the nearest
    // to its centroid
    let xs = [-1.0, 0.0, 1.0, 99.0, 100.0, 101.0, 199.0, 200.0, 201.0];
    let mut ctx = ArrayContext::new((0..9).map(|i| 10 * i).collect(), vec![], 2, vec![1]);
    ctx.features = Some(line(&xs));
    for seed in 0..5 {
        let mut picked = Kmeans { iters: 20 }
            .select(&mut ctx, 3, &mut rng(seed, "t"))
            .unwrap();
        picked.sort();
        assert_eq!(picked, vec![10, 40, 70], "seed {seed}");
    }
}

#[test]
fn kmeans_returns_k_distinct_points_even_with_duplicates() {
    // 3 distinct locations, k = 5: some clusters end up empty or duplicated and are filled
    let xs: Vec<f32> = (0..12).map(|i| (i % 3) as f32).collect();
    let blocks = line(&xs);
    let points = Blocks::new("x", &blocks, &[1], 12).unwrap();
    for seed in 0..5 {
        let mut p = kmeans_select(&points, 5, 10, &mut rng(seed, "t")).unwrap();
        assert_eq!(p.len(), 5);
        p.sort();
        p.dedup();
        assert_eq!(p.len(), 5, "seed {seed}");
    }
}

#[test]
fn kcenter_rejects_centres_of_other_dims() {
    let a = vec![vec![3.0, 0.0, 1.0], vec![0.0, 4.0, 1.0]];
    let points = Blocks::new("x", &a, &[1, 1], 3).unwrap();
    let c = vec![vec![0.0, 0.0]];
    let centre = Blocks::new("c", &c, &[2], 1).unwrap();
    let err = kcenter_greedy(&points, Some(&centre), 2).unwrap_err();
    assert!(err.to_string().contains("centres"), "{err}");
}
