//! A damaged or incomplete model folder must give a typed error naming the file, never a panic
//! or silently wrong embeddings. Built from the committed vocab.txt and fake files, so this
//! runs without the fetched model.

mod common;

use std::path::Path;

use polymodal_text::{MiniLm, TextError, MODEL_SHA256, TOKENIZER_JSON_SHA256};

fn load_err(dir: &Path) -> TextError {
    match MiniLm::load(dir) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e,
    }
}

#[test]
fn corrupted_tokenizer_json_names_file_and_hashes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tokenizer.json"),
        b"{\"not\": \"the pinned file\"}",
    )
    .unwrap();
    let err = load_err(dir.path());
    let msg = err.to_string();
    match &err {
        TextError::HashMismatch { path, expected, .. } => {
            assert!(path.ends_with("tokenizer.json"));
            assert_eq!(expected, TOKENIZER_JSON_SHA256);
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    assert!(
        msg.contains("tokenizer.json") && msg.contains(TOKENIZER_JSON_SHA256),
        "{msg}"
    );
}

#[test]
fn corrupted_weights_name_file_and_hashes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::data_dir().join("vocab.txt"),
        dir.path().join("vocab.txt"),
    )
    .unwrap();
    std::fs::write(dir.path().join("model.safetensors"), vec![0u8; 4096]).unwrap();
    let err = load_err(dir.path());
    let msg = err.to_string();
    assert!(matches!(err, TextError::HashMismatch { .. }), "{err:?}");
    assert!(msg.contains("model.safetensors"), "{msg}");
    assert!(msg.contains(MODEL_SHA256), "{msg}");
    assert!(
        msg.contains(&polymodal_text::sha256_hex(&[0u8; 4096])),
        "{msg}"
    );
}

#[test]
fn renamed_weights_are_reported_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::data_dir().join("vocab.txt"),
        dir.path().join("vocab.txt"),
    )
    .unwrap();
    let err = load_err(dir.path());
    match &err {
        TextError::MissingFile { path } => assert!(path.ends_with("model.safetensors")),
        other => panic!("expected MissingFile, got {other:?}"),
    }
    assert!(err.to_string().contains("scripts/minilm/fetch.sh"));
}

#[test]
fn empty_dir_names_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(dir.path());
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

#[test]
fn truncated_real_weights_fail_hash_check() {
    let Some(model) = common::model_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        model.join("tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let bytes = std::fs::read(model.join("model.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let err = load_err(dir.path());
    assert!(matches!(err, TextError::HashMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("model.safetensors"));
}
