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
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{}: another process is training this project ({holder}); wait for it or remove the lock if that process is gone", path.display())]
    Locked { path: PathBuf, holder: String },
    #[error("invalid value: {0}")]
    Invalid(String),
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
}
