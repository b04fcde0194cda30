//! Shared by the integration tests: the golden file and locating the fetched model.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
pub struct Reference {
    pub max_seq_length: usize,
    pub embedding_dim: usize,
    pub sentences: Vec<Sentence>,
    pub tokenizer_cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
pub struct Sentence {
    pub text: String,
    pub ids: Vec<u32>,
    pub embedding: Vec<f32>,
}

#[derive(serde::Deserialize)]
pub struct Case {
    pub text: String,
    pub ids: Vec<u32>,
}

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn reference() -> Reference {
    let path = data_dir().join("minilm_reference.json");
    let text =
        std::fs::read_to_string(&path).expect("tests/data/minilm_reference.json is committed");
    serde_json::from_str(&text).expect("golden file parses")
}

/// The fetched model folder, or `None` (after saying so on stderr) when it is absent and not
/// required. CI sets `POLYMODAL_REQUIRE_MINILM=1` after running fetch.sh, so a broken fetch
/// cannot silently turn these tests into no-ops there.
pub fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("POLYMODAL_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/models/all-MiniLM-L6-v2")
        });
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    let required = std::env::var("POLYMODAL_REQUIRE_MINILM").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "all-MiniLM-L6-v2 not found in {} but POLYMODAL_REQUIRE_MINILM=1: run scripts/minilm/fetch.sh \
         (or set POLYMODAL_MINILM_DIR)",
        dir.display()
    );
    eprintln!(
        "skipped: model not fetched ({}), run scripts/minilm/fetch.sh",
        dir.display()
    );
    None
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}
