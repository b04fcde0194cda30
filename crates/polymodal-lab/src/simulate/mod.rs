//! `polymodal simulate`: active learning on a labelled dataset with the labels hidden.
//!
//! For every seed a random round-0 set is labelled and a round-0 model trained once; every
//! strategy of that seed starts from them. Each round then selects `per_round` samples from the
//! unlabelled pool with the previous round's model, "labels" them, retrains and evaluates on the
//! test split. Each (strategy, seed, round) cell is written to its own directory, `row.json`
//! last, so an interrupted simulation resumes where it stopped with identical results.

mod coldstart;
pub mod config;
mod context;
pub mod outputs;

use crate::cell::{run_cell, run_parallel, CellRequest, CHECKPOINT};
use crate::config::Checked;
use crate::data::{load_data, Locations};
use crate::progress::Progress;
use crate::rundir::RunDir;
use crate::LabError;
use config::{Retrain, SimConfig};
pub use context::{ModelContext, SharedPool};
use polymodal_active::StrategyKind;
use polymodal_core::{fsutil, Split};
use polymodal_data::Dataset;
use polymodal_nn::MultimodalClassifier;
use polymodal_train::trainer::Silent;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

pub const CONFIG_FILE: &str = "config.toml";
const ROUND0: &str = "round0";

/// One evaluated round of one strategy and seed (a row of `results.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub strategy: String,
    pub seed: u64,
    pub round: usize,
    pub n_labeled: usize,
    pub accuracy: f64,
    pub macro_accuracy: f64,
    pub macro_f1: f64,
    /// Per modality (dataset order): test accuracy of the modality's head.
    #[serde(with = "crate::stats::nan_vec")]
    pub modality_accuracy: Vec<f64>,
    /// Per modality: mean Shapley contribution at the true label on the test split.
    #[serde(with = "crate::stats::nan_vec")]
    pub contribution: Vec<f64>,
    pub selection_seconds: f64,
    pub train_seconds: f64,
}

/// What a finished cell leaves behind.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CellRecord {
    row: Row,
    /// Dataset ids labelled after this round (in labelling order).
    labelled_ids: Vec<String>,
    /// Ids chosen in this round.
    selected_ids: Vec<String>,
}

struct Sim<'a> {
    cfg: &'a SimConfig,
    data: &'a Dataset,
    dir: &'a Path,
    pool: Vec<usize>,
    val: Vec<usize>,
    test: Vec<usize>,
    modality_names: Vec<String>,
    pretrained: Option<coldstart::Pretrained>,
    /// Round-1 pool encodings by seed: every strategy of a seed selects its first batch with
    /// the same round-0 model from the same pool, so they share one encoding pass.
    round1: Option<Mutex<HashMap<u64, SharedPool>>>,
    /// Pool encoding passes made by this invocation.
    encodings: AtomicUsize,
}

fn cell_dir(dir: &Path, strategy: &str, seed: u64, round: usize) -> PathBuf {
    dir.join("cells")
        .join(strategy)
        .join(format!("seed{seed}"))
        .join(format!("round{round}"))
}

