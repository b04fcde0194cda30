//! The import schema: which columns hold the id, label and split, and for each modality its kind
//! and preprocessing. Given as TOML (`--schema`) or inferred from the manifest.

use super::manifest::Manifest;
use polymodal_core::ModalityKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "webp"];
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "flac", "mp3", "ogg"];
pub const VECTOR_EXTENSIONS: [&str; 2] = ["npy", "safetensors"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schema {
    /// Dataset name; defaults to the output folder's name.
    pub name: Option<String>,
    pub id_column: String,
    /// Unset: a column named `label` (any case) if there is one, else no labels.
    pub label_column: Option<String>,
    /// Unset: a column named `split` (any case) if there is one, else a seeded, stratified
    /// split is made and stored.
    pub split_column: Option<String>,
    /// The class list, in order. Given: a label outside it is a bad row. Inferred: the sorted
    /// distinct labels.
    pub classes: Option<Vec<String>>,
    /// Folder holding all-MiniLM-L6-v2 (`polymodal embed` uses it for text modalities).
    pub text_model: Option<PathBuf>,
    /// Seed and train/val/test fractions of the split made when the manifest has none.
    pub split_seed: u64,
    pub split_fractions: [f64; 3],
    pub modalities: Vec<ModalitySchema>,
}

impl Default for Schema {
    fn default() -> Self {
        Self {
            name: None,
            id_column: "id".into(),
            label_column: None,
            split_column: None,
            classes: None,
            text_model: None,
            split_seed: 0,
            split_fractions: [0.8, 0.1, 0.1],
            modalities: Vec::new(),
        }
    }
}

/// One modality. Keys that do not apply to its kind are rejected by [`Schema::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModalitySchema {
    pub name: String,
    /// Manifest column; defaults to the modality name.
    #[serde(default)]
    pub column: Option<String>,
    pub kind: ModalityKind,
    /// Image: `[height, width]` after resizing (default 32 x 32).
    #[serde(default)]
    pub size: Option<[usize; 2]>,
    /// Image: 1 (grey) or 3 (RGB); default 3 if any image is colour, else 1.
    #[serde(default)]
    pub channels: Option<usize>,
    /// Audio: target rate after resampling (default 16000 Hz).
    #[serde(default)]
    pub sample_rate: Option<usize>,
    /// Audio: seconds kept from the start of each clip, zero-padded if shorter (default 1.0).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Audio: log-mel bands and frames (default 32 x 32).
    #[serde(default)]
    pub n_mels: Option<usize>,
    #[serde(default)]
    pub frames: Option<usize>,
    /// Text: tokens kept per sample (default 64).
    #[serde(default)]
    pub max_tokens: Option<usize>,
    /// Vector: expected length; inferred from the first vector when absent.
    #[serde(default)]
    pub dim: Option<usize>,
}

pub const DEFAULT_IMAGE_SIZE: [usize; 2] = [32, 32];
pub const DEFAULT_SAMPLE_RATE: usize = 16_000;
pub const DEFAULT_DURATION: f64 = 1.0;
pub const DEFAULT_MELS: usize = 32;
pub const DEFAULT_FRAMES: usize = 32;
pub const DEFAULT_MAX_TOKENS: usize = 64;

// Upper bounds: generous for real data, but low enough that a typo (an extra zero or three)
// is an error naming the key instead of an out-of-memory abort halfway through an import.
pub const IMAGE_SIDE: std::ops::RangeInclusive<usize> = 4..=512;
pub const SAMPLE_RATE: std::ops::RangeInclusive<usize> = 1_000..=192_000;
pub const MAX_DURATION: f64 = 60.0;
pub const MAX_MELS: usize = 512;
pub const MAX_FRAMES: usize = 4_096;
pub const MAX_TOKENS: usize = 4_096;
pub const MAX_DIM: usize = 65_536;

/// Why a schema was refused. Every variant names the key (and modality) at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    #[error("malformed TOML: {0}")]
    Toml(String),
    #[error("key `{key}`: {reason}")]
    Key { key: String, reason: String },
    #[error("modality `{modality}`: {key} = {value} is outside {bound}")]
    OutOfBounds {
        modality: String,
        key: &'static str,
        value: String,
        bound: String,
    },
    #[error("modality `{modality}`: key `{key}` does not apply to kind `{kind}`")]
    NotForKind {
        modality: String,
        key: &'static str,
        kind: ModalityKind,
    },
    #[error("modality `{modality}`: kind `sequence` cannot be imported from a manifest yet")]
    Sequence { modality: String },
    #[error("modality `{modality}`: the manifest has no column `{column}`")]
    NoModalityColumn { modality: String, column: String },
    #[error("the manifest has no {what} column `{column}`")]
    NoColumn { what: &'static str, column: String },
    #[error("{0}")]
    Invalid(String),
}

