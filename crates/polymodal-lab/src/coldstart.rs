//! `coldstart`: choose the first batch to label from the cached embeddings of a pretraining
//! run (docs/METHODS.md §2.2), with MMCSAL or a baseline, into a run directory:
//! `run.json`, `config.toml` (pretrained run, strategy, budget, seed, parameters),
//! `selected.json` (ids in selection order), `selected.csv` (rank, id, the sample's mean
//! cross-modal cosine) and `scores.json` (the MMCSAL terms of the selected set, whatever the
//! strategy, and the greedy's counters).

use crate::pretrain::{load_embeddings, Embeddings};
use crate::rundir::RunDir;
use crate::{csvfile, LabError};
use polymodal_active::coldstart::{
    mmcsal_terms, ColdStart, ColdStartKind, ColdStartParams, MmcsalTerms, SelectionStats,
};
use polymodal_core::{fsutil, Split};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.toml";
pub const SELECTED_JSON: &str = "selected.json";
pub const SELECTED_CSV: &str = "selected.csv";
pub const SCORES_JSON: &str = "scores.json";

/// Everything a cold-start selection depends on (`config.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColdStartConfig {
    pub pretrained: PathBuf,
    pub strategy: ColdStartKind,
    pub budget: usize,
    pub seed: u64,
    pub params: ColdStartParams,
}

/// `scores.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub strategy: ColdStartKind,
    pub pool: usize,
    pub budget: usize,
    /// The MMCSAL terms of the selected set (docs/METHODS.md §2.3), whatever the strategy.
    pub coverage: f64,
    pub diversity: f64,
    pub alignment: f64,
    pub objective: f64,
    pub stats: SelectionStats,
    pub seconds: f64,
}

/// Parses `key=value` overrides (TOML values) of the cold-start parameters, e.g.
/// `lambda_align=0.5`; unknown keys and bad values are errors naming the key.
pub fn parse_params(overrides: &[String]) -> Result<ColdStartParams, LabError> {
    let mut text = String::new();
    for o in overrides {
        let (k, v) = o.split_once('=').ok_or_else(|| LabError::Config {
            origin: "--set".into(),
            message: format!("`{o}`: expected key=value"),
        })?;
        text.push_str(&format!("{} = {}\n", k.trim(), v.trim()));
    }
    let params: ColdStartParams = toml::from_str(&text).map_err(|e| LabError::Config {
        origin: "--set".into(),
        message: e.message().to_string(),
    })?;
    params.check()?;
    Ok(params)
}

/// The mean cosine over modality pairs of row `i` (0 with one modality or unequal dims).
pub fn pair_alignment(emb: &Embeddings, i: usize) -> f64 {
    let pairs = polymodal_train::pretrain::modality_pairs(emb.values.len());
    if pairs.is_empty() {
        return 0.0;
    }
    let cos = |a: &[f32], b: &[f32]| -> f64 {
        let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
        for (&x, &y) in a.iter().zip(b) {
            ab += x as f64 * y as f64;
            aa += x as f64 * x as f64;
            bb += y as f64 * y as f64;
        }
        if aa > 0.0 && bb > 0.0 {
            ab / (aa * bb).sqrt()
        } else {
            0.0
        }
    };
    pairs
        .iter()
        .map(|&(a, b)| cos(emb.row(a, i), emb.row(b, i)))
        .sum::<f64>()
        / pairs.len() as f64
}

/// Selects `budget` of the embedding rows `pool` with `strategy`; returns rows in selection
/// order, the greedy's counters and the MMCSAL terms of the result. The RNG stream depends on
/// the seed and the strategy only, so `coldstart` and a simulation's round 0 agree.
pub fn select(
    emb: &Embeddings,
    pool: &[usize],
    strategy: ColdStartKind,
    params: &ColdStartParams,
    budget: usize,
    seed: u64,
) -> Result<(Vec<usize>, SelectionStats, MmcsalTerms), LabError> {
    let blocks = emb.gather(pool);
    let dims = vec![emb.dim; blocks.len()];
    let cs = ColdStart::new(strategy, params.clone())?;
    let mut rng = polymodal_core::seed::rng(seed, &format!("coldstart/{strategy}"));
    let (picked, stats) = cs.select_with_stats(&blocks, &dims, budget, &mut rng)?;
    let mut terms_rng = polymodal_core::seed::rng(seed, "coldstart/terms");
    let terms = mmcsal_terms(&blocks, &dims, &picked, params, &mut terms_rng)?;
    Ok((picked.into_iter().map(|k| pool[k]).collect(), stats, terms))
}

/// `coldstart`: selects from the train split of the pretrained run's embeddings into `out`.
pub fn run(config: &ColdStartConfig, out: &Path) -> Result<Scores, LabError> {
    config.params.check()?;
    let emb = load_embeddings(&config.pretrained)?;
    let pool = emb.split_rows(Split::Train);
    let mut dir = RunDir::create(out, "coldstart", config.seed, &emb.dataset_fingerprint)?;
    dir.run(|dir| {
        let text = toml::to_string_pretty(config)
            .map_err(|e| LabError::Invalid(format!("resolved config: {e}")))?;
        fsutil::write_atomic(&dir.file(CONFIG_FILE), text.as_bytes())?;
        let started = std::time::Instant::now();
        let (rows, stats, terms) = select(
            &emb,
            &pool,
            config.strategy,
            &config.params,
            config.budget,
            config.seed,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let ids: Vec<String> = rows.iter().map(|&i| emb.index.ids[i].clone()).collect();
        let csv_rows: Vec<Vec<String>> = rows
            .iter()
            .enumerate()
            .map(|(r, &i)| {
                vec![
                    (r + 1).to_string(),
                    emb.index.ids[i].clone(),
                    format!("{:.6}", pair_alignment(&emb, i)),
                ]
            })
            .collect();
        csvfile::write(
            &dir.file(SELECTED_CSV),
            &["rank".into(), "id".into(), "alignment".into()],
            &csv_rows,
        )?;
        fsutil::write_json_atomic(&dir.file(SELECTED_JSON), &ids)?;
        let scores = Scores {
            strategy: config.strategy,
            pool: pool.len(),
            budget: config.budget,
            coverage: terms.coverage,
            diversity: terms.diversity,
            alignment: terms.alignment,
            objective: terms.objective,
            stats,
            seconds,
        };
        fsutil::write_json_atomic(&dir.file(SCORES_JSON), &scores)?;
        Ok(scores)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_name_the_key() {
        let e = parse_params(&["lambda_alignn=1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("lambda_alignn"), "{e}");
        let e = parse_params(&["gamma=-1".into()]).unwrap_err().to_string();
        assert!(e.contains("gamma"), "{e}");
        let p = parse_params(&["lambda_align=0.5".into(), "similarity=\"exp\"".into()]).unwrap();
        assert_eq!(p.lambda_align, 0.5);
    }
}
