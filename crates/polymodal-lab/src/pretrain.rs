//! `pretrain`: self-supervised pretraining on the train split's unlabelled pool into a run
//! directory (docs/METHODS.md §2.1), and reading such a directory back (checkpoint, cached
//! embeddings) for `retrieve`, `coldstart` and `simulate`.
//!
//! Layout:
//! - `run.json`, `config.toml` (the resolved config: `[pretrain]` plus the base training config,
//!   whose `[model]` shapes the encoders)
//! - `pretrain.csv`  one row per epoch: every loss part, temperature, modality gap per pair,
//!   prototype usage entropy per modality
//! - `val_retrieval.csv` one row per epoch and retrieval direction: R@1/5/10 and median rank on
//!   the validation split (label-free), to choose the number of epochs on validation
//! - `encoder.safetensors` the pretrained encoders, projection heads, prototypes, temperature
//! - `embeddings.safetensors` + `samples.json` unit embeddings of **every** sample (all splits),
//!   `emb.<m>` `[n, D]` (zero rows where a sample lacks the modality), with ids, splits and
//!   presence; no labels
//! - `summary.json`, `report.md`, `curves.svg/png`

use crate::config::{Checked, Extended, Extension, RunConfig};
use crate::csvfile;
use crate::data::{load_data, Locations};
use crate::plot::{write_figure, Panel};
use crate::rundir::RunDir;
use crate::LabError;
use polymodal_core::{fsutil, Split};
use polymodal_data::Dataset;
use polymodal_train::pretrain::{
    self, EpochLog, PretrainConfig, PretrainModel, PretrainObserver, PretrainParams,
    PretrainRequest, Unlabelled,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const CONFIG_FILE: &str = "config.toml";
pub const CHECKPOINT: &str = "encoder.safetensors";
pub const EMBEDDINGS: &str = "embeddings.safetensors";
pub const SAMPLES: &str = "samples.json";
pub const LOG_CSV: &str = "pretrain.csv";
pub const SUMMARY: &str = "summary.json";
pub const VAL_RETRIEVAL_CSV: &str = "val_retrieval.csv";

impl Extension for PretrainConfig {
    const KEY: &'static str = "pretrain";

    fn validate(&self, _base: &RunConfig) -> Result<(), LabError> {
        self.clone()
            .validate()
            .map(|_| ())
            .map_err(|e| LabError::Invalid(e.to_string()))
    }
}

/// A pretraining config: `[pretrain]` plus the base training config (its `[model]`, `[data]`,
/// `[augment]` and `[dataset]` are used).
pub type PretrainRunConfig = Extended<PretrainConfig>;

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainSummary {
    pub modalities: Vec<String>,
    pub pool_samples: usize,
    pub epochs: usize,
    /// Per pair `a-b` (names), the final modality gap on the diagnostic set.
    pub gap: Vec<(String, f64)>,
    pub usage_entropy: Vec<(String, f64)>,
    pub seconds: f64,
}

/// `samples.json`: what each row of the cached embeddings is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleIndex {
    pub modalities: Vec<String>,
    pub ids: Vec<String>,
    pub splits: Vec<Split>,
    /// `present[m][i]`: sample `i` has modality `m`.
    pub present: Vec<Vec<bool>>,
}

/// The cached embeddings of a pretraining run.
#[derive(Debug, Clone)]
pub struct Embeddings {
    pub index: SampleIndex,
    pub dim: usize,
    /// `values[m]`: `[n, dim]` row-major unit rows (zero where absent).
    pub values: Vec<Vec<f32>>,
    pub dataset_fingerprint: String,
}

impl Embeddings {
    pub fn len(&self) -> usize {
        self.index.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.ids.is_empty()
    }

    pub fn row(&self, m: usize, i: usize) -> &[f32] {
        &self.values[m][i * self.dim..(i + 1) * self.dim]
    }

