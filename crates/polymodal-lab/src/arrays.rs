//! Selection for models trained elsewhere: read the arrays a PyTorch or JAX model produced for an
//! unlabelled pool (a safetensors or `.npz` file), validate them once, and run any of the nine
//! selection strategies of `polymodal-active` on them.
//!
//! The file format (docs/SELECT_ARRAYS.md has the full description and an exporter):
//!
//! | name | shape | needed by |
//! |---|---|---|
//! | `ids` | `[N]` integers, or strings | always |
//! | `probs` | `[N, C]` fused softmax | always |
//! | `feat_<modality>` | `[N, d_m]` penultimate features, one per modality | coreset, kmeans, badge, bmmal |
//! | `subset_probs` | `[2^M, N, C]` fused softmax with subset `s` of the modalities present | bmmal |
//! | `mc_probs` | `[T, N, C]` fused softmax of `T` MC-dropout passes | bald |
//!
//! Modalities are ordered by name (byte order of `<modality>`); bit `m` of a subset index is set
//! when modality `m` is present, so `subset_probs[2^M - 1]` must equal `probs`. Floats may be
//! f32, f64, f16 or bf16 (converted to f32). String ids are a numpy unicode (`<U`) or bytes (`S`)
//! array in `.npz`; safetensors has no string dtype, so there they are a JSON list of strings under
//! the key `ids` of the file's `__metadata__` (and the file has no `ids` tensor).
//!
//! ```no_run
//! use polymodal_active::{StrategyKind, StrategyParams};
//! use polymodal_lab::arrays::{load_arrays, select, LabelledIds};
//!
//! let arrays = load_arrays("pool.safetensors")?;
//! let labelled = LabelledIds::read("labelled.txt")?;
//! let picked = select(&arrays, StrategyKind::Bmmal, &StrategyParams::default(), 10, &labelled, 0)?;
//! assert_eq!(picked.len(), 10);
//! # Ok::<(), polymodal_lab::arrays::ArraysError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use polymodal_active::shapley::MAX_MODALITIES;
use polymodal_active::{ActiveError, ArrayContext, StrategyKind, StrategyParams};

/// How far a row of probabilities may be from summing to 1, and a value from `[0, 1]`. Loose
/// enough for bf16 exports (8-bit mantissa: ~4e-3 relative error per value), tight enough to
/// catch logits passed as probabilities.
const PROB_TOLERANCE: f32 = 1e-2;

/// Everything that can go wrong reading the arrays or selecting from them. Messages name the
/// tensor (or file and line) and the expected shape.
#[derive(Debug, thiserror::Error)]
pub enum ArraysError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not a readable safetensors / npz file, or an array in it that cannot be decoded.
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{name}: missing; expected {expected} (the file has: {found})")]
    Missing {
        name: String,
        expected: String,
        found: String,
    },
    #[error("{name}: expected {expected}, got {got:?}")]
    Shape {
        name: String,
        expected: String,
        got: Vec<usize>,
    },
    #[error("{name}: expected {expected}, got dtype {dtype}")]
    Dtype {
        name: String,
        expected: String,
        dtype: String,
    },
    #[error("{name}: non-finite value {value} at {index:?} (id {id})")]
    NonFinite {
        name: String,
        value: f32,
        index: Vec<usize>,
        id: String,
    },
    #[error(
        "{name}: {problem} at {index:?} (id {id}); expected probabilities (softmax outputs, \
         each row in [0, 1] summing to 1)"
    )]
    NotProbabilities {
        name: String,
        problem: String,
        index: Vec<usize>,
        id: String,
    },
    #[error("ids: {id} appears at positions {first} and {second}; ids must be distinct")]
    DuplicateId {
        id: String,
        first: usize,
        second: usize,
    },
    /// A tensor that is well-formed alone but contradicts another one.
    #[error("{name}: {message}")]
    Inconsistent { name: String, message: String },
    #[error(
        "unexpected tensor {name:?}; expected ids, probs, feat_<modality>, subset_probs, mc_probs"
    )]
    UnexpectedTensor { name: String },
    /// A bad `--labelled` file or id.
    #[error("{origin}: {message}")]
    Labelled { origin: String, message: String },
    #[error("{name}: strategy {strategy} needs {expected}, which the file does not have")]
    NeedsTensor {
        strategy: StrategyKind,
        name: String,
        expected: String,
    },
    #[error(
        "budget {budget} is larger than the pool of {pool} unlabelled samples \
         ({n} ids, {labelled} labelled)"
    )]
    BudgetTooLarge {
        budget: usize,
        pool: usize,
        n: usize,
        labelled: usize,
    },
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error(transparent)]
    Active(#[from] ActiveError),
}

