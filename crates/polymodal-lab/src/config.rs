//! Configs: one base training config ([`RunConfig`], every key documented in
//! `configs/avdigits.toml`) that experiment configs extend with one table of their own
//! (`[active]` for `simulate`, `[compare]` for `compare`; see [`Extended`]).
//!
//! A config file may start from another with `base = "other.toml"` (resolved next to the file;
//! the built-in configs resolve among themselves): the base's tables are read first and the
//! file's keys merged over them, key by key, so an experiment config states only what differs.
//! Unknown keys, wrong types and malformed TOML are errors that name the file and the dotted key.
//! Parsing yields an unchecked config; [`RunConfig::check`] / [`Extended::check`] validate every
//! value once, before any work starts, into a [`Checked`] config the commands require.

use crate::LabError;
use polymodal_data::store::TextFeatures;
use polymodal_data::{AugmentConfig, AvDigitsConfig};
use polymodal_nn::ModelConfig;
use polymodal_train::TrainConfig;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The default training config, compiled in so `demo` works from any directory.
pub const DEFAULT_CONFIG: &str = include_str!("../../../configs/avdigits.toml");
/// The quick simulation the demo runs, compiled in for the same reason.
pub const QUICK_SIMULATION: &str = include_str!("../../../configs/al-avdigits-quick.toml");

/// Built-in configs by file name: what `base = "..."` resolves to in a built-in config.
const BUILT_IN: [(&str, &str); 2] = [
    ("avdigits.toml", DEFAULT_CONFIG),
    ("al-avdigits-quick.toml", QUICK_SIMULATION),
];

/// `base` chains longer than this are refused (a cycle would otherwise never end).
const MAX_BASE_DEPTH: usize = 8;

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

/// A config whose every value has been validated; only [`RunConfig::check`] and
/// [`Extended::check`] make one.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<T>(T);

impl<T> Checked<T> {
    pub fn get(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }

    /// For values the caller fills in after validation that cannot invalidate it (a resolved
    /// data path, the recorded inputs).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> std::ops::Deref for Checked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

fn invalid(origin: &str, message: impl std::fmt::Display) -> LabError {
    LabError::Config {
        origin: origin.to_string(),
        message: message.to_string(),
    }
}

impl RunConfig {
    /// Validates every value (model, training, AV-Digits degradations) once.
    pub fn check(self, origin: &str) -> Result<Checked<Self>, LabError> {
        self.validate(origin)?;
        Ok(Checked(self))
    }

    fn validate(&self, origin: &str) -> Result<(), LabError> {
        self.model.validate().map_err(|e| invalid(origin, e))?;
        self.train
            .validate_for(&self.model)
            .map_err(|e| invalid(origin, e))?;
        // Upper bounds: a typo (an extra zero or three) becomes an error naming the key, not
        // an out-of-memory abort after the data has loaded.
        let m = &self.model;
        let t = &self.train;
        let bounds: [(&str, usize, usize); 8] = [
            ("model.feature_dim", m.feature_dim, 65_536),
            ("model.fusion_dim", m.fusion_dim, 65_536),
            ("model.mlp_hidden", m.mlp_hidden, 65_536),
            ("model.text_embed_dim", m.text_embed_dim, 65_536),
            (
                "model.conv_channels",
                m.conv_channels.iter().copied().max().unwrap_or(0),
                4_096,
            ),
            ("train.batch_size", t.batch_size, 65_536),
            ("train.eval_batch_size", t.eval_batch_size, 65_536),
            ("train.epochs", t.epochs, 100_000),
        ];
        for (key, value, max) in bounds {
            if value > max {
                return Err(invalid(
                    origin,
                    format!("key `{key}`: {value} is more than {max}"),
                ));
            }
        }
        Ok(())
    }

