//! Times one cold-start strategy on a synthetic pool and prints one JSON line.
//!
//! ```sh
//! cargo run --release -p polymodal-active --example bench_coldstart -- STRATEGY N BUDGET [REPS] [SEED] [key=value ...]
//! ```
//!
//! `key=value` pairs override [`ColdStartParams`] fields (`delta=1.0`, `coverage_points=1000`).
//!
//! The pool: two 128-d modalities in one shared space. Each sample belongs to one of 50 clusters
//! (sizes ∝ 1/(1 + k/10)); each modality row is its cluster centre (uniform in [-1, 1)^128) plus
//! uniform noise of amplitude 0.8, and 10 % of the samples are misaligned pairs whose second
//! modality comes from another cluster. `seconds` is the `select` call only (median of `REPS`
//! runs, rng stream `"coldstart"` of `SEED` each time) and `cpu_seconds` the process CPU time
//! (user + system, all threads, from /proc/self/stat at 100 ticks/s) of the same calls, which
//! says more than wall time on a shared machine; `peak_rss_mb` is the process's VmHWM
//! after the runs, `rss_before_mb` its VmRSS once the inputs exist. Quality columns:
//! `clusters_hit` (of 50), `misaligned_picked`, and the MMCSAL objective terms of the selection
//! (default parameters, same coverage subsample).

use std::time::Instant;

use polymodal_active::coldstart::{mmcsal_terms, ColdStart, ColdStartKind, ColdStartParams};
use polymodal_core::seed;
use rand::Rng as _;
use rayon::prelude::*;

const DIM: usize = 128;
const CLUSTERS: usize = 50;
const MISALIGNED: f32 = 0.1;
const NOISE: f32 = 0.8;
const CHUNK: usize = 1024;

/// `(embeddings M x [n, DIM], cluster of each sample, misaligned flag)`.
fn pool(n: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>, Vec<bool>) {
    let mut r = seed::rng(seed, "bench-coldstart/centres");
    let centres: Vec<f32> = (0..CLUSTERS * DIM)
        .map(|_| r.random::<f32>() * 2.0 - 1.0)
        .collect();
    let weights: Vec<f32> = (0..CLUSTERS)
        .map(|k| 1.0 / (1.0 + k as f32 / 10.0))
        .collect();
    let total: f32 = weights.iter().sum();
    let draw_cluster = |u: f32| {
        let mut acc = 0.0;
        for (k, w) in weights.iter().enumerate() {
            acc += w / total;
            if u < acc {
                return k;
            }
        }
        CLUSTERS - 1
    };
    let mut a = vec![0f32; n * DIM];
    let mut b = vec![0f32; n * DIM];
    let mut cluster = vec![0usize; n];
    let mut misaligned = vec![false; n];
    a.par_chunks_mut(CHUNK * DIM)
        .zip(b.par_chunks_mut(CHUNK * DIM))
        .zip(cluster.par_chunks_mut(CHUNK))
        .zip(misaligned.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, (((a, b), cl), mis))| {
            let mut r = seed::rng(seed, &format!("bench-coldstart/rows/{c}"));
            for (j, (k_out, m_out)) in cl.iter_mut().zip(mis.iter_mut()).enumerate() {
                let k = draw_cluster(r.random::<f32>());
                let k2 = if r.random::<f32>() < MISALIGNED {
                    *m_out = true;
                    (k + 1 + r.random_range(0..CLUSTERS - 1)) % CLUSTERS
                } else {
                    k
                };
                *k_out = k;
                for (row, kk) in [
                    (&mut a[j * DIM..(j + 1) * DIM], k),
                    (&mut b[j * DIM..(j + 1) * DIM], k2),
                ] {
                    for (o, &x) in row.iter_mut().zip(&centres[kk * DIM..(kk + 1) * DIM]) {
                        *o = x + NOISE * (r.random::<f32>() * 2.0 - 1.0);
                    }
                }
            }
        });
    (vec![a, b], cluster, misaligned)
}

fn status_mb(key: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// User + system CPU seconds of this process (all threads), assuming 100 clock ticks per second.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(f64::NAN))
        .collect();
    (f.get(11).copied().unwrap_or(f64::NAN) + f.get(12).copied().unwrap_or(f64::NAN)) / 100.0
}

/// Default parameters with `key=value` overrides (values parsed as JSON, else as strings).
fn params(overrides: &[String]) -> Result<ColdStartParams, Box<dyn std::error::Error>> {
    let mut obj = serde_json::Map::new();
    for kv in overrides {
        let (k, v) = kv
            .split_once('=')
            .ok_or(format!("expected key=value, got {kv:?}"))?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::from(v));
        obj.insert(k.to_string(), value);
    }
    Ok(serde_json::from_value(serde_json::Value::Object(obj))?)
}

fn main() -> anyhow_free::Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: bench_coldstart STRATEGY N BUDGET [REPS] [SEED]".into());
    }
    let kind: ColdStartKind = args[0].parse()?;
    let n: usize = args[1].parse()?;
    let budget: usize = args[2].parse()?;
    let reps: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let seed: u64 = args.get(4).map_or(Ok(1000), |s| s.parse())?;
    let dims = [DIM, DIM];

    let (emb, cluster, misaligned) = pool(n, seed);
    let rss_before = status_mb("VmRSS:");
    let params = params(args.get(5..).unwrap_or(&[]))?;
    let strategy = ColdStart::new(kind, params.clone())?;
    let mut seconds = Vec::with_capacity(reps);
    let mut cpu = Vec::with_capacity(reps);
    let mut result = None;
    for _ in 0..reps.max(1) {
        let mut rng = seed::rng(seed, "coldstart");
        let (start, cpu0) = (Instant::now(), cpu_seconds());
        let out = strategy.select_with_stats(&emb, &dims, budget, &mut rng)?;
        seconds.push(start.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - cpu0);
        result = Some(out);
    }
    let peak = status_mb("VmHWM:");
    let (ids, stats) = result.expect("at least one run");
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let mut sorted_cpu = cpu.clone();
    sorted_cpu.sort_by(f64::total_cmp);
    let hit: std::collections::HashSet<usize> = ids.iter().map(|&i| cluster[i]).collect();
    let terms = mmcsal_terms(
        &emb,
        &dims,
        &ids,
        &params,
        &mut seed::rng(seed, "coldstart"),
    )?;
    let naive: usize = (0..budget).map(|t| n - t).sum();
    let json = serde_json::json!({
        "strategy": kind.name(),
        "n": n,
        "dims": dims,
        "budget": budget,
        "seed": seed,
        "threads": rayon::current_num_threads(),
        "seconds": seconds,
        "median_seconds": median,
        "cpu_seconds": cpu,
        "median_cpu_seconds": sorted_cpu[sorted_cpu.len() / 2],
        "params": params,
        "gain_evaluations": stats.gain_evaluations,
        "cached_gain_evaluations": stats.cached_gain_evaluations,
        "naive_gain_evaluations": naive,
        "coverage_points": stats.coverage_points,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
        "clusters_hit": hit.len(),
        "misaligned_picked": ids.iter().filter(|&&i| misaligned[i]).count(),
        "coverage": terms.coverage,
        "diversity": terms.diversity,
        "alignment": terms.alignment,
        "objective": terms.objective,
    });
    println!("{json}");
    Ok(())
}

/// The example has no anyhow: boxed errors are enough for a benchmark binary.
mod anyhow_free {
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}