/// Whether the file's ids were integers or strings. Integer ids are kept as their decimal text,
/// so `--labelled` entries like `007` match the id `7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Integer,
    String,
}

impl IdKind {
    /// An id as it appears in messages: integers bare, strings quoted.
    fn show(self, id: &str) -> String {
        match self {
            Self::Integer => id.to_string(),
            Self::String => format!("{id:?}"),
        }
    }
}

/// The validated contents of an arrays file: every shape agrees, every value is finite, the
/// probabilities are probabilities and the ids are distinct.
#[derive(Debug, Clone)]
pub struct ExternalArrays {
    origin: PathBuf,
    ids: Vec<String>,
    id_kind: IdKind,
    classes: usize,
    /// `[N, C]`.
    probs: Vec<f32>,
    /// Modality names, sorted.
    modalities: Vec<String>,
    feature_dims: Vec<usize>,
    /// `M x [N, d_m]`.
    features: Vec<Vec<f32>>,
    /// `2^M x [N, C]`.
    subset_probs: Option<Vec<Vec<f32>>>,
    /// `(T, [T, N, C])`.
    mc_probs: Option<(usize, Vec<f32>)>,
}

impl ExternalArrays {
    /// The file the arrays came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The sample ids, in file order (integers as decimal text).
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    pub fn id_kind(&self) -> IdKind {
        self.id_kind
    }

    /// `N`.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always false: a file with no ids is rejected.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// `C`.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The modality names of the `feat_<modality>` tensors, sorted: the order of subset bits.
    pub fn modalities(&self) -> &[String] {
        &self.modalities
    }

    /// `d_m` per modality.
    pub fn feature_dims(&self) -> &[usize] {
        &self.feature_dims
    }

    /// `[N, C]` fused probabilities, row-major.
    pub fn probs(&self) -> &[f32] {
        &self.probs
    }

    /// `M x [N, d_m]` features, in [`modalities`](Self::modalities) order.
    pub fn features(&self) -> &[Vec<f32>] {
        &self.features
    }

    /// `2^M x [N, C]`, indexed by the bitmask of modalities present.
    pub fn subset_probs(&self) -> Option<&[Vec<f32>]> {
        self.subset_probs.as_deref()
    }

    /// `[T, N, C]` MC-dropout probabilities.
    pub fn mc_probs(&self) -> Option<&[f32]> {
        self.mc_probs.as_ref().map(|(_, p)| p.as_slice())
    }

    /// `T` of `mc_probs`, if present.
    pub fn mc_passes(&self) -> Option<usize> {
        self.mc_probs.as_ref().map(|(t, _)| *t)
    }
}

/// One array as read from either file format, before validation. Row-major (C order).
struct RawTensor {
    shape: Vec<usize>,
    /// The dtype as the file names it (`F32`, `<f8`, ...), for messages.
    dtype: String,
    data: RawData,
}

enum RawData {
    Float(Vec<f32>),
    Int(Vec<i128>),
    Str(Vec<String>),
    /// A dtype no tensor of this format may have (bool, complex, fp8, ...).
    Unsupported,
}

/// Reads and validates a safetensors or `.npz` file (told apart by content: an npz is a zip
/// archive). Nothing is selected here; [`select`] does that.
pub fn load_arrays(path: impl AsRef<Path>) -> Result<ExternalArrays, ArraysError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| ArraysError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (tensors, metadata_ids) =
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            (read_npz(path, bytes)?, None)
        } else {
            read_safetensors(path, &bytes)?
        };
    validate(path, tensors, metadata_ids)
}

