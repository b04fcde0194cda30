//! Real active-learning rounds on a labelling project: train a model on the labels given so
//! far, select the next batch with any strategy, and queue it for the labelling page.
//!
//! Round `r`'s model trains on every label given up to round `r` in a fixed order (the
//! project's initial labels, then each round's selection in rank order) with the training seed
//! `derive(seed, "round<r>")`, and round `r + 1` selects with the seeds
//! `derive(seed, "<strategy>/<r + 1>/mc")` and `rng(seed, "<strategy>/<r + 1>/select")`: the
//! same as `simulate` for the same seed and strategy, so a labelling project replayed with the
//! hidden labels follows the simulation's learning curve exactly.

use crate::cell::{run_cell, CellRequest, CHECKPOINT};
use crate::config::RunConfig;
use crate::project::{Project, RoundStatus};
use crate::simulate::ModelContext;
use crate::LabError;
use polymodal_active::coldstart::{ColdStartKind, ColdStartParams};
use polymodal_active::{StrategyKind, StrategyParams};
use polymodal_core::Split;
use polymodal_data::Dataset;
use polymodal_train::TrainObserver;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where round `r`'s model lives in the project.
pub fn round_dir(project: &Path, round: u32) -> PathBuf {
    project.join("models").join(format!("round{round}"))
}

/// What a trained round records (in the project database and `metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    pub round: u32,
    pub n_labeled: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Per modality (dataset order): test accuracy of its own head.
    pub modality_accuracy: Vec<f64>,
    /// Per modality: mean Shapley contribution at the true label on the test split.
    pub contribution: Vec<f64>,
    pub modalities: Vec<String>,
    pub train_seconds: f64,
}

/// The project config: a training config (`configs/avdigits.toml` keys; its `seed` seeds every
/// round) plus the strategy parameters.
fn project_config(project: &Project) -> Result<(RunConfig, StrategyParams), LabError> {
    let origin = format!("{} (project config)", project.dir().display());
    let mut table: toml::Table = project
        .config_toml()?
        .parse()
        .map_err(|e| LabError::Config {
            origin: origin.clone(),
            message: format!("malformed TOML: {e}"),
        })?;
    let params = match table.remove("strategy") {
        Some(v) => v.try_into().map_err(|e| LabError::Config {
            origin: origin.clone(),
            message: format!("key `strategy`: {e}"),
        })?,
        None => StrategyParams::default(),
    };
    params.check()?;
    let text = toml::to_string(&table).map_err(|e| LabError::Config {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    let cfg = RunConfig::parse(&text, &origin, &[])?
        .check(&origin)?
        .into_inner();
    Ok((cfg, params))
}

/// The project's data with the project's labels on the train split (the dataset's own train
/// labels are what the project was given; hidden ones stay hidden).
struct RoundData {
    data: Dataset,
    index: HashMap<String, usize>,
    /// Labelled train indices in labelling order.
    labelled: Vec<usize>,
    val: Vec<usize>,
    test: Vec<usize>,
    names: Vec<String>,
}

fn round_data(project: &Project, cfg: &RunConfig) -> Result<RoundData, LabError> {
    // The values come with the project config's settings (AV-Digits degradations, text
    // features), as `train` and `simulate` load them; ids, labels and splits do not depend on
    // them.
    let mut data = match project.dataset() {
        crate::project::DatasetSource::AvDigits(dir) => {
            let mut av = cfg.data.clone();
            av.path = dir.clone();
            av.load()?
        }
        crate::project::DatasetSource::Store(dir) => polymodal_data::store::load(
            dir,
            &polymodal_data::store::StoreLoadConfig {
                text_features: cfg.dataset.text_features,
            },
        )?,
    };
    let index: HashMap<String, usize> = data
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.0.clone(), i))
        .collect();
    let given: HashMap<String, usize> = project.labels()?.into_iter().collect();
    for i in 0..data.len() {
        if data.splits[i] == Split::Train {
            data.labels[i] = given.get(&data.ids[i].0).copied();
        }
    }
    let mut labelled = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for id in project.label_order()? {
        let i = *index
            .get(&id)
            .ok_or_else(|| LabError::UnknownId(id.clone()))?;
        if data.labels[i].is_some() && seen.insert(i) {
            labelled.push(i);
        }
    }
    let val = data.split_indices(Split::Val);
    let test = data.split_indices(Split::Test);
    let names = data.specs().into_iter().map(|s| s.name).collect();
    Ok(RoundData {
        data,
        index,
        labelled,
        val,
        test,
        names,
    })
}

