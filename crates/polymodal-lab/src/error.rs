//! The lab's one error type: every failure names the file, key, id or run it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A config file or override that does not parse or does not validate.
    #[error("{origin}: {message}")]
    Config { origin: String, message: String },
    /// A request that cannot be carried out as asked (an unknown modality, a budget too large).
    #[error("{0}")]
    Invalid(String),
    /// Something polymodal looked for and did not find.
    #[error("{what} not found (looked in: {looked_in}){}", if hint.is_empty() { String::new() } else { format!("; {hint}") })]
    NotFound {
        what: String,
        looked_in: String,
        hint: String,
    },
    /// A run directory that cannot be used as asked: not empty, a different config, not complete.
    #[error("{}: {message}", path.display())]
    RunDir { path: PathBuf, message: String },
    /// Another process holds the directory's lock.
    #[error("{}: in use by another polymodal process ({holder}); wait for it to finish, or remove {} if that process is gone", path.display(), lock.display())]
    Locked {
        path: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    /// The data differs from the data a run or project was made with.
    #[error("{origin}: dataset fingerprint {found} differs from the one {what} was made with ({expected}): the data, its labels, splits or settings changed")]
    DatasetChanged {
        origin: String,
        what: String,
        expected: String,
        found: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("plotting {what} failed: {message}")]
    Plot { what: String, message: String },
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
    #[error(transparent)]
    Shapley(#[from] polymodal_core::shapley::ShapleyError),
    #[error(transparent)]
    Text(#[from] polymodal_text::TextError),
    #[error(transparent)]
    Arrays(#[from] crate::arrays::ArraysError),
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<LabError>,
    },
}

impl LabError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub fn run_dir(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::RunDir {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn plot(what: impl Into<String>, e: impl std::fmt::Debug) -> Self {
        Self::Plot {
            what: what.into(),
            message: format!("{e:?}"),
        }
    }

    /// Says which cell, file or step an error happened in.
    pub fn context(self, context: impl Into<String>) -> Self {
        Self::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

/// Writing Markdown into a `String` cannot fail; this keeps `write!` usable with `?`.
impl From<std::fmt::Error> for LabError {
    fn from(_: std::fmt::Error) -> Self {
        Self::Invalid("formatting into a string failed".into())
    }
}
