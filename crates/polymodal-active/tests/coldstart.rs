//! Cold-start selection: the contract over every kind, analytic cases, and lazy greedy against a
//! naive greedy written here from the objective in the `coldstart` module docs.

use std::collections::HashSet;

use polymodal_active::coldstart::{
    mmcsal_terms, ColdStart, ColdStartKind, ColdStartParams, Similarity,
};
use polymodal_active::ActiveError;
use polymodal_core::seed::rng;
use rand::Rng as _;

/// `M x [n, d_m]` values uniform in `[-1, 1)`.
fn uniform(n: usize, dims: &[usize], seed: u64) -> Vec<Vec<f32>> {
    let mut r = rng(seed, "coldstart-fixture");
    dims.iter()
        .map(|&d| (0..n * d).map(|_| r.random::<f32>() * 2.0 - 1.0).collect())
        .collect()
}

fn select(
    kind: ColdStartKind,
    params: &ColdStartParams,
    emb: &[Vec<f32>],
    dims: &[usize],
    budget: usize,
    seed: u64,
) -> Result<Vec<usize>, ActiveError> {
    ColdStart::new(kind, params.clone())?.select(emb, dims, budget, &mut rng(seed, "coldstart"))
}

fn check_contract(kind: ColdStartKind, params: &ColdStartParams, emb: &[Vec<f32>], dims: &[usize]) {
    let n = emb[0].len() / dims[0];
    for budget in [1, 2, 7, n / 2, n - 1] {
        let ids = select(kind, params, emb, dims, budget, 11).unwrap();
        assert_eq!(ids.len(), budget, "{kind}: budget {budget}");
        let set: HashSet<usize> = ids.iter().copied().collect();
        assert_eq!(set.len(), budget, "{kind}: duplicates in {ids:?}");
        assert!(ids.iter().all(|&i| i < n), "{kind}: out of range {ids:?}");
        let again = select(kind, params, emb, dims, budget, 11).unwrap();
        assert_eq!(ids, again, "{kind}: same seed gave a different selection");
    }
    let err = select(kind, params, emb, dims, n + 1, 11).unwrap_err();
    assert!(
        matches!(err, ActiveError::BudgetTooLarge { budget, pool } if budget == n + 1 && pool == n),
        "{kind}: {err:?}"
    );
    assert!(err.to_string().contains(&(n + 1).to_string()));
    assert_eq!(
        select(kind, params, emb, dims, n, 11).unwrap(),
        (0..n).collect::<Vec<_>>(),
        "{kind}"
    );
    assert!(select(kind, params, emb, dims, 0, 11).unwrap().is_empty());
}

#[test]
fn every_kind_honours_the_contract() {
    let dims = [6usize, 6];
    let emb = uniform(60, &dims, 1);
    for kind in ColdStartKind::ALL {
        check_contract(kind, &ColdStartParams::default(), &emb, &dims);
    }
    // three modalities of different widths: the alignment term is off
    let dims = [3usize, 2, 5];
    let emb = uniform(40, &dims, 2);
    let params = ColdStartParams {
        lambda_align: 0.0,
        similarity: Similarity::Exp,
        coverage_points: 15,
        ..Default::default()
    };
    for kind in ColdStartKind::ALL {
        check_contract(kind, &params, &emb, &dims);
    }
}

#[test]
fn seeded_kinds_depend_on_the_seed() {
    let dims = [4usize, 4];
    let emb = uniform(200, &dims, 3);
    let p = ColdStartParams {
        coverage_points: 50,
        ..Default::default()
    };
    for kind in ColdStartKind::ALL {
        let runs: HashSet<Vec<usize>> = (0..4)
            .map(|s| select(kind, &p, &emb, &dims, 10, s).unwrap())
            .collect();
        assert!(runs.len() > 1, "{kind}: four seeds gave one selection");
    }
}

#[test]
fn selection_does_not_depend_on_the_thread_count() {
    let dims = [5usize, 5];
    let emb = uniform(3000, &dims, 4);
    let p = ColdStartParams {
        coverage_points: 500,
        typiclust_max_reference: 100,
        ..Default::default()
    };
    for kind in ColdStartKind::ALL {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| select(kind, &p, &emb, &dims, 25, 3).unwrap())
        };
        assert_eq!(run(1), run(3), "{kind}");
    }
}

