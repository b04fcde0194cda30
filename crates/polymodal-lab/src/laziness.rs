//! `polymodal laziness`: how much each modality learns less inside the fused model than alone.
//!
//! The laziness gap of modality `m` = accuracy of a model trained on `m` alone − accuracy of
//! `m`'s head in the jointly trained model, both on the same split. With `train.heads = "probe"`
//! the head is a linear probe on detached features, so the gap measures what the fused-only
//! training left the encoder without (modality competition, docs/MODALITY_BALANCE.md). With
//! joint heads the auxiliary loss trains the encoder directly, and the gap is usually small.
//!
//! For every seed one fused model and one model per modality are trained (the same config,
//! the dataset restricted to that modality). Each cell is written to `cells/seed<s>/<cell>/`,
//! `row.json` last, so an interrupted run resumes with the same numbers.

use crate::cell::{run_cell, run_parallel, CellRequest};
use crate::config::{Checked, RunConfig};
use crate::csvfile;
use crate::data::{load_data, Locations};
use crate::progress::Progress;
use crate::rundir::RunDir;
use crate::stats::mean_std;
use crate::LabError;
use polymodal_core::{fsutil, Split};
use polymodal_data::Dataset;
use polymodal_train::trainer::Silent;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

pub const CONFIG_FILE: &str = "config.toml";
pub const RESULTS_CSV: &str = "laziness.csv";
pub const TABLE_MD: &str = "table.md";
pub const REPORT_MD: &str = "report.md";

/// One trained cell: the fused model (`modality = None`) or one modality alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CellRow {
    /// Fused accuracy of the cell's model on the split.
    accuracy: f64,
    /// Per modality of the cell's model: its head's accuracy on the split.
    #[serde(with = "crate::stats::nan_vec")]
    head_accuracy: Vec<f64>,
    best_epoch: usize,
    train_seconds: f64,
}

/// One seed's result (a group of rows of `laziness.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    /// Fused accuracy of the jointly trained model.
    pub fused: f64,
    /// Per modality (dataset order): accuracy of the model trained on it alone.
    pub alone: Vec<f64>,
    /// Per modality: accuracy of its head (probe or auxiliary) in the fused model.
    pub in_fused: Vec<f64>,
}

impl SeedResult {
    /// Per modality: alone − in fused.
    pub fn gap(&self) -> Vec<f64> {
        self.alone
            .iter()
            .zip(&self.in_fused)
            .map(|(a, b)| a - b)
            .collect()
    }
}

pub struct Summary {
    pub modalities: Vec<String>,
    pub split: Split,
    pub seeds: Vec<SeedResult>,
}

/// The dataset with only modality `m` (the rest unchanged); its fingerprint names the choice.
pub fn only_modality(data: &Dataset, m: usize) -> Dataset {
    Dataset {
        name: format!("{}[{}]", data.name, data.modalities[m].spec.name),
        ids: data.ids.clone(),
        labels: data.labels.clone(),
        class_names: data.class_names.clone(),
        splits: data.splits.clone(),
        modalities: vec![data.modalities[m].clone()],
        fingerprint: format!("{}+only:{}", data.fingerprint, data.modalities[m].spec.name),
    }
}

fn split_name(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Val => "val",
        Split::Test => "test",
    }
}

fn train_cell(
    config: &RunConfig,
    data: &Dataset,
    dir: &Path,
    seed: u64,
    split: Split,
) -> Result<CellRow, LabError> {
    let row_path = dir.join("row.json");
    if row_path.exists() {
        return Ok(fsutil::read_json(&row_path)?);
    }
    let mut train_idx = data.split_indices(Split::Train);
    train_idx.retain(|&i| data.labels[i].is_some());
    if config.train.max_train_samples > 0 {
        train_idx.truncate(config.train.max_train_samples);
    }
    let val_idx = data.split_indices(Split::Val);
    let eval_idx = data.split_indices(split);
    let cell = run_cell(
        CellRequest {
            data,
            model: &config.model,
            train: &config.train,
            augment: &config.augment,
            train_indices: &train_idx,
            val_indices: &val_idx,
            test_indices: &eval_idx,
            seed,
            dir,
            init_from: None,
        },
        &mut Silent,
    )?;
    let report = cell
        .test
        .as_ref()
        .ok_or_else(|| LabError::Invalid(format!("the {} split is empty", split_name(split))))?;
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let row = CellRow {
        accuracy: report.fused.accuracy,
        head_accuracy: cell.modality_accuracy(&names),
        best_epoch: cell.outcome.best_epoch,
        train_seconds: cell.train_seconds,
    };
    fsutil::write_json_atomic(&row_path, &row)?;
    Ok(row)
}

/// Runs (or resumes) the laziness measurement into `out`, on `split` (val or test), for
/// every seed in `seeds`, with up to `workers` cells training at once.
pub fn run(
    mut config: Checked<RunConfig>,
    seeds: &[u64],
    split: Split,
    workers: usize,
    out: &Path,
    at: &Locations,
    progress: &dyn Progress,
) -> Result<Summary, LabError> {
    if seeds.is_empty() {
        return Err(LabError::Invalid("laziness: give at least one seed".into()));
    }
    if split == Split::Train {
        return Err(LabError::Invalid(
            "laziness: --split must be val or test (the models train on the train split)".into(),
        ));
    }
    let cfg = config.get_mut();
    let data = load_data(&mut cfg.dataset, &mut cfg.data, at)?;
    let resolved = format!(
        "# polymodal laziness: seeds {seeds:?}, split {}\n{}",
        split_name(split),
        config.to_toml()?
    );
    let mut dir = RunDir::create_or_resume(
        out,
        "laziness",
        seeds[0],
        &data.fingerprint,
        CONFIG_FILE,
        &resolved,
    )?;
    dir.run(|dir| measure(&config, &data, seeds, split, workers, dir, progress))
}