    /// The embedding row of each id, in order; `missing` names the error for an id that has no
    /// row (the caller knows what the ids are and how the user fixes it).
    pub fn rows_of<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
        missing: impl Fn(&str) -> LabError,
    ) -> Result<Vec<usize>, LabError> {
        let row_of: std::collections::HashMap<&str, usize> = self
            .index
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        ids.into_iter()
            .map(|id| row_of.get(id).copied().ok_or_else(|| missing(id)))
            .collect()
    }

    /// Rows of `split`, in order.
    pub fn split_rows(&self, split: Split) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.index.splits[i] == split)
            .collect()
    }

    /// Modality index by name; an unknown name lists the known ones.
    pub fn modality(&self, name: &str) -> Result<usize, LabError> {
        self.index
            .modalities
            .iter()
            .position(|m| m == name)
            .ok_or_else(|| {
                LabError::Invalid(format!(
                    "no modality `{name}` in the pretrained embeddings (have {})",
                    self.index.modalities.join(", ")
                ))
            })
    }

    /// `values[m]` restricted to `rows`, `M x [rows.len(), dim]`.
    pub fn gather(&self, rows: &[usize]) -> Vec<Vec<f32>> {
        self.values
            .iter()
            .map(|v| {
                let mut out = Vec::with_capacity(rows.len() * self.dim);
                for &i in rows {
                    out.extend_from_slice(&v[i * self.dim..(i + 1) * self.dim]);
                }
                out
            })
            .collect()
    }
}

/// Reads the cached embeddings of a complete pretraining run.
pub fn load_embeddings(dir: &Path) -> Result<Embeddings, LabError> {
    let manifest = RunDir::read_complete(dir)?;
    if manifest.command != "pretrain" {
        return Err(LabError::run_dir(
            dir,
            format!("is a {} run, not a pretrain run", manifest.command),
        ));
    }
    let index: SampleIndex = fsutil::read_json(&dir.join(SAMPLES))?;
    let path = dir.join(EMBEDDINGS);
    let bytes = std::fs::read(&path).map_err(|e| LabError::io(&path, e))?;
    let bad = |reason: String| LabError::run_dir(&path, reason);
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let n = index.ids.len();
    let mut values = Vec::new();
    let mut dim = 0;
    for m in 0..index.modalities.len() {
        let t = st
            .tensor(&format!("emb.{m}"))
            .map_err(|e| bad(format!("emb.{m}: {e}")))?;
        let shape = t.shape();
        if t.dtype() != safetensors::Dtype::F32 || shape.len() != 2 || shape[0] != n {
            return Err(bad(format!(
                "emb.{m}: expected F32 [{n}, D], found {:?} {shape:?}",
                t.dtype()
            )));
        }
        dim = shape[1];
        values.push(
            t.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        );
    }
    Ok(Embeddings {
        index,
        dim,
        values,
        dataset_fingerprint: manifest.dataset_fingerprint,
    })
}

/// The resolved config of a pretraining run, parsed back.
pub fn load_config(dir: &Path) -> Result<Checked<PretrainRunConfig>, LabError> {
    let path = dir.join(CONFIG_FILE);
    let cfg = PretrainRunConfig::load(&path, &[])?;
    cfg.check(&path.display().to_string())
}

/// The pretrained model of a complete run, on the inference device.
pub fn load_model(dir: &Path) -> Result<(PretrainModel, Checked<PretrainRunConfig>), LabError> {
    RunDir::read_complete(dir)?;
    let cfg = load_config(dir)?;
    let params = cfg
        .ext
        .clone()
        .validate()
        .map_err(|e| LabError::Invalid(e.to_string()))?;
    let specs: Vec<polymodal_core::ModalitySpec> = cfg
        .base
        .dataset
        .inputs
        .iter()
        .map(|i| polymodal_core::ModalitySpec {
            name: i.name.clone(),
            kind: i.kind,
            shape: i.shape.clone(),
        })
        .collect();
    let model = pretrain::load(&specs, &cfg.base.model, &params, &dir.join(CHECKPOINT))?;
    Ok((model, cfg))
}

/// Writes `pretrain.csv` as epochs finish and forwards progress.
struct CsvLog<'a> {
    inner: &'a mut dyn PretrainObserver,
    path: PathBuf,
    names: Vec<String>,
    error: Option<LabError>,
    /// The validation split, retrieved on after every epoch (`val_retrieval.csv`) so that the
    /// number of epochs can be chosen on validation (docs/COLD_START.md); no labels are read.
    val: Option<ValRetrieval<'a>>,
}

struct ValRetrieval<'a> {
    data: &'a Dataset,
    rows: Vec<usize>,
    path: PathBuf,
}

