//! Loading the data a config names, and finding the files polymodal ships with (the built-in
//! AV-Digits set, the MiniLM text model) wherever the binary runs from.

use crate::config::{DatasetConfig, InputRecord};
use crate::LabError;
use polymodal_data::{AvDigitsConfig, Dataset};
use std::path::{Path, PathBuf};

/// Where relative data and model paths are looked for, in order. The binary fills it from the
/// current directory, `POLYMODAL_HOME` and the folders around the executable; the library
/// never reads the environment itself.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    pub roots: Vec<PathBuf>,
    /// What the user can do when nothing is found (e.g. "set POLYMODAL_HOME to ...").
    pub hint: String,
}

impl Locations {
    /// Resolves `rel` against the roots: the first `root/rel` for which `found(candidate)` holds.
    pub fn find(&self, rel: &Path, found: impl Fn(&Path) -> bool) -> Option<PathBuf> {
        if rel.is_absolute() {
            return found(rel).then(|| rel.to_path_buf());
        }
        self.roots.iter().map(|r| r.join(rel)).find(|c| found(c))
    }

    fn describe(&self) -> String {
        self.roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Makes the AV-Digits path absolute: the first root under which it holds the dataset.
pub fn resolve_avdigits_path(data: &mut AvDigitsConfig, at: &Locations) -> Result<(), LabError> {
    let p = data.path.clone();
    let found = at
        .find(&p, |c| {
            c.join(polymodal_data::avdigits::STORE_FILE).is_file()
        })
        .ok_or_else(|| LabError::NotFound {
            what: format!(
                "the built-in dataset {} ({})",
                p.display(),
                polymodal_data::avdigits::STORE_FILE
            ),
            looked_in: at.describe(),
            hint: at.hint.clone(),
        })?;
    data.path = found.canonicalize().map_err(|e| LabError::io(&found, e))?;
    Ok(())
}

/// Loads the data a config names, resolving paths and recording (or checking) the inputs.
pub fn load_data(
    dataset: &mut DatasetConfig,
    avdigits: &mut AvDigitsConfig,
    at: &Locations,
) -> Result<Dataset, LabError> {
    let t = std::time::Instant::now();
    let data = match &dataset.path {
        Some(p) => {
            let dir = p.canonicalize().map_err(|e| {
                LabError::Invalid(format!(
                    "{}: dataset directory not found ({e}); make one with `polymodal data import`",
                    p.display()
                ))
            })?;
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
            resolve_avdigits_path(avdigits, at)?;
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
        return Err(LabError::Config {
            origin: "dataset.inputs".into(),
            message: format!(
                "the config's ({}) do not match the data ({})",
                describe_inputs(&dataset.inputs),
                describe_inputs(&inputs)
            ),
        });
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
