//! An imported dataset directory: what `polymodal data import` writes and every command loads.
//!
//! ```text
//! DIR/values.safetensors   one tensor per image/audio/vector modality ([n, ...]; images as u8)
//!                          and `<modality>.present` (u8 [n]) for every modality
//! DIR/texts.json           raw text per text modality (null where missing)
//! DIR/card.md, card.json   the data card
//! DIR/embeddings/<m>.safetensors  cached MiniLM vectors (`polymodal embed`)
//! DIR/dataset.json         ids, labels, splits, specs, content hash: written last
//! ```
//!
//! The directory is built under a temporary sibling name and renamed into place, and
//! `dataset.json` is its last file, so a crashed import leaves nothing that loads.

use crate::import::schema::ModalitySchema;
use crate::import::BadRow;
use crate::text::{hash_token_ids, HASH_VOCAB};
use crate::{DataError, Dataset, ModalityData};
use polymodal_core::{ModalityKind, ModalitySpec, SampleId, Split};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FORMAT_VERSION: u32 = 1;
pub const META_FILE: &str = "dataset.json";
pub const VALUES_FILE: &str = "values.safetensors";
pub const TEXTS_FILE: &str = "texts.json";
/// Where each image and audio value came from (see [`SourceFiles`]). Not part of the content
/// hash: moving the original files does not change the dataset.
pub const SOURCES_FILE: &str = "sources.json";
pub const CARD_MD: &str = "card.md";
pub const CARD_JSON: &str = "card.json";
pub const EMBEDDINGS_DIR: &str = "embeddings";
pub const PRESENT_SUFFIX: &str = ".present";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    U8,
    F32,
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredModality {
    /// For text: `shape = [max_tokens]` of the token-id input.
    pub spec: ModalitySpec,
    pub storage: Storage,
    /// The resolved import settings (image size, audio rate, ...), for the card and the record.
    pub preprocessing: ModalitySchema,
    /// Samples that have this modality.
    pub present: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreMeta {
    pub format: u32,
    pub name: String,
    pub class_names: Vec<String>,
    pub ids: Vec<String>,
    pub labels: Vec<Option<usize>>,
    pub splits: Vec<Split>,
    pub split_source: String,
    pub modalities: Vec<StoredModality>,
    pub source_manifest: String,
    pub text_model: Option<PathBuf>,
    pub rejected: Vec<BadRow>,
    /// sha256 over the values and texts files: the dataset's identity.
    pub content_sha256: String,
    pub polymodal_version: String,
}

pub enum Tensor {
    U8(Vec<u8>, Vec<usize>),
    F32(Vec<f32>, Vec<usize>),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |e| DataError::io(path, e)
}

/// Prefix of the temporary directory an import is assembled in, followed by the pid of the
/// importing process, so that a later import can tell a dead process's leftovers from a live
/// import running next to it.
pub const TEMP_PREFIX: &str = ".polymodal-import-";

/// Removes the half-written import directories in `parent` whose process is gone (a killed or
/// crashed import) and returns them. Directories of live processes are left alone. Only Linux
/// can tell (through `/proc`); elsewhere nothing is removed.
pub fn clean_stale_imports(parent: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let proc_fs = Path::new("/proc/self").exists();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = !proc_fs || Path::new("/proc").join(pid.to_string()).exists();
        if !alive && std::fs::remove_dir_all(entry.path()).is_ok() {
            tracing::warn!(path = %entry.path().display(), pid, "removed a half-written import of a dead process");
            removed.push(entry.path());
        }
    }
    removed
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Writes a complete dataset directory at `out` (which must not exist).
pub fn write(
    out: &Path,
    mut meta: StoreMeta,
    tensors: BTreeMap<String, Tensor>,
    texts: BTreeMap<String, Vec<Option<String>>>,
    sources: &SourceFiles,
) -> Result<(), DataError> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    // Dropped (and so deleted) on every early return below; kept only once renamed into place.
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, t)| {
            let (dtype, shape, bytes): (_, _, &[u8]) = match t {
                Tensor::U8(v, s) => (safetensors::Dtype::U8, s.clone(), v),
                Tensor::F32(v, s) => (safetensors::Dtype::F32, s.clone(), bytemuck_f32(v)),
            };
            safetensors::tensor::TensorView::new(dtype, shape, bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| DataError::BadStore {
                    path: out.to_path_buf(),
                    reason: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let values_bytes = safetensors::serialize(views, None).map_err(|e| DataError::BadStore {
        path: out.to_path_buf(),
        reason: e.to_string(),
    })?;
    let texts_bytes = serde_json::to_vec(&texts).expect("strings serialise");
    meta.content_sha256 = content_sha256(&values_bytes, &texts_bytes);

    let dir = tmp.path();
    let put = |name: &str, bytes: &[u8]| write_synced(&dir.join(name), bytes);
    put(VALUES_FILE, &values_bytes)?;
    put(TEXTS_FILE, &texts_bytes)?;
    put(
        SOURCES_FILE,
        &serde_json::to_vec(sources).expect("sources serialise"),
    )?;
    let card = DataCard::from_meta(&meta);
    put(
        CARD_JSON,
        &serde_json::to_vec_pretty(&card).expect("card serialises"),
    )?;
    put(CARD_MD, card.to_markdown().as_bytes())?;
    put(
        META_FILE,
        &serde_json::to_vec(&meta).expect("meta serialises"),
    )?;
    let sync = |d: &Path| {
        polymodal_core::fsutil::sync_dir(d).map_err(|e| DataError::BadStore {
            path: d.to_path_buf(),
            reason: e.to_string(),
        })
    };
    sync(dir)?;
    let tmp_path = tmp.keep();
    std::fs::rename(&tmp_path, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp_path);
        DataError::io(out, e)
    })?;
    sync(parent)
}

