//! `polymodal compare`: train every fusion with and without OGM-GE over several seeds and write
//! one table — fused accuracy, per-modality accuracy, mean Shapley contribution per modality,
//! fused accuracy with each modality dropped, parameter count, training time.
//!
//! Each (fusion, OGM, seed) cell is written to `cells/<fusion>/ogm-<on|off>/seed<s>/`, `row.json`
//! last, so an interrupted comparison resumes with the same results when rerun.

pub mod config;

use crate::diagnostics;
use crate::rundir::RunDir;
use anyhow::{anyhow, Context as _, Result};
use config::CompareConfig;
use polymodal_core::{fsutil, Split};
use polymodal_data::Dataset;
use polymodal_nn::fusion::FusionKind;
use polymodal_train::trainer::{Silent, TrainRequest};
use polymodal_train::{evaluate, predict};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const CONFIG_FILE: &str = "config.toml";
pub const RESULTS_CSV: &str = "results.csv";
pub const TABLE_MD: &str = "table.md";

/// One trained and evaluated cell (a row of `results.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub fusion: FusionKind,
    pub ogm: bool,
    pub seed: u64,
    /// Fused test accuracy.
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Per modality (dataset order): test accuracy of its own head.
    pub modality_accuracy: Vec<f64>,
    /// Per modality: mean Shapley contribution at the true label (test split).
    pub contribution: Vec<f64>,
    /// Per modality: fused test accuracy with that modality zeroed at the fusion input.
    pub accuracy_without: Vec<f64>,
    pub params: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub train_seconds: f64,
    /// Mean OGM coefficient applied to the dominant encoder per modality (NaN if never dominant;
    /// empty without OGM-GE).
    pub ogm_mean_coefficient: Vec<f64>,
    /// Fraction of modulated steps in which each modality was dominant.
    pub ogm_dominant_share: Vec<f64>,
}

fn cell_dir(out: &Path, fusion: FusionKind, ogm: bool, seed: u64) -> PathBuf {
    out.join("cells")
        .join(fusion.name())
        .join(if ogm { "ogm-on" } else { "ogm-off" })
        .join(format!("seed{seed}"))
}

