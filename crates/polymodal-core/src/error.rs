use std::path::PathBuf;

/// Errors raised by the framework-free layer.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: invalid JSON: {err}")]
    Json {
        path: PathBuf,
        err: serde_json::Error,
    },
    #[error("shape mismatch: {what}: expected {expected}, got {got}")]
    Shape {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("label {label} of sample {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        index: usize,
        label: usize,
        classes: usize,
    },
    #[error("non-finite probability for sample {index}")]
    NonFinite { index: usize },
    #[error("empty input: {0}")]
    Empty(&'static str),
}

impl CoreError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            err: source,
        }
    }
}