fn format_error(path: &Path, message: impl Into<String>) -> ArraysError {
    ArraysError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

type Tensors = BTreeMap<String, RawTensor>;

fn read_safetensors(
    path: &Path,
    bytes: &[u8],
) -> Result<(Tensors, Option<Vec<String>>), ArraysError> {
    use safetensors::{Dtype, SafeTensors};
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        format_error(
            path,
            format!("not a safetensors or npz file (safetensors: {e})"),
        )
    })?;
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| format_error(path, format!("safetensors header: {e}")))?;
    let metadata_ids = match meta.metadata().as_ref().and_then(|m| m.get("ids")) {
        None => None,
        Some(json) => Some(serde_json::from_str::<Vec<String>>(json).map_err(|e| {
            ArraysError::Inconsistent {
                name: "ids".into(),
                message: format!(
                    "__metadata__[\"ids\"] must be a JSON list of strings (string ids): {e}"
                ),
            }
        })?),
    };
    let mut tensors = Tensors::new();
    for (name, view) in st.iter() {
        let raw = view.data();
        let data = match view.dtype() {
            Dtype::F32 => RawData::Float(le_chunks::<4>(raw).map(f32::from_le_bytes).collect()),
            Dtype::F64 => RawData::Float(
                le_chunks::<8>(raw)
                    .map(|b| f64::from_le_bytes(b) as f32)
                    .collect(),
            ),
            Dtype::F16 => RawData::Float(
                le_chunks::<2>(raw)
                    .map(|b| half::f16::from_le_bytes(b).to_f32())
                    .collect(),
            ),
            Dtype::BF16 => RawData::Float(
                le_chunks::<2>(raw)
                    .map(|b| half::bf16::from_le_bytes(b).to_f32())
                    .collect(),
            ),
            Dtype::I8 => RawData::Int(raw.iter().map(|&b| i128::from(b as i8)).collect()),
            Dtype::U8 => RawData::Int(raw.iter().map(|&b| i128::from(b)).collect()),
            Dtype::I16 => RawData::Int(
                le_chunks::<2>(raw)
                    .map(|b| i16::from_le_bytes(b).into())
                    .collect(),
            ),
            Dtype::U16 => RawData::Int(
                le_chunks::<2>(raw)
                    .map(|b| u16::from_le_bytes(b).into())
                    .collect(),
            ),
            Dtype::I32 => RawData::Int(
                le_chunks::<4>(raw)
                    .map(|b| i32::from_le_bytes(b).into())
                    .collect(),
            ),
            Dtype::U32 => RawData::Int(
                le_chunks::<4>(raw)
                    .map(|b| u32::from_le_bytes(b).into())
                    .collect(),
            ),
            Dtype::I64 => RawData::Int(
                le_chunks::<8>(raw)
                    .map(|b| i64::from_le_bytes(b).into())
                    .collect(),
            ),
            Dtype::U64 => RawData::Int(
                le_chunks::<8>(raw)
                    .map(|b| u64::from_le_bytes(b).into())
                    .collect(),
            ),
            _ => RawData::Unsupported,
        };
        tensors.insert(
            name.to_string(),
            RawTensor {
                shape: view.shape().to_vec(),
                dtype: format!("{:?}", view.dtype()),
                data,
            },
        );
    }
    Ok((tensors, metadata_ids))
}

/// Fixed-size little-endian chunks of a byte buffer (safetensors data need not be aligned).
fn le_chunks<const K: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; K]> + '_ {
    raw.chunks_exact(K).map(|c| {
        let mut b = [0u8; K];
        b.copy_from_slice(c);
        b
    })
}

fn read_npz(path: &Path, bytes: Vec<u8>) -> Result<Tensors, ArraysError> {
    use npyz::npz::NpzArchive;
    let mut archive = NpzArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format_error(path, format!("not a readable npz archive: {e}")))?;
    let names: Vec<String> = archive.array_names().map(str::to_string).collect();
    let mut tensors = Tensors::new();
    for name in names {
        let array_error = |e: std::io::Error| {
            format_error(
                path,
                format!(
                    "array {name:?}: {e} (object arrays are not supported: save strings with \
                     .astype(str))"
                ),
            )
        };
        let file = archive
            .by_name(&name)
            .map_err(array_error)?
            .ok_or_else(|| format_error(path, format!("array {name:?} disappeared")))?;
        let tensor = read_npy(file).map_err(array_error)?;
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}

fn read_npy<R: Read>(file: npyz::NpyFile<R>) -> std::io::Result<RawTensor> {
    use npyz::{DType, TypeChar};
    let shape: Vec<usize> = file.shape().iter().map(|&s| s as usize).collect();
    let fortran = file.order() == npyz::Order::Fortran;
    let dtype = file.dtype();
    let dtype_name = match &dtype {
        DType::Plain(ts) => ts.to_string(),
        other => other.descr(),
    };
    let DType::Plain(ts) = &dtype else {
        return Ok(RawTensor {
            shape,
            dtype: dtype_name,
            data: RawData::Unsupported,
        });
    };
    let (kind, size) = (ts.type_char(), ts.size_field());
    let data = match (kind, size) {
        (TypeChar::Float, 4) => RawData::Float(file.into_vec::<f32>()?),
        (TypeChar::Float, 8) => RawData::Float(
            file.into_vec::<f64>()?
                .into_iter()
                .map(|x| x as f32)
                .collect(),
        ),
        (TypeChar::Float, 2) => RawData::Float(
            file.into_vec::<half::f16>()?
                .into_iter()
                .map(half::f16::to_f32)
                .collect(),
        ),
        (TypeChar::Int, 1) => RawData::Int(ints(file.into_vec::<i8>()?)),
        (TypeChar::Int, 2) => RawData::Int(ints(file.into_vec::<i16>()?)),
        (TypeChar::Int, 4) => RawData::Int(ints(file.into_vec::<i32>()?)),
        (TypeChar::Int, 8) => RawData::Int(ints(file.into_vec::<i64>()?)),
        (TypeChar::Uint, 1) => RawData::Int(ints(file.into_vec::<u8>()?)),
        (TypeChar::Uint, 2) => RawData::Int(ints(file.into_vec::<u16>()?)),
        (TypeChar::Uint, 4) => RawData::Int(ints(file.into_vec::<u32>()?)),
        (TypeChar::Uint, 8) => RawData::Int(ints(file.into_vec::<u64>()?)),
        (TypeChar::UnicodeStr, _) => RawData::Str(file.into_vec::<String>()?),
        (TypeChar::ByteStr, _) => {
            let raw = file.into_vec::<Vec<u8>>()?;
            let mut out = Vec::with_capacity(raw.len());
            for (i, b) in raw.into_iter().enumerate() {
                out.push(String::from_utf8(b).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("bytes string at {i} is not UTF-8: {e}"),
                    )
                })?);
            }
            RawData::Str(out)
        }
        _ => RawData::Unsupported,
    };
    let data = if fortran && shape.len() > 1 {
        match data {
            RawData::Float(v) => RawData::Float(fortran_to_c(&v, &shape)),
            RawData::Int(v) => RawData::Int(fortran_to_c(&v, &shape)),
            RawData::Str(v) => RawData::Str(fortran_to_c(&v, &shape)),
            RawData::Unsupported => RawData::Unsupported,
        }
    } else {
        data
    };
    Ok(RawTensor {
        shape,
        dtype: dtype_name,
        data,
    })
}