impl ValRetrieval<'_> {
    fn write(&self, epoch: usize, model: &PretrainModel) -> Result<(), LabError> {
        let emb = pretrain::embed_all(model, Unlabelled::of(self.data, &self.rows), 256);
        let n = self.rows.len();
        let embeddings = Embeddings {
            index: SampleIndex {
                modalities: self.data.specs().into_iter().map(|s| s.name).collect(),
                ids: self
                    .rows
                    .iter()
                    .map(|&i| self.data.ids[i].0.clone())
                    .collect(),
                splits: vec![Split::Val; n],
                present: self
                    .data
                    .modalities
                    .iter()
                    .map(|m| self.rows.iter().map(|&i| m.present[i]).collect())
                    .collect(),
            },
            dim: emb[0].len() / n.max(1),
            values: emb,
            dataset_fingerprint: self.data.fingerprint.clone(),
        };
        let all: Vec<usize> = (0..n).collect();
        let header: Vec<String> = [
            "epoch",
            "from",
            "to",
            "queries",
            "recall_at_1",
            "recall_at_5",
            "recall_at_10",
            "median_rank",
        ]
        .map(String::from)
        .to_vec();
        for d in crate::retrieve::evaluate(&embeddings, &all) {
            tracing::info!(
                "epoch {epoch} validation retrieval {} → {}: R@1 {:.3} R@5 {:.3} R@10 {:.3}, median rank {} of {}",
                d.from,
                d.to,
                d.recall_at_1,
                d.recall_at_5,
                d.recall_at_10,
                d.median_rank,
                d.queries
            );
            let row = vec![
                epoch.to_string(),
                d.from,
                d.to,
                d.queries.to_string(),
                format!("{:.4}", d.recall_at_1),
                format!("{:.4}", d.recall_at_5),
                format!("{:.4}", d.recall_at_10),
                format!("{}", d.median_rank),
            ];
            csvfile::append(&self.path, &header, &row)?;
        }
        Ok(())
    }
}

fn pair_names(names: &[String]) -> Vec<String> {
    pretrain::modality_pairs(names.len())
        .into_iter()
        .map(|(a, b)| format!("{}-{}", names[a], names[b]))
        .collect()
}

impl CsvLog<'_> {
    fn write(&self, l: &EpochLog) -> Result<(), LabError> {
        let mut header: Vec<String> = ["epoch", "lr", "loss", "cross"].map(String::from).to_vec();
        header.extend(csvfile::columns(&self.names, "proto"));
        header.extend(["cross_proto".into(), "temperature".into()]);
        header.extend(csvfile::columns(&pair_names(&self.names), "gap"));
        header.extend(csvfile::columns(&self.names, "usage_entropy"));
        header.push("seconds".into());
        let mut row = vec![
            l.epoch.to_string(),
            format!("{:.6e}", l.lr),
            format!("{:.6}", l.loss),
            format!("{:.6}", l.cross),
        ];
        row.extend(csvfile::fixed(&l.proto, 6));
        row.extend([
            format!("{:.6}", l.cross_proto),
            format!("{:.6}", l.temperature),
        ]);
        row.extend(csvfile::fixed(&l.gap, 6));
        row.extend(csvfile::fixed(&l.usage_entropy, 6));
        row.push(format!("{:.3}", l.seconds));
        csvfile::append(&self.path, &header, &row)
    }
}

impl PretrainObserver for CsvLog<'_> {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        self.inner.on_epoch_start(epoch, epochs, batches);
    }
    fn on_batch(&mut self, epoch: usize, batch: usize, loss: f32) {
        self.inner.on_batch(epoch, batch, loss);
    }
    fn on_epoch_model(&mut self, epoch: usize, model: &PretrainModel) {
        if let Some(val) = &self.val {
            if let Err(e) = val.write(epoch, model) {
                self.error.get_or_insert(e);
            }
        }
    }
    fn on_epoch_end(&mut self, l: &EpochLog) {
        self.inner.on_epoch_end(l);
        tracing::info!(
            "pretrain epoch {:>2}: loss {:.4} (cross {:.4}, proto {:?}) τ {:.4} | gap {:?} | usage entropy {:?} | {:.0}s",
            l.epoch,
            l.loss,
            l.cross,
            l.proto.iter().map(|v| (v * 1e4).round() / 1e4).collect::<Vec<_>>(),
            l.temperature,
            l.gap.iter().map(|v| (v * 1e4).round() / 1e4).collect::<Vec<_>>(),
            l.usage_entropy.iter().map(|v| (v * 1e3).round() / 1e3).collect::<Vec<_>>(),
            l.seconds
        );
        if let Err(e) = self.write(l) {
            self.error.get_or_insert(e);
        }
    }
}

