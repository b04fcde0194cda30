//! The benchmark entry points build valid, consistent contexts that every strategy accepts.

use std::collections::HashSet;

use polymodal_active::bench::{
    add_mc_probs, kmeanspp_step_bytes, synthetic_context, time_selection,
};
use polymodal_active::StrategyKind;

#[test]
fn synthetic_context_is_consistent_and_every_strategy_runs_on_it() {
    let (n, c, dims) = (500, 7, [8usize, 4]);
    let mut ctx = synthetic_context(n, c, &dims, 20, 3);
    assert_eq!(ctx.pool.len(), n);
    assert_eq!(ctx.labelled.len(), 20);
    let all: HashSet<usize> = ctx.pool.iter().chain(&ctx.labelled).copied().collect();
    assert_eq!(all.len(), n + 20);
    let subset = ctx.subset_probs.as_ref().unwrap();
    assert_eq!(subset.len(), 4);
    assert_eq!(&subset[3], ctx.fused_probs.as_ref().unwrap());
    for p in subset {
        for row in p.chunks(c) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
    assert!(ctx.mc_probs.is_none());
    add_mc_probs(&mut ctx, 10, 3);
    assert_eq!(ctx.mc_probs.as_ref().unwrap().len(), 10 * n * c);
    // deterministic in the seed
    assert_eq!(
        synthetic_context(50, c, &dims, 5, 9).features,
        synthetic_context(50, c, &dims, 5, 9).features
    );
    for kind in StrategyKind::ALL {
        let (ids, secs) = time_selection(kind, &mut ctx, 10, 1).unwrap();
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 10, "{kind}");
        assert!(secs >= 0.0);
    }
}

#[test]
fn step_bytes_count_every_stream_read() {
    // a (C) + features (Σd) + scales (M) + ||g||² + D read/write = 101 + 2816 + 2 + 1 + 2 f32,
    // plus the chosen flag
    assert_eq!(
        kmeanspp_step_bytes(1000, 101, &[768, 2048]),
        1000 * (4 * (101 + 2816 + 2 + 1 + 2) + 1)
    );
}