fn ints<T: Into<i128>>(v: Vec<T>) -> Vec<i128> {
    v.into_iter().map(Into::into).collect()
}

/// Reorders a column-major (numpy `fortran_order`) buffer of `shape` into row-major order.
fn fortran_to_c<T: Clone>(data: &[T], shape: &[usize]) -> Vec<T> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..n {
        // Column-major offset of the row-major multi-index `index`.
        let mut offset = 0;
        let mut stride = 1;
        for (&i, &s) in index.iter().zip(shape) {
            offset += i * stride;
            stride *= s;
        }
        out.push(data[offset].clone());
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

const FLOAT_DTYPES: &str = "f32 (f64, f16 and bf16 are converted)";

/// Turns the raw tensors into [`ExternalArrays`], checking every shape, dtype and value.
fn validate(
    path: &Path,
    mut tensors: Tensors,
    metadata_ids: Option<Vec<String>>,
) -> Result<ExternalArrays, ArraysError> {
    let found = if tensors.is_empty() {
        "no tensors".to_string()
    } else {
        tensors.keys().cloned().collect::<Vec<_>>().join(", ")
    };
    let known = |k: &str| {
        matches!(k, "ids" | "probs" | "subset_probs" | "mc_probs")
            || k.strip_prefix("feat_").is_some_and(|m| !m.is_empty())
    };
    if let Some(name) = tensors.keys().find(|k| !known(k)) {
        return Err(ArraysError::UnexpectedTensor { name: name.clone() });
    }

    let (ids, id_kind) = take_ids(&mut tensors, metadata_ids, &found)?;
    let n = ids.len();
    let show = |row: usize| id_kind.show(&ids[row]);

    // probs [N, C]
    let probs_expected = |c: &str| format!("[N={n}, C{c}] {FLOAT_DTYPES} (N from ids)");
    let probs_t = tensors
        .remove("probs")
        .ok_or_else(|| ArraysError::Missing {
            name: "probs".into(),
            expected: probs_expected(""),
            found: found.clone(),
        })?;
    if probs_t.shape.len() != 2 || probs_t.shape[0] != n || probs_t.shape[1] == 0 {
        return Err(shape_error("probs", probs_expected(""), &probs_t));
    }
    let classes = probs_t.shape[1];
    let probs = floats("probs", probs_t, probs_expected(""))?;
    check_finite("probs", &probs, &[n, classes], 0, &show)?;
    check_probabilities("probs", &probs, classes, &[], &show)?;

    // feat_<modality> [N, d_m], modalities in name order (the BTreeMap's order).
    let feat_names: Vec<String> = tensors
        .keys()
        .filter(|k| k.starts_with("feat_"))
        .cloned()
        .collect();
    let mut modalities = Vec::new();
    let mut feature_dims = Vec::new();
    let mut features = Vec::new();
    for name in feat_names {
        let t = tensors.remove(&name).expect("listed above");
        let expected = format!("[N={n}, d] {FLOAT_DTYPES} (N from ids)");
        if t.shape.len() != 2 || t.shape[0] != n || t.shape[1] == 0 {
            return Err(shape_error(&name, expected, &t));
        }
        let d = t.shape[1];
        let f = floats(&name, t, expected)?;
        check_finite(&name, &f, &[n, d], 0, &show)?;
        modalities.push(name["feat_".len()..].to_string());
        feature_dims.push(d);
        features.push(f);
    }
    let m = modalities.len();

    // subset_probs [2^M, N, C]
    let subset_probs = match tensors.remove("subset_probs") {
        None => None,
        Some(t) => {
            if m == 0 {
                return Err(ArraysError::Inconsistent {
                    name: "subset_probs".into(),
                    message: format!(
                        "expected [2^M, N={n}, C={classes}] with M the number of feat_<modality> \
                         tensors, but the file has none"
                    ),
                });
            }
            if m > MAX_MODALITIES {
                return Err(ArraysError::Inconsistent {
                    name: "subset_probs".into(),
                    message: format!(
                        "{m} modalities (feat_* tensors); at most {MAX_MODALITIES} are supported \
                         (2^M subsets)"
                    ),
                });
            }
            let subsets = 1usize << m;
            let expected = format!(
                "[2^M={subsets}, N={n}, C={classes}] {FLOAT_DTYPES} (M from the feat_* tensors, \
                 N from ids, C from probs)"
            );
            if t.shape != [subsets, n, classes] {
                return Err(shape_error("subset_probs", expected, &t));
            }
            let flat = floats("subset_probs", t, expected)?;
            check_finite("subset_probs", &flat, &[subsets, n, classes], 1, &show)?;
            let blocks: Vec<Vec<f32>> = flat
                .chunks_exact(n * classes)
                .map(<[f32]>::to_vec)
                .collect();
            for (s, b) in blocks.iter().enumerate() {
                check_probabilities("subset_probs", b, classes, &[s], &show)?;
            }
            check_full_subset(&blocks[subsets - 1], &probs, classes, &modalities, &show)?;
            Some(blocks)
        }
    };

    // mc_probs [T, N, C]
    let mc_probs = match tensors.remove("mc_probs") {
        None => None,
        Some(t) => {
            let expected =
                format!("[T, N={n}, C={classes}] {FLOAT_DTYPES} (N from ids, C from probs)");
            if t.shape.len() != 3 || t.shape[0] == 0 || t.shape[1..] != [n, classes] {
                return Err(shape_error("mc_probs", expected, &t));
            }
            let passes = t.shape[0];
            let flat = floats("mc_probs", t, expected)?;
            check_finite("mc_probs", &flat, &[passes, n, classes], 1, &show)?;
            for (p, b) in flat.chunks_exact(n * classes).enumerate() {
                check_probabilities("mc_probs", b, classes, &[p], &show)?;
            }
            Some((passes, flat))
        }
    };
    debug_assert!(tensors.is_empty(), "every accepted name is consumed above");

    Ok(ExternalArrays {
        origin: path.to_path_buf(),
        ids,
        id_kind,
        classes,
        probs,
        modalities,
        feature_dims,
        features,
        subset_probs,
        mc_probs,
    })
}

fn shape_error(name: &str, expected: String, t: &RawTensor) -> ArraysError {
    ArraysError::Shape {
        name: name.to_string(),
        expected,
        got: t.shape.clone(),
    }
}

fn floats(name: &str, t: RawTensor, expected: String) -> Result<Vec<f32>, ArraysError> {
    match t.data {
        RawData::Float(v) => Ok(v),
        _ => Err(ArraysError::Dtype {
            name: name.to_string(),
            expected,
            dtype: t.dtype,
        }),
    }
}

const IDS_EXPECTED: &str = "[N] integers (i8..i64, u8..u64) or strings (numpy <U / S in .npz; a \
                            JSON list under __metadata__[\"ids\"] in safetensors)";

fn take_ids(
    tensors: &mut Tensors,
    metadata_ids: Option<Vec<String>>,
    found: &str,
) -> Result<(Vec<String>, IdKind), ArraysError> {
    let (ids, kind) = match (tensors.remove("ids"), metadata_ids) {
        (Some(_), Some(_)) => {
            return Err(ArraysError::Inconsistent {
                name: "ids".into(),
                message: "both an ids tensor and __metadata__[\"ids\"]; keep one".into(),
            })
        }
        (None, Some(ids)) => (ids, IdKind::String),
        (None, None) => {
            return Err(ArraysError::Missing {
                name: "ids".into(),
                expected: IDS_EXPECTED.into(),
                found: found.to_string(),
            })
        }
        (Some(t), None) => {
            if t.shape.len() != 1 {
                return Err(shape_error("ids", IDS_EXPECTED.into(), &t));
            }
            match t.data {
                RawData::Int(v) => (
                    v.into_iter().map(|i| i.to_string()).collect(),
                    IdKind::Integer,
                ),
                RawData::Str(v) => (v, IdKind::String),
                _ => {
                    return Err(ArraysError::Dtype {
                        name: "ids".into(),
                        expected: IDS_EXPECTED.into(),
                        dtype: t.dtype,
                    })
                }
            }
        }
    };
    if ids.is_empty() {
        return Err(ArraysError::Shape {
            name: "ids".into(),
            expected: "[N] with N >= 1".into(),
            got: vec![0],
        });
    }
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id.as_str(), i) {
            return Err(ArraysError::DuplicateId {
                id: kind.show(id),
                first,
                second: i,
            });
        }
    }
    Ok((ids, kind))
}