fn train_cell(
    cfg: &CompareConfig,
    data: &Dataset,
    out: &Path,
    (fusion, ogm, seed): (FusionKind, bool, u64),
) -> Result<Row> {
    let dir = cell_dir(out, fusion, ogm, seed);
    let row_path = dir.join("row.json");
    if row_path.exists() {
        return Ok(fsutil::read_json(&row_path)?);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let run = cfg.run_config(fusion, ogm, seed);
    let mut train_idx = data.split_indices(Split::Train);
    if run.train.max_train_samples > 0 {
        train_idx.truncate(run.train.max_train_samples);
    }
    let val_idx = data.split_indices(Split::Val);
    let test_idx = data.split_indices(Split::Test);
    let checkpoint = dir.join("model.safetensors");
    let started = Instant::now();
    let outcome = polymodal_train::train(
        TrainRequest {
            data,
            model: &run.model,
            train: &run.train,
            augment: &run.augment,
            train_indices: &train_idx,
            val_indices: &val_idx,
            seed,
            checkpoint: &checkpoint,
            init_from: None,
        },
        &mut Silent,
    )
    .with_context(|| format!("{fusion} ogm={ogm} seed {seed}"))?;
    let train_seconds = started.elapsed().as_secs_f64();
    let device = polymodal_nn::backend::inference_device();
    let bs = run.train.eval_batch_size;
    let preds = predict(&outcome.model, data, &test_idx, bs, &device);
    let report = evaluate(data, &preds)?;
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let diag = diagnostics::compute(&outcome.model, data, &test_idx, bs)?.map(|(d, _)| d);
    let by_name = |f: &dyn Fn(&diagnostics::ModalityDiagnostics, &str) -> Option<f64>| {
        names
            .iter()
            .map(|n| diag.as_ref().and_then(|d| f(d, n)).unwrap_or(f64::NAN))
            .collect::<Vec<f64>>()
    };
    let m = names.len();
    let steps = &outcome.ogm_steps;
    let (ogm_mean_coefficient, ogm_dominant_share) = if steps.is_empty() {
        (vec![], vec![])
    } else {
        (0..m)
            .map(|k| {
                let dom: Vec<f64> = steps
                    .iter()
                    .filter(|s| s.dominant == k)
                    .map(|s| s.coefficients[k])
                    .collect();
                let mean = if dom.is_empty() {
                    f64::NAN
                } else {
                    dom.iter().sum::<f64>() / dom.len() as f64
                };
                (mean, dom.len() as f64 / steps.len() as f64)
            })
            .unzip()
    };
    let row = Row {
        fusion,
        ogm,
        seed,
        accuracy: report.fused.accuracy,
        macro_f1: report.fused.macro_f1,
        modality_accuracy: names
            .iter()
            .map(|n| report.per_modality.get(n).map_or(f64::NAN, |r| r.accuracy))
            .collect(),
        contribution: by_name(&|d, n| d.contribution.get(n).copied()),
        accuracy_without: by_name(&|d, n| d.accuracy_without.get(n).copied()),
        params: outcome.model.parameter_count(),
        epochs_run: outcome.history.len(),
        best_epoch: outcome.best_epoch,
        train_seconds,
        ogm_mean_coefficient,
        ogm_dominant_share,
    };
    fsutil::write_json_atomic(&row_path, &row)?;
    Ok(row)
}

/// Runs or resumes the comparison into `out`; returns every row.
pub fn run(mut cfg: CompareConfig, out: &Path) -> Result<Vec<Row>> {
    // The comparison is defined on the built-in AV-Digits set (its `[data]` table).
    let data = crate::config::load_data(&mut Default::default(), &mut cfg.data)?;
    let resolved = toml::to_string_pretty(&cfg)?;
    let mut dir = RunDir::create_or_resume(
        out,
        "compare",
        cfg.compare.seeds[0],
        &data.fingerprint,
        CONFIG_FILE,
        &resolved,
    )?;
    let outcome = compare_into(&cfg, &data, out);
    dir.finish(&outcome.as_ref().map(|_| ()).map_err(|e| anyhow!("{e:#}")))?;
    outcome
}

fn compare_into(cfg: &CompareConfig, data: &Dataset, out: &Path) -> Result<Vec<Row>> {
    let c = &cfg.compare;
    let cells: Vec<(FusionKind, bool, u64)> = c
        .seeds
        .iter()
        .flat_map(|&s| {
            c.fusions
                .iter()
                .flat_map(move |&f| c.ogm.iter().map(move |&o| (f, o, s)))
        })
        .collect();
    tracing::info!(
        "comparing {} fusions x {} OGM variants x {} seeds = {} cells with {} workers",
        c.fusions.len(),
        c.ogm.len(),
        c.seeds.len(),
        cells.len(),
        c.workers
    );
    let done = std::sync::atomic::AtomicUsize::new(0);
    crate::simulate::run_parallel(cells.len(), c.workers, |i| {
        let row = train_cell(cfg, data, out, cells[i])?;
        let k = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        tracing::info!(
            "[{k}/{}] {} ogm={} seed {}: fused {:.4}, per modality {:?}, {:.0} s",
            cells.len(),
            row.fusion,
            row.ogm,
            row.seed,
            row.accuracy,
            row.modality_accuracy,
            row.train_seconds
        );
        Ok(())
    })?;
    let rows: Vec<Row> = cells
        .iter()
        .map(|&(f, o, s)| fsutil::read_json(&cell_dir(out, f, o, s).join("row.json")))
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    fsutil::write_atomic(
        &out.join(RESULTS_CSV),
        results_csv(&rows, &names)?.as_bytes(),
    )?;
    let table = table_md(cfg, &rows, &names)?;
    fsutil::write_atomic(&out.join(TABLE_MD), table.as_bytes())?;
    Ok(rows)
}

fn results_csv(rows: &[Row], names: &[String]) -> Result<String> {
    let mut csv = String::from("fusion,ogm,seed,accuracy,macro_f1");
    for prefix in ["accuracy", "contribution", "accuracy_without"] {
        for n in names {
            write!(csv, ",{prefix}_{n}")?;
        }
    }
    for n in names {
        write!(csv, ",ogm_coefficient_{n},ogm_dominant_share_{n}")?;
    }
    csv.push_str(",params,epochs_run,best_epoch,train_seconds\n");
    for r in rows {
        write!(
            csv,
            "{},{},{},{:.4},{:.4}",
            r.fusion, r.ogm, r.seed, r.accuracy, r.macro_f1
        )?;
        for v in r
            .modality_accuracy
            .iter()
            .chain(&r.contribution)
            .chain(&r.accuracy_without)
        {
            write!(csv, ",{v:.4}")?;
        }
        for k in 0..names.len() {
            let c = r.ogm_mean_coefficient.get(k).copied().unwrap_or(f64::NAN);
            let s = r.ogm_dominant_share.get(k).copied().unwrap_or(f64::NAN);
            write!(csv, ",{c:.4},{s:.4}")?;
        }
        writeln!(
            csv,
            ",{},{},{},{:.1}",
            r.params, r.epochs_run, r.best_epoch, r.train_seconds
        )?;
    }
    Ok(csv)
}

/// Mean and sample standard deviation.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn cell(v: &[f64]) -> String {
    let (m, s) = mean_std(v);
    if v.len() > 1 {
        format!("{m:.4} ± {s:.4}")
    } else {
        format!("{m:.4}")
    }
}

