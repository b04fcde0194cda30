//! Sentence embeddings with all-MiniLM-L6-v2 (sentence-transformers), implemented on burn's CPU
//! backend so the text modality needs neither Python nor a model hub at run time.
//!
//! The pipeline is the one sentence-transformers runs: WordPiece tokenisation
//! ([`WordPieceTokenizer`], id-exact with Hugging Face's fast tokenizer), a 6-layer BERT
//! encoder, mean pooling over real tokens and L2 normalisation, giving [`EMBEDDING_DIM`]-long
//! unit vectors. Weights come from `scripts/minilm/fetch.sh` and are hash-checked on load
//! ([`MiniLm::load`]); `tests/` compares ids and embeddings against goldens produced by
//! sentence-transformers itself.
//!
//! ```no_run
//! # fn main() -> Result<(), polymodal_text::TextError> {
//! let model = polymodal_text::MiniLm::load(std::path::Path::new(".cache/models/all-MiniLM-L6-v2"))?;
//! let texts = vec!["a cat on a mat".to_string(), "a dog on a log".to_string()];
//! let emb = model.embed(&texts, 32, &mut |_done| {})?;
//! assert_eq!(emb.len(), 2 * polymodal_text::EMBEDDING_DIM);
//! # Ok(()) }
//! ```

mod bert;
mod error;
mod gelu;
mod model;
mod tokenizer;

pub use error::TextError;
pub use model::{
    sha256_hex, MiniLm, EMBEDDING_DIM, MAX_SEQ_LEN, MODEL_SHA256, TOKENIZER_JSON_SHA256,
    VOCAB_TXT_SHA256,
};
pub use tokenizer::WordPieceTokenizer;
