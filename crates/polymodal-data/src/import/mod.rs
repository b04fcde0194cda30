//! `polymodal data import`: a manifest (CSV or JSONL) of image, audio, text and feature files
//! becomes a compact dataset directory ([`crate::store`]) with a data card.
//!
//! Every bad row is reported with its line, id and reason. Without `skip_bad` one bad row fails
//! the import and nothing is written; with it, bad rows are skipped and listed in the card. The
//! directory is assembled under a temporary name and renamed into place only when complete, so
//! a crash never leaves a dataset that loads.

pub mod decode;
pub mod example;
pub mod manifest;
pub mod schema;

use crate::store::{self, StoreMeta, StoredModality};
use polymodal_core::{ModalityKind, ModalitySpec, Split};
use rayon::prelude::*;
use schema::{ModalitySchema, Schema, SchemaError, ValidSchema};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A manifest row that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    pub line: usize,
    pub id: String,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = if self.id.is_empty() { "?" } else { &self.id };
        write!(f, "line {}, id `{}`: {}", self.line, id, self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    #[error(
        "{path}: too few labelled samples to give every split one: train {train} ({train_labelled} labelled), \
         val {val} labelled, test {test} labelled; label more rows, mark some rows val/test in a split column, \
         or change split_fractions in a schema"
    )]
    TooFewForSplits {
        path: PathBuf,
        train: usize,
        train_labelled: usize,
        val: usize,
        test: usize,
    },
    #[error("{} bad row(s) in {path}; fix them or pass --skip-bad to import the rest:\n{}", rows.len(), list_rows(rows))]
    BadRows { path: PathBuf, rows: Vec<BadRow> },
    #[error("{path}: no row could be imported:\n{}", list_rows(rows))]
    Empty { path: PathBuf, rows: Vec<BadRow> },
    #[error("{0}: already exists; remove it or choose another --out")]
    OutputExists(PathBuf),
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error(transparent)]
    Data(#[from] crate::DataError),
}

fn list_rows(rows: &[BadRow]) -> String {
    const SHOWN: usize = 20;
    let mut s: Vec<String> = rows.iter().take(SHOWN).map(|r| format!("  {r}")).collect();
    if rows.len() > SHOWN {
        s.push(format!("  ... and {} more", rows.len() - SHOWN));
    }
    s.join("\n")
}

pub struct ImportOptions<'a> {
    pub manifest: &'a Path,
    /// `None`: inferred from the manifest.
    pub schema: Option<Schema>,
    pub out: &'a Path,
    pub skip_bad: bool,
    /// Called with (rows done, rows total) while files are decoded.
    pub progress: &'a (dyn Fn(usize, usize) + Sync),
}

#[derive(Debug)]
pub struct ImportReport {
    pub out: PathBuf,
    pub samples: usize,
    pub skipped: Vec<BadRow>,
    pub schema: Schema,
    /// Half-written imports of dead processes found next to `out` and removed.
    pub cleaned: Vec<PathBuf>,
}

/// One decoded cell.
enum Value {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
    Text(String),
}

