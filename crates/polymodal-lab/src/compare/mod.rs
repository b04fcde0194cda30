//! `polymodal compare`: train every fusion with and without OGM-GE over several seeds and write
//! one table — fused accuracy, per-modality accuracy, mean Shapley contribution per modality,
//! fused accuracy with each modality dropped, parameter count, training time.
//!
//! Each (fusion, OGM, seed) cell is written to `cells/<fusion>/ogm-<on|off>/seed<s>/`, `row.json`
//! last, so an interrupted comparison resumes with the same results when rerun.

pub mod config;

use crate::cell::{run_cell, run_parallel, CellRequest};
use crate::config::Checked;
use crate::csvfile;
use crate::data::{load_data, Locations};
use crate::progress::Progress;
use crate::rundir::RunDir;
use crate::stats::mean_std;
use crate::LabError;
use config::CompareConfig;
use polymodal_core::{fsutil, Split};
use polymodal_data::Dataset;
use polymodal_nn::fusion::FusionKind;
use polymodal_train::trainer::Silent;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
    #[serde(with = "crate::stats::nan_vec")]
    pub modality_accuracy: Vec<f64>,
    /// Per modality: mean Shapley contribution at the true label (test split).
    #[serde(with = "crate::stats::nan_vec")]
    pub contribution: Vec<f64>,
    /// Per modality: fused test accuracy with that modality zeroed at the fusion input.
    #[serde(with = "crate::stats::nan_vec")]
    pub accuracy_without: Vec<f64>,
    pub params: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub train_seconds: f64,
    /// Mean OGM coefficient applied to the dominant encoder per modality (NaN if never dominant;
    /// empty without OGM-GE).
    #[serde(with = "crate::stats::nan_vec")]
    pub ogm_mean_coefficient: Vec<f64>,
    /// Fraction of modulated steps in which each modality was dominant.
    #[serde(with = "crate::stats::nan_vec")]
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
) -> Result<Row, LabError> {
    let dir = cell_dir(out, fusion, ogm, seed);
    let row_path = dir.join("row.json");
    if row_path.exists() {
        return Ok(fsutil::read_json(&row_path)?);
    }
    let run = cfg.run_config(fusion, ogm, seed);
    let mut train_idx = data.split_indices(Split::Train);
    train_idx.retain(|&i| data.labels[i].is_some());
    if run.train.max_train_samples > 0 {
        train_idx.truncate(run.train.max_train_samples);
    }
    let val_idx = data.split_indices(Split::Val);
    let test_idx = data.split_indices(Split::Test);
    let cell = run_cell(
        CellRequest {
            data,
            model: &run.model,
            train: &run.train,
            augment: &run.augment,
            train_indices: &train_idx,
            val_indices: &val_idx,
            test_indices: &test_idx,
            seed,
            dir: &dir,
            init_from: None,
        },
        &mut Silent,
    )
    .map_err(|e| e.context(format!("{fusion} ogm={ogm} seed {seed}")))?;
    let report = cell
        .test
        .as_ref()
        .ok_or_else(|| LabError::Invalid("the test split is empty".into()))?;
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let outcome = &cell.outcome;
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
        contribution: cell.per_modality(&names, |d, n| d.contribution.get(n).copied()),
        accuracy_without: cell.per_modality(&names, |d, n| d.accuracy_without.get(n).copied()),
        params: outcome.model.parameter_count(),
        epochs_run: outcome.history.len(),
        best_epoch: outcome.best_epoch,
        train_seconds: cell.train_seconds,
        ogm_mean_coefficient,
        ogm_dominant_share,
    };
    fsutil::write_json_atomic(&row_path, &row)?;
    Ok(row)
}

/// Runs or resumes the comparison into `out`; returns every row.
pub fn run(
    mut cfg: Checked<CompareConfig>,
    out: &Path,
    at: &Locations,
    progress: &dyn Progress,
) -> Result<Vec<Row>, LabError> {
    let c = cfg.get_mut();
    let data = load_data(&mut c.base.dataset, &mut c.base.data, at)?;
    let resolved = cfg.to_toml()?;
    let mut dir = RunDir::create_or_resume(
        out,
        "compare",
        cfg.ext.seeds[0],
        &data.fingerprint,
        CONFIG_FILE,
        &resolved,
    )?;
    dir.run(|_| compare_into(&cfg, &data, out, progress))
}