/// Trains the model of the latest round on every label given so far and records it.
pub fn train(
    project_dir: &Path,
    observer: &mut dyn TrainObserver,
) -> Result<RoundMetrics, LabError> {
    let mut project = Project::open(project_dir)?;
    let _lock = project.lock_training()?;
    let (cfg, _) = project_config(&project)?;
    let d = round_data(&project, &cfg)?;
    if d.labelled.is_empty() {
        return Err(LabError::Invalid(format!(
            "{}: no labels yet; label some samples (label serve / label import) first",
            project_dir.display()
        )));
    }
    project.ensure_round_zero()?;
    let round = project.rounds()?.last().map_or(0, |r| r.number);
    let dir = round_dir(project_dir, round);
    let cell = run_cell(
        CellRequest {
            data: &d.data,
            model: &cfg.model,
            train: &cfg.train,
            augment: &cfg.augment,
            train_indices: &d.labelled,
            val_indices: &d.val,
            test_indices: &d.test,
            seed: polymodal_core::seed::derive(cfg.seed, &format!("round{round}")),
            dir: &dir,
            init_from: None,
        },
        observer,
    )?;
    let test = cell
        .test
        .as_ref()
        .ok_or_else(|| LabError::Invalid("the dataset has no test split".into()))?;
    let metrics = RoundMetrics {
        round,
        n_labeled: d.labelled.len(),
        accuracy: test.fused.accuracy,
        macro_f1: test.fused.macro_f1,
        modality_accuracy: cell.modality_accuracy(&d.names),
        contribution: cell.per_modality(&d.names, |m, n| m.contribution.get(n).copied()),
        modalities: d.names.clone(),
        train_seconds: cell.train_seconds,
    };
    let json = serde_json::to_string(&metrics)
        .map_err(|e| LabError::Invalid(format!("round metrics: {e}")))?;
    polymodal_core::fsutil::write_atomic(&dir.join("metrics.json"), json.as_bytes())?;
    project.record_round(round, Some(&dir.join(CHECKPOINT)), &json)?;
    write_report(project_dir, &project)?;
    Ok(metrics)
}

pub const REPORT: &str = "report.md";

/// `report.md` and `curves.svg/png` in the project: the learning curve of the rounds so far
/// (fused and per-modality test accuracy against labels) and a table of the rounds.
pub fn write_report(project_dir: &Path, project: &Project) -> Result<(), LabError> {
    use crate::plot::{write_figure, Panel};
    use std::fmt::Write as _;
    let rounds: Vec<(String, RoundMetrics)> = project
        .rounds()?
        .into_iter()
        .filter_map(|r| {
            let m: RoundMetrics = serde_json::from_str(r.metrics.as_deref()?).ok()?;
            Some((r.strategy, m))
        })
        .collect();
    let Some((_, first)) = rounds.first() else {
        return Ok(());
    };
    let names = first.modalities.clone();
    let point = |m: &RoundMetrics, v: f64| (m.n_labeled as f64, v, 0.0);
    let mut fused = vec![("fused".to_string(), Vec::new())];
    let mut per: Vec<(String, crate::plot::Curve)> = names
        .iter()
        .map(|n| (format!("{n} only"), Vec::new()))
        .collect();
    for (_, m) in &rounds {
        fused[0].1.push(point(m, m.accuracy));
        for (k, series) in per.iter_mut().enumerate() {
            let v = m.modality_accuracy.get(k).copied().unwrap_or(f64::NAN);
            series.1.push(point(m, v));
        }
    }
    write_figure(
        project_dir,
        "curves",
        &[
            Panel {
                title: "fused test accuracy".into(),
                y_label: "accuracy".into(),
                series: fused,
            },
            Panel {
                title: "per-modality test accuracy".into(),
                y_label: "accuracy".into(),
                series: per,
            },
        ],
        "labelled samples",
    )?;
    let mut md = String::new();
    writeln!(
        md,
        "# Labelling project
"
    )?;
    writeln!(
        md,
        "Dataset `{}`.
",
        project.dataset().path().display()
    )?;
    writeln!(
        md,
        "![learning curve](curves.svg)
"
    )?;
    write!(md, "| round | strategy | labels | fused acc | macro-F1 |")?;
    for n in &names {
        write!(md, " {n} acc | {n} contribution |")?;
    }
    writeln!(md)?;
    writeln!(md, "|{}", "---|".repeat(5 + 2 * names.len()))?;
    for (strategy, m) in &rounds {
        write!(
            md,
            "| {} | {strategy} | {} | {:.4} | {:.4} |",
            m.round, m.n_labeled, m.accuracy, m.macro_f1
        )?;
        for k in 0..names.len() {
            let a = m.modality_accuracy.get(k).copied().unwrap_or(f64::NAN);
            let c = m.contribution.get(k).copied().unwrap_or(f64::NAN);
            write!(md, " {a:.4} | {c:.4} |")?;
        }
        writeln!(md)?;
    }
    polymodal_core::fsutil::write_atomic(&project_dir.join(REPORT), md.as_bytes())?;
    Ok(())
}

