//! Run configuration files: TOML, every key documented in `configs/avdigits.toml`, unknown keys
//! and wrong types rejected with the file and the dotted key in the message.

use anyhow::{anyhow, bail, Context, Result};
use polymodal_data::store::TextFeatures;
use polymodal_data::{AugmentConfig, AvDigitsConfig, Dataset};
use polymodal_nn::ModelConfig;
use polymodal_train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The default training config, compiled in so `demo` works from any directory.
pub const DEFAULT_CONFIG: &str = include_str!("../../../configs/avdigits.toml");

/// Where the repository (and so the built-in dataset) was at build time: the fallback when a
/// relative data path does not exist from the current directory.
const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Seed of everything that is random in training: initial weights, batch order, dropout,
    /// augmentation.
    pub seed: u64,
    pub dataset: DatasetConfig,
    pub data: AvDigitsConfig,
    pub augment: AugmentConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            dataset: DatasetConfig::default(),
            data: AvDigitsConfig::default(),
            augment: AugmentConfig::default(),
            model: ModelConfig::default(),
            train: TrainConfig::default(),
        }
    }
}

/// `[dataset]`: which data a run uses. With no `path`, the built-in AV-Digits set shaped by
/// `[data]`; with one, an imported dataset directory (`polymodal data import`) and `[data]` is
/// not used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Text modalities: `auto` (cached MiniLM vectors from `polymodal embed` if present, else
    /// hashed tokens), `tokens` or `embedding`.
    pub text_features: TextFeatures,
    /// Recorded at run time from the data: each modality's kind, input shape and encoder. Given
    /// in a config, it must match the data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputRecord {
    pub name: String,
    pub kind: polymodal_core::ModalityKind,
    pub shape: Vec<usize>,
    pub encoder: String,
}

/// Loads the data a config names, resolving paths and recording (or checking) the inputs.
pub fn load_data(dataset: &mut DatasetConfig, avdigits: &mut AvDigitsConfig) -> Result<Dataset> {
    let t = std::time::Instant::now();
    let data = match &dataset.path {
        Some(p) => {
            let dir = p
                .canonicalize()
                .map_err(|e| anyhow!("{}: dataset directory not found: {e}", p.display()))?;
            let data = polymodal_data::store::load(
                &dir,
                &polymodal_data::store::StoreLoadConfig {
                    text_features: dataset.text_features,
                },
            )?;
            dataset.path = Some(dir);
            data
        }
        None => {
            resolve_avdigits_path(avdigits)?;
            avdigits.load()?
        }
    };
    let inputs: Vec<InputRecord> = data
        .specs()
        .into_iter()
        .map(|s| {
            let encoder = polymodal_nn::encoder_name(&s).unwrap_or("none").to_string();
            InputRecord {
                name: s.name,
                kind: s.kind,
                shape: s.shape,
                encoder,
            }
        })
        .collect();
    if dataset.inputs.is_empty() {
        dataset.inputs = inputs;
    } else if dataset.inputs != inputs {
        bail!(
            "dataset.inputs in the config ({}) do not match the data ({})",
            describe_inputs(&dataset.inputs),
            describe_inputs(&inputs)
        );
    }
    tracing::info!(
        "loaded {} ({} samples, {} classes; {}) in {:.1}s",
        data.name,
        data.len(),
        data.num_classes(),
        describe_inputs(&dataset.inputs),
        t.elapsed().as_secs_f64()
    );
    Ok(data)
}

fn describe_inputs(inputs: &[InputRecord]) -> String {
    inputs
        .iter()
        .map(|i| format!("{} {} {:?} → {}", i.name, i.kind, i.shape, i.encoder))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A short name of where the data came from, for messages.
pub fn data_origin(dataset: &DatasetConfig, avdigits: &AvDigitsConfig) -> String {
    dataset
        .path
        .as_ref()
        .unwrap_or(&avdigits.path)
        .display()
        .to_string()
}

/// Parses TOML `text` (named `origin` in errors), applies `key=value` overrides, validates.
pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<RunConfig> {
    let config: RunConfig = parse_as(text, origin, overrides)?;
    config
        .model
        .validate()
        .map_err(|e| anyhow!("{origin}: {e}"))?;
    config
        .train
        .validate()
        .map_err(|e| anyhow!("{origin}: {e}"))?;
    Ok(config)
}

/// Parses TOML into any config type, naming the file and dotted key on errors.
pub fn parse_as<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
    overrides: &[String],
) -> Result<T> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        anyhow!("{origin}: malformed TOML: {}", one_line(&e.to_string()))
    })?;
    for item in overrides {
        apply_override(&mut table, item).with_context(|| format!("--set {item}"))?;
    }
    let value = toml::Value::Table(table);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        anyhow!(
            "{origin}: key `{key}`: {}",
            one_line(&e.inner().to_string())
        )
    })
}

