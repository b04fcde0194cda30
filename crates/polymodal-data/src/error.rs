use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: not a valid dataset store: {reason}")]
    BadStore { path: PathBuf, reason: String },
    #[error("{path}: tensor `{name}`: {reason}")]
    BadTensor {
        path: PathBuf,
        name: String,
        reason: String,
    },
    #[error("sample {id}: modality `{modality}` has a non-finite value")]
    NonFinite { id: String, modality: String },
    #[error("dataset `{name}` is inconsistent: {reason}")]
    Invalid { name: String, reason: String },
    #[error("invalid data config: {0}")]
    Config(String),
}

impl DataError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            err: source,
        }
    }
}
