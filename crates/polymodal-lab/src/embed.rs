//! `embed`: MiniLM sentence vectors for a text modality, cached in the dataset so training on
//! them costs no transformer passes.

use crate::data::Locations;
use crate::progress::Progress;
use crate::LabError;
use polymodal_core::ModalityKind;
use polymodal_data::store;
use polymodal_text::{MiniLm, EMBEDDING_DIM, MODEL_SHA256};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where `scripts/minilm/fetch.sh` puts the model by default (relative to a search root).
pub const DEFAULT_MODEL_DIR: &str = ".cache/models/all-MiniLM-L6-v2";

fn model_dir(
    given: Option<&Path>,
    from_schema: Option<&Path>,
    at: &Locations,
) -> Result<PathBuf, LabError> {
    if let Some(p) = given.or(from_schema) {
        return Ok(p.to_path_buf());
    }
    at.find(Path::new(DEFAULT_MODEL_DIR), |c| {
        c.join("model.safetensors").is_file()
    })
    .ok_or_else(|| LabError::NotFound {
        what: format!("all-MiniLM-L6-v2 ({DEFAULT_MODEL_DIR})"),
        looked_in: at
            .roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        hint: format!(
            "run `bash scripts/minilm/fetch.sh` in the repository, pass --text-model DIR, or {}",
            at.hint
        ),
    })
}

pub struct EmbedOutcome {
    pub texts: usize,
    pub seconds: f64,
    pub path: PathBuf,
}

pub fn run(
    dataset: &Path,
    modality: &str,
    text_model: Option<&Path>,
    batch: usize,
    at: &Locations,
    progress: &dyn Progress,
) -> Result<EmbedOutcome, LabError> {
    let meta = store::read_meta(dataset)?;
    let texts_mods: Vec<&str> = meta
        .modalities
        .iter()
        .filter(|m| m.spec.kind == ModalityKind::Text)
        .map(|m| m.spec.name.as_str())
        .collect();
    if !texts_mods.contains(&modality) {
        return Err(LabError::Invalid(format!(
            "{}: no text modality `{modality}` (text modalities: {})",
            dataset.display(),
            if texts_mods.is_empty() {
                "none".to_string()
            } else {
                texts_mods.join(", ")
            }
        )));
    }
    let dir = model_dir(text_model, meta.text_model.as_deref(), at)?;
    let t = Instant::now();
    let model = MiniLm::load(&dir)?;
    tracing::info!(
        "loaded all-MiniLM-L6-v2 from {} in {:.1}s",
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    let column = store::read_texts(dataset)?
        .remove(modality)
        .ok_or_else(|| {
            LabError::Invalid(format!(
                "{}: texts of `{modality}` are missing",
                dataset.display()
            ))
        })?;
    let present: Vec<bool> = column.iter().map(Option::is_some).collect();
    let texts: Vec<String> = column.iter().flatten().cloned().collect();
    progress.start("embedding", texts.len() as u64);
    let t = Instant::now();
    let vectors = model.embed(&texts, batch.max(1), &mut |done| {
        progress.set_position(done as u64)
    })?;
    progress.finish();
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
    Ok(EmbedOutcome {
        texts: texts.len(),
        seconds,
        path,
    })
}