fn out_of_bounds(m: &str, key: &'static str, value: impl ToString, bound: &str) -> SchemaError {
    SchemaError::OutOfBounds {
        modality: m.to_string(),
        key,
        value: value.to_string(),
        bound: bound.to_string(),
    }
}

impl ModalitySchema {
    pub fn new(name: &str, kind: ModalityKind) -> Self {
        Self {
            name: name.into(),
            column: None,
            kind,
            size: None,
            channels: None,
            sample_rate: None,
            duration: None,
            n_mels: None,
            frames: None,
            max_tokens: None,
            dim: None,
        }
    }

    pub fn column(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }

    /// Fills every default that applies to the kind (`channels` and `dim` stay data-dependent).
    pub fn resolved(&self) -> Self {
        let mut s = self.clone();
        match s.kind {
            ModalityKind::Image => {
                s.size.get_or_insert(DEFAULT_IMAGE_SIZE);
            }
            ModalityKind::Audio => {
                s.sample_rate.get_or_insert(DEFAULT_SAMPLE_RATE);
                s.duration.get_or_insert(DEFAULT_DURATION);
                s.n_mels.get_or_insert(DEFAULT_MELS);
                s.frames.get_or_insert(DEFAULT_FRAMES);
            }
            ModalityKind::Text => {
                s.max_tokens.get_or_insert(DEFAULT_MAX_TOKENS);
            }
            _ => {}
        }
        s
    }

    fn check(&self) -> Result<(), SchemaError> {
        let n = self.name.as_str();
        if n.is_empty() || n.ends_with(crate::store::PRESENT_SUFFIX) {
            return Err(SchemaError::Invalid(format!(
                "modality name `{n}` must be non-empty and not end in `{}`",
                crate::store::PRESENT_SUFFIX
            )));
        }
        let set = [
            ("size", self.size.is_some()),
            ("channels", self.channels.is_some()),
            ("sample_rate", self.sample_rate.is_some()),
            ("duration", self.duration.is_some()),
            ("n_mels", self.n_mels.is_some()),
            ("frames", self.frames.is_some()),
            ("max_tokens", self.max_tokens.is_some()),
            ("dim", self.dim.is_some()),
        ];
        let allowed: &[&str] = match self.kind {
            ModalityKind::Image => &["size", "channels"],
            ModalityKind::Audio => &["sample_rate", "duration", "n_mels", "frames"],
            ModalityKind::Text => &["max_tokens"],
            ModalityKind::Vector => &["dim"],
            ModalityKind::Sequence => {
                return Err(SchemaError::Sequence {
                    modality: n.to_string(),
                })
            }
        };
        if let Some((key, _)) = set.iter().find(|(k, on)| *on && !allowed.contains(k)) {
            return Err(SchemaError::NotForKind {
                modality: n.to_string(),
                key,
                kind: self.kind,
            });
        }
        let r = self.resolved();
        if let Some([h, w]) = r.size {
            if !IMAGE_SIDE.contains(&h) || !IMAGE_SIDE.contains(&w) {
                return Err(out_of_bounds(
                    n,
                    "size",
                    format!("[{h}, {w}]"),
                    "4..=512 per side",
                ));
            }
        }
        if let Some(c) = r.channels {
            if c != 1 && c != 3 {
                return Err(out_of_bounds(n, "channels", c, "{1, 3}"));
            }
        }
        if let Some(sr) = r.sample_rate {
            if !SAMPLE_RATE.contains(&sr) {
                return Err(out_of_bounds(n, "sample_rate", sr, "1000..=192000 Hz"));
            }
        }
        if let Some(d) = r.duration {
            if !(d > 0.0 && d <= MAX_DURATION) {
                return Err(out_of_bounds(n, "duration", d, "(0, 60] seconds"));
            }
        }
        let bounded = [
            ("n_mels", r.n_mels, 1, MAX_MELS),
            ("frames", r.frames, 4, MAX_FRAMES),
            ("max_tokens", r.max_tokens, 1, MAX_TOKENS),
            ("dim", r.dim, 1, MAX_DIM),
        ];
        for (key, value, lo, hi) in bounded {
            if let Some(v) = value.filter(|v| !(lo..=hi).contains(v)) {
                return Err(out_of_bounds(n, key, v, &format!("{lo}..={hi}")));
            }
        }
        Ok(())
    }
}