pub fn import(opts: ImportOptions<'_>) -> Result<ImportReport, ImportError> {
    let manifest_path = opts.manifest;
    let mfail = |reason: String| ImportError::Manifest {
        path: manifest_path.to_path_buf(),
        reason,
    };
    if opts.out.exists() {
        return Err(ImportError::OutputExists(opts.out.to_path_buf()));
    }
    // Validated before anything is read or decoded, so a bound typo fails at once.
    let given_schema = opts.schema.as_ref().map(Schema::check).transpose()?;
    let format = manifest::Format::from_path(manifest_path)
        .ok_or_else(|| mfail("unknown manifest format; use a .csv or .jsonl file".into()))?;
    let text = std::fs::read_to_string(manifest_path).map_err(|e| mfail(e.to_string()))?;
    let root = manifest_path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .canonicalize()
        .map_err(|e| mfail(format!("cannot resolve the manifest's folder: {e}")))?;
    let parsed = manifest::parse(&text, format).map_err(|e| mfail(e.0))?;
    let mut schema = match given_schema {
        Some(s) => s,
        None => Schema::infer(&parsed)?.check()?,
    }
    .bind(&parsed.columns)?;

    let mut bad: Vec<BadRow> = parsed.malformed.clone();
    let rows = check_rows(&parsed.rows, &schema, &mut bad);
    resolve_channels(&mut schema, &root, &rows);

    // Decode every file in parallel; each cell's outcome depends only on that cell.
    let audio: Vec<Option<decode::AudioFrontEnd>> = schema
        .modalities
        .iter()
        .map(|m| (m.kind == ModalityKind::Audio).then(|| decode::AudioFrontEnd::new(m)))
        .collect();
    let features = decode::FeatureFiles::default();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = rows.len();
    let decoded: Vec<Result<Vec<Option<Value>>, String>> = rows
        .par_iter()
        .map(|row| {
            let out = schema
                .modalities
                .iter()
                .zip(&audio)
                .map(|(m, fe)| {
                    let Some(cell) = row.get(m.column()) else {
                        return Ok(None);
                    };
                    // A decoder library that panics on a hostile file fails only that row.
                    decode::guarded(cell, || decode_cell(m, fe.as_ref(), &features, &root, cell))
                        .map(Some)
                        .map_err(|e| format!("{}: {e}", m.name))
                })
                .collect::<Result<Vec<_>, String>>();
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            (opts.progress)(n, total);
            out
        })
        .collect();

    let mut kept: Vec<(&manifest::Row, Vec<Option<Value>>)> = Vec::new();
    for (row, res) in rows.iter().zip(decoded) {
        match res {
            Ok(values) => kept.push((row, values)),
            Err(reason) => bad.push(BadRow {
                line: row.line,
                id: row.get(&schema.id_column).unwrap_or("").to_string(),
                reason,
            }),
        }
    }
    check_vector_dims(&mut schema, &mut kept, &mut bad);
    bad.sort_by_key(|b| b.line);
    if !bad.is_empty() && !opts.skip_bad {
        return Err(ImportError::BadRows {
            path: manifest_path.to_path_buf(),
            rows: bad,
        });
    }
    if kept.is_empty() {
        return Err(ImportError::Empty {
            path: manifest_path.to_path_buf(),
            rows: bad,
        });
    }

    let meta_and_data = assemble(&schema, &kept, manifest_path, bad.clone())?;
    let sources = source_files(&schema, &kept, &root);
    let out_parent = opts
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let cleaned = store::clean_stale_imports(out_parent);
    let name = schema.name.clone().unwrap_or_else(|| {
        opts.out
            .file_name()
            .map_or_else(|| "dataset".into(), |n| n.to_string_lossy().into_owned())
    });
    let mut meta = meta_and_data.0;
    meta.name = name;
    store::write(opts.out, meta, meta_and_data.1, meta_and_data.2, &sources)?;
    Ok(ImportReport {
        out: opts.out.to_path_buf(),
        samples: kept.len(),
        skipped: bad,
        schema: schema.into_inner(),
        cleaned,
    })
}

/// The manifest's cell (a path relative to `root`) behind each kept image and audio value.
fn source_files(
    schema: &ValidSchema,
    kept: &[(&manifest::Row, Vec<Option<Value>>)],
    root: &Path,
) -> store::SourceFiles {
    let files = schema
        .modalities
        .iter()
        .enumerate()
        .filter(|(_, m)| matches!(m.kind, ModalityKind::Image | ModalityKind::Audio))
        .map(|(mi, m)| {
            let cells = kept
                .iter()
                .map(|(row, values)| {
                    values[mi]
                        .as_ref()
                        .and_then(|_| row.get(m.column()))
                        .map(str::to_string)
                })
                .collect();
            (m.name.clone(), cells)
        })
        .collect();
    store::SourceFiles {
        root: root.to_path_buf(),
        files,
    }
}