/// Selects `budget` samples from the pool with `kind`, using the latest round's model (trained
/// first if the latest round has labels but no model yet), and queues them as a new round.
pub fn select(
    project_dir: &Path,
    kind: StrategyKind,
    budget: usize,
    observer: &mut dyn TrainObserver,
) -> Result<(u32, Vec<String>), LabError> {
    let needs_training = {
        let project = Project::open(project_dir)?;
        match project.rounds()?.last() {
            None => true,
            Some(r) => r.status != RoundStatus::Trained,
        }
    };
    if budget == 0 {
        return Err(LabError::Invalid("--budget must be at least 1".into()));
    }
    if needs_training {
        let p = Project::open(project_dir)?;
        if let Some(r) = p.rounds()?.last() {
            if r.pending > 0 {
                return Err(LabError::Invalid(format!(
                    "round {} still has {} samples to label; label them (label serve / label import) or train with what there is (round train)",
                    r.number, r.pending
                )));
            }
        }
        drop(p);
        train(project_dir, observer)?;
    }
    let mut project = Project::open(project_dir)?;
    let (cfg, params) = project_config(&project)?;
    let last = project
        .rounds()?
        .last()
        .cloned()
        .ok_or_else(|| LabError::Invalid("no trained round".into()))?;
    let d = round_data(&project, &cfg)?;
    let pool: Vec<usize> = project
        .pool()?
        .iter()
        .map(|id| {
            d.index
                .get(id)
                .copied()
                .ok_or_else(|| LabError::UnknownId(id.clone()))
        })
        .collect::<Result<_, _>>()?;
    if budget > pool.len() {
        return Err(LabError::Invalid(format!(
            "budget {budget} is larger than the unlabelled pool of {} samples",
            pool.len()
        )));
    }
    let device = polymodal_nn::backend::inference_device();
    let model = cfg
        .model
        .init(&d.data.specs(), d.data.num_classes(), &device)?
        .load_safetensors(&round_dir(project_dir, last.number).join(CHECKPOINT))?;
    let next = last.number + 1;
    let name = kind.to_string();
    let seed = cfg.seed;
    let mc_seed = polymodal_core::seed::derive(seed, &format!("{name}/{next}/mc"));
    let mut ctx = ModelContext::new(
        &model,
        &d.data,
        pool,
        d.labelled.clone(),
        cfg.train.eval_batch_size,
        mc_seed,
    );
    let mut rng = polymodal_core::seed::rng(seed, &format!("{name}/{next}/select"));
    let picked = kind.build(&params).select(&mut ctx, budget, &mut rng)?;
    let ids: Vec<String> = picked.iter().map(|&i| d.data.ids[i].0.clone()).collect();
    let round = project.queue_round(&name, budget, &ids)?;
    Ok((round, ids))
}

/// Queues a cold-start batch: `budget` samples of the unlabelled pool chosen by `kind` on the
/// cached embeddings of a pretraining run of the project's dataset (docs/COLD_START.md). Needs
/// no labels and trains nothing, so it is how a project with zero labels gets its first batch.
/// The pool's rows are looked up by id in the pretraining run; a pool sample it lacks is an
/// error naming it (the run was made from another dataset).
pub fn select_cold(
    project_dir: &Path,
    pretrained: &Path,
    kind: ColdStartKind,
    params: &ColdStartParams,
    budget: usize,
) -> Result<(u32, Vec<String>), LabError> {
    if budget == 0 {
        return Err(LabError::Invalid("--budget must be at least 1".into()));
    }
    params.check()?;
    let mut project = Project::open(project_dir)?;
    if let Some(r) = project.rounds()?.last() {
        if r.pending > 0 {
            return Err(LabError::Invalid(format!(
                "round {} still has {} samples to label; label them (label serve / label import) or train with what there is (round train)",
                r.number, r.pending
            )));
        }
    }
    let (cfg, _) = project_config(&project)?;
    let emb = crate::pretrain::load_embeddings(pretrained)?;
    let pool_ids = project.pool()?;
    let pool = emb.rows_of(pool_ids.iter().map(String::as_str), |id| {
        LabError::Invalid(format!(
            "the pretraining run {} has no embedding for pool sample `{id}`: pretrain on this project's dataset",
            pretrained.display()
        ))
    })?;
    if budget > pool.len() {
        return Err(LabError::Invalid(format!(
            "budget {budget} is larger than the unlabelled pool of {} samples",
            pool.len()
        )));
    }
    let (rows, _, _) = crate::coldstart::select(&emb, &pool, kind, params, budget, cfg.seed)?;
    let ids: Vec<String> = rows.iter().map(|&r| emb.index.ids[r].clone()).collect();
    let round = project.queue_round(&kind.to_string(), budget, &ids)?;
    Ok((round, ids))
}