/// sha256 over the values and texts files: what `dataset.json` records as the content hash.
fn content_sha256(values: &[u8], texts: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(values);
    h.update(texts);
    format!("{:x}", h.finalize())
}

/// safetensors stores little-endian, which is every platform polymodal targets.
fn bytemuck_f32(v: &[f32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

pub fn read_meta(dir: &Path) -> Result<StoreMeta, DataError> {
    let path = dir.join(META_FILE);
    if !path.exists() {
        return Err(DataError::BadStore {
            path: dir.to_path_buf(),
            reason: format!(
                "no {META_FILE}; create a dataset with `polymodal data import --manifest FILE --out DIR`"
            ),
        });
    }
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let meta: StoreMeta = serde_json::from_slice(&bytes).map_err(|e| DataError::BadStore {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if meta.format != FORMAT_VERSION {
        return Err(DataError::BadStore {
            path,
            reason: format!(
                "format {} (this polymodal reads format {FORMAT_VERSION}); re-import the manifest",
                meta.format
            ),
        });
    }
    Ok(meta)
}

/// The raw texts of every text modality (`None` where missing).
pub fn read_texts(dir: &Path) -> Result<BTreeMap<String, Vec<Option<String>>>, DataError> {
    let path = dir.join(TEXTS_FILE);
    serde_json::from_slice(&std::fs::read(&path).map_err(io(&path))?).map_err(|e| {
        DataError::BadStore {
            path: path.clone(),
            reason: e.to_string(),
        }
    })
}

/// The original files behind a dataset's image and audio values, as the manifest named them:
/// the labelling page plays and shows these rather than the model's downsampled input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFiles {
    /// The manifest's folder (canonical) at import time; every path is relative to it.
    pub root: PathBuf,
    /// Per image/audio modality, one entry per sample (`None` where the value is missing).
    pub files: BTreeMap<String, Vec<Option<String>>>,
}

impl SourceFiles {
    /// The original file of `row`'s `modality`, if it was recorded and still exists inside the
    /// manifest's folder. The containment check is the import's own, repeated here because the
    /// folder may have changed since (a symlink that now points outside is refused).
    pub fn path(&self, modality: &str, row: usize) -> Option<PathBuf> {
        let rel = self.files.get(modality)?.get(row)?.as_deref()?;
        crate::import::decode::resolve(&self.root, rel).ok()
    }
}

/// The dataset's [`SourceFiles`]; `None` for a dataset imported before they were recorded.
pub fn read_sources(dir: &Path) -> Result<Option<SourceFiles>, DataError> {
    let path = dir.join(SOURCES_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DataError::BadStore {
                path: path.clone(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DataError::io(&path, e)),
    }
}

pub fn is_store(dir: &Path) -> bool {
    dir.join(META_FILE).is_file()
}

/// How a text modality enters the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextFeatures {
    /// Cached MiniLM embeddings when `polymodal embed` has made them, else hashed tokens.
    #[default]
    Auto,
    /// Hashed token ids for the from-scratch text encoder.
    Tokens,
    /// Cached MiniLM embeddings; an error if there are none.
    Embedding,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreLoadConfig {
    pub text_features: TextFeatures,
}

pub fn embedding_path(dir: &Path, modality: &str) -> PathBuf {
    dir.join(EMBEDDINGS_DIR)
        .join(format!("{modality}.safetensors"))
}

/// Checks `dataset.json` against itself before anything is allocated from it: one label and
/// split per id, labels below the class count, unique non-empty ids, unique modality names,
/// non-empty shapes within the import bounds, and a storage that fits each kind.
fn check_meta(dir: &Path, meta: &StoreMeta) -> Result<(), DataError> {
    let bad = |reason: String| DataError::BadStore {
        path: dir.join(META_FILE),
        reason,
    };
    let n = meta.ids.len();
    if n == 0 {
        return Err(bad("no samples".into()));
    }
    for (what, len) in [("labels", meta.labels.len()), ("splits", meta.splits.len())] {
        if len != n {
            return Err(bad(format!("{len} {what} for {n} ids")));
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(n);
    for id in &meta.ids {
        if id.is_empty() || !seen.insert(id.as_str()) {
            return Err(bad(format!("id `{id}` is empty or appears twice")));
        }
    }
    let classes = meta.class_names.len();
    if let Some(i) = (0..n).find(|&i| meta.labels[i].is_some_and(|l| l >= classes)) {
        return Err(bad(format!(
            "sample {} has label {}, but there are {classes} classes",
            meta.ids[i],
            meta.labels[i].unwrap_or_default()
        )));
    }
    let mut names = std::collections::HashSet::new();
    for m in &meta.modalities {
        let name = &m.spec.name;
        if !names.insert(name.as_str()) {
            return Err(bad(format!("modality `{name}` appears twice")));
        }
        let numel = m
            .spec
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d));
        if m.spec.shape.is_empty() || m.spec.shape.contains(&0) {
            return Err(bad(format!(
                "modality `{name}` has the empty shape {:?}",
                m.spec.shape
            )));
        }
        if numel.is_none_or(|d| d > MAX_SAMPLE_VALUES) {
            return Err(bad(format!(
                "modality `{name}` has the shape {:?}, above the limit of {MAX_SAMPLE_VALUES} values per sample",
                m.spec.shape
            )));
        }
        let fits = match m.storage {
            Storage::Text => m.spec.kind == ModalityKind::Text && m.spec.shape.len() == 1,
            Storage::U8 => m.spec.kind == ModalityKind::Image,
            Storage::F32 => !matches!(m.spec.kind, ModalityKind::Text | ModalityKind::Image),
        };
        if !fits {
            return Err(bad(format!(
                "modality `{name}` of kind `{}` cannot be stored as {:?}",
                m.spec.kind, m.storage
            )));
        }
        if m.present > n {
            return Err(bad(format!(
                "modality `{name}` is present in {} of {n} samples",
                m.present
            )));
        }
    }
    if meta.modalities.is_empty() {
        return Err(bad("no modalities".into()));
    }
    Ok(())
}

/// The most values one sample of one modality may hold in a store: the largest the import
/// bounds allow (log-mel bands x frames).
pub const MAX_SAMPLE_VALUES: usize =
    crate::import::schema::MAX_MELS * crate::import::schema::MAX_FRAMES;

/// Loads a dataset directory: values to f32, standardisation on the train split's present
/// rows (images and audio globally, vectors per dimension), text to tokens or embeddings.
///
/// A directory edited by hand is refused with a message naming the file: `dataset.json` is
/// checked before anything is allocated from it, every tensor's dtype and shape are checked,
/// and the values and texts must still hash to the content hash recorded at import.
/// The fingerprint is computed from what was loaded: the content hash, the ids, labels,
/// splits, class names and modality specs, and the load settings, so a relabelled or re-split
/// dataset has a different fingerprint.
pub fn load(dir: &Path, cfg: &StoreLoadConfig) -> Result<Dataset, DataError> {
    let meta = read_meta(dir)?;
    check_meta(dir, &meta)?;
    let n = meta.ids.len();
    let values_path = dir.join(VALUES_FILE);
    let bytes = std::fs::read(&values_path).map_err(io(&values_path))?;
    let texts_path = dir.join(TEXTS_FILE);
    let texts_bytes = std::fs::read(&texts_path).map_err(io(&texts_path))?;
    let content = content_sha256(&bytes, &texts_bytes);
    if content != meta.content_sha256 {
        return Err(DataError::BadStore {
            path: dir.to_path_buf(),
            reason: format!(
                "{VALUES_FILE} or {TEXTS_FILE} changed after import (content sha256 {content}, \
                 {META_FILE} records {}); re-import the manifest",
                meta.content_sha256
            ),
        });
    }
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| DataError::BadStore {
        path: values_path.clone(),
        reason: e.to_string(),
    })?;
    let texts: BTreeMap<String, Vec<Option<String>>> = serde_json::from_slice(&texts_bytes)
        .map_err(|e| DataError::BadStore {
            path: texts_path.clone(),
            reason: e.to_string(),
        })?;
    let tensor = |name: &str, dtype: safetensors::Dtype, shape: &[usize]| {
        let bad = |reason: String| DataError::BadTensor {
            path: values_path.clone(),
            name: name.to_string(),
            reason,
        };
        let t = st.tensor(name).map_err(|e| bad(e.to_string()))?;
        if t.dtype() != dtype || t.shape() != shape {
            return Err(bad(format!(
                "{:?} {:?}, expected {dtype:?} {shape:?}",
                t.dtype(),
                t.shape()
            )));
        }
        Ok(t)
    };
    let mut fingerprint = Sha256::new();
    fingerprint.update(content.as_bytes());
    let identity = serde_json::json!({
        "ids": meta.ids,
        "labels": meta.labels,
        "splits": meta.splits,
        "classes": meta.class_names,
    });
    fingerprint.update(identity.to_string().as_bytes());
    fingerprint.update(format!("{:?}", cfg.text_features).as_bytes());

    let mut modalities = Vec::new();
    for m in &meta.modalities {
        let present: Vec<bool> = tensor(
            &format!("{}{PRESENT_SUFFIX}", m.spec.name),
            safetensors::Dtype::U8,
            &[n],
        )?
        .data()
        .iter()
        .map(|&b| b != 0)
        .collect();
        let mut spec = m.spec.clone();
        let full_shape: Vec<usize> = std::iter::once(n).chain(m.spec.shape.clone()).collect();
        let values = match m.storage {
            Storage::U8 => tensor(&m.spec.name, safetensors::Dtype::U8, &full_shape)?
                .data()
                .iter()
                .map(|&b| f32::from(b) / 255.0)
                .collect(),
            Storage::F32 => tensor(&m.spec.name, safetensors::Dtype::F32, &full_shape)?
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Storage::Text => {
                let emb = embedding_path(dir, &m.spec.name);
                let use_emb = match cfg.text_features {
                    TextFeatures::Auto => emb.exists(),
                    TextFeatures::Tokens => false,
                    TextFeatures::Embedding => true,
                };
                if use_emb {
                    let (dim, vals, sha) = read_embedding(&emb, &meta, &m.spec.name)?;
                    fingerprint.update(sha.as_bytes());
                    spec = ModalitySpec {
                        name: m.spec.name.clone(),
                        kind: ModalityKind::Vector,
                        shape: vec![dim],
                    };
                    vals
                } else {
                    let max = m.spec.shape[0];
                    let col = texts.get(&m.spec.name).ok_or_else(|| DataError::BadStore {
                        path: texts_path.clone(),
                        reason: format!("no texts for modality `{}`", m.spec.name),
                    })?;
                    if col.len() != n {
                        return Err(DataError::BadStore {
                            path: texts_path.clone(),
                            reason: format!(
                                "modality `{}` has {} texts for {n} ids",
                                m.spec.name,
                                col.len()
                            ),
                        });
                    }
                    let mut out = vec![0f32; n * max];
                    for (i, t) in col.iter().enumerate() {
                        if let Some(t) = t {
                            for (o, id) in out[i * max..(i + 1) * max]
                                .iter_mut()
                                .zip(hash_token_ids(t, max))
                            {
                                *o = id as f32;
                            }
                        }
                    }
                    out
                }
            }
        };
        fingerprint.update(format!("{}:{:?}:{:?};", spec.name, spec.kind, spec.shape).as_bytes());
        let mut data = ModalityData {
            spec,
            values,
            present,
        };
        if data.values.len() != n * data.spec.numel() {
            return Err(DataError::BadTensor {
                path: values_path.clone(),
                name: m.spec.name.clone(),
                reason: format!(
                    "{} values, expected {n} x {:?}",
                    data.values.len(),
                    data.spec.shape
                ),
            });
        }
        standardise(&mut data, &meta.splits);
        modalities.push(data);
    }
    let dataset = Dataset {
        name: meta.name.clone(),
        ids: meta.ids.iter().cloned().map(SampleId).collect(),
        labels: meta.labels.clone(),
        class_names: meta.class_names.clone(),
        splits: meta.splits.clone(),
        modalities,
        fingerprint: format!("{:x}", fingerprint.finalize()),
    };
    dataset.validate().map_err(|e| DataError::BadStore {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    dataset.validate_finite()?;
    Ok(dataset)
}

/// Zero mean, unit variance from the train split's present rows; absent rows stay zero and
/// token ids are left alone.
fn standardise(m: &mut ModalityData, splits: &[Split]) {
    let d = m.spec.numel();
    let rows: Vec<usize> = (0..m.present.len())
        .filter(|&i| m.present[i] && splits[i] == Split::Train)
        .collect();
    if rows.is_empty() {
        return;
    }
    let per_dim = match m.spec.kind {
        ModalityKind::Text => return,
        ModalityKind::Vector => true,
        _ => false,
    };
    let groups = if per_dim { d } else { 1 };
    let mut sum = vec![0f64; groups];
    let mut sq = vec![0f64; groups];
    for &i in &rows {
        for (j, &v) in m.values[i * d..(i + 1) * d].iter().enumerate() {
            let g = if per_dim { j } else { 0 };
            sum[g] += f64::from(v);
            sq[g] += f64::from(v) * f64::from(v);
        }
    }
    let count = (rows.len() * if per_dim { 1 } else { d }) as f64;
    let stats: Vec<(f32, f32)> = sum
        .iter()
        .zip(&sq)
        .map(|(&s, &q)| {
            let mean = s / count;
            let var = (q / count - mean * mean).max(1e-12);
            (mean as f32, var.sqrt().max(1e-6) as f32)
        })
        .collect();
    for i in 0..m.present.len() {
        if !m.present[i] {
            continue;
        }
        for (j, v) in m.values[i * d..(i + 1) * d].iter_mut().enumerate() {
            let (mean, std) = stats[if per_dim { j } else { 0 }];
            *v = (*v - mean) / std;
        }
    }
}

/// Vectors cached by `polymodal embed`: `values` f32 `[n, dim]`, `present` u8 `[n]`, metadata
/// naming the model and the dataset content they were computed from.
pub fn write_embedding(
    dir: &Path,
    modality: &str,
    dim: usize,
    values: &[f32],
    present: &[bool],
    model_id: &str,
) -> Result<PathBuf, DataError> {
    let meta = read_meta(dir)?;
    let path = embedding_path(dir, modality);
    let parent = path.parent().expect("has a parent");
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let present_u8: Vec<u8> = present.iter().map(|&p| u8::from(p)).collect();
    let n = present.len();
    let views = vec![
        (
            "values".to_string(),
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                vec![n, dim],
                bytemuck_f32(values),
            )
            .map_err(|e| DataError::BadStore {
                path: path.clone(),
                reason: e.to_string(),
            })?,
        ),
        (
            "present".to_string(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::U8, vec![n], &present_u8)
                .map_err(|e| DataError::BadStore {
                    path: path.clone(),
                    reason: e.to_string(),
                })?,
        ),
    ];
    let info: std::collections::HashMap<String, String> = [
        ("model".to_string(), model_id.to_string()),
        ("content_sha256".to_string(), meta.content_sha256.clone()),
    ]
    .into();
    let bytes = safetensors::serialize(views, Some(info)).map_err(|e| DataError::BadStore {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    polymodal_core::fsutil::write_atomic(&path, &bytes).map_err(|e| DataError::BadStore {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(path)
}

/// (dim, values with absent rows zeroed, sha256 of the file).
fn read_embedding(
    path: &Path,
    meta: &StoreMeta,
    modality: &str,
) -> Result<(usize, Vec<f32>, String), DataError> {
    let bad = |reason: String| DataError::BadStore {
        path: path.to_path_buf(),
        reason,
    };
    if !path.exists() {
        return Err(bad(format!(
            "no cached embeddings for `{modality}`; run `polymodal embed --dataset DIR --modality {modality}` or set text_features = \"tokens\""
        )));
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let built_from = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("content_sha256").cloned())
        .unwrap_or_default();
    if built_from != meta.content_sha256 {
        return Err(bad(format!(
            "stale: made for other dataset content; rerun `polymodal embed --modality {modality}`"
        )));
    }
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let t = st.tensor("values").map_err(|e| bad(e.to_string()))?;
    let (&[n, dim], safetensors::Dtype::F32) = (t.shape(), t.dtype()) else {
        return Err(bad(format!(
            "values is {:?} {:?}, expected F32 [n, dim]",
            t.dtype(),
            t.shape()
        )));
    };
    if dim == 0 || dim > MAX_SAMPLE_VALUES {
        return Err(bad(format!(
            "vectors of {dim} values (expected 1..={MAX_SAMPLE_VALUES})"
        )));
    }
    if n != meta.ids.len() {
        return Err(bad(format!("{n} rows, the dataset has {}", meta.ids.len())));
    }
    let values = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((dim, values, format!("{:x}", Sha256::digest(&bytes))))
}

/// What a person needs to know about an imported dataset before training on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataCard {
    pub name: String,
    pub samples: usize,
    pub unlabelled: usize,
    pub split_source: String,
    pub source_manifest: String,
    /// Per class: samples in train, val, test.
    pub classes: Vec<(String, [usize; 3])>,
    /// Per split (train, val, test): labelled and unlabelled samples.
    #[serde(default)]
    pub splits: Vec<SplitCount>,
    pub modalities: Vec<CardModality>,
    pub rejected: Vec<BadRow>,
    pub content_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCount {
    pub split: Split,
    pub labelled: usize,
    pub unlabelled: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardModality {
    pub name: String,
    pub kind: ModalityKind,
    pub shape: Vec<usize>,
    pub present: usize,
    pub missing: usize,
    pub preprocessing: String,
}

impl DataCard {
    pub fn from_meta(meta: &StoreMeta) -> Self {
        let split_idx = |s: Split| match s {
            Split::Train => 0,
            Split::Val => 1,
            Split::Test => 2,
        };
        let mut classes: Vec<(String, [usize; 3])> = meta
            .class_names
            .iter()
            .map(|c| (c.clone(), [0; 3]))
            .collect();
        let mut splits: Vec<SplitCount> = Split::ALL
            .iter()
            .map(|&split| SplitCount {
                split,
                labelled: 0,
                unlabelled: 0,
            })
            .collect();
        for (l, s) in meta.labels.iter().zip(&meta.splits) {
            match l {
                // A label past the class list is refused by `load`; the card just skips it.
                Some(l) => {
                    if let Some(c) = classes.get_mut(*l) {
                        c.1[split_idx(*s)] += 1;
                    }
                    splits[split_idx(*s)].labelled += 1;
                }
                None => splits[split_idx(*s)].unlabelled += 1,
            }
        }
        Self {
            name: meta.name.clone(),
            samples: meta.ids.len(),
            unlabelled: meta.labels.iter().filter(|l| l.is_none()).count(),
            split_source: meta.split_source.clone(),
            source_manifest: meta.source_manifest.clone(),
            classes,
            splits,
            modalities: meta
                .modalities
                .iter()
                .map(|m| CardModality {
                    name: m.spec.name.clone(),
                    kind: m.spec.kind,
                    shape: m.spec.shape.clone(),
                    present: m.present,
                    missing: meta.ids.len().saturating_sub(m.present),
                    preprocessing: describe(&m.preprocessing),
                })
                .collect(),
            rejected: meta.rejected.clone(),
            content_sha256: meta.content_sha256.clone(),
        }
    }

    pub fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "# Data card: {}\n", self.name);
        let _ = writeln!(
            s,
            "{} samples ({} unlabelled), {} classes. Source: `{}`. Split: {}.\n",
            self.samples,
            self.unlabelled,
            self.classes.len(),
            self.source_manifest,
            self.split_source
        );
        let _ = writeln!(s, "## Modalities\n");
        let _ = writeln!(
            s,
            "| modality | kind | shape | present | missing | preprocessing |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for m in &self.modalities {
            let _ = writeln!(
                s,
                "| {} | {} | {:?} | {} | {} | {} |",
                m.name, m.kind, m.shape, m.present, m.missing, m.preprocessing
            );
        }
        let _ = writeln!(s, "\n## Splits\n");
        let _ = writeln!(s, "| split | labelled | unlabelled | total |");
        let _ = writeln!(s, "|---|---|---|---|");
        for c in &self.splits {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                c.split,
                c.labelled,
                c.unlabelled,
                c.labelled + c.unlabelled
            );
        }
        let _ = writeln!(s, "\n## Classes (labelled samples)\n");
        let _ = writeln!(s, "| class | train | val | test | total |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for (c, [a, b, d]) in &self.classes {
            let _ = writeln!(s, "| {c} | {a} | {b} | {d} | {} |", a + b + d);
        }
        let _ = writeln!(s, "\n## Rejected rows\n");
        if self.rejected.is_empty() {
            let _ = writeln!(s, "None.");
        }
        for r in &self.rejected {
            let _ = writeln!(s, "- {r}");
        }
        let _ = writeln!(s, "\nContent sha256: `{}`", self.content_sha256);
        s
    }
}

fn describe(m: &ModalitySchema) -> String {
    match m.kind {
        ModalityKind::Image => {
            let [h, w] = m.size.unwrap_or_default();
            let c = if m.channels == Some(3) { "RGB" } else { "grey" };
            format!("resized to {h}x{w}, {c}")
        }
        ModalityKind::Audio => format!(
            "mono, {} Hz, first {} s, log-mel {} bands x {} frames",
            m.sample_rate.unwrap_or_default(),
            m.duration.unwrap_or_default(),
            m.n_mels.unwrap_or_default(),
            m.frames.unwrap_or_default()
        ),
        ModalityKind::Text => format!(
            "raw text kept; up to {} hashed word tokens ({} buckets) unless embedded",
            m.max_tokens.unwrap_or_default(),
            HASH_VOCAB
        ),
        ModalityKind::Vector => format!("{} values", m.dim.unwrap_or_default()),
        ModalityKind::Sequence => String::new(),
    }
}