/// Row-level checks that need no decoding: id present and unique, label known, split valid,
/// at least one modality present. Returns the rows that pass.
fn check_rows<'a>(
    rows: &'a [manifest::Row],
    schema: &ValidSchema,
    bad: &mut Vec<BadRow>,
) -> Vec<&'a manifest::Row> {
    let mut seen = HashSet::new();
    let mut ok = Vec::new();
    for row in rows {
        let id = row.get(&schema.id_column).unwrap_or("").trim().to_string();
        let mut fail = |reason: String| {
            bad.push(BadRow {
                line: row.line,
                id: id.clone(),
                reason,
            })
        };
        if id.is_empty() {
            fail("empty id".into());
            continue;
        }
        if !seen.insert(id.clone()) {
            fail(format!("duplicate id `{id}`"));
            continue;
        }
        if let (Some(col), Some(classes)) = (&schema.label_column, &schema.classes) {
            if let Some(label) = row.get(col).filter(|l| !l.trim().is_empty()) {
                if !classes.iter().any(|c| c == label.trim()) {
                    fail(format!(
                        "unknown label `{label}` (classes: {})",
                        classes.join(", ")
                    ));
                    continue;
                }
            }
        }
        if let Some(col) = &schema.split_column {
            if let Some(s) = row.get(col) {
                let labelled = schema
                    .label_column
                    .as_ref()
                    .is_some_and(|c| row.get(c).is_some_and(|l| !l.trim().is_empty()));
                match parse_split(s) {
                    None => {
                        fail(format!("unknown split `{s}` (use train, val or test)"));
                        continue;
                    }
                    // Evaluating on an unlabelled sample is meaningless, and silently moving it
                    // to the pool would change the user's test set behind their back.
                    Some(split @ (Split::Val | Split::Test)) if !labelled => {
                        fail(format!(
                            "{split} rows must be labelled; leave the split empty to put an \
                             unlabelled row in the pool"
                        ));
                        continue;
                    }
                    Some(_) => {}
                }
            }
        }
        if schema
            .modalities
            .iter()
            .all(|m| row.get(m.column()).is_none())
        {
            fail("no modality present".into());
            continue;
        }
        ok.push(row);
    }
    ok
}

fn parse_split(s: &str) -> Option<Split> {
    match s.trim().to_ascii_lowercase().as_str() {
        "train" => Some(Split::Train),
        "val" | "valid" | "validation" => Some(Split::Val),
        "test" => Some(Split::Test),
        _ => None,
    }
}

/// Images default to grey unless any image is colour (read from headers only).
fn resolve_channels(schema: &mut ValidSchema, root: &Path, rows: &[&manifest::Row]) {
    for m in schema.modalities_mut().iter_mut() {
        if m.kind != ModalityKind::Image || m.channels.is_some() {
            continue;
        }
        let colour = rows.par_iter().any(|r| {
            r.get(m.column()).is_some_and(|cell| {
                decode::guarded(cell, || decode::image_is_colour(root, cell)).unwrap_or(false)
            })
        });
        m.channels = Some(if colour { 3 } else { 1 });
    }
}

fn decode_cell(
    m: &ModalitySchema,
    audio: Option<&decode::AudioFrontEnd>,
    features: &decode::FeatureFiles,
    root: &Path,
    cell: &str,
) -> Result<Value, CellError> {
    let r = m.resolved();
    match m.kind {
        ModalityKind::Image => decode::image(
            root,
            cell,
            r.size.unwrap_or(schema::DEFAULT_IMAGE_SIZE),
            r.channels.unwrap_or(1),
        )
        .map(Value::Bytes),
        ModalityKind::Audio => audio
            .ok_or("audio front end missing")?
            .process(root, cell)
            .map(Value::Floats),
        ModalityKind::Text => decode::text(root, cell).map(Value::Text),
        ModalityKind::Vector => features.vector(root, cell).map(Value::Floats),
        ModalityKind::Sequence => Err("sequence modalities cannot be imported yet".into()),
    }
}

/// Vectors must all have one length: the schema's `dim`, else the most common one.
fn check_vector_dims(
    schema: &mut ValidSchema,
    kept: &mut Vec<(&manifest::Row, Vec<Option<Value>>)>,
    bad: &mut Vec<BadRow>,
) {
    let id_col = schema.id_column.clone();
    for (mi, m) in schema.modalities_mut().iter_mut().enumerate() {
        if m.kind != ModalityKind::Vector {
            continue;
        }
        let dim = m.dim.unwrap_or_else(|| {
            let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
            for (_, vals) in kept.iter() {
                if let Some(Value::Floats(v)) = &vals[mi] {
                    *counts.entry(v.len()).or_default() += 1;
                }
            }
            counts
                .into_iter()
                .filter(|&(d, _)| d <= schema::MAX_DIM)
                .max_by_key(|&(d, n)| (n, std::cmp::Reverse(d)))
                .map_or(1, |(d, _)| d)
        });
        m.dim = Some(dim);
        kept.retain(|(row, vals)| match &vals[mi] {
            Some(Value::Floats(v)) if v.len() != dim => {
                bad.push(BadRow {
                    line: row.line,
                    id: row.get(&id_col).unwrap_or("").to_string(),
                    reason: format!("{}: vector has {} values, expected {dim}", m.name, v.len()),
                });
                false
            }
            _ => true,
        });
    }
}