/// Row-major multi-index of flat position `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (axis, &s) in shape.iter().enumerate().rev() {
        index[axis] = i % s;
        i /= s;
    }
    index
}

/// Every value finite; `row_axis` is the axis that indexes samples (to name the id).
fn check_finite(
    name: &str,
    data: &[f32],
    shape: &[usize],
    row_axis: usize,
    show: &dyn Fn(usize) -> String,
) -> Result<(), ArraysError> {
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        let index = unravel(i, shape);
        return Err(ArraysError::NonFinite {
            name: name.to_string(),
            value: data[i],
            id: show(index[row_axis]),
            index,
        });
    }
    Ok(())
}

/// Each row of `[N, C]` in `[0, 1]` and summing to 1 (within [`PROB_TOLERANCE`]); `prefix` is
/// the index of this block in a larger tensor, for the message.
fn check_probabilities(
    name: &str,
    probs: &[f32],
    classes: usize,
    prefix: &[usize],
    show: &dyn Fn(usize) -> String,
) -> Result<(), ArraysError> {
    let at = |row: usize, col: Option<usize>| {
        let mut index = prefix.to_vec();
        index.push(row);
        index.extend(col);
        index
    };
    for (row, p) in probs.chunks_exact(classes).enumerate() {
        if let Some(col) = p
            .iter()
            .position(|&x| !(-PROB_TOLERANCE..=1.0 + PROB_TOLERANCE).contains(&x))
        {
            return Err(ArraysError::NotProbabilities {
                name: name.to_string(),
                problem: format!("value {} is outside [0, 1]", p[col]),
                index: at(row, Some(col)),
                id: show(row),
            });
        }
        let sum: f32 = p.iter().sum();
        if (sum - 1.0).abs() > PROB_TOLERANCE {
            return Err(ArraysError::NotProbabilities {
                name: name.to_string(),
                problem: format!("row sums to {sum}"),
                index: at(row, None),
                id: show(row),
            });
        }
    }
    Ok(())
}