/// Labels every sample the latest round selected with the dataset's own (hidden) label, as an
/// import by `dataset oracle`: replaying a simulation on a fully labelled dataset, or
/// checking a strategy before paying for labels. Returns how many labels were given.
pub fn label_from_dataset(project_dir: &Path) -> Result<usize, LabError> {
    let mut project = Project::open(project_dir)?;
    let Some(last) = project.rounds()?.last().cloned() else {
        return Ok(0);
    };
    let info = project.dataset().inspect()?;
    let truth: HashMap<&str, usize> = info
        .ids
        .iter()
        .zip(&info.labels)
        .filter_map(|(id, l)| l.map(|l| (id.as_str(), l)))
        .collect();
    let given: std::collections::HashSet<String> =
        project.labels()?.into_iter().map(|(id, _)| id).collect();
    let mut rows = Vec::new();
    for id in project.selection(last.number)? {
        if given.contains(&id) {
            continue;
        }
        let label = truth.get(id.as_str()).ok_or_else(|| {
            LabError::Invalid(format!(
                "sample `{id}` has no label in the dataset: the dataset cannot label it"
            ))
        })?;
        rows.push(vec![id.clone(), info.class_names[*label].clone()]);
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let file = project_dir.join(format!(".oracle-round{}.csv", last.number));
    crate::csvfile::write(&file, &["id".into(), "label".into()], &rows)?;
    let outcome = project.import_labels(
        &file,
        "dataset oracle",
        crate::project::ImportPolicy::Refuse,
    );
    let _ = std::fs::remove_file(&file);
    Ok(outcome?.added)
}

/// What `project init` was asked for, before anything is resolved.
#[derive(Debug, Clone, Default)]
pub struct ProjectRequest {
    /// An imported dataset directory; `None` is the built-in AV-Digits.
    pub dataset: Option<PathBuf>,
    /// A run config TOML whose text the project keeps for its rounds.
    pub config: Option<PathBuf>,
    /// Keep only this many dataset labels (the round-0 set of `seed`); `None` keeps all.
    pub keep_labels: Option<usize>,
    pub seed: u64,
}

/// Creates a labelling project at `out`: finds the dataset (AV-Digits through `at`), decides
/// which dataset labels it keeps, reads the config text and initialises the project.
pub fn init_project(
    out: &Path,
    request: &ProjectRequest,
    at: &crate::data::Locations,
) -> Result<Project, LabError> {
    use crate::project::{DatasetLabels, DatasetSource, InitOptions};
    let source = match &request.dataset {
        Some(d) => DatasetSource::Store(d.clone()),
        None => {
            let mut cfg = polymodal_data::AvDigitsConfig::default();
            crate::data::resolve_avdigits_path(&mut cfg, at)?;
            DatasetSource::AvDigits(cfg.path)
        }
    };
    let dataset_labels = match request.keep_labels {
        None => DatasetLabels::All,
        Some(n) => DatasetLabels::Only(kept_labels(&source, request.seed, n)?),
    };
    let config_toml = match &request.config {
        Some(p) => std::fs::read_to_string(p).map_err(|e| LabError::io(p, e))?,
        None => String::new(),
    };
    Project::init(
        out,
        &InitOptions {
            dataset: source,
            config_toml,
            dataset_labels,
        },
    )
}

/// The `n` train labels a project keeps when it hides the rest: the round-0 set `simulate`
/// draws for `seed`, in its order. `n = 0` hides every label: a cold start, whose first batch
/// comes from `round select --pretrained`.
pub fn kept_labels(
    source: &crate::project::DatasetSource,
    seed: u64,
    n: usize,
) -> Result<Vec<String>, LabError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let data = source.load()?.data;
    let available = data.labelled_indices(Split::Train).len();
    if n > available {
        return Err(LabError::Invalid(format!(
            "--keep-labels {n}: the dataset has {available} labelled training samples"
        )));
    }
    Ok(crate::simulate::initial_set(&data, seed, n)
        .into_iter()
        .map(|i| data.ids[i].0.clone())
        .collect())
}
