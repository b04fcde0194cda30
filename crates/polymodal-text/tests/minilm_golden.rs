//! Embeddings must match sentence-transformers (PyTorch) to cosine >= 0.9999. Needs the model
//! from scripts/minilm/fetch.sh; skips (or fails under POLYMODAL_REQUIRE_MINILM=1) without it.

mod common;

use polymodal_text::{MiniLm, TextError, EMBEDDING_DIM};

#[test]
fn embeddings_match_sentence_transformers() {
    let Some(dir) = common::model_dir() else {
        return;
    };
    let r = common::reference();
    assert_eq!(r.embedding_dim, EMBEDDING_DIM);
    let model = MiniLm::load(&dir).unwrap();
    let texts: Vec<String> = r.sentences.iter().map(|s| s.text.clone()).collect();

    let mut calls = Vec::new();
    let emb = model
        .embed(&texts, 3, &mut |done| calls.push(done))
        .unwrap();
    assert_eq!(emb.len(), texts.len() * EMBEDDING_DIM);
    // One call per batch with the cumulative count; batches may finish out of order when
    // encoded concurrently, so only the totals are fixed.
    assert_eq!(calls.len(), 3, "one progress call per batch: {calls:?}");
    assert!(calls.windows(2).all(|w| w[0] < w[1]), "{calls:?}");
    assert_eq!(calls.last(), Some(&8));

    let mut worst: f64 = 0.0;
    let mut worst_abs: f32 = 0.0;
    for (s, got) in r.sentences.iter().zip(emb.chunks_exact(EMBEDDING_DIM)) {
        let cos = common::cosine(got, &s.embedding);
        let abs = got.iter().zip(&s.embedding).map(|(a, b)| (a - b).abs());
        worst_abs = abs.fold(worst_abs, f32::max);
        let norm: f32 = got.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-4,
            "not unit length ({norm}) for {:?}",
            s.text
        );
        assert!(cos >= 0.9999, "cosine {cos} < 0.9999 for {:?}", s.text);
        worst = worst.max((cos - 1.0).abs());
    }
    eprintln!(
        "max |cos - 1| over {} sentences: {worst:e}; max |element diff|: {worst_abs:e}",
        texts.len()
    );

    // Neither batching nor threading may change results: padding is masked out of attention
    // and pooling, and each batch is computed independently.
    let single = model
        .with_threads(std::num::NonZeroUsize::MIN)
        .embed(&texts, 1, &mut |_| {})
        .unwrap();
    for (a, b) in single
        .chunks_exact(EMBEDDING_DIM)
        .zip(emb.chunks_exact(EMBEDDING_DIM))
    {
        assert!(common::cosine(a, b) > 0.99999);
    }
}

#[test]
fn embed_edge_cases() {
    let Some(dir) = common::model_dir() else {
        return;
    };
    let model = MiniLm::load(&dir).unwrap();
    assert!(model
        .embed(&[], 32, &mut |_| panic!("no batches"))
        .unwrap()
        .is_empty());
    let err = model.embed(&["x".to_string()], 0, &mut |_| {}).unwrap_err();
    assert!(matches!(err, TextError::InvalidArgument(_)), "{err}");
    // Longer than MAX_SEQ_LEN tokens: truncated, not an error.
    let long = vec!["token ".repeat(2000), String::new()];
    let emb = model.embed(&long, 2, &mut |_| {}).unwrap();
    assert!(emb.iter().all(|v| v.is_finite()));
}
