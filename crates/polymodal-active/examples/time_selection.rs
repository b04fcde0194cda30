//! Times one selection on a synthetic context and reports the effective memory bandwidth of the
//! k-means++ steps (BADGE / BMMAL).
//!
//! ```text
//! cargo run --release -p polymodal-active --example time_selection -- \
//!     [strategy=bmmal] [n=100000] [classes=101] [dims=768,2048] [budget=1000] [labelled=1000] [seed=1000]
//! /usr/bin/time -v target/release/examples/time_selection bmmal 100000 101 768,2048 1000
//! ```

use std::time::Instant;

use polymodal_active::bench::{
    add_mc_probs, kmeanspp_step_bytes, synthetic_context, time_selection,
};
use polymodal_active::StrategyKind;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let kind: StrategyKind = arg(0, "bmmal").parse()?;
    let n: usize = arg(1, "100000").parse()?;
    let classes: usize = arg(2, "101").parse()?;
    let dims: Vec<usize> = arg(3, "768,2048")
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let budget: usize = arg(4, "1000").parse()?;
    let n_labelled: usize = arg(5, "1000").parse()?;
    let seed: u64 = arg(6, "1000").parse()?;

    let start = Instant::now();
    let mut ctx = synthetic_context(n, classes, &dims, n_labelled, seed);
    if kind == StrategyKind::Bald {
        add_mc_probs(&mut ctx, 10, seed);
    }
    println!(
        "context: n={n} C={classes} dims={dims:?} labelled={n_labelled} built in {:.2}s (rayon threads: {})",
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let (ids, secs) = time_selection(kind, &mut ctx, budget, seed)?;
    println!("{kind}: selected {} of {n} in {secs:.3}s", ids.len());
    if matches!(kind, StrategyKind::Badge | StrategyKind::Bmmal) {
        let bytes = kmeanspp_step_bytes(n, classes, &dims);
        let steps = budget.saturating_sub(1);
        println!(
            "k-means++: {steps} steps x {:.3} GB = {:.1} GB read, effective {:.2} GB/s (upper bound: includes setup)",
            bytes as f64 / 1e9,
            (bytes * steps) as f64 / 1e9,
            (bytes * steps) as f64 / secs / 1e9
        );
    }
    Ok(())
}