/// The comparison table (mean ± std over seeds) and the paired OGM-GE effect.
pub fn table_md(cfg: &CompareConfig, rows: &[Row], names: &[String]) -> Result<String> {
    let c = &cfg.compare;
    let mut md = String::new();
    writeln!(
        md,
        "Test split of AV-Digits, mean ± sample std over seeds {:?}; {} epochs max (patience {}), {} training samples{}.\n",
        c.seeds,
        cfg.train.epochs,
        cfg.train.patience,
        if cfg.train.max_train_samples == 0 {
            "all".to_string()
        } else {
            format!("the first {}", cfg.train.max_train_samples)
        },
        if c.ogm.contains(&true) {
            format!(
                "; OGM-GE α = {}, epochs {}..{}, GE noise {}",
                cfg.train.ogm.alpha,
                cfg.train.ogm.start_epoch,
                if cfg.train.ogm.end_epoch == 0 {
                    "end".to_string()
                } else {
                    cfg.train.ogm.end_epoch.to_string()
                },
                if cfg.train.ogm.noise { "on" } else { "off" }
            )
        } else {
            String::new()
        }
    )?;
    write!(md, "| fusion | OGM-GE | fused acc |")?;
    for n in names {
        write!(md, " {n} acc |")?;
    }
    for n in names {
        write!(md, " contrib. {n} |")?;
    }
    for n in names {
        write!(md, " fused w/o {n} |")?;
    }
    writeln!(md, " params | train s |")?;
    writeln!(md, "|{}", "---|".repeat(5 + 3 * names.len()))?;
    for &f in &c.fusions {
        for &o in &c.ogm {
            let rs: Vec<&Row> = rows
                .iter()
                .filter(|r| r.fusion == f && r.ogm == o)
                .collect();
            if rs.is_empty() {
                continue;
            }
            let col = |g: &dyn Fn(&Row) -> f64| cell(&rs.iter().map(|r| g(r)).collect::<Vec<_>>());
            write!(
                md,
                "| {f} | {} | {} |",
                if o { "on" } else { "off" },
                col(&|r| r.accuracy)
            )?;
            for k in 0..names.len() {
                write!(md, " {} |", col(&|r| r.modality_accuracy[k]))?;
            }
            for k in 0..names.len() {
                write!(md, " {} |", col(&|r| r.contribution[k]))?;
            }
            for k in 0..names.len() {
                write!(md, " {} |", col(&|r| r.accuracy_without[k]))?;
            }
            let secs = mean_std(&rs.iter().map(|r| r.train_seconds).collect::<Vec<_>>()).0;
            writeln!(md, " {} | {secs:.0} |", rs[0].params)?;
        }
    }
    if c.ogm.contains(&true) && c.ogm.contains(&false) {
        writeln!(
            md,
            "\nPaired effect of OGM-GE (on − off, same seed and initial weights), mean ± std over seeds:\n"
        )?;
        write!(md, "| fusion | Δ fused acc |")?;
        for n in names {
            write!(md, " Δ {n} acc |")?;
        }
        for n in names {
            write!(md, " Δ contrib. {n} |")?;
        }
        writeln!(md)?;
        writeln!(md, "|{}", "---|".repeat(2 + 2 * names.len()))?;
        let mut all = vec![Vec::new(); 1 + 2 * names.len()];
        for &f in &c.fusions {
            let pairs: Vec<(&Row, &Row)> = c
                .seeds
                .iter()
                .filter_map(|&s| {
                    let on = rows
                        .iter()
                        .find(|r| r.fusion == f && r.ogm && r.seed == s)?;
                    let off = rows
                        .iter()
                        .find(|r| r.fusion == f && !r.ogm && r.seed == s)?;
                    Some((on, off))
                })
                .collect();
            if pairs.is_empty() {
                continue;
            }
            let mut cols: Vec<Vec<f64>> =
                vec![pairs.iter().map(|(a, b)| a.accuracy - b.accuracy).collect()];
            for k in 0..names.len() {
                cols.push(
                    pairs
                        .iter()
                        .map(|(a, b)| a.modality_accuracy[k] - b.modality_accuracy[k])
                        .collect(),
                );
            }
            for k in 0..names.len() {
                cols.push(
                    pairs
                        .iter()
                        .map(|(a, b)| a.contribution[k] - b.contribution[k])
                        .collect(),
                );
            }
            write!(md, "| {f} |")?;
            for (acc, col) in all.iter_mut().zip(&cols) {
                let (m, s) = mean_std(col);
                write!(md, " {m:+.4} ± {s:.4} |")?;
                acc.extend_from_slice(col);
            }
            writeln!(md)?;
        }
        write!(md, "| **all fusions** |")?;
        for col in &all {
            let (m, s) = mean_std(col);
            write!(md, " {m:+.4} ± {s:.4} |")?;
        }
        writeln!(md)?;
    }
    Ok(md)
}