impl Sim<'_> {
    fn id_index(&self) -> std::collections::HashMap<&str, usize> {
        self.data
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.0.as_str(), i))
            .collect()
    }

    fn load_record(
        &self,
        strategy: &str,
        seed: u64,
        round: usize,
    ) -> Result<Option<CellRecord>, LabError> {
        let path = cell_dir(self.dir, strategy, seed, round).join("row.json");
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(fsutil::read_json(&path)?))
    }

    fn load_model(
        &self,
        strategy: &str,
        seed: u64,
        round: usize,
    ) -> Result<MultimodalClassifier, LabError> {
        let device = polymodal_nn::backend::inference_device();
        let path = cell_dir(self.dir, strategy, seed, round).join(CHECKPOINT);
        Ok(self
            .cfg
            .base
            .model
            .init(&self.data.specs(), self.data.num_classes(), &device)?
            .load_safetensors(&path)?)
    }

    /// Trains on `labelled`, evaluates on test, writes the cell (row.json last).
    #[allow(clippy::too_many_arguments)]
    fn train_cell(
        &self,
        strategy: &str,
        seed: u64,
        round: usize,
        labelled: &[usize],
        selected: &[usize],
        selection_seconds: f64,
        init_from: Option<&Path>,
    ) -> Result<CellRecord, LabError> {
        let dir = cell_dir(self.dir, strategy, seed, round);
        let base = &self.cfg.base;
        // The same training seed for every strategy of a (seed, round): differences between
        // strategies then come from the labelled data, not from the initialisation.
        let train_seed = polymodal_core::seed::derive(seed, &format!("round{round}"));
        let pretrained_init = match (&self.pretrained, init_from) {
            (Some(p), None) if self.cfg.ext.pretrained_init => {
                Some(p.init_checkpoint(&base.model, self.data, train_seed, &dir)?)
            }
            _ => None,
        };
        let init_from = pretrained_init.as_deref().or(init_from);
        let cell = run_cell(
            CellRequest {
                data: self.data,
                model: &base.model,
                train: &base.train,
                augment: &base.augment,
                train_indices: labelled,
                val_indices: &self.val,
                test_indices: &self.test,
                seed: train_seed,
                dir: &dir,
                init_from,
            },
            &mut Silent,
        )
        .map_err(|e| e.context(format!("{strategy} seed {seed} round {round}")))?;
        let test = cell
            .test
            .as_ref()
            .ok_or_else(|| LabError::Invalid("the test split is empty".into()))?;
        let row = Row {
            strategy: strategy.to_string(),
            seed,
            round,
            n_labeled: labelled.len(),
            accuracy: test.fused.accuracy,
            macro_accuracy: test.fused.macro_accuracy,
            macro_f1: test.fused.macro_f1,
            modality_accuracy: cell.modality_accuracy(&self.modality_names),
            contribution: cell
                .per_modality(&self.modality_names, |d, n| d.contribution.get(n).copied()),
            selection_seconds,
            train_seconds: cell.train_seconds,
        };
        let ids = |idx: &[usize]| idx.iter().map(|&i| self.data.ids[i].0.clone()).collect();
        let record = CellRecord {
            row,
            labelled_ids: ids(labelled),
            selected_ids: ids(selected),
        };
        fsutil::write_json_atomic(&dir.join("row.json"), &record)?;
        Ok(record)
    }

    fn round0(&self, seed: u64) -> Result<CellRecord, LabError> {
        if let Some(r) = self.load_record(ROUND0, seed, 0)? {
            return Ok(r);
        }
        let cold = match &self.pretrained {
            Some(p) => p.initial_set(&self.cfg.ext, &self.pool, seed)?,
            None => None,
        };
        let initial =
            cold.unwrap_or_else(|| shuffled_prefix(&self.pool, seed, self.cfg.ext.initial));
        self.train_cell(ROUND0, seed, 0, &initial, &initial, 0.0, None)
    }

    /// Runs (or resumes) one strategy's rounds for one seed.
    fn chain(
        &self,
        kind: StrategyKind,
        seed: u64,
        progress: &dyn Progress,
    ) -> Result<(), LabError> {
        let name = kind.to_string();
        let ids = self.id_index();
        let mut prev = self.round0(seed)?;
        let mut prev_source = (ROUND0.to_string(), 0usize);
        let strategy = kind.build(&self.cfg.ext.params);
        for round in 1..=self.cfg.ext.rounds {
            if let Some(r) = self.load_record(&name, seed, round)? {
                prev = r;
                prev_source = (name.clone(), round);
                progress.advance(&format!("{name} seed {seed} round {round} (done before)"));
                continue;
            }
            let labelled: Vec<usize> = prev
                .labelled_ids
                .iter()
                .map(|id| {
                    ids.get(id.as_str()).copied().ok_or_else(|| {
                        LabError::Invalid(format!(
                            "{}: id {id} of a finished round is not in the dataset",
                            self.dir.display()
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            let taken: std::collections::HashSet<usize> = labelled.iter().copied().collect();
            let pool: Vec<usize> = self
                .pool
                .iter()
                .copied()
                .filter(|i| !taken.contains(i))
                .collect();
            if pool.len() < self.cfg.ext.per_round {
                return Err(LabError::Invalid(format!(
                    "round {round}: only {} unlabelled samples left, {} requested",
                    pool.len(),
                    self.cfg.ext.per_round
                )));
            }
            let model = self.load_model(&prev_source.0, seed, prev_source.1)?;
            let started = Instant::now();
            let selected = {
                let mc_seed = polymodal_core::seed::derive(seed, &format!("{name}/{round}/mc"));
                let mut ctx = ModelContext::new(
                    &model,
                    self.data,
                    pool,
                    labelled.clone(),
                    self.cfg.base.train.eval_batch_size,
                    mc_seed,
                )
                .counting(&self.encodings);
                if let (Some(shared), ROUND0) = (&self.round1, prev_source.0.as_str()) {
                    let slot = shared
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(seed)
                        .or_default()
                        .clone();
                    ctx = ctx.sharing(slot);
                }
                let mut rng = polymodal_core::seed::rng(seed, &format!("{name}/{round}/select"));
                strategy.select(&mut ctx, self.cfg.ext.per_round, &mut rng)?
            };
            let selection_seconds = started.elapsed().as_secs_f64();
            let mut now = labelled;
            now.extend_from_slice(&selected);
            let init = match self.cfg.ext.retrain {
                Retrain::Scratch => None,
                Retrain::Finetune => {
                    Some(cell_dir(self.dir, &prev_source.0, seed, prev_source.1).join(CHECKPOINT))
                }
            };
            prev = self.train_cell(
                &name,
                seed,
                round,
                &now,
                &selected,
                selection_seconds,
                init.as_deref(),
            )?;
            prev_source = (name.clone(), round);
            progress.advance(&format!(
                "{name} seed {seed} round {round}: {} labels, accuracy {:.4}",
                prev.row.n_labeled, prev.row.accuracy
            ));
        }
        Ok(())
    }
}

/// `n` samples of `pool` in a seeded random order: the round-0 labels of seed `seed`.
fn shuffled_prefix(pool: &[usize], seed: u64, n: usize) -> Vec<usize> {
    let mut rng = polymodal_core::seed::rng(seed, "initial-set");
    let mut pool = pool.to_vec();
    pool.shuffle(&mut rng);
    pool.truncate(n);
    pool
}

/// The round-0 labelled set a simulation of `seed` starts from (`n` labelled training samples,
/// in labelling order). A labelling project initialised with these labels, in this order,
/// follows the simulation round for round.
pub fn initial_set(data: &Dataset, seed: u64, n: usize) -> Vec<usize> {
    shuffled_prefix(&data.labelled_indices(Split::Train), seed, n)
}

/// Runs or resumes the simulation into `out`.
pub fn run(
    cfg: Checked<SimConfig>,
    out: &Path,
    at: &Locations,
    progress: &dyn Progress,
) -> Result<outputs::Summary, LabError> {
    run_with(cfg, out, at, progress, true)
}

/// [`run`], with the round-1 sharing of the pool encoding switchable: off, every strategy
/// encodes the pool itself, as before the sharing existed. For tests that check that sharing
/// changes no result.
#[doc(hidden)]
pub fn run_with(
    mut cfg: Checked<SimConfig>,
    out: &Path,
    at: &Locations,
    progress: &dyn Progress,
    share_encoding: bool,
) -> Result<outputs::Summary, LabError> {
    let c = cfg.get_mut();
    let data = load_data(&mut c.base.dataset, &mut c.base.data, at)?;
    if let Some(p) = &mut c.ext.pretrained {
        *p = p.canonicalize().map_err(|e| LabError::io(p.as_path(), e))?;
    }
    let resolved = cfg.to_toml()?;
    let mut dir = RunDir::create_or_resume(
        out,
        "simulate",
        cfg.ext.seeds[0],
        &data.fingerprint,
        CONFIG_FILE,
        &resolved,
    )?;
    dir.run(|_| simulate_into(&cfg, &data, out, progress, share_encoding))
}

fn simulate_into(
    cfg: &SimConfig,
    data: &Dataset,
    out: &Path,
    progress: &dyn Progress,
    share_encoding: bool,
) -> Result<outputs::Summary, LabError> {
    let sim = Sim {
        cfg,
        data,
        dir: out,
        // A simulation hides labels it has: rows without one cannot be "labelled" by it.
        pool: data.labelled_indices(Split::Train),
        val: data.split_indices(Split::Val),
        test: data.split_indices(Split::Test),
        modality_names: data.specs().into_iter().map(|s| s.name).collect(),
        pretrained: coldstart::Pretrained::open(&cfg.ext, data)?,
        round1: share_encoding.then(|| Mutex::new(HashMap::new())),
        encodings: AtomicUsize::new(0),
    };
    let a = &cfg.ext;
    // Checked at config validation: no overflow.
    let needed = a.labels_needed().unwrap_or(usize::MAX);
    if needed > sim.pool.len() {
        return Err(LabError::Invalid(format!(
            "active: initial + per_round x rounds = {needed} exceeds the pool of {} labelled training samples",
            sim.pool.len()
        )));
    }
    let chains: Vec<(StrategyKind, u64)> = a
        .seeds
        .iter()
        .flat_map(|&s| a.strategies.iter().map(move |&k| (k, s)))
        .collect();
    progress.start("simulate", (chains.len() * a.rounds) as u64);
    tracing::info!(
        "simulating {} strategies x {} seeds x {} rounds ({} initial + {} per round) with {} workers",
        a.strategies.len(),
        a.seeds.len(),
        a.rounds,
        a.initial,
        a.per_round,
        a.workers
    );
    let started = Instant::now();
    // Round 0 of each seed first (shared by every strategy), then the chains.
    run_parallel(a.seeds.len(), a.workers, |i| {
        sim.round0(a.seeds[i]).map(|_| ())
    })?;
    run_parallel(chains.len(), a.workers, |i| {
        let (kind, seed) = chains[i];
        sim.chain(kind, seed, progress)
    })?;
    progress.finish();
    let mut rows = Vec::new();
    for &seed in &a.seeds {
        let r0 = sim
            .load_record(ROUND0, seed, 0)?
            .ok_or_else(|| LabError::Invalid(format!("seed {seed}: round 0 missing")))?;
        for &kind in &a.strategies {
            let name = kind.to_string();
            let mut row0 = r0.row.clone();
            row0.strategy = name.clone();
            rows.push(row0);
            for round in 1..=a.rounds {
                let rec = sim.load_record(&name, seed, round)?.ok_or_else(|| {
                    LabError::Invalid(format!("{name} seed {seed} round {round} missing"))
                })?;
                rows.push(rec.row);
            }
        }
    }
    let mut summary = outputs::write_all(
        out,
        cfg,
        &sim.modality_names,
        &rows,
        started.elapsed().as_secs_f64(),
    )?;
    summary.pool_encodings = sim.encodings.load(Ordering::Relaxed);
    tracing::info!(
        "{} pool encoding passes for selection",
        summary.pool_encodings
    );
    Ok(summary)
}