/// `subset_probs[2^M - 1]` (all modalities present) must be `probs`: catches subset tensors
/// whose bits mean "absent" instead of "present", or that came from another model.
fn check_full_subset(
    full: &[f32],
    probs: &[f32],
    classes: usize,
    modalities: &[String],
    show: &dyn Fn(usize) -> String,
) -> Result<(), ArraysError> {
    if let Some(i) = full
        .iter()
        .zip(probs)
        .position(|(a, b)| (a - b).abs() > PROB_TOLERANCE)
    {
        let (row, col) = (i / classes, i % classes);
        let last = (1usize << modalities.len()) - 1;
        return Err(ArraysError::Inconsistent {
            name: "subset_probs".into(),
            message: format!(
                "subset_probs[{last}] (all of {} present; bit m set = modality m present) must \
                 equal probs, but at [{row}, {col}] (id {}) it is {} and probs is {}",
                modalities.join(", "),
                show(row),
                full[i],
                probs[i]
            ),
        });
    }
    Ok(())
}

/// Ids of already-labelled samples, each with the line it came from (for messages).
#[derive(Debug, Clone, Default)]
pub struct LabelledIds {
    origin: String,
    entries: Vec<(usize, String)>,
}

impl LabelledIds {
    /// No labelled samples: the pool is every id.
    pub fn none() -> Self {
        Self::default()
    }

