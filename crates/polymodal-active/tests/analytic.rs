//! Analytic facts about the score-based strategies (modAL style).

use polymodal_active::kernels::uncertainty::{entropy_of, mutual_information};
use polymodal_active::strategy::{Bald, Entropy, LeastConfidence, Margin, Strategy};
use polymodal_active::ArrayContext;
use polymodal_core::seed::rng;

fn probs_context(rows: &[&[f32]]) -> ArrayContext {
    let c = rows[0].len();
    let mut ctx = ArrayContext::new((100..100 + rows.len()).collect(), vec![], c, vec![1]);
    ctx.fused_probs = Some(rows.concat());
    ctx
}

#[test]
fn entropy_of_one_hot_is_zero_and_of_uniform_is_ln_c() {
    assert_eq!(entropy_of(&[0.0, 1.0, 0.0, 0.0]), 0.0);
    for c in [2usize, 5, 101] {
        let u = vec![1.0 / c as f32; c];
        assert!((entropy_of(&u) - (c as f32).ln()).abs() < 1e-5, "C={c}");
    }
    let mut ctx = probs_context(&[&[1.0, 0.0, 0.0], &[1.0 / 3.0; 3], &[0.0, 0.0, 1.0]]);
    let s = Entropy.score(&mut ctx).unwrap();
    assert_eq!(s[0], 0.0);
    assert_eq!(s[2], 0.0);
    assert!((s[1] - 3f32.ln()).abs() < 1e-6);
    let picked = Entropy.select(&mut ctx, 1, &mut rng(0, "t")).unwrap();
    assert_eq!(picked, vec![101]);
}

#[test]
fn margin_and_least_confidence_order_hand_made_rows() {
    // margins: 0.1, 0.7, 0.01, 0.4 ; max p: 0.5, 0.8, 0.34, 0.6
    let mut ctx = probs_context(&[
        &[0.5, 0.4, 0.1],
        &[0.1, 0.8, 0.1],
        &[0.33, 0.33, 0.34],
        &[0.6, 0.0, 0.4],
    ]);
    let r = &mut rng(0, "t");
    assert_eq!(Margin.select(&mut ctx, 3, r).unwrap(), vec![102, 100, 103]);
    assert_eq!(
        LeastConfidence.select(&mut ctx, 3, r).unwrap(),
        vec![102, 100, 103]
    );
    // the two disagree when the runner-up is close but the top is high
    let mut ctx = probs_context(&[&[0.45, 0.45, 0.1], &[0.4, 0.3, 0.3]]);
    assert_eq!(Margin.select(&mut ctx, 1, r).unwrap(), vec![100]);
    assert_eq!(LeastConfidence.select(&mut ctx, 1, r).unwrap(), vec![101]);
}

#[test]
fn score_ties_go_to_the_lower_pool_position() {
    let mut ctx = probs_context(&[&[0.9, 0.1], &[0.5, 0.5], &[0.9, 0.1], &[0.5, 0.5]]);
    let r = &mut rng(0, "t");
    assert_eq!(Entropy.select(&mut ctx, 3, r).unwrap(), vec![101, 103, 100]);
}

#[test]
fn bald_mutual_information_is_zero_when_passes_agree() {
    let (t, n, c) = (5, 3, 4);
    let rows = [[0.1, 0.2, 0.3, 0.4], [0.25; 4], [1.0, 0.0, 0.0, 0.0]];
    let mc: Vec<f32> = (0..t).flat_map(|_| rows.concat()).collect();
    let mi = mutual_information(&mc, t, n, c);
    assert!(mi.iter().all(|&x| x.abs() < 1e-6), "{mi:?}");
    // two confident passes that disagree: H(mean) = ln 2, mean H = 0
    let mc = [1.0, 0.0, 0.0, 1.0];
    let mi = mutual_information(&mc, 2, 1, 2);
    assert!((mi[0] - 2f32.ln()).abs() < 1e-6);
}

#[test]
fn bald_picks_the_disagreeing_sample() {
    let mut ctx = ArrayContext::new(vec![7, 8, 9], vec![], 2, vec![1]);
    // pass-major [T=2, n=3, C=2]: only sample 8 changes its mind between passes
    ctx.mc_probs = Some(vec![
        0.9, 0.1, 0.9, 0.1, 0.5, 0.5, //
        0.9, 0.1, 0.1, 0.9, 0.5, 0.5,
    ]);
    let bald = Bald { passes: 2 };
    let picked = bald.select(&mut ctx, 1, &mut rng(0, "t")).unwrap();
    assert_eq!(picked, vec![8]);
    let err = Bald { passes: 3 }
        .select(&mut ctx, 1, &mut rng(0, "t"))
        .unwrap_err();
    assert!(err.to_string().contains("mc_probs"), "{err}");
}
