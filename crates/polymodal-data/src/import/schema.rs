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

    fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        let set: Vec<&str> = [
            ("size", self.size.is_some()),
            ("channels", self.channels.is_some()),
            ("sample_rate", self.sample_rate.is_some()),
            ("duration", self.duration.is_some()),
            ("n_mels", self.n_mels.is_some()),
            ("frames", self.frames.is_some()),
            ("max_tokens", self.max_tokens.is_some()),
            ("dim", self.dim.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        let allowed: &[&str] = match self.kind {
            ModalityKind::Image => &["size", "channels"],
            ModalityKind::Audio => &["sample_rate", "duration", "n_mels", "frames"],
            ModalityKind::Text => &["max_tokens"],
            ModalityKind::Vector => &["dim"],
            ModalityKind::Sequence => {
                return Err(format!(
                    "modality `{n}`: kind `sequence` cannot be imported from a manifest yet"
                ))
            }
        };
        if let Some(k) = set.iter().find(|k| !allowed.contains(k)) {
            return Err(format!(
                "modality `{n}`: key `{k}` does not apply to kind `{}`",
                self.kind
            ));
        }
        let r = self.resolved();
        if let Some([h, w]) = r.size {
            if !(4..=512).contains(&h) || !(4..=512).contains(&w) {
                return Err(format!(
                    "modality `{n}`: size [{h}, {w}] must be within 4..=512"
                ));
            }
        }
        if let Some(c) = r.channels {
            if c != 1 && c != 3 {
                return Err(format!("modality `{n}`: channels must be 1 or 3, got {c}"));
            }
        }
        if let Some(sr) = r.sample_rate {
            if !(1000..=192_000).contains(&sr) {
                return Err(format!(
                    "modality `{n}`: sample_rate {sr} is outside 1000..=192000"
                ));
            }
        }
        if let Some(d) = r.duration {
            if !(d > 0.0 && d <= 60.0) {
                return Err(format!("modality `{n}`: duration {d} s must be in (0, 60]"));
            }
        }
        if matches!(r.n_mels, Some(0)) || matches!(r.frames, Some(0..=3)) {
            return Err(format!("modality `{n}`: n_mels must be ≥ 1 and frames ≥ 4"));
        }
        if matches!(r.max_tokens, Some(0)) || matches!(r.dim, Some(0)) {
            return Err(format!("modality `{n}`: max_tokens and dim must be ≥ 1"));
        }
        Ok(())
    }
}

impl Schema {
    pub fn parse_toml(text: &str) -> Result<Self, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            format!("malformed TOML: {}", one_line(&e.to_string()))
        })?;
        let schema: Schema = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| format!("key `{}`: {}", e.path(), one_line(&e.inner().to_string())))?;
        Ok(schema)
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

    /// Checks the schema against itself and the manifest's columns.
    pub fn validate(&self, columns: &[String]) -> Result<(), String> {
        let has = |c: &str| columns.iter().any(|x| x == c);
        if !has(&self.id_column) {
            return Err(format!(
                "the manifest has no id column `{}`",
                self.id_column
            ));
        }
        for (what, col) in [("label", &self.label_column), ("split", &self.split_column)] {
            if let Some(c) = col {
                if !has(c) {
                    return Err(format!("the manifest has no {what} column `{c}`"));
                }
            }
        }
        if self.modalities.is_empty() {
            return Err("no modality columns: the schema names none".into());
        }
        let mut names = std::collections::HashSet::new();
        for m in &self.modalities {
            m.validate()?;
            if !names.insert(m.name.as_str()) {
                return Err(format!("modality `{}` is named twice", m.name));
            }
            if !has(m.column()) {
                return Err(format!(
                    "modality `{}`: the manifest has no column `{}`",
                    m.name,
                    m.column()
                ));
            }
            if [
                Some(&self.id_column),
                self.label_column.as_ref(),
                self.split_column.as_ref(),
            ]
            .contains(&Some(&m.column().to_string()))
            {
                return Err(format!(
                    "modality `{}` uses column `{}`, which is the id, label or split column",
                    m.name,
                    m.column()
                ));
            }
        }
        let [a, b, c] = self.split_fractions;
        if a <= 0.0 || b < 0.0 || c < 0.0 || ((a + b + c) - 1.0).abs() > 1e-6 {
            return Err(format!(
                "split_fractions [{a}, {b}, {c}] must be non-negative, train > 0, and sum to 1"
            ));
        }
        if let Some(classes) = &self.classes {
            if classes.len() < 2 {
                return Err("classes must list at least 2 classes".into());
            }
        }
        Ok(())
    }

    /// A schema from the manifest alone: `id`, `label` and `split` columns by name (any case),
    /// every other column a modality whose kind is read off its non-empty cells.
    pub fn infer(manifest: &Manifest) -> Result<Self, String> {
        let find = |name: &str| {
            manifest
                .columns
                .iter()
                .find(|c| c.eq_ignore_ascii_case(name))
                .cloned()
        };
        let id_column = find("id").ok_or_else(|| {
            format!(
                "the manifest has no `id` column (columns: {}); name one with a schema",
                manifest.columns.join(", ")
            )
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
                return Err(format!(
                    "column `{col}` is empty in every row, so its kind cannot be inferred; give a schema"
                ));
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

/// The kind most cells of a column point to; anything that is not a file reference is text.
fn infer_kind(values: &[&str]) -> ModalityKind {
    let ext_kind = |v: &str| {
        let path = v.split('#').next().unwrap_or(v);
        if v.chars().any(char::is_whitespace) {
            return None;
        }
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
    };
    let mut counts = std::collections::HashMap::new();
    for v in values {
        *counts.entry(ext_kind(v)).or_insert(0usize) += 1;
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
        let e = Schema::parse_toml("idcolumn = \"x\"").unwrap_err();
        assert!(e.contains("idcolumn"), "{e}");
        let s = Schema::parse_toml(
            "[[modalities]]\nname = \"img\"\nkind = \"image\"\nsample_rate = 8000\n",
        )
        .unwrap();
        let e = s.validate(&["id".into(), "img".into()]).unwrap_err();
        assert!(
            e.contains("`sample_rate` does not apply to kind `image`"),
            "{e}"
        );
    }

    #[test]
    fn schema_names_missing_columns() {
        let s = Schema::parse_toml("[[modalities]]\nname = \"img\"\nkind = \"image\"\n").unwrap();
        let e = s.validate(&["id".into()]).unwrap_err();
        assert!(e.contains("no column `img`"), "{e}");
    }
}