    /// Ids given in code; messages call them `labelled ids`, entry `k` "line" `k + 1`.
    pub fn from_ids<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            origin: "labelled ids".into(),
            entries: ids
                .into_iter()
                .enumerate()
                .map(|(i, id)| (i + 1, id.into()))
                .collect(),
        }
    }

    /// Reads a file of one id per line (surrounding whitespace and blank lines ignored), or a CSV
    /// file whose header has an `id` column: the file is read as CSV exactly when its first
    /// non-blank line, split at commas, has a field that is `id`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ArraysError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ArraysError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let origin = path.display().to_string();
        let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let is_csv = header.split(',').any(|f| f.trim() == "id");
        let entries = if is_csv {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let csv_error = |source| ArraysError::Csv {
                path: path.to_path_buf(),
                source,
            };
            let column = reader
                .headers()
                .map_err(csv_error)?
                .iter()
                .position(|h| h == "id")
                .expect("the header has an id field");
            let mut entries = Vec::new();
            for record in reader.records() {
                let record = record.map_err(csv_error)?;
                let line = record.position().map_or(0, |p| p.line() as usize);
                let id = record.get(column).unwrap_or("");
                if id.is_empty() {
                    return Err(ArraysError::Labelled {
                        origin,
                        message: format!("line {line}: empty id"),
                    });
                }
                entries.push((line, id.to_string()));
            }
            entries
        } else {
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| (i + 1, l.trim().to_string()))
                .collect()
        };
        Ok(Self { origin, entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Rows of `arrays` for these ids, in file order; every id must be among `arrays.ids()`
    /// (core-set needs the labelled samples' features) and appear once.
    fn rows(&self, arrays: &ExternalArrays) -> Result<Vec<usize>, ArraysError> {
        let index: HashMap<&str, usize> = arrays
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut first_line: HashMap<usize, usize> = HashMap::new();
        let mut rows = Vec::with_capacity(self.entries.len());
        for (line, id) in &self.entries {
            let error = |message: String| ArraysError::Labelled {
                origin: self.origin.clone(),
                message: format!("line {line}: {message}"),
            };
            let key = match arrays.id_kind {
                IdKind::String => id.clone(),
                IdKind::Integer => id
                    .parse::<i128>()
                    .map_err(|_| {
                        error(format!(
                            "{id:?} is not an integer, and the ids of {} are integers",
                            arrays.origin.display()
                        ))
                    })?
                    .to_string(),
            };
            let &row = index.get(key.as_str()).ok_or_else(|| {
                error(format!(
                    "id {} is not among the ids of {} (labelled samples must be in the file: \
                     core-set uses their features as centres)",
                    arrays.id_kind.show(&key),
                    arrays.origin.display()
                ))
            })?;
            if let Some(first) = first_line.insert(row, *line) {
                return Err(error(format!(
                    "id {} is listed again (first on line {first})",
                    arrays.id_kind.show(&key)
                )));
            }
            rows.push(row);
        }
        Ok(rows)
    }
}

/// The arrays `kind` reads beyond `probs`, as `(tensor, expected shape)` when absent.
fn missing_for(arrays: &ExternalArrays, kind: StrategyKind) -> Option<(&'static str, String)> {
    let (n, c, m) = (arrays.len(), arrays.classes, arrays.modalities.len());
    let needs_features = matches!(
        kind,
        StrategyKind::Coreset | StrategyKind::Kmeans | StrategyKind::Badge | StrategyKind::Bmmal
    );
    if needs_features && m == 0 {
        return Some((
            "feat_<modality>",
            format!("at least one feat_<modality> tensor [N={n}, d] of penultimate features"),
        ));
    }
    match kind {
        StrategyKind::Bmmal if arrays.subset_probs.is_none() => Some((
            "subset_probs",
            format!(
                "subset_probs [2^M={}, N={n}, C={c}] (fused probabilities with each subset of \
                 the modalities {} present)",
                1usize << m.min(MAX_MODALITIES + 1),
                arrays.modalities.join(", ")
            ),
        )),
        StrategyKind::Bald if arrays.mc_probs.is_none() => Some((
            "mc_probs",
            format!("mc_probs [T, N={n}, C={c}] (fused probabilities of T MC-dropout passes)"),
        )),
        _ => None,
    }
}

/// Rows `rows` of a row-major `[_, width]` array.
fn gather(data: &[f32], width: usize, rows: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * width);
    for &r in rows {
        out.extend_from_slice(&data[r * width..(r + 1) * width]);
    }
    out
}