/// Pretrains with `config` into a new run directory at `out`.
pub fn run(
    mut config: Checked<PretrainRunConfig>,
    out: &Path,
    at: &Locations,
    observer: &mut dyn PretrainObserver,
) -> Result<PretrainSummary, LabError> {
    let cfg = config.get_mut();
    let data = load_data(&mut cfg.base.dataset, &mut cfg.base.data, at)?;
    let mut dir = RunDir::create(out, "pretrain", config.ext.seed, &data.fingerprint)?;
    dir.run(|dir| pretrain_into(&config, &data, dir, observer))
}

/// The body of [`run`], on data already loaded (tests call it with constructed data).
pub fn pretrain_into(
    config: &PretrainRunConfig,
    data: &Dataset,
    dir: &RunDir,
    observer: &mut dyn PretrainObserver,
) -> Result<PretrainSummary, LabError> {
    fsutil::write_atomic(&dir.file(CONFIG_FILE), config.to_toml()?.as_bytes())?;
    let params: PretrainParams = config
        .ext
        .clone()
        .validate()
        .map_err(|e| LabError::Invalid(e.to_string()))?;
    let started = Instant::now();
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let rows = pretrain::pool_rows(data);
    let pool = Unlabelled::of(data, &rows);
    tracing::info!(
        "pretraining on {} unlabelled pool samples ({}), β = {}, K = {}, {} epochs",
        pool.len(),
        names.join(", "),
        params.beta,
        params.prototypes,
        params.epochs
    );
    let mut log = CsvLog {
        inner: observer,
        path: dir.file(LOG_CSV),
        names: names.clone(),
        error: None,
        val: {
            let rows = data.split_indices(Split::Val);
            (!rows.is_empty()).then(|| ValRetrieval {
                data,
                rows,
                path: dir.file(VAL_RETRIEVAL_CSV),
            })
        },
    };
    let trained = pretrain::pretrain(
        PretrainRequest {
            pool,
            model: &config.base.model,
            params: &params,
            augment: &config.base.augment,
        },
        &mut log,
    )
    .map_err(|e| LabError::Invalid(e.to_string()))?;
    if let Some(e) = log.error {
        return Err(e);
    }
    trained.model.save_safetensors(&dir.file(CHECKPOINT))?;
    let all: Vec<usize> = (0..data.len()).collect();
    let emb = pretrain::embed_all(&trained.model, Unlabelled::of(data, &all), 256);
    write_embeddings(dir, data, &names, &emb)?;
    let last = trained
        .history
        .last()
        .ok_or_else(|| LabError::Invalid("no epoch ran".into()))?;
    let summary = PretrainSummary {
        modalities: names.clone(),
        pool_samples: rows.len(),
        epochs: trained.history.len(),
        gap: pair_names(&names)
            .into_iter()
            .zip(last.gap.clone())
            .collect(),
        usage_entropy: names
            .iter()
            .cloned()
            .zip(last.usage_entropy.clone())
            .collect(),
        seconds: started.elapsed().as_secs_f64(),
    };
    write_report(dir, config, data, &names, &trained.history, &summary)?;
    fsutil::write_json_atomic(&dir.file(SUMMARY), &summary)?;
    Ok(summary)
}