#[test]
fn non_finite_values_and_bad_shapes_are_named() {
    let dims = [3usize, 3];
    for kind in ColdStartKind::ALL {
        let mut emb = uniform(20, &dims, 5);
        emb[1][4 * 3 + 2] = f32::NAN;
        let err = select(kind, &ColdStartParams::default(), &emb, &dims, 2, 0).unwrap_err();
        assert!(
            matches!(
                err,
                ActiveError::NonFinite {
                    what: "embeddings[1]",
                    position: 4
                }
            ),
            "{kind}: {err:?}"
        );
        assert!(err.to_string().contains("embeddings[1]"), "{err}");

        let mut emb = uniform(20, &dims, 5);
        emb[1].pop();
        let err = select(kind, &ColdStartParams::default(), &emb, &dims, 2, 0).unwrap_err();
        assert!(matches!(err, ActiveError::Shape { .. }), "{kind}: {err:?}");
        assert!(err.to_string().contains("embeddings[1]"), "{err}");
    }
    // the alignment term needs one shared space
    let emb = uniform(10, &[3, 4], 6);
    let err = select(
        ColdStartKind::Mmcsal,
        &ColdStartParams::default(),
        &emb,
        &[3, 4],
        2,
        0,
    )
    .unwrap_err();
    assert!(err.to_string().contains("lambda_align"), "{err}");
    let err = select(
        ColdStartKind::Random,
        &ColdStartParams::default(),
        &emb,
        &[3, 0],
        2,
        0,
    )
    .unwrap_err();
    assert!(err.to_string().contains("dims"), "{err}");
}

/// An edit that makes the parameters invalid.
type Edit = fn(&mut ColdStartParams);

