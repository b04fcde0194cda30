//! `polymodal simulate`: active learning on a labelled dataset with the labels hidden.
//!
//! For every seed a random round-0 set is labelled and a round-0 model trained once; every
//! strategy of that seed starts from them. Each round then selects `per_round` samples from the
//! unlabelled pool with the previous round's model, "labels" them, retrains and evaluates on the
//! test split. Each (strategy, seed, round) cell is written to its own directory, `row.json`
//! last, so an interrupted simulation resumes where it stopped with identical results.

pub mod config;
mod context;
pub mod outputs;

use crate::rundir::RunDir;
use anyhow::{anyhow, bail, Context as _, Result};
use config::{Retrain, SimConfig};
use context::ModelContext;
use indicatif::{ProgressBar, ProgressStyle};
use polymodal_active::{shapley, StrategyKind};
use polymodal_core::{fsutil, Split};
use polymodal_data::Dataset;
use polymodal_nn::MultimodalClassifier;
use polymodal_train::probe::Probe;
use polymodal_train::trainer::{Silent, TrainRequest};
use polymodal_train::{evaluate, predict};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
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
    pub modality_accuracy: Vec<f64>,
    /// Per modality: mean Shapley contribution at the true label on the test split.
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

    fn load_record(&self, strategy: &str, seed: u64, round: usize) -> Result<Option<CellRecord>> {
        let path = cell_dir(self.dir, strategy, seed, round).join("row.json");
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(fsutil::read_json(&path)?))
    }

    fn load_model(&self, strategy: &str, seed: u64, round: usize) -> Result<MultimodalClassifier> {
        let device = polymodal_nn::backend::inference_device();
        let path = cell_dir(self.dir, strategy, seed, round).join("model.safetensors");
        Ok(self
            .cfg
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
    ) -> Result<CellRecord> {
        let dir = cell_dir(self.dir, strategy, seed, round);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let checkpoint = dir.join("model.safetensors");
        let started = Instant::now();
        // The same training seed for every strategy of a (seed, round): differences between
        // strategies then come from the labelled data, not from the initialisation.
        let train_seed = polymodal_core::seed::derive(seed, &format!("round{round}"));
        let outcome = polymodal_train::train(
            TrainRequest {
                data: self.data,
                model: &self.cfg.model,
                train: &self.cfg.train,
                augment: &self.cfg.augment,
                train_indices: labelled,
                val_indices: &self.val,
                seed: train_seed,
                checkpoint: &checkpoint,
                init_from,
            },
            &mut Silent,
        )?;
        let train_seconds = started.elapsed().as_secs_f64();
        let device = polymodal_nn::backend::inference_device();
        let bs = self.cfg.train.eval_batch_size;
        let preds = predict(&outcome.model, self.data, &self.test, bs, &device);
        let report = evaluate(self.data, &preds)?;
        let contribution = self.mean_contribution(&outcome.model)?;
        let row = Row {
            strategy: strategy.to_string(),
            seed,
            round,
            n_labeled: labelled.len(),
            accuracy: report.fused.accuracy,
            macro_accuracy: report.fused.macro_accuracy,
            macro_f1: report.fused.macro_f1,
            modality_accuracy: self
                .modality_names
                .iter()
                .map(|n| report.per_modality.get(n).map_or(f64::NAN, |m| m.accuracy))
                .collect(),
            contribution,
            selection_seconds,
            train_seconds,
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

    /// Mean over the test split of each modality's Shapley contribution at the true label.
    fn mean_contribution(&self, model: &MultimodalClassifier) -> Result<Vec<f64>> {
        let device = polymodal_nn::backend::inference_device();
        let probe = Probe::new(
            model,
            self.data,
            &self.test,
            self.cfg.train.eval_batch_size,
            &device,
        );
        let subsets = probe.subset_probs();
        let m = model.num_modalities();
        let c = self.data.num_classes();
        let n = self.test.len();
        let labels = self.data.labels_of(&self.test)?;
        // Shapley values at the true class only: no `M x [n, C]` intermediate.
        let phi_at = shapley::shapley_values_at(&subsets, m, n, c, &labels)?;
        let contrib = shapley::normalise_contributions(&phi_at);
        Ok(contrib
            .iter()
            .map(|v| v.iter().map(|&x| x as f64).sum::<f64>() / n.max(1) as f64)
            .collect())
    }

    fn round0(&self, seed: u64) -> Result<CellRecord> {
        if let Some(r) = self.load_record(ROUND0, seed, 0)? {
            return Ok(r);
        }
        let mut rng = polymodal_core::seed::rng(seed, "initial-set");
        let mut pool = self.pool.clone();
        pool.shuffle(&mut rng);
        let initial: Vec<usize> = pool[..self.cfg.active.initial].to_vec();
        self.train_cell(ROUND0, seed, 0, &initial, &initial, 0.0, None)
    }

    /// Runs (or resumes) one strategy's rounds for one seed.
    fn chain(&self, kind: StrategyKind, seed: u64, progress: &ProgressBar) -> Result<()> {
        let name = kind.to_string();
        let ids = self.id_index();
        let mut prev = self.round0(seed)?;
        let mut prev_source = (ROUND0.to_string(), 0usize);
        let strategy = kind.build(&self.cfg.active.params);
        for round in 1..=self.cfg.active.rounds {
            if let Some(r) = self.load_record(&name, seed, round)? {
                prev = r;
                prev_source = (name.clone(), round);
                progress.inc(1);
                continue;
            }
            let labelled: Vec<usize> = prev
                .labelled_ids
                .iter()
                .map(|id| {
                    ids.get(id.as_str())
                        .copied()
                        .ok_or_else(|| anyhow!("unknown id {id}"))
                })
                .collect::<Result<_>>()?;
            let taken: std::collections::HashSet<usize> = labelled.iter().copied().collect();
            let pool: Vec<usize> = self
                .pool
                .iter()
                .copied()
                .filter(|i| !taken.contains(i))
                .collect();
            if pool.len() < self.cfg.active.per_round {
                bail!(
                    "round {round}: only {} unlabelled samples left, {} requested",
                    pool.len(),
                    self.cfg.active.per_round
                );
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
                    self.cfg.train.eval_batch_size,
                    mc_seed,
                );
                let mut rng = polymodal_core::seed::rng(seed, &format!("{name}/{round}/select"));
                strategy.select(&mut ctx, self.cfg.active.per_round, &mut rng)?
            };
            let selection_seconds = started.elapsed().as_secs_f64();
            let mut now = labelled;
            now.extend_from_slice(&selected);
            let init = match self.cfg.active.retrain {
                Retrain::Scratch => None,
                Retrain::Finetune => Some(
                    cell_dir(self.dir, &prev_source.0, seed, prev_source.1)
                        .join("model.safetensors"),
                ),
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
            progress.set_message(format!(
                "{name} seed {seed} round {round}: {} labels, accuracy {:.4}",
                prev.row.n_labeled, prev.row.accuracy
            ));
            progress.inc(1);
        }
        Ok(())
    }
}

/// Runs or resumes the simulation into `out`.
pub fn run(mut cfg: SimConfig, out: &Path) -> Result<outputs::Summary> {
    let data = crate::config::load_data(&mut cfg.dataset, &mut cfg.data)?;
    let resolved = crate::config::resolved_toml(&cfg, &cfg.dataset)?;
    let mut dir = RunDir::create_or_resume(
        out,
        "simulate",
        cfg.active.seeds[0],
        &data.fingerprint,
        CONFIG_FILE,
        &resolved,
    )?;
    let outcome = simulate_into(&cfg, &data, out);
    dir.finish(&outcome.as_ref().map(|_| ()).map_err(|e| anyhow!("{e:#}")))?;
    outcome
}

fn simulate_into(cfg: &SimConfig, data: &Dataset, out: &Path) -> Result<outputs::Summary> {
    let sim = Sim {
        cfg,
        data,
        dir: out,
        pool: data.split_indices(Split::Train),
        val: data.split_indices(Split::Val),
        test: data.split_indices(Split::Test),
        modality_names: data.specs().into_iter().map(|s| s.name).collect(),
    };
    let a = &cfg.active;
    let needed = a.initial + a.per_round * a.rounds;
    if needed > sim.pool.len() {
        bail!(
            "active: initial + per_round x rounds = {needed} exceeds the pool of {} samples",
            sim.pool.len()
        );
    }
    let chains: Vec<(StrategyKind, u64)> = a
        .seeds
        .iter()
        .flat_map(|&s| a.strategies.iter().map(move |&k| (k, s)))
        .collect();
    let total = (chains.len() * a.rounds) as u64;
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template(
            "simulate [{bar:30}] {pos}/{len} rounds {msg} ({elapsed}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
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
        sim.chain(kind, seed, &progress)
    })?;
    progress.finish_and_clear();
    let mut rows = Vec::new();
    for &seed in &a.seeds {
        let r0 = sim
            .load_record(ROUND0, seed, 0)?
            .ok_or_else(|| anyhow!("round 0 missing"))?;
        for &kind in &a.strategies {
            let name = kind.to_string();
            let mut row0 = r0.row.clone();
            row0.strategy = name.clone();
            rows.push(row0);
            for round in 1..=a.rounds {
                let rec = sim
                    .load_record(&name, seed, round)?
                    .ok_or_else(|| anyhow!("{name} seed {seed} round {round} missing"))?;
                rows.push(rec.row);
            }
        }
    }
    let summary = outputs::write_all(
        out,
        cfg,
        &sim.modality_names,
        &rows,
        started.elapsed().as_secs_f64(),
    )?;
    Ok(summary)
}

/// Runs `job(0..n)` on up to `workers` threads; the first error wins.
pub(crate) fn run_parallel(
    n: usize,
    workers: usize,
    job: impl Fn(usize) -> Result<()> + Sync,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers.min(n).max(1) {
            s.spawn(|| loop {
                if error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                if let Err(e) = job(i) {
                    if let Ok(mut slot) = error.lock() {
                        slot.get_or_insert(e);
                    }
                    return;
                }
            });
        }
    });
    match error.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}