fn write_embeddings(
    dir: &RunDir,
    data: &Dataset,
    names: &[String],
    emb: &[Vec<f32>],
) -> Result<(), LabError> {
    let n = data.len();
    let bytes: Vec<Vec<u8>> = emb
        .iter()
        .map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .enumerate()
        .map(|(m, b)| {
            let d = emb[m].len() / n.max(1);
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![n, d], b)
                .map(|v| (format!("emb.{m}"), v))
                .map_err(|e| LabError::Invalid(format!("embeddings: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let out = safetensors::serialize(views, None)
        .map_err(|e| LabError::Invalid(format!("embeddings: {e}")))?;
    fsutil::write_atomic(&dir.file(EMBEDDINGS), &out)?;
    let index = SampleIndex {
        modalities: names.to_vec(),
        ids: data.ids.iter().map(|id| id.0.clone()).collect(),
        splits: data.splits.clone(),
        present: data.modalities.iter().map(|m| m.present.clone()).collect(),
    };
    fsutil::write_json_atomic(&dir.file(SAMPLES), &index)?;
    Ok(())
}

fn curve(history: &[EpochLog], f: impl Fn(&EpochLog) -> f64) -> crate::plot::Curve {
    history
        .iter()
        .map(|l| (l.epoch as f64, f(l), 0.0))
        .collect()
}

fn write_report(
    dir: &RunDir,
    config: &PretrainRunConfig,
    data: &Dataset,
    names: &[String],
    history: &[EpochLog],
    summary: &PretrainSummary,
) -> Result<(), LabError> {
    let mut loss = vec![
        ("total".to_string(), curve(history, |l| l.loss)),
        (
            "cross-modal InfoNCE".to_string(),
            curve(history, |l| l.cross),
        ),
    ];
    for (m, n) in names.iter().enumerate() {
        loss.push((format!("proto {n}"), curve(history, |l| l.proto[m])));
    }
    if config.ext.cross_prototypes {
        loss.push(("cross proto".into(), curve(history, |l| l.cross_proto)));
    }
    let pairs = pair_names(names);
    let panels = [
        Panel {
            title: "loss parts".into(),
            y_label: "loss".into(),
            series: loss,
        },
        Panel {
            title: "modality gap".into(),
            y_label: "||centroid_a − centroid_b||".into(),
            series: pairs
                .iter()
                .enumerate()
                .map(|(k, p)| (p.clone(), curve(history, |l| l.gap[k])))
                .collect(),
        },
        Panel {
            title: "prototype usage entropy".into(),
            y_label: "nats".into(),
            series: names
                .iter()
                .enumerate()
                .map(|(m, n)| (n.clone(), curve(history, |l| l.usage_entropy[m])))
                .collect(),
        },
    ];
    write_figure(&dir.path, "curves", &panels, "epoch")?;
    let p = &config.ext;
    let mut md = format!(
        "# Pretraining report\n\nData: {} ({} pool samples of the train split, labels not read; \
         modalities {}). Seed {}, {} epochs, batch {}, lr {}, D = {}, β = {}, K = {}, ε = {}, \
         τ₀ = {} ({}), τ_p = {}, cross-modal prototypes {}. {:.0} s.\n\n![curves](curves.png)\n\n\
         | epoch | loss | InfoNCE | τ |",
        data.name,
        summary.pool_samples,
        names.join(", "),
        p.seed,
        p.epochs,
        p.batch_size,
        p.lr,
        p.embed_dim,
        p.beta,
        p.prototypes,
        p.epsilon,
        p.tau,
        if p.learn_temperature {
            "learnt"
        } else {
            "fixed"
        },
        p.proto_temperature,
        if p.cross_prototypes { "on" } else { "off" },
        summary.seconds
    );
    for n in names {
        md.push_str(&format!(" proto {n} |"));
    }
    for pn in &pairs {
        md.push_str(&format!(" gap {pn} |"));
    }
    for n in names {
        md.push_str(&format!(" entropy {n} |"));
    }
    md.push_str("\n|");
    for _ in 0..4 + 2 * names.len() + pairs.len() {
        md.push_str("---|");
    }
    md.push('\n');
    for l in history {
        md.push_str(&format!(
            "| {} | {:.4} | {:.4} | {:.4} |",
            l.epoch, l.loss, l.cross, l.temperature
        ));
        for v in l.proto.iter().chain(&l.gap).chain(&l.usage_entropy) {
            md.push_str(&format!(" {v:.4} |"));
        }
        md.push('\n');
    }
    md.push_str(&format!(
        "\nThe modality gap is the distance between the centroids of two modalities' unit \
         embeddings on {} pool samples; the usage entropy is that of the nearest-prototype \
         assignments (ln K = {:.3} when all prototypes are used equally). With β = 0 the \
         prototype losses are logged but not trained.\n",
        p.diagnostic_samples.min(summary.pool_samples),
        (p.prototypes as f64).ln()
    ));
    fsutil::write_atomic(&dir.file("report.md"), md.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embeddings(ids: &[&str]) -> Embeddings {
        Embeddings {
            index: SampleIndex {
                modalities: vec!["image".into()],
                ids: ids.iter().map(|s| s.to_string()).collect(),
                splits: vec![Split::Train; ids.len()],
                present: vec![vec![true; ids.len()]],
            },
            dim: 1,
            values: vec![vec![0.0; ids.len()]],
            dataset_fingerprint: "fp".into(),
        }
    }

    #[test]
    fn rows_of_maps_ids_in_the_given_order() {
        let e = embeddings(&["a", "b", "c"]);
        let rows = e
            .rows_of(["c", "a", "c"], |id| LabError::Invalid(id.into()))
            .unwrap();
        assert_eq!(rows, vec![2, 0, 2]);
    }

    #[test]
    fn rows_of_names_the_first_missing_id_with_the_callers_error() {
        let e = embeddings(&["a", "b"]);
        let err = e
            .rows_of(["a", "zz", "yy"], |id| {
                LabError::Invalid(format!("no embedding for `{id}`"))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "no embedding for `zz`");
    }
}
