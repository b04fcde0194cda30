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
    // ---- labelling projects (project/, serve/) ----
    #[error("{}: refusing to create a project here: the directory exists and is not empty", path.display())]
    ProjectExists { path: PathBuf },
    #[error("{}: not a polymodal project ({reason})", path.display())]
    NotAProject { path: PathBuf, reason: String },
    #[error("{}: project database: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: project schema version {found}, this polymodal reads version {expected}", path.display())]
    SchemaVersion {
        path: PathBuf,
        found: String,
        expected: u32,
    },
    #[error("{}: the dataset at {} changed since the project was created (fingerprint {found}, project recorded {recorded}); labels and selections refer to the old data, so the project refuses to open it", project.display(), dataset.display())]
    FingerprintChanged {
        project: PathBuf,
        dataset: PathBuf,
        recorded: String,
        found: String,
    },
    #[error("unknown sample id `{0}`")]
    UnknownId(String),
    #[error("label `{label}` is not a class of this project (classes: {})", classes.join(", "))]
    UnknownLabel { label: String, classes: Vec<String> },
    #[error("sample `{id}` cannot be queued: {reason}")]
    NotInPool { id: String, reason: String },
    #[error("sample `{id}` is not waiting in the labelling queue ({state})")]
    NotQueued { id: String, state: String },
    #[error("sample `{id}` is leased to another labeller until its lease expires")]
    LeasedToOther { id: String },
    #[error("nothing to undo for `{who}`")]
    NothingToUndo { who: String },
    #[error("unknown round {0}")]
    UnknownRound(u32),
    #[error("{}: labels not imported, nothing was changed:\n{}", path.display(), problems.join("\n"))]
    ImportRejected {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("{}: another process is training this project ({holder}); wait for it or remove the lock if that process is gone", path.display())]
    TrainingLocked { path: PathBuf, holder: String },
    #[error("labelling server: {0}")]
    Server(String),
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