/// Selects `budget` ids from the pool (every id not in `labelled`) with `kind`, in selection
/// order. Everything is checked before any selection work: the parameters, that the file has
/// the arrays `kind` needs, the labelled ids, and the budget. BALD uses `T` from `mc_probs`
/// (`params.mc_passes` is ignored); core-set starts from the labelled samples as centres. The
/// same inputs and `seed` give the same selection.
pub fn select(
    arrays: &ExternalArrays,
    kind: StrategyKind,
    params: &StrategyParams,
    budget: usize,
    labelled: &LabelledIds,
    seed: u64,
) -> Result<Vec<String>, ArraysError> {
    let mut params = params.clone();
    if let Some(t) = arrays.mc_passes() {
        params.mc_passes = t;
    }
    params.check()?;
    if let Some((name, expected)) = missing_for(arrays, kind) {
        return Err(ArraysError::NeedsTensor {
            strategy: kind,
            name: name.to_string(),
            expected,
        });
    }
    let labelled_rows = labelled.rows(arrays)?;
    let mut is_labelled = vec![false; arrays.len()];
    for &r in &labelled_rows {
        is_labelled[r] = true;
    }
    let pool: Vec<usize> = (0..arrays.len()).filter(|&r| !is_labelled[r]).collect();
    if budget > pool.len() {
        return Err(ArraysError::BudgetTooLarge {
            budget,
            pool: pool.len(),
            n: arrays.len(),
            labelled: labelled_rows.len(),
        });
    }

    let c = arrays.classes;
    let mut ctx = ArrayContext::new(
        pool.clone(),
        labelled_rows.clone(),
        c,
        arrays.feature_dims.clone(),
    );
    // Only what `kind` reads is copied: subset_probs alone is 2^M times the size of probs.
    ctx.fused_probs = Some(gather(&arrays.probs, c, &pool));
    if !matches!(
        kind,
        StrategyKind::Random
            | StrategyKind::Entropy
            | StrategyKind::Margin
            | StrategyKind::LeastConfidence
            | StrategyKind::Bald
    ) {
        let blocks = |rows: &[usize]| {
            arrays
                .features
                .iter()
                .zip(&arrays.feature_dims)
                .map(|(f, &d)| gather(f, d, rows))
                .collect::<Vec<_>>()
        };
        ctx.features = Some(blocks(&pool));
        if kind == StrategyKind::Coreset {
            ctx.labelled_features = Some(blocks(&labelled_rows));
        }
    }
    if kind == StrategyKind::Bmmal {
        ctx.subset_probs = arrays
            .subset_probs
            .as_ref()
            .map(|s| s.iter().map(|p| gather(p, c, &pool)).collect());
    }
    if kind == StrategyKind::Bald {
        ctx.mc_probs = arrays.mc_probs.as_ref().map(|(_, flat)| {
            flat.chunks_exact(arrays.len() * c)
                .flat_map(|pass| gather(pass, c, &pool))
                .collect()
        });
    }

    let strategy = kind.build(&params);
    let mut rng = polymodal_core::seed::rng(seed, "select-arrays");
    let picked = strategy.select(&mut ctx, budget, &mut rng)?;
    tracing::debug!(strategy = %kind, budget, pool = pool.len(), "selected from arrays");
    Ok(picked.into_iter().map(|r| arrays.ids[r].clone()).collect())
}

/// Writes the selection as CSV with header `rank,id` (rank from 1, in selection order).
pub fn write_csv(
    writer: impl Write,
    ids: &[String],
    origin: impl AsRef<Path>,
) -> Result<(), ArraysError> {
    let path = origin.as_ref();
    let csv_error = |source| ArraysError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::Writer::from_writer(writer);
    w.write_record(["rank", "id"]).map_err(csv_error)?;
    for (rank, id) in ids.iter().enumerate() {
        w.write_record([(rank + 1).to_string().as_str(), id.as_str()])
            .map_err(csv_error)?;
    }
    w.flush().map_err(|source| ArraysError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The selection as JSON: `{"strategy", "budget", "seed", "ids"}`, ids as numbers when the
/// file's ids are integers and as strings otherwise.
pub fn selection_json(
    arrays: &ExternalArrays,
    kind: StrategyKind,
    seed: u64,
    ids: &[String],
) -> serde_json::Value {
    let ids: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| match arrays.id_kind {
            IdKind::Integer => id
                .parse::<i64>()
                .map(serde_json::Value::from)
                .or_else(|_| id.parse::<u64>().map(serde_json::Value::from))
                .unwrap_or_else(|_| serde_json::Value::from(id.as_str())),
            IdKind::String => serde_json::Value::from(id.as_str()),
        })
        .collect();
    serde_json::json!({
        "strategy": kind.name(),
        "budget": ids.len(),
        "seed": seed,
        "ids": ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_to_c_transposes_numpy_column_major() {
        // numpy: np.asfortranarray(np.arange(6).reshape(2, 3)) stores 0 3 1 4 2 5.
        let f = [0, 3, 1, 4, 2, 5];
        assert_eq!(fortran_to_c(&f, &[2, 3]), vec![0, 1, 2, 3, 4, 5]);
        // np.arange(24).reshape(2, 3, 4) in Fortran order is its transpose's C order.
        let c: Vec<usize> = (0..24).collect();
        let f: Vec<usize> = (0..24)
            .map(|i| {
                let (a, b, k) = (i % 2, (i / 2) % 3, i / 6);
                a * 12 + b * 4 + k
            })
            .collect();
        assert_eq!(fortran_to_c(&f, &[2, 3, 4]), c);
    }

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(0, &[2, 3]), vec![0, 0]);
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(13, &[2, 3, 4]), vec![1, 0, 1]);
    }
}
