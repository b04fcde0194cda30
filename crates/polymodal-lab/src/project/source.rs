//! Where a project's data comes from: an imported dataset directory or the built-in AV-Digits.

use crate::LabError;
use polymodal_core::Split;
use polymodal_data::avdigits::AvDigitsWaves;
use polymodal_data::store::{self, SourceFiles, StoreLoadConfig};
use polymodal_data::{AvDigitsConfig, Dataset};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetSource {
    /// A directory written by `polymodal data import`.
    Store(PathBuf),
    /// The built-in AV-Digits set: the directory holding its store file.
    AvDigits(PathBuf),
}

/// What a project records about its dataset at `init`.
#[derive(Debug, Clone)]
pub struct DatasetInfo {
    pub ids: Vec<String>,
    pub labels: Vec<Option<usize>>,
    pub splits: Vec<Split>,
    pub class_names: Vec<String>,
    pub fingerprint: String,
}

/// A loaded dataset plus what the labelling page shows that the model input does not keep.
#[derive(Debug)]
pub struct LoadedData {
    pub data: Dataset,
    /// Raw texts per text modality (`None` where missing); empty for AV-Digits.
    pub texts: BTreeMap<String, Vec<Option<String>>>,
}

/// What a person sees and hears in place of the model's input: the original image and audio
/// files of an imported dataset, or AV-Digits waveforms rendered from its store.
#[derive(Debug, Default)]
pub enum Originals {
    /// Nothing recorded (a dataset imported before `sources.json` existed).
    #[default]
    None,
    Files(SourceFiles),
    AvDigits(Box<AvDigitsWaves>),
}

impl DatasetSource {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Store(_) => "store",
            Self::AvDigits(_) => "avdigits",
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Self::Store(p) | Self::AvDigits(p) => p,
        }
    }

    pub(crate) fn from_meta(kind: &str, path: &str) -> Option<Self> {
        match kind {
            "store" => Some(Self::Store(PathBuf::from(path))),
            "avdigits" => Some(Self::AvDigits(PathBuf::from(path))),
            _ => None,
        }
    }

    /// The same source with an absolute, canonical path (a project outlives the working
    /// directory it was created from).
    pub fn absolute(&self) -> Result<Self, LabError> {
        let p = self.path();
        let abs = p.canonicalize().map_err(|e| LabError::io(p, e))?;
        Ok(match self {
            Self::Store(_) => Self::Store(abs),
            Self::AvDigits(_) => Self::AvDigits(abs),
        })
    }

    fn avdigits_config(dir: &Path) -> AvDigitsConfig {
        AvDigitsConfig {
            path: dir.to_path_buf(),
            ..AvDigitsConfig::default()
        }
    }

    /// The dataset's identity as `polymodal_data` reports it: for an imported directory the
    /// content hash in its `dataset.json` (independent of load settings such as cached text
    /// embeddings, which must not orphan a project); for AV-Digits the loaded dataset's
    /// fingerprint.
    pub fn fingerprint(&self) -> Result<String, LabError> {
        Ok(match self {
            Self::Store(dir) => store::read_meta(dir)?.content_sha256,
            Self::AvDigits(dir) => Self::avdigits_config(dir).load()?.fingerprint,
        })
    }

    pub fn inspect(&self) -> Result<DatasetInfo, LabError> {
        Ok(match self {
            Self::Store(dir) => {
                let meta = store::read_meta(dir)?;
                DatasetInfo {
                    ids: meta.ids,
                    labels: meta.labels,
                    splits: meta.splits,
                    class_names: meta.class_names,
                    fingerprint: meta.content_sha256,
                }
            }
            Self::AvDigits(dir) => {
                let d = Self::avdigits_config(dir).load()?;
                DatasetInfo {
                    ids: d.ids.iter().map(|i| i.0.clone()).collect(),
                    labels: d.labels,
                    splits: d.splits,
                    class_names: d.class_names,
                    fingerprint: d.fingerprint,
                }
            }
        })
    }

    /// The originals behind the stored values, for the labelling page. Loaded separately from
    /// [`Self::load`] because training never needs them.
    pub fn originals(&self) -> Result<Originals, LabError> {
        Ok(match self {
            Self::Store(dir) => store::read_sources(dir)?.map_or(Originals::None, Originals::Files),
            Self::AvDigits(dir) => {
                Originals::AvDigits(Box::new(Self::avdigits_config(dir).waves()?))
            }
        })
    }

    /// Loads the values (for the page's media and for training).
    pub fn load(&self) -> Result<LoadedData, LabError> {
        Ok(match self {
            Self::Store(dir) => LoadedData {
                data: store::load(dir, &StoreLoadConfig::default())?,
                texts: store::read_texts(dir)?,
            },
            Self::AvDigits(dir) => LoadedData {
                data: Self::avdigits_config(dir).load()?,
                texts: BTreeMap::new(),
            },
        })
    }
}