/// Reads and parses a config file.
pub fn load(path: &Path, overrides: &[String]) -> Result<RunConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("{}: cannot read config: {e}", path.display()))?;
    parse(&text, &path.display().to_string(), overrides)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `a.b.c=value`: value is parsed as TOML (so `3`, `1e-3`, `true`, `[1, 2]`, `"x"`), and a bare
/// word that is not valid TOML is taken as a string (`model.fusion=gated`).
fn apply_override(table: &mut toml::Table, item: &str) -> Result<()> {
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| anyhow!("expected key=value"))?;
    let key = key.trim();
    if key.is_empty() {
        bail!("empty key");
    }
    let value: toml::Value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = table;
    for part in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| anyhow!("`{part}` is not a table"))?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// Makes the AV-Digits path absolute: as given if it exists from here, else relative to the
/// repository polymodal was built from.
pub fn resolve_avdigits_path(data: &mut polymodal_data::AvDigitsConfig) -> Result<()> {
    let p = data.path.clone();
    let candidates = if p.is_absolute() {
        vec![p.clone()]
    } else {
        vec![
            std::env::current_dir()?.join(&p),
            PathBuf::from(REPO_ROOT).join(&p),
        ]
    };
    let found = candidates
        .iter()
        .find(|c| c.join(polymodal_data::avdigits::STORE_FILE).exists())
        .ok_or_else(|| {
            anyhow!(
                "{}: dataset not found (looked for {} here and in {})",
                p.display(),
                polymodal_data::avdigits::STORE_FILE,
                Path::new(REPO_ROOT).display()
            )
        })?;
    data.path = found.canonicalize()?;
    Ok(())
}

pub fn to_toml(config: &RunConfig) -> Result<String> {
    resolved_toml(config, &config.dataset)
}

/// A config as TOML, without the AV-Digits `[data]` table when an imported dataset is used
/// (it would be unused, and a reader would take it for the data's settings).
pub fn resolved_toml<T: Serialize>(config: &T, dataset: &DatasetConfig) -> Result<String> {
    let mut value = toml::Table::try_from(config)?;
    if dataset.path.is_some() {
        value.remove("data");
    }
    Ok(toml::to_string_pretty(&value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_equals_documented_defaults() {
        let parsed = parse(DEFAULT_CONFIG, "configs/avdigits.toml", &[]).unwrap();
        // The shipped file may tune data settings; everything it spells out must parse.
        assert_eq!(parsed.model, ModelConfig::default());
    }

    #[test]
    fn unknown_key_is_named_with_file() {
        let e = parse("[train]\nepoch = 3\n", "x.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml"), "{e}");
        assert!(e.contains("train.epoch"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = parse("[train]\nepochs = \"many\"\n", "x.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.epochs"), "{e}");
    }

    #[test]
    fn malformed_toml_is_reported() {
        let e = parse("[train\n", "bad.toml", &[]).unwrap_err().to_string();
        assert!(
            e.contains("bad.toml") && e.contains("malformed TOML"),
            "{e}"
        );
    }

    #[test]
    fn overrides_apply_and_typecheck() {
        let c = parse(
            "",
            "x",
            &["train.epochs=3".into(), "model.fusion=gated".into()],
        )
        .unwrap();
        assert_eq!(c.train.epochs, 3);
        assert_eq!(c.model.fusion, polymodal_nn::fusion::FusionKind::Gated);
        let e = parse("", "x", &["train.nope=1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.nope"), "{e}");
    }

    #[test]
    fn round_trips_through_toml() {
        let c = RunConfig::default();
        let back = parse(&to_toml(&c).unwrap(), "x", &[]).unwrap();
        assert_eq!(c, back);
    }
}