fn compare_into(
    cfg: &CompareConfig,
    data: &Dataset,
    out: &Path,
    progress: &dyn Progress,
) -> Result<Vec<Row>, LabError> {
    let c = &cfg.ext;
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
    progress.start("compare", cells.len() as u64);
    run_parallel(cells.len(), c.workers, |i| {
        let row = train_cell(cfg, data, out, cells[i])?;
        progress.advance(&format!(
            "{} ogm={} seed {}: fused {:.4}, per modality {:?}, {:.0} s",
            row.fusion, row.ogm, row.seed, row.accuracy, row.modality_accuracy, row.train_seconds
        ));
        Ok(())
    })?;
    progress.finish();
    let rows: Vec<Row> = cells
        .iter()
        .map(|&(f, o, s)| fsutil::read_json(&cell_dir(out, f, o, s).join("row.json")))
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    write_results_csv(&out.join(RESULTS_CSV), &rows, &names)?;
    let table = table_md(cfg, &data.name, &rows, &names)?;
    fsutil::write_atomic(&out.join(TABLE_MD), table.as_bytes())?;
    Ok(rows)
}

fn write_results_csv(path: &Path, rows: &[Row], names: &[String]) -> Result<(), LabError> {
    let mut header: Vec<String> = ["fusion", "ogm", "seed", "accuracy", "macro_f1"]
        .map(String::from)
        .to_vec();
    for prefix in ["accuracy", "contribution", "accuracy_without"] {
        header.extend(csvfile::columns(names, prefix));
    }
    for n in names {
        header.push(format!("ogm_coefficient_{n}"));
        header.push(format!("ogm_dominant_share_{n}"));
    }
    header.extend(["params", "epochs_run", "best_epoch", "train_seconds"].map(String::from));
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.fusion.to_string(), r.ogm.to_string(), r.seed.to_string()];
            row.extend(csvfile::fixed(&[r.accuracy, r.macro_f1], 4));
            row.extend(csvfile::fixed(&r.modality_accuracy, 4));
            row.extend(csvfile::fixed(&r.contribution, 4));
            row.extend(csvfile::fixed(&r.accuracy_without, 4));
            for k in 0..names.len() {
                let c = r.ogm_mean_coefficient.get(k).copied().unwrap_or(f64::NAN);
                let s = r.ogm_dominant_share.get(k).copied().unwrap_or(f64::NAN);
                row.extend(csvfile::fixed(&[c, s], 4));
            }
            row.extend([
                r.params.to_string(),
                r.epochs_run.to_string(),
                r.best_epoch.to_string(),
                format!("{:.1}", r.train_seconds),
            ]);
            row
        })
        .collect();
    csvfile::write(path, &header, &table)
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
pub fn table_md(
    cfg: &CompareConfig,
    dataset: &str,
    rows: &[Row],
    names: &[String],
) -> Result<String, LabError> {
    let c = &cfg.ext;
    let train = &cfg.base.train;
    let mut md = String::new();
    writeln!(
        md,
        "Test split of {dataset}, mean ± sample std over seeds {:?}; {} epochs max (patience {}), {} training samples{}.\n",
        c.seeds,
        train.epochs,
        train.patience,
        if train.max_train_samples == 0 {
            "all".to_string()
        } else {
            format!("the first {}", train.max_train_samples)
        },
        if c.ogm.contains(&true) {
            format!(
                "; OGM-GE α = {}, epochs {}..{}, GE noise {}",
                train.ogm.alpha,
                train.ogm.start_epoch,
                if train.ogm.end_epoch == 0 {
                    "end".to_string()
                } else {
                    train.ogm.end_epoch.to_string()
                },
                if train.ogm.noise { "on" } else { "off" }
            )
        } else {
            String::new()
        }
    )?;
    // Joint heads and AdamW are the defaults and leave the table as it always was.
    if train.heads == polymodal_train::HeadMode::Probe {
        writeln!(
            md,
            "Per-modality accuracies are linear probes on detached features (`train.heads = \"probe\"`): the encoders trained on the fused loss alone.\n"
        )?;
    }
    if train.optimizer == polymodal_train::OptimizerKind::Sgd {
        writeln!(
            md,
            "Optimiser: SGD, lr {}, momentum {}, weight decay {}.\n",
            train.lr, train.momentum, train.weight_decay
        )?;
    }
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
