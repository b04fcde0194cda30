use serde::{Deserialize, Serialize};

/// What a modality's values are, which decides its encoder and front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModalityKind {
    /// u8 pixels, stored as `[channels, height, width]` floats after normalisation.
    Image,
    /// PCM turned into a log-mel spectrogram `[1, mels, frames]`.
    Audio,
    /// Token ids below [`TEXT_VOCAB`] stored as floats, 0 = padding; shape `[max_tokens]`.
    Text,
    /// A plain feature vector `[dim]`.
    Vector,
    /// A `[time, dim]` feature sequence.
    Sequence,
}

impl std::fmt::Display for ModalityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Text => "text",
            Self::Vector => "vector",
            Self::Sequence => "sequence",
        };
        f.write_str(s)
    }
}

/// Size of the token-id space of text modalities (hashed word ids; see `polymodal-data`'s
/// `text` module). Shared here so the data layer and the text encoder agree on it.
pub const TEXT_VOCAB: usize = 1 << 14;

/// One modality of a dataset: its name (`"image"`, `"audio"`, ...), kind and per-sample shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModalitySpec {
    pub name: String,
    pub kind: ModalityKind,
    /// Shape of one sample's model input, e.g. `[1, 28, 28]`.
    pub shape: Vec<usize>,
}

impl ModalitySpec {
    /// Number of f32 values one sample of this modality holds.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}
