//! The lab's one error type: every failure names the file, key, id or run it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A config file or override that does not parse or does not validate.
    #[error("{origin}: {message}")]
    Config { origin: String, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Core(#[from] polymodal_core::CoreError),
    #[error(transparent)]
    Data(#[from] polymodal_data::DataError),
    #[error(transparent)]
    Nn(#[from] polymodal_nn::NnError),
    #[error(transparent)]
    Train(#[from] polymodal_train::TrainError),
    #[error(transparent)]
    Active(#[from] polymodal_active::ActiveError),
}

impl LabError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