    /// Parses a training config (`origin` names it in errors) and applies `--set` overrides.
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Self, LabError> {
        let table = parse_table(text, origin, None, overrides)?;
        deserialize(table, origin, "")
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, LabError> {
        let (table, origin) = load_table(path, overrides)?;
        deserialize(table, &origin, "")
    }

    /// The built-in default training config (`configs/avdigits.toml`), with overrides.
    pub fn built_in(overrides: &[String]) -> Result<Self, LabError> {
        Self::parse(
            DEFAULT_CONFIG,
            "configs/avdigits.toml (built in)",
            overrides,
        )
    }

    /// The resolved config as TOML, without the AV-Digits `[data]` table when an imported
    /// dataset is used (it would be unused, and a reader would take it for the data's settings).
    pub fn to_toml(&self) -> Result<String, LabError> {
        let table = self.to_table()?;
        toml::to_string_pretty(&table).map_err(|e| invalid("resolved config", e))
    }

    fn to_table(&self) -> Result<toml::Table, LabError> {
        let mut value = toml::Table::try_from(self).map_err(|e| invalid("resolved config", e))?;
        if self.dataset.path.is_some() {
            value.remove("data");
        }
        Ok(value)
    }
}

/// The table an experiment adds to the base config.
pub trait Extension:
    Serialize + DeserializeOwned + Default + Clone + PartialEq + std::fmt::Debug
{
    /// Its table name (`active`, `compare`).
    const KEY: &'static str;
    /// Validates the extension's own values; `base` is already valid.
    fn validate(&self, base: &RunConfig) -> Result<(), LabError>;
}

/// The base training config plus one extension table. Seeds are the extension's (one run per
/// seed), so a top-level `seed` is refused rather than silently ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct Extended<E> {
    pub base: RunConfig,
    pub ext: E,
}

impl<E: Extension> Extended<E> {
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Self, LabError> {
        refuse_seed::<E>(text, origin, overrides)?;
        Self::from_table(parse_table(text, origin, None, overrides)?, origin)
    }

    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, LabError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(&origin, format!("cannot read config: {e}")))?;
        refuse_seed::<E>(&text, &origin, overrides)?;
        let (table, origin) = load_table(path, overrides)?;
        Self::from_table(table, &origin)
    }

    fn from_table(mut table: toml::Table, origin: &str) -> Result<Self, LabError> {
        // A base training config may carry `seed`; the extension's seeds replace it.
        table.remove("seed");
        let ext = match table.remove(E::KEY) {
            Some(toml::Value::Table(t)) => deserialize(t, origin, E::KEY)?,
            Some(_) => {
                return Err(invalid(
                    origin,
                    format!("key `{}`: expected a table", E::KEY),
                ))
            }
            None => E::default(),
        };
        let base = deserialize(table, origin, "")?;
        Ok(Self { base, ext })
    }

    pub fn check(self, origin: &str) -> Result<Checked<Self>, LabError> {
        self.base.validate(origin)?;
        self.ext
            .validate(&self.base)
            .map_err(|e| invalid(origin, e))?;
        Ok(Checked(self))
    }

    /// The resolved config: the extension's table first, then the base's (without `seed`).
    pub fn to_toml(&self) -> Result<String, LabError> {
        let mut base = self.base.to_table()?;
        base.remove("seed");
        let mut table = toml::Table::new();
        table.insert(
            E::KEY.to_string(),
            toml::Value::try_from(&self.ext).map_err(|e| invalid("resolved config", e))?,
        );
        table.extend(base);
        toml::to_string_pretty(&table).map_err(|e| invalid("resolved config", e))
    }
}

/// A top-level `seed` written in an experiment config itself (or set with `--set`) would be
/// silently unused: the runs take their seeds from the extension's table.
fn refuse_seed<E: Extension>(
    text: &str,
    origin: &str,
    overrides: &[String],
) -> Result<(), LabError> {
    let own: Option<toml::Table> = text.parse().ok();
    let in_file = own.is_some_and(|t| t.contains_key("seed"));
    let in_set = overrides
        .iter()
        .any(|o| o.split_once('=').is_some_and(|(k, _)| k.trim() == "seed"));
    if in_file || in_set {
        return Err(invalid(
            origin,
            format!(
                "key `seed`: not used here; the seeds are `{}.seeds`",
                E::KEY
            ),
        ));
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn load_table(path: &Path, overrides: &[String]) -> Result<(toml::Table, String), LabError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(&origin, format!("cannot read config: {e}")))?;
    let dir = path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    let table = parse_table(&text, &origin, dir, overrides)?;
    Ok((table, origin))
}

/// Parses TOML, resolves `base`, applies overrides. `dir` is where a `base` file is looked
/// for; `None` means a built-in config, whose base must be built in too.
fn parse_table(
    text: &str,
    origin: &str,
    dir: Option<&Path>,
    overrides: &[String],
) -> Result<toml::Table, LabError> {
    let mut table = with_base(text, origin, dir, 0)?;
    for item in overrides {
        apply_override(&mut table, item).map_err(|e| invalid(&format!("--set {item}"), e))?;
    }
    Ok(table)
}

fn with_base(
    text: &str,
    origin: &str,
    dir: Option<&Path>,
    depth: usize,
) -> Result<toml::Table, LabError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        invalid(
            origin,
            format!("malformed TOML: {}", one_line(&e.to_string())),
        )
    })?;
    let Some(base) = table.remove("base") else {
        return Ok(table);
    };
    let name = base
        .as_str()
        .ok_or_else(|| invalid(origin, "key `base`: expected a file name"))?
        .to_string();
    if depth >= MAX_BASE_DEPTH {
        return Err(invalid(
            origin,
            format!("key `base`: more than {MAX_BASE_DEPTH} nested bases (a cycle?)"),
        ));
    }
    let mut merged = match dir {
        Some(dir) => {
            let path = dir.join(&name);
            let base_origin = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    origin,
                    format!("key `base`: cannot read {base_origin}: {e}"),
                )
            })?;
            let next = path.parent().unwrap_or(dir).to_path_buf();
            with_base(&text, &base_origin, Some(&next), depth + 1)?
        }
        None => {
            let (_, text) = BUILT_IN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
                invalid(
                    origin,
                    format!("key `base`: no built-in config named {name}"),
                )
            })?;
            with_base(text, &format!("{name} (built in)"), None, depth + 1)?
        }
    };
    merge(&mut merged, table);
    Ok(merged)
}

