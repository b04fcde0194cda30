//! `polymodal embed`: MiniLM sentence vectors for a text modality, cached in the dataset so
//! training on them costs no transformer passes.

use anyhow::{anyhow, bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use polymodal_core::ModalityKind;
use polymodal_data::store;
use polymodal_text::{MiniLm, EMBEDDING_DIM, MODEL_SHA256};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where `scripts/minilm/fetch.sh` puts the model by default (relative to the repository).
pub const DEFAULT_MODEL_DIR: &str = ".cache/models/all-MiniLM-L6-v2";
const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn model_dir(given: Option<&Path>, from_schema: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given.or(from_schema) {
        return Ok(p.to_path_buf());
    }
    let candidates = [
        PathBuf::from(DEFAULT_MODEL_DIR),
        Path::new(REPO_ROOT).join(DEFAULT_MODEL_DIR),
    ];
    candidates
        .iter()
        .find(|c| c.join("model.safetensors").exists())
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "no all-MiniLM-L6-v2 model found at {DEFAULT_MODEL_DIR}; run `bash scripts/minilm/fetch.sh` or pass --text-model DIR"
            )
        })
}

pub fn run(dataset: &Path, modality: &str, text_model: Option<&Path>, batch: usize) -> Result<()> {
    let meta = store::read_meta(dataset)?;
    let texts_mods: Vec<&str> = meta
        .modalities
        .iter()
        .filter(|m| m.spec.kind == ModalityKind::Text)
        .map(|m| m.spec.name.as_str())
        .collect();
    if !texts_mods.contains(&modality) {
        bail!(
            "{}: no text modality `{modality}` (text modalities: {})",
            dataset.display(),
            if texts_mods.is_empty() {
                "none".to_string()
            } else {
                texts_mods.join(", ")
            }
        );
    }
    let dir = model_dir(text_model, meta.text_model.as_deref())?;
    let t = Instant::now();
    let model = MiniLm::load(&dir)?;
    tracing::info!(
        "loaded all-MiniLM-L6-v2 from {} in {:.1}s",
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    let column = store::read_texts(dataset)?
        .remove(modality)
        .ok_or_else(|| anyhow!("{}: texts of `{modality}` are missing", dataset.display()))?;
    let present: Vec<bool> = column.iter().map(Option::is_some).collect();
    let texts: Vec<String> = column.iter().flatten().cloned().collect();
    let bar = ProgressBar::new(texts.len() as u64).with_style(
        ProgressStyle::with_template("embedding [{bar:30}] {pos}/{len} texts ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let t = Instant::now();
    let vectors = model.embed(&texts, batch.max(1), &mut |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let seconds = t.elapsed().as_secs_f64();
    let mut values = vec![0f32; column.len() * EMBEDDING_DIM];
    let mut k = 0;
    for (i, p) in present.iter().enumerate() {
        if *p {
            values[i * EMBEDDING_DIM..(i + 1) * EMBEDDING_DIM]
                .copy_from_slice(&vectors[k * EMBEDDING_DIM..(k + 1) * EMBEDDING_DIM]);
            k += 1;
        }
    }
    let path = store::write_embedding(
        dataset,
        modality,
        EMBEDDING_DIM,
        &values,
        &present,
        &format!("all-MiniLM-L6-v2 sha256:{MODEL_SHA256}"),
    )?;
    println!(
        "embedded {} texts of `{modality}` in {seconds:.1}s ({:.0} texts/s) → {}",
        texts.len(),
        texts.len() as f64 / seconds.max(1e-9),
        path.display()
    );
    println!("training on {} now uses these {EMBEDDING_DIM}-d vectors (dataset.text_features = \"tokens\" to opt out)", dataset.display());
    Ok(())
}