type Assembled = (
    StoreMeta,
    BTreeMap<String, store::Tensor>,
    BTreeMap<String, Vec<Option<String>>>,
);

fn assemble(
    schema: &ValidSchema,
    kept: &[(&manifest::Row, Vec<Option<Value>>)],
    manifest_path: &Path,
    rejected: Vec<BadRow>,
) -> Result<Assembled, ImportError> {
    let n = kept.len();
    let ids: Vec<String> = kept
        .iter()
        .map(|(r, _)| r.get(&schema.id_column).unwrap_or("").trim().to_string())
        .collect();
    let raw_labels: Vec<Option<String>> = kept
        .iter()
        .map(|(r, _)| {
            schema
                .label_column
                .as_ref()
                .and_then(|c| r.get(c))
                .map(str::trim)
                // A label of only spaces is no label: the row joins the unlabelled pool.
                .filter(|l| !l.is_empty())
                .map(str::to_string)
        })
        .collect();
    let class_names: Vec<String> = match &schema.classes {
        Some(c) => c.clone(),
        None => {
            let set: std::collections::BTreeSet<&String> = raw_labels.iter().flatten().collect();
            set.into_iter().cloned().collect()
        }
    };
    let index: HashMap<&str, usize> = class_names
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let labels: Vec<Option<usize>> = raw_labels
        .iter()
        .map(|l| l.as_deref().map(|l| index[l]))
        .collect();
    let (splits, split_source) = make_splits(schema, kept, &labels);
    check_split_sizes(&splits, &labels, manifest_path)?;

    let mut tensors = BTreeMap::new();
    let mut texts = BTreeMap::new();
    let mut modalities = Vec::new();
    for (mi, m) in schema.modalities.iter().enumerate() {
        let r = m.resolved();
        let present: Vec<u8> = kept
            .iter()
            .map(|(_, v)| u8::from(v[mi].is_some()))
            .collect();
        let (shape, storage) = match m.kind {
            ModalityKind::Image => {
                let [h, w] = r.size.unwrap_or(schema::DEFAULT_IMAGE_SIZE);
                (vec![r.channels.unwrap_or(1), h, w], store::Storage::U8)
            }
            ModalityKind::Audio => (
                vec![
                    1,
                    r.n_mels.unwrap_or_default(),
                    r.frames.unwrap_or_default(),
                ],
                store::Storage::F32,
            ),
            ModalityKind::Vector => (vec![r.dim.unwrap_or(1)], store::Storage::F32),
            ModalityKind::Text => (vec![r.max_tokens.unwrap_or_default()], store::Storage::Text),
            ModalityKind::Sequence => unreachable!("rejected by Schema::validate"),
        };
        let d: usize = shape.iter().product();
        match storage {
            store::Storage::U8 => {
                let mut buf = vec![0u8; n * d];
                for (i, (_, v)) in kept.iter().enumerate() {
                    if let Some(Value::Bytes(b)) = &v[mi] {
                        buf[i * d..(i + 1) * d].copy_from_slice(b);
                    }
                }
                tensors.insert(m.name.clone(), store::Tensor::U8(buf, prepend(n, &shape)));
            }
            store::Storage::F32 => {
                let mut buf = vec![0f32; n * d];
                for (i, (_, v)) in kept.iter().enumerate() {
                    if let Some(Value::Floats(b)) = &v[mi] {
                        buf[i * d..(i + 1) * d].copy_from_slice(b);
                    }
                }
                tensors.insert(m.name.clone(), store::Tensor::F32(buf, prepend(n, &shape)));
            }
            store::Storage::Text => {
                texts.insert(
                    m.name.clone(),
                    kept.iter()
                        .map(|(_, v)| match &v[mi] {
                            Some(Value::Text(t)) => Some(t.clone()),
                            _ => None,
                        })
                        .collect(),
                );
            }
        }
        tensors.insert(
            format!("{}{}", m.name, store::PRESENT_SUFFIX),
            store::Tensor::U8(present, vec![n]),
        );
        modalities.push(StoredModality {
            spec: ModalitySpec {
                name: m.name.clone(),
                kind: m.kind,
                shape,
            },
            storage,
            preprocessing: r,
            present: kept.iter().filter(|(_, v)| v[mi].is_some()).count(),
        });
    }
    let meta = StoreMeta {
        format: store::FORMAT_VERSION,
        name: String::new(),
        class_names,
        ids,
        labels,
        splits,
        split_source,
        modalities,
        source_manifest: manifest_path.display().to_string(),
        text_model: schema.text_model.clone(),
        rejected,
        content_sha256: String::new(),
        polymodal_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    Ok((meta, tensors, texts))
}

fn prepend(n: usize, shape: &[usize]) -> Vec<usize> {
    std::iter::once(n).chain(shape.iter().copied()).collect()
}

/// The split of every kept row: the manifest's where it gives one, else a seeded stratified
/// split (unlabelled rows always go to train, the pool). A manifest that gives train and test
/// but no val (Food-101 style) gets a val split carved from its labelled train rows,
/// stratified by class with the schema's seed and val fraction rescaled to the train+val
/// share; the card records it.
fn make_splits(
    schema: &ValidSchema,
    kept: &[(&manifest::Row, Vec<Option<Value>>)],
    labels: &[Option<usize>],
) -> (Vec<Split>, String) {
    let [f_train, f_val, _] = schema.split_fractions;
    let seed = schema.split_seed;
    let made = crate::split::stratified(labels, schema.split_fractions, seed);
    let Some(col) = &schema.split_column else {
        return (
            made,
            format!(
                "made at import: stratified by class, seed {seed}, fractions {:?}",
                schema.split_fractions
            ),
        );
    };
    let given: Vec<Option<Split>> = kept
        .iter()
        .map(|(r, _)| r.get(col).and_then(parse_split))
        .collect();
    let mut splits: Vec<Split> = given
        .iter()
        .zip(&made)
        .map(|(g, m)| g.unwrap_or(*m))
        .collect();
    let mut source = if given.iter().any(Option::is_none) {
        format!(
            "column `{col}`; rows without one split seeded (seed {seed}, fractions {:?})",
            schema.split_fractions
        )
    } else {
        format!("column `{col}`")
    };
    if !splits.contains(&Split::Val) && f_val > 0.0 {
        let train: Vec<usize> = (0..splits.len())
            .filter(|&i| splits[i] == Split::Train && labels[i].is_some())
            .collect();
        let share = f_val / (f_train + f_val);
        let sub_labels: Vec<Option<usize>> = train.iter().map(|&i| labels[i]).collect();
        let sub = crate::split::stratified(&sub_labels, [1.0 - share, share, 0.0], seed);
        let mut carved = 0;
        for (&i, s) in train.iter().zip(sub) {
            if s == Split::Val {
                splits[i] = Split::Val;
                carved += 1;
            }
        }
        if carved > 0 {
            source.push_str(&format!(
                "; no val rows given, so {carved} val samples were carved from the labelled train \
                 rows (stratified by class, seed {seed}, fraction {share:.4})"
            ));
        }
    }
    (splits, source)
}

/// Every split must be able to do its job: training needs samples, validation and testing
/// need labelled ones. Checked here, at import, rather than after an epoch of training. A set
/// with no labels at all is allowed: it is a pool waiting for labels.
fn check_split_sizes(
    splits: &[Split],
    labels: &[Option<usize>],
    path: &Path,
) -> Result<(), ImportError> {
    let count = |s: Split, labelled: bool| {
        splits
            .iter()
            .zip(labels)
            .filter(|(x, l)| **x == s && (!labelled || l.is_some()))
            .count()
    };
    if labels.iter().all(Option::is_none) {
        return Ok(());
    }
    let (train, val, test) = (
        count(Split::Train, false),
        count(Split::Val, true),
        count(Split::Test, true),
    );
    if train == 0 || val == 0 || test == 0 {
        return Err(ImportError::TooFewForSplits {
            path: path.to_path_buf(),
            train,
            train_labelled: count(Split::Train, true),
            val,
            test,
        });
    }
    Ok(())
}

/// Why one manifest cell (a file, a text, a feature reference) or the manifest itself cannot be
/// read: the reason a bad row is reported with, by line and id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CellError(pub String);

impl From<String> for CellError {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for CellError {
    fn from(reason: &str) -> Self {
        Self(reason.to_string())
    }
}