/// A schema that passed [`Schema::check`]: every bound and key holds. The import only ever
/// works from one of these (linfa's ParamGuard pattern: unchecked params → `check()` →
/// validated params). The data-dependent fields (`channels` when unset, `dim` when unset,
/// label and split columns found by name) are filled in later by the import itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSchema(Schema);

impl std::ops::Deref for ValidSchema {
    type Target = Schema;
    fn deref(&self) -> &Schema {
        &self.0
    }
}

impl ValidSchema {
    pub fn into_inner(self) -> Schema {
        self.0
    }

    /// Fills unset label and split columns from the manifest's columns, then checks that every
    /// named column exists and no column serves two roles.
    pub fn bind(mut self, columns: &[String]) -> Result<Self, SchemaError> {
        self.0.detect_columns(columns);
        self.0.check_columns(columns)?;
        Ok(self)
    }

    /// Data-dependent settings the import resolves after reading the files; `check` has already
    /// bounded everything the user gave.
    pub(crate) fn modalities_mut(&mut self) -> &mut [ModalitySchema] {
        &mut self.0.modalities
    }
}

impl Schema {
    pub fn parse_toml(text: &str) -> Result<Self, SchemaError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| SchemaError::Toml(one_line(&e.to_string())))?;
        let schema: Schema =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                SchemaError::Key {
                    key: e.path().to_string(),
                    reason: one_line(&e.inner().to_string()),
                }
            })?;
        Ok(schema)
    }

    /// Checks everything that does not depend on the manifest: per-kind keys, bounds, split
    /// fractions, class list, modality names.
    pub fn check(&self) -> Result<ValidSchema, SchemaError> {
        if self.id_column.is_empty() {
            return Err(SchemaError::Invalid("id_column must not be empty".into()));
        }
        let mut names = std::collections::HashSet::new();
        for m in &self.modalities {
            m.check()?;
            if !names.insert(m.name.as_str()) {
                return Err(SchemaError::Invalid(format!(
                    "modality `{}` is named twice",
                    m.name
                )));
            }
        }
        let [a, b, c] = self.split_fractions;
        if !(a.is_finite() && b.is_finite() && c.is_finite())
            || a <= 0.0
            || b < 0.0
            || c < 0.0
            || ((a + b + c) - 1.0).abs() > 1e-6
        {
            return Err(SchemaError::Invalid(format!(
                "split_fractions [{a}, {b}, {c}] must be non-negative, train > 0, and sum to 1"
            )));
        }
        if let Some(classes) = &self.classes {
            if classes.len() < 2 {
                return Err(SchemaError::Invalid(
                    "classes must list at least 2 classes".into(),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(c) = classes
                .iter()
                .find(|c| c.trim().is_empty() || !seen.insert(c.trim()))
            {
                return Err(SchemaError::Invalid(format!(
                    "classes: `{c}` is empty or listed twice"
                )));
            }
        }
        Ok(ValidSchema(self.clone()))
    }

    /// Fills unset label and split columns from the manifest's column names.
    pub fn detect_columns(&mut self, columns: &[String]) {
        let find = |name: &str| {
            columns
                .iter()
                .find(|c| c.eq_ignore_ascii_case(name))
                .cloned()
        };
        if self.label_column.is_none() {
            self.label_column = find("label");
        }
        if self.split_column.is_none() {
            self.split_column = find("split");
        }
    }

    /// [`Schema::check`] plus the checks against the manifest's columns.
    pub fn validate(&self, columns: &[String]) -> Result<(), SchemaError> {
        self.check()?;
        self.check_columns(columns)
    }

    fn check_columns(&self, columns: &[String]) -> Result<(), SchemaError> {
        let has = |c: &str| columns.iter().any(|x| x == c);
        if !has(&self.id_column) {
            return Err(SchemaError::NoColumn {
                what: "id",
                column: self.id_column.clone(),
            });
        }
        for (what, col) in [("label", &self.label_column), ("split", &self.split_column)] {
            if let Some(c) = col {
                if !has(c) {
                    return Err(SchemaError::NoColumn {
                        what,
                        column: c.clone(),
                    });
                }
            }
        }
        if self.modalities.is_empty() {
            return Err(SchemaError::Invalid(
                "no modality columns: the schema names none".into(),
            ));
        }
        for m in &self.modalities {
            if !has(m.column()) {
                return Err(SchemaError::NoModalityColumn {
                    modality: m.name.clone(),
                    column: m.column().to_string(),
                });
            }
            if [
                Some(&self.id_column),
                self.label_column.as_ref(),
                self.split_column.as_ref(),
            ]
            .contains(&Some(&m.column().to_string()))
            {
                return Err(SchemaError::Invalid(format!(
                    "modality `{}` uses column `{}`, which is the id, label or split column",
                    m.name,
                    m.column()
                )));
            }
        }
        Ok(())
    }

    /// A schema from the manifest alone: `id`, `label` and `split` columns by name (any case),
    /// every other column a modality whose kind is read off its non-empty cells.
    pub fn infer(manifest: &Manifest) -> Result<Self, SchemaError> {
        let find = |name: &str| {
            manifest
                .columns
                .iter()
                .find(|c| c.eq_ignore_ascii_case(name))
                .cloned()
        };
        let id_column = find("id").ok_or_else(|| {
            SchemaError::Invalid(format!(
                "the manifest has no `id` column (columns: {}); name one with a schema",
                manifest.columns.join(", ")
            ))
        })?;
        let label_column = find("label");
        let split_column = find("split");
        let mut modalities = Vec::new();
        for col in &manifest.columns {
            if [
                Some(&id_column),
                label_column.as_ref(),
                split_column.as_ref(),
            ]
            .contains(&Some(col))
            {
                continue;
            }
            let values: Vec<&str> = manifest.rows.iter().filter_map(|r| r.get(col)).collect();
            if values.is_empty() {
                return Err(SchemaError::Invalid(format!(
                    "column `{col}` is empty in every row, so its kind cannot be inferred; give a schema"
                )));
            }
            modalities.push(ModalitySchema::new(col, infer_kind(&values)));
        }
        let schema = Schema {
            id_column,
            label_column,
            split_column,
            modalities,
            ..Schema::default()
        };
        schema.validate(&manifest.columns)?;
        Ok(schema)
    }
}

/// The kind a cell points to by its extension, or `None` for text. A path may contain spaces
/// (`my photos/cat 1.jpg`): only the extension decides, so such a column is not silently read
/// as text. Multi-line cells are always text.
pub fn cell_kind(v: &str) -> Option<ModalityKind> {
    let v = v.trim();
    if v.contains('\n') {
        return None;
    }
    let path = v.split('#').next().unwrap_or(v);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        Some(ModalityKind::Image)
    } else if AUDIO_EXTENSIONS.contains(&ext.as_str()) {
        Some(ModalityKind::Audio)
    } else if VECTOR_EXTENSIONS.contains(&ext.as_str()) {
        Some(ModalityKind::Vector)
    } else {
        None
    }
}

/// The kind most cells of a column point to; anything that is not a file reference is text.
fn infer_kind(values: &[&str]) -> ModalityKind {
    let mut counts = std::collections::HashMap::new();
    for v in values {
        *counts.entry(cell_kind(v)).or_insert(0usize) += 1;
    }
    // A column is a file column when the majority of cells are file references: a few broken
    // cells must surface as bad rows, not flip the whole column to text.
    counts
        .into_iter()
        .filter(|(_, n)| 2 * n > values.len())
        .find_map(|(k, _)| k)
        .unwrap_or(ModalityKind::Text)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::manifest::{parse, Format};
    use super::*;

    #[test]
    fn infers_kinds_and_reserved_columns() {
        let m = parse(
            "ID,Label,photo,sound,caption,emb\na,x,a.PNG,a.wav,a red cat,f.npy#0\nb,y,b.jpg,,\"hi\",f.npy#1\n",
            Format::Csv,
        )
        .unwrap();
        let s = Schema::infer(&m).unwrap();
        assert_eq!(s.id_column, "ID");
        assert_eq!(s.label_column.as_deref(), Some("Label"));
        assert_eq!(s.split_column, None);
        let kinds: Vec<_> = s
            .modalities
            .iter()
            .map(|m| (m.name.as_str(), m.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("photo", ModalityKind::Image),
                ("sound", ModalityKind::Audio),
                ("caption", ModalityKind::Text),
                ("emb", ModalityKind::Vector)
            ]
        );
    }

    #[test]
    fn schema_toml_rejects_unknown_and_misapplied_keys() {
        let e = Schema::parse_toml("idcolumn = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("idcolumn"), "{e}");
        let s = Schema::parse_toml(
            "[[modalities]]\nname = \"img\"\nkind = \"image\"\nsample_rate = 8000\n",
        )
        .unwrap();
        let e = s
            .validate(&["id".into(), "img".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`sample_rate` does not apply to kind `image`"),
            "{e}"
        );
    }

    #[test]
    fn schema_names_missing_columns() {
        let s = Schema::parse_toml("[[modalities]]\nname = \"img\"\nkind = \"image\"\n").unwrap();
        let e = s.validate(&["id".into()]).unwrap_err().to_string();
        assert!(e.contains("no column `img`"), "{e}");
    }
}
