use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VlError {
    #[error("invalid config: {0}")]
    Config(String),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data: {0}")]
    Data(#[from] polymodal_data::DataError),
    #[error("unknown word `{0}` (not in the model's vocabulary)")]
    UnknownWord(String),
    #[error("{0}")]
    Input(String),
    #[error("plotting failed: {0}")]
    Plot(String),
}

impl VlError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn file(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, VlError>;

/// Reads a file, naming it in the error.
pub fn read_string(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| VlError::io(path, e))
}

/// Writes a file atomically, naming it in the error.
pub fn write(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    polymodal_core::fsutil::write_atomic(path, bytes).map_err(|e| VlError::file(path, e))
}
