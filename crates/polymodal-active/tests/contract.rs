//! One contract template run over every strategy (scikit-activeml style).

mod common;

use std::collections::HashSet;

use common::{linear_head_context, Sizes};
use polymodal_active::{ActiveError, ArrayContext, StrategyKind, StrategyParams};
use polymodal_core::seed::rng;

fn select(
    kind: StrategyKind,
    ctx: &mut ArrayContext,
    budget: usize,
    seed: u64,
) -> Result<Vec<usize>, ActiveError> {
    let s = kind.build(&StrategyParams::default());
    s.select(ctx, budget, &mut rng(seed, "contract"))
}

fn check_contract(kind: StrategyKind, ctx: &mut ArrayContext) {
    let pool: HashSet<usize> = ctx.pool.iter().copied().collect();
    let n = ctx.pool.len();
    for budget in [1, 2, 7, n / 2, n - 1] {
        let ids = select(kind, ctx, budget, 11).unwrap();
        assert_eq!(ids.len(), budget, "{kind}: budget {budget}");
        let set: HashSet<usize> = ids.iter().copied().collect();
        assert_eq!(set.len(), budget, "{kind}: duplicate ids in {ids:?}");
        assert!(
            set.is_subset(&pool),
            "{kind}: ids outside the pool: {ids:?}"
        );
        assert!(
            ctx.labelled.iter().all(|l| !set.contains(l)),
            "{kind}: picked a labelled id"
        );
        let again = select(kind, ctx, budget, 11).unwrap();
        assert_eq!(ids, again, "{kind}: same seed gave a different selection");
    }

    let err = select(kind, ctx, n + 1, 11).unwrap_err();
    assert!(
        matches!(err, ActiveError::BudgetTooLarge { budget, pool } if budget == n + 1 && pool == n),
        "{kind}: {err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&(n + 1).to_string()) && msg.contains(&n.to_string()),
        "{kind}: {msg}"
    );

    let all = select(kind, ctx, n, 11).unwrap();
    assert_eq!(all.iter().copied().collect::<HashSet<_>>(), pool, "{kind}");
    assert_eq!(all.len(), n, "{kind}");

    assert!(select(kind, ctx, 0, 11).unwrap().is_empty(), "{kind}");
}

#[test]
fn every_strategy_honours_the_contract() {
    let mut ctx = linear_head_context(&Sizes::default(), 1);
    for kind in StrategyKind::ALL {
        check_contract(kind, &mut ctx);
    }
}

#[test]
fn every_strategy_honours_the_contract_with_no_labelled_data_and_three_modalities() {
    let sizes = Sizes {
        pool: 40,
        labelled: 0,
        excluded: 3,
        classes: 3,
        dims: vec![3, 2, 5],
        mc_passes: 10,
    };
    let mut ctx = linear_head_context(&sizes, 2);
    for kind in StrategyKind::ALL {
        check_contract(kind, &mut ctx);
    }
}

#[test]
fn seeded_strategies_depend_on_the_seed() {
    let mut ctx = linear_head_context(&Sizes::default(), 3);
    for kind in [
        StrategyKind::Random,
        StrategyKind::Badge,
        StrategyKind::Bmmal,
    ] {
        let runs: HashSet<Vec<usize>> = (0..4)
            .map(|s| select(kind, &mut ctx, 10, s).unwrap())
            .collect();
        assert!(runs.len() > 1, "{kind}: four seeds gave one selection");
    }
}

/// A strategy, an edit that breaks its context, and the array name the error must mention.
type Case = (StrategyKind, fn(&mut ArrayContext), &'static str);

#[test]
fn missing_inputs_are_named() {
    let full = linear_head_context(&Sizes::default(), 4);
    let cases: [Case; 5] = [
        (
            StrategyKind::Entropy,
            |c| c.fused_probs = None,
            "fused_probs",
        ),
        (StrategyKind::Bald, |c| c.mc_probs = None, "mc_probs"),
        (
            StrategyKind::Coreset,
            |c| c.labelled_features = None,
            "labelled_features",
        ),
        (StrategyKind::Badge, |c| c.features = None, "features"),
        (
            StrategyKind::Bmmal,
            |c| c.subset_probs = None,
            "subset_probs",
        ),
    ];
    for (kind, remove, what) in cases {
        let mut ctx = full.clone();
        remove(&mut ctx);
        let err = select(kind, &mut ctx, 3, 0).unwrap_err();
        assert!(
            matches!(err, ActiveError::Missing { what: w } if w == what),
            "{kind}: {err:?}"
        );
        assert!(err.to_string().contains(what));
    }
}

#[test]
fn shape_mismatches_name_the_array() {
    let full = linear_head_context(&Sizes::default(), 5);
    let cases: [Case; 6] = [
        (
            StrategyKind::Margin,
            |c| {
                c.fused_probs.as_mut().unwrap().pop();
            },
            "fused_probs",
        ),
        (
            StrategyKind::Bald,
            |c| {
                c.mc_probs.as_mut().unwrap().pop();
            },
            "mc_probs",
        ),
        (
            StrategyKind::Kmeans,
            |c| {
                c.features.as_mut().unwrap()[1].pop();
            },
            "features[1]",
        ),
        (
            StrategyKind::Coreset,
            |c| {
                c.labelled_features.as_mut().unwrap()[0].pop();
            },
            "labelled_features[0]",
        ),
        (
            StrategyKind::Badge,
            |c| {
                c.features.as_mut().unwrap().pop();
            },
            "features",
        ),
        (
            StrategyKind::Bmmal,
            |c| {
                c.subset_probs.as_mut().unwrap().pop();
            },
            "subset_probs",
        ),
    ];
    for (kind, corrupt, what) in cases {
        let mut ctx = full.clone();
        corrupt(&mut ctx);
        let err = select(kind, &mut ctx, 3, 0).unwrap_err();
        assert!(matches!(err, ActiveError::Shape { .. }), "{kind}: {err:?}");
        assert!(err.to_string().contains(what), "{kind}: {err}");
    }
}

#[test]
fn duplicate_pool_ids_are_rejected() {
    let mut ctx = linear_head_context(&Sizes::default(), 6);
    ctx.pool[1] = ctx.pool[0];
    let err = select(StrategyKind::Random, &mut ctx, 3, 0).unwrap_err();
    assert!(
        matches!(err, ActiveError::DuplicatePoolIndex { .. }),
        "{err:?}"
    );
}

#[test]
fn selection_does_not_depend_on_the_thread_count() {
    // large enough that the fixed row chunks of the parallel kernels split the pool several times
    let sizes = Sizes {
        pool: 3000,
        labelled: 50,
        excluded: 10,
        classes: 4,
        dims: vec![5, 3],
        mc_passes: 10,
    };
    let ctx = linear_head_context(&sizes, 12);
    for kind in StrategyKind::ALL {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut c = ctx.clone();
            pool.install(|| select(kind, &mut c, 25, 3).unwrap())
        };
        assert_eq!(run(1), run(3), "{kind}");
    }
}