fn measure(
    config: &RunConfig,
    data: &Dataset,
    seeds: &[u64],
    split: Split,
    workers: usize,
    dir: &RunDir,
    progress: &dyn Progress,
) -> Result<Summary, LabError> {
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let m = names.len();
    if m < 2 {
        return Err(LabError::Invalid(format!(
            "laziness needs at least two modalities; {} has {m}",
            data.name
        )));
    }
    let alone: Vec<Dataset> = (0..m).map(|k| only_modality(data, k)).collect();
    // Cell k of a seed: 0 = fused, 1 + j = modality j alone.
    let jobs: Vec<(u64, usize)> = seeds
        .iter()
        .flat_map(|&s| (0..=m).map(move |k| (s, k)))
        .collect();
    progress.start("laziness", jobs.len() as u64);
    let cell_dir = |seed: u64, k: usize| {
        let name = if k == 0 {
            "fused".to_string()
        } else {
            format!("only-{}", names[k - 1])
        };
        dir.path
            .join("cells")
            .join(format!("seed{seed}"))
            .join(name)
    };
    run_parallel(jobs.len(), workers.max(1), |i| {
        let (seed, k) = jobs[i];
        let d = if k == 0 { data } else { &alone[k - 1] };
        let mut run = config.clone();
        run.seed = seed;
        train_cell(&run, d, &cell_dir(seed, k), seed, split)?;
        progress.advance(&format!("seed {seed} cell {k}"));
        Ok(())
    })?;
    progress.finish();
    let mut results = Vec::new();
    for &seed in seeds {
        let fused: CellRow = fsutil::read_json(&cell_dir(seed, 0).join("row.json"))?;
        let mut alone_acc = Vec::new();
        for k in 1..=m {
            let r: CellRow = fsutil::read_json(&cell_dir(seed, k).join("row.json"))?;
            alone_acc.push(r.accuracy);
        }
        results.push(SeedResult {
            seed,
            fused: fused.accuracy,
            alone: alone_acc,
            in_fused: fused.head_accuracy,
        });
    }
    let summary = Summary {
        modalities: names,
        split,
        seeds: results,
    };
    write_outputs(dir, config, data, &summary)?;
    Ok(summary)
}

/// The mean ± std table (markdown), one row per modality.
pub fn table(summary: &Summary, heads: polymodal_train::HeadMode) -> String {
    let mut md = String::new();
    let n = summary.seeds.len();
    let fused: Vec<f64> = summary.seeds.iter().map(|s| s.fused).collect();
    let (fm, fs) = mean_std(&fused);
    let _ = writeln!(
        md,
        "{} split, {n} seed(s), heads = {heads}; fused accuracy {fm:.4} ± {fs:.4}.\n",
        split_name(summary.split)
    );
    let _ = writeln!(
        md,
        "| modality | alone | in the fused model ({}) | laziness gap |",
        match heads {
            polymodal_train::HeadMode::Joint => "joint aux head",
            polymodal_train::HeadMode::Probe => "detached probe",
        }
    );
    let _ = writeln!(md, "|---|---|---|---|");
    for (k, name) in summary.modalities.iter().enumerate() {
        let col = |f: &dyn Fn(&SeedResult) -> f64| {
            let v: Vec<f64> = summary.seeds.iter().map(f).collect();
            let (m, s) = mean_std(&v);
            format!("{m:.4} ± {s:.4}")
        };
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} |",
            col(&|s| s.alone[k]),
            col(&|s| s.in_fused[k]),
            col(&|s| s.gap()[k])
        );
    }
    md
}

fn write_outputs(
    dir: &RunDir,
    config: &RunConfig,
    data: &Dataset,
    summary: &Summary,
) -> Result<(), LabError> {
    let header: Vec<String> = [
        "seed", "modality", "alone", "in_fused", "gap", "fused", "heads",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for s in &summary.seeds {
        let gap = s.gap();
        for (k, name) in summary.modalities.iter().enumerate() {
            rows.push(vec![
                s.seed.to_string(),
                name.clone(),
                format!("{:.6}", s.alone[k]),
                format!("{:.6}", s.in_fused[k]),
                format!("{:.6}", gap[k]),
                format!("{:.6}", s.fused),
                config.train.heads.to_string(),
            ]);
        }
    }
    csvfile::write(&dir.file(RESULTS_CSV), &header, &rows)?;
    let table = table(summary, config.train.heads);
    fsutil::write_atomic(&dir.file(TABLE_MD), table.as_bytes())?;
    let mut md = String::new();
    let _ = writeln!(md, "# Laziness gap\n");
    let _ = writeln!(
        md,
        "Dataset **{}** (fingerprint `{}`), fusion **{}**, `train.heads = \"{}\"`.\n",
        data.name, data.fingerprint, config.model.fusion, config.train.heads
    );
    let _ = writeln!(
        md,
        "Laziness gap of a modality = accuracy of a model trained on it alone − accuracy of its \
         head in the fused model, on the same split. Positive: the modality learned less inside \
         the fused model than alone. With `heads = \"probe\"` the head is a linear probe on \
         detached features, so it reads what the fused-only training left in the encoder.\n"
    );
    md.push_str(&table);
    let _ = writeln!(md, "\nPer seed: `{RESULTS_CSV}`; cells: `cells/seed<s>/`.");
    fsutil::write_atomic(&dir.file(REPORT_MD), md.as_bytes())?;
    Ok(())
}
