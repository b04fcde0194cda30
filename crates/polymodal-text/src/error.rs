use std::path::PathBuf;

/// Everything that can go wrong loading or running the text encoder. Each variant that concerns
/// a file carries its path so the CLI can print an actionable message without extra context.
#[derive(thiserror::Error, Debug)]
pub enum TextError {
    #[error("{path}: not found (run scripts/minilm/fetch.sh to fetch all-MiniLM-L6-v2)")]
    MissingFile { path: PathBuf },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{path}: sha256 mismatch: expected {expected}, got {actual} \
         (corrupted or different file; re-run scripts/minilm/fetch.sh)"
    )]
    HashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("{path}: not a valid safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },

    #[error("{path}: tensor `{name}` is missing")]
    MissingTensor { path: PathBuf, name: String },

    #[error("{path}: tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    TensorShape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },

    #[error("{path}: tensor `{name}` has dtype {actual}, expected F32")]
    TensorDtype {
        path: PathBuf,
        name: String,
        actual: String,
    },

    #[error("{path}: invalid tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },

    /// The tensor backend returned something unexpected (a bug, not bad input).
    #[error("tensor backend: {0}")]
    Backend(String),

    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>, TextError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            TextError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            TextError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}