#[test]
fn names_and_params_parse_and_bad_params_are_rejected() {
    for k in ColdStartKind::ALL {
        assert_eq!(k.to_string().parse::<ColdStartKind>().unwrap(), k);
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, format!("\"{k}\""));
    }
    let err = "coreset".parse::<ColdStartKind>().unwrap_err().to_string();
    assert!(
        err.contains("coreset") && err.contains("typiclust, probcover"),
        "{err}"
    );

    let p: ColdStartParams = serde_json::from_str("{}").unwrap();
    assert_eq!(p, ColdStartParams::default());
    let p: ColdStartParams =
        serde_json::from_str(r#"{"gamma": 0.5, "similarity": "exp"}"#).unwrap();
    assert_eq!(
        (p.gamma, p.similarity, p.lambda_align),
        (0.5, Similarity::Exp, 1.0)
    );
    assert!(serde_json::from_str::<ColdStartParams>(r#"{"lambda": 1}"#).is_err());
    // save -> load round trip of non-default parameters
    let saved = ColdStartParams {
        gamma: 0.25,
        similarity: Similarity::Exp,
        coverage_points: 7,
        delta: 1.5,
        ..Default::default()
    };
    let text = serde_json::to_string(&saved).unwrap();
    assert_eq!(
        serde_json::from_str::<ColdStartParams>(&text).unwrap(),
        saved
    );

    let bad: [(Edit, &str); 7] = [
        (|p| p.gamma = -1.0, "gamma"),
        (|p| p.lambda_align = f64::NAN, "lambda_align"),
        (|p| p.delta = 0.0, "delta"),
        (|p| p.temperature = 0.0, "temperature"),
        (|p| p.coverage_points = 0, "coverage_points"),
        (|p| p.typiclust_neighbors = 0, "typiclust_neighbors"),
        (|p| p.typiclust_max_clusters = 0, "typiclust_max_clusters"),
    ];
    for (edit, name) in bad {
        let mut p = ColdStartParams::default();
        edit(&mut p);
        let err = ColdStart::new(ColdStartKind::Mmcsal, p).unwrap_err();
        assert!(
            matches!(err, ActiveError::InvalidParam { name: n, .. } if n == name),
            "{err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

/// Three tight clusters far apart on the unit sphere, 10 points each, interleaved in the pool.
fn three_clusters() -> (Vec<Vec<f32>>, [usize; 2]) {
    let centres = [[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let mut r = rng(7, "clusters");
    let mut blocks = vec![Vec::new(), Vec::new()];
    for i in 0..30 {
        let c = centres[i % 3];
        for b in blocks.iter_mut() {
            for &x in &c {
                b.push(x + 0.05 * (r.random::<f32>() - 0.5));
            }
        }
    }
    (blocks, [3, 3])
}

#[test]
fn one_pick_per_well_separated_cluster() {
    let (emb, dims) = three_clusters();
    let p = ColdStartParams {
        gamma: 0.0,
        lambda_align: 0.0,
        delta: 0.3,
        ..Default::default()
    };
    for kind in [
        ColdStartKind::Mmcsal,
        ColdStartKind::Kmeans,
        ColdStartKind::Typiclust,
        ColdStartKind::Probcover,
    ] {
        for seed in 0..3 {
            let ids = select(kind, &p, &emb, &dims, 3, seed).unwrap();
            let clusters: HashSet<usize> = ids.iter().map(|i| i % 3).collect();
            assert_eq!(clusters.len(), 3, "{kind} seed {seed}: {ids:?}");
        }
    }
}

/// Naive greedy on `F(S) = Cov + γ Div + λ Align` with every pool row a coverage point, each
/// `F` evaluated from scratch in f64.
fn naive_mmcsal(emb: &[Vec<f32>], d: usize, budget: usize, p: &ColdStartParams) -> Vec<usize> {
    let m = emb.len();
    let n = emb[0].len() / d;
    let unit = |b: &Vec<f32>, i: usize| -> Vec<f64> {
        let x: Vec<f64> = b[i * d..(i + 1) * d].iter().map(|&v| v as f64).collect();
        let nrm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        x.into_iter().map(|v| v / nrm).collect()
    };
    let u: Vec<Vec<Vec<f64>>> = emb
        .iter()
        .map(|b| (0..n).map(|i| unit(b, i)).collect())
        .collect();
    let dotf = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cos = |i: usize, j: usize| (0..m).map(|k| dotf(&u[k][i], &u[k][j])).sum::<f64>() / m as f64;
    let k = |i: usize, j: usize| match p.similarity {
        Similarity::Cosine => cos(i, j).max(0.0),
        Similarity::Exp => ((cos(i, j) - 1.0) / p.temperature).exp(),
    };
    let align = |i: usize| {
        let mut s = 0.0;
        for a in 0..m {
            for b in a + 1..m {
                s += dotf(&u[a][i], &u[b][i]);
            }
        }
        s / (m * (m - 1) / 2) as f64
    };
    let bf = budget as f64;
    let f = |s: &[usize]| -> f64 {
        let cov = (0..n)
            .map(|q| s.iter().map(|&j| k(q, j)).fold(0.0, f64::max))
            .sum::<f64>()
            / n as f64;
        let mut pairs = 0.0;
        for (a, &i) in s.iter().enumerate() {
            for &j in &s[a + 1..] {
                pairs += k(i, j);
            }
        }
        let div = -2.0 * pairs / (bf * (bf - 1.0));
        let al = s.iter().map(|&i| align(i)).sum::<f64>() / bf;
        cov + p.gamma * div + p.lambda_align * al
    };
    let mut s: Vec<usize> = Vec::new();
    for _ in 0..budget {
        let base = f(&s);
        let mut best: Option<(usize, f64)> = None;
        for c in (0..n).filter(|c| !s.contains(c)) {
            let mut t = s.clone();
            t.push(c);
            let g = f(&t) - base;
            if best.is_none_or(|(_, bg)| g > bg) {
                best = Some((c, g));
            }
        }
        s.push(best.unwrap().0);
    }
    s
}

#[test]
fn lazy_greedy_equals_naive_greedy() {
    let dims = [4usize, 4];
    let settings = [
        (0.0, 0.0, Similarity::Cosine),
        (1.0, 1.0, Similarity::Cosine),
        (3.0, 0.5, Similarity::Cosine),
        (1.0, 1.0, Similarity::Exp),
        (0.5, 2.0, Similarity::Exp),
    ];
    for seed in 0..5 {
        let emb = uniform(40, &dims, 100 + seed);
        for (gamma, lambda_align, similarity) in settings {
            let p = ColdStartParams {
                gamma,
                lambda_align,
                similarity,
                temperature: 0.3,
                ..Default::default()
            };
            let (lazy, stats) = ColdStart::new(ColdStartKind::Mmcsal, p.clone())
                .unwrap()
                .select_with_stats(&emb, &dims, 8, &mut rng(seed, "coldstart"))
                .unwrap();
            // the pool is small, so later re-evaluations run from the cached active points
            assert!(stats.cached_gain_evaluations > 0, "{stats:?}");
            assert!(stats.gain_evaluations >= 40 + stats.cached_gain_evaluations);
            let naive = naive_mmcsal(&emb, 4, 8, &p);
            assert_eq!(
                lazy, naive,
                "seed {seed}, γ {gamma}, λ {lambda_align}, {similarity:?}"
            );
            // the diagnostic terms agree with the objective the greedy maximised
            let t = mmcsal_terms(&emb, &dims, &lazy, &p, &mut rng(seed, "coldstart")).unwrap();
            assert!(
                (t.coverage + gamma * t.diversity + lambda_align * t.alignment - t.objective).abs()
                    < 1e-12
            );
            assert!((0.0..=1.0).contains(&t.coverage) && t.diversity <= 0.0);
        }
    }
}

#[test]
fn alignment_breaks_a_coverage_tie_towards_the_aligned_sample() {
    // sample 0: modalities orthogonal (a = 0); sample 1: modalities agree (a = 1). Each covers the
    // pair equally: (k(0,0) + k(1,0)) / 2 = (k(0,1) + k(1,1)) / 2 with cos(0, 1) = 1/2.
    let emb = vec![vec![1.0, 0.0, 1.0, 0.0], vec![0.0, 1.0, 1.0, 0.0]];
    let dims = [2usize, 2];
    let pick = |lambda_align: f64| {
        let p = ColdStartParams {
            gamma: 0.0,
            lambda_align,
            ..Default::default()
        };
        select(ColdStartKind::Mmcsal, &p, &emb, &dims, 1, 0).unwrap()
    };
    assert_eq!(pick(0.0), vec![0], "a tie goes to the lowest position");
    assert_eq!(pick(0.1), vec![1], "alignment prefers the aligned sample");
}

#[test]
fn diversity_pushes_the_second_pick_away_from_the_first() {
    // 40 points on an arc from 0 to 120 degrees in the xy-plane, and one isolated point on the
    // z axis (cosine 0 with all of them). Coverage alone (γ = 0) takes the second pick on the arc:
    // it raises the similarity of ~13 arc points by up to 0.5 each, the isolated point only its
    // own by 1. With γ = 5 the diversity penalty −γ·k(c, s₁) (≈ −4 on the arc near s₁, 0 for the
    // isolated point) moves the second pick to the isolated point.
    let mut b = Vec::new();
    for i in 0..40 {
        let t = (i as f32 / 39.0) * 120f32.to_radians();
        b.extend([t.cos(), t.sin(), 0.0]);
    }
    b.extend([0.0, 0.0, 1.0]);
    let emb = vec![b];
    let dims = [3usize];
    let pick = |gamma: f64| {
        let p = ColdStartParams {
            gamma,
            lambda_align: 0.0,
            ..Default::default()
        };
        select(ColdStartKind::Mmcsal, &p, &emb, &dims, 2, 0).unwrap()
    };
    let near = pick(0.0);
    assert!(near.iter().all(|&i| i < 40), "{near:?}");
    let far = pick(5.0);
    assert_eq!(far[0], near[0], "the first pick has no diversity gain");
    assert_eq!(far[1], 40, "{far:?}");
}

#[test]
fn probcover_first_pick_lies_in_the_largest_cluster() {
    // clusters of 12, 5 and 3 points: the largest δ-ball degree is in the 12-point cluster
    let centres = [[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let sizes = [3usize, 5, 12];
    let mut r = rng(8, "pc");
    let (mut b, mut label) = (Vec::new(), Vec::new());
    for (c, &s) in sizes.iter().enumerate() {
        for _ in 0..s {
            b.extend(centres[c].iter().map(|x| x + 0.05 * r.random::<f32>()));
            label.push(c);
        }
    }
    let p = ColdStartParams {
        delta: 0.3,
        ..Default::default()
    };
    let ids = select(ColdStartKind::Probcover, &p, &[b], &[3], 3, 0).unwrap();
    assert_eq!(label[ids[0]], 2, "{ids:?}");
    assert_eq!(
        ids.iter().map(|&i| label[i]).collect::<HashSet<_>>().len(),
        3
    );
}

#[test]
fn typiclust_picks_the_dense_core_not_the_outlier() {
    // one cluster (budget 1): 20 points packed at x≈0, and points spread out to x=1; the most
    // typical point lies in the packed core
    let mut b = Vec::new();
    for i in 0..20 {
        b.extend([1.0, 0.001 * i as f32]);
    }
    for i in 1..=10 {
        b.extend([1.0, 0.1 * i as f32]);
    }
    let ids = select(
        ColdStartKind::Typiclust,
        &ColdStartParams::default(),
        &[b],
        &[2],
        1,
        0,
    )
    .unwrap();
    assert!(ids[0] < 20, "{ids:?}");
}

#[test]
fn mmcsal_terms_are_analytic_on_a_small_case_and_reject_bad_positions() {
    // two samples, one modality: e(0) = (1, 0), e(1) = (0.6, 0.8), cos = 0.6, pool = coverage.
    // S = {0}: Cov = (1 + 0.6) / 2 = 0.8, Div = 0 (B = 1), Align = 0 (one modality).
    // S = {0, 1}: Cov = 1, Div = −k(0, 1) = −0.6.
    let emb = vec![vec![2.0, 0.0, 0.6, 0.8]];
    let p = ColdStartParams::default();
    let t = mmcsal_terms(&emb, &[2], &[0], &p, &mut rng(0, "t")).unwrap();
    assert!(
        (t.coverage - 0.8).abs() < 1e-6 && t.diversity == 0.0 && t.alignment == 0.0,
        "{t:?}"
    );
    let t = mmcsal_terms(&emb, &[2], &[0, 1], &p, &mut rng(0, "t")).unwrap();
    assert!((t.coverage - 1.0).abs() < 1e-6, "{t:?}");
    assert!((t.diversity + 0.6).abs() < 1e-6, "{t:?}");
    assert!((t.objective - 0.4).abs() < 1e-6, "{t:?}");
    let err = mmcsal_terms(&emb, &[2], &[0, 2], &p, &mut rng(0, "t")).unwrap_err();
    assert!(err.to_string().contains("selection"), "{err}");
}

#[test]
fn alignment_alone_picks_the_best_aligned_samples_and_weights_scale_the_objective() {
    // coverage_weight = 0 and γ = 0 leave λ_align · Align(S), a modular objective: the greedy
    // takes the samples with the largest cross-modal cosine a(i) = u_1(i)·u_2(i) (rows unit
    // normalised), best first. The reference is computed here from that definition.
    let dims = [4usize, 4];
    let n = 50;
    let emb = uniform(n, &dims, 9);
    let unit = |m: usize, i: usize| {
        let row = &emb[m][i * 4..(i + 1) * 4];
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.iter().map(|v| v / norm).collect::<Vec<f32>>()
    };
    let align: Vec<f32> = (0..n)
        .map(|i| unit(0, i).iter().zip(unit(1, i)).map(|(a, b)| a * b).sum())
        .collect();
    let mut want: Vec<usize> = (0..n).collect();
    want.sort_by(|&a, &b| align[b].total_cmp(&align[a]).then(a.cmp(&b)));
    want.truncate(8);
    let p = ColdStartParams {
        coverage_weight: 0.0,
        gamma: 0.0,
        ..Default::default()
    };
    let got = select(ColdStartKind::Mmcsal, &p, &emb, &dims, 8, 1).unwrap();
    assert_eq!(got, want);
    // The logged objective weights each term by its key: w_cov · Cov + γ · Div + λ · Align.
    let p = ColdStartParams {
        coverage_weight: 0.5,
        gamma: 2.0,
        lambda_align: 3.0,
        ..Default::default()
    };
    let t = mmcsal_terms(&emb, &dims, &got, &p, &mut rng(1, "coldstart")).unwrap();
    let want = 0.5 * t.coverage + 2.0 * t.diversity + 3.0 * t.alignment;
    assert!(
        (t.objective - want).abs() < 1e-12,
        "{} vs {want}",
        t.objective
    );
    let bad = ColdStartParams {
        coverage_weight: -1.0,
        ..Default::default()
    };
    let e = ColdStart::new(ColdStartKind::Mmcsal, bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("coverage_weight"), "{e}");
}
