//! Benchmarks of the hot paths on synthetic inputs, as JSON values (the binary prints them).

use crate::LabError;
use polymodal_core::{ModalityKind, ModalitySpec};
use polymodal_nn::ModelConfig;

/// Training and inference throughput of the default fused model at AV-Digits shapes.
pub fn train(batch: usize, runs: usize, seconds: f64) -> Result<serde_json::Value, LabError> {
    let specs = vec![
        ModalitySpec {
            name: "image".into(),
            kind: ModalityKind::Image,
            shape: vec![1, 28, 28],
        },
        ModalitySpec {
            name: "audio".into(),
            kind: ModalityKind::Audio,
            shape: vec![1, 32, 32],
        },
    ];
    let result = polymodal_train::bench::train_throughput(
        &ModelConfig::default(),
        &specs,
        10,
        batch,
        runs,
        seconds,
    )?;
    let mut json = serde_json::to_value(&result)
        .map_err(|e| LabError::Invalid(format!("benchmark result: {e}")))?;
    json["framework"] = "polymodal (burn 0.22.1 flex)".into();
    Ok(json)
}

/// Peak resident memory of this process so far (Linux), in bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Copy bandwidth of this machine (GB/s, read + write counted), the reference for the
/// effective bandwidth of the selection kernels. Best of 5 copies of 256 MiB.
fn copy_bandwidth() -> f64 {
    let n = 64 << 20; // f32s
    let src: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut dst = vec![0f32; n];
    let mut best = 0f64;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        dst.copy_from_slice(&src);
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box(&dst);
        best = best.max((2 * n * 4) as f64 / secs / 1e9);
    }
    best
}

/// Selection time, peak memory and k-means++ bandwidth of one strategy on a synthetic pool.
#[allow(clippy::too_many_arguments)]
pub fn selection(
    kind: polymodal_active::StrategyKind,
    pool: usize,
    classes: usize,
    dims: &[usize],
    budget: usize,
    labelled: usize,
    seed: u64,
) -> Result<serde_json::Value, LabError> {
    use polymodal_active::bench::{
        add_mc_probs, kmeanspp_step_bytes, synthetic_context, time_selection,
    };
    use polymodal_active::StrategyKind;
    if pool == 0 || classes == 0 || dims.is_empty() || dims.contains(&0) || labelled > pool {
        return Err(LabError::Invalid(format!(
            "bench selection: pool ({pool}), classes ({classes}) and every dim ({dims:?}) must be positive, labelled ({labelled}) at most the pool"
        )));
    }
    let floats = dims
        .iter()
        .try_fold(classes, |acc, &d| acc.checked_add(d))
        .and_then(|w| w.checked_mul(pool));
    // Keeps a typo (an extra zero) from allocating more memory than any machine has.
    if floats.is_none_or(|f| f > 4_000_000_000) {
        return Err(LabError::Invalid(format!(
            "bench selection: pool x (classes + dims) is more than 4e9 floats (pool {pool}, classes {classes}, dims {dims:?})"
        )));
    }
    let t = std::time::Instant::now();
    let mut ctx = synthetic_context(pool, classes, dims, labelled, seed);
    if kind == StrategyKind::Bald {
        add_mc_probs(&mut ctx, 10, seed);
    }
    let context_seconds = t.elapsed().as_secs_f64();
    let rss_before = peak_rss_bytes();
    let (ids, seconds) = time_selection(kind, &mut ctx, budget, seed)?;
    let mut out = serde_json::json!({
        "strategy": kind.to_string(),
        "pool": pool,
        "classes": classes,
        "dims": dims,
        "budget": budget,
        "labelled": labelled,
        "selected": ids.len(),
        "selection_seconds": seconds,
        "context_seconds": context_seconds,
        "peak_rss_bytes_after_context": rss_before,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": rayon_threads(),
    });
    if matches!(kind, StrategyKind::Badge | StrategyKind::Bmmal) {
        let bytes = kmeanspp_step_bytes(pool, classes, dims) as f64;
        let steps = budget.saturating_sub(1) as f64;
        let effective = bytes * steps / seconds / 1e9;
        let copy = copy_bandwidth();
        out["kmeanspp_bytes_per_step"] = bytes.into();
        out["effective_gb_per_s"] = effective.into();
        out["copy_gb_per_s"] = copy.into();
        out["bandwidth_fraction"] = (effective / copy).into();
    }
    Ok(out)
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