/// Merges `over` into `base`: tables key by key, everything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Deserialises a table, naming the file and the dotted key (under `prefix`) on errors.
fn deserialize<T: DeserializeOwned>(
    table: toml::Table,
    origin: &str,
    prefix: &str,
) -> Result<T, LabError> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let path = e.path().to_string();
        let key = match (prefix.is_empty(), path.as_str()) {
            (true, _) => path.clone(),
            (false, ".") => prefix.to_string(),
            (false, p) => format!("{prefix}.{p}"),
        };
        invalid(
            origin,
            format!("key `{key}`: {}", one_line(&e.inner().to_string())),
        )
    })
}

/// Parses any config type from TOML text (no base, no extension), for tests and tools.
pub fn parse_as<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    overrides: &[String],
) -> Result<T, LabError> {
    deserialize(parse_table(text, origin, None, overrides)?, origin, "")
}

/// `a.b.c=value`: value is parsed as TOML (so `3`, `1e-3`, `true`, `[1, 2]`, `"x"`), and a bare
/// word that is not valid TOML is taken as a string (`model.fusion=gated`).
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), LabError> {
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| LabError::Invalid("expected key=value".into()))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(LabError::Invalid(format!("`{key}` is not a dotted key")));
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
            .ok_or_else(|| LabError::Invalid(format!("`{part}` is not a table")))?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_equals_documented_defaults() {
        let parsed = RunConfig::built_in(&[]).unwrap();
        // The shipped file may tune data settings; everything it spells out must parse.
        assert_eq!(parsed.model, ModelConfig::default());
    }

    #[test]
    fn unknown_key_is_named_with_file() {
        let e = RunConfig::parse("[train]\nepoch = 3\n", "x.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("train.epoch"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = RunConfig::parse("[train]\nepochs = \"many\"\n", "x.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.epochs"), "{e}");
    }

    #[test]
    fn malformed_toml_is_reported() {
        let e = RunConfig::parse("[train\n", "bad.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.toml") && e.contains("malformed TOML"),
            "{e}"
        );
    }

    #[test]
    fn overrides_apply_and_typecheck() {
        let c = RunConfig::parse(
            "",
            "x",
            &["train.epochs=3".into(), "model.fusion=gated".into()],
        )
        .unwrap();
        assert_eq!(c.train.epochs, 3);
        assert_eq!(c.model.fusion, polymodal_nn::fusion::FusionKind::Gated);
        let e = RunConfig::parse("", "x", &["train.nope=1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.nope"), "{e}");
        for bad in ["noequals", "=3", "a..b=1", "seed.x=1"] {
            let e = RunConfig::parse("seed = 2", "x", &[bad.into()]).unwrap_err();
            assert!(e.to_string().contains("--set"), "{bad}: {e}");
        }
    }

    #[test]
    fn round_trips_through_toml() {
        let c = RunConfig::default();
        let back = RunConfig::parse(&c.to_toml().unwrap(), "x", &[]).unwrap();
        assert_eq!(c, back);
    }

    #[test]
    fn a_base_file_is_merged_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "seed = 5\n[train]\nepochs = 3\nlr = 0.5\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("child.toml"),
            "base = \"base.toml\"\n[train]\nepochs = 7\n",
        )
        .unwrap();
        let c = RunConfig::load(&dir.path().join("child.toml"), &[]).unwrap();
        assert_eq!((c.seed, c.train.epochs, c.train.lr), (5, 7, 0.5));
        // A cycle is an error, not a hang.
        std::fs::write(dir.path().join("a.toml"), "base = \"b.toml\"\n").unwrap();
        std::fs::write(dir.path().join("b.toml"), "base = \"a.toml\"\n").unwrap();
        let e = RunConfig::load(&dir.path().join("a.toml"), &[]).unwrap_err();
        assert!(e.to_string().contains("nested bases"), "{e}");
        let e = RunConfig::parse("base = \"nope.toml\"", "x", &[]).unwrap_err();
        assert!(e.to_string().contains("no built-in config"), "{e}");
    }

    #[test]
    fn absurd_sizes_are_refused_before_any_work() {
        for (set, key) in [
            ("model.feature_dim=1000000000", "model.feature_dim"),
            ("model.conv_channels=[16, 1000000]", "model.conv_channels"),
            ("train.batch_size=100000000", "train.batch_size"),
        ] {
            let e = RunConfig::parse("", "x.toml", &[set.into()])
                .unwrap()
                .check("x.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains("more than"), "{e}");
        }
    }

    #[test]
    fn invalid_values_fail_the_check_not_the_parse() {
        let c = RunConfig::parse("[train]\nepochs = 0\n", "x.toml", &[]).unwrap();
        let e = c.check("x.toml").unwrap_err().to_string();
        assert!(e.contains("x.toml") && e.contains("train.epochs"), "{e}");
    }
}
