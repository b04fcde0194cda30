//! Token ids must equal Hugging Face's exactly: a single differing id changes the embedding.
//! Uses the committed vocab.txt, so it runs without the fetched model.

mod common;

use polymodal_text::WordPieceTokenizer;

fn check(tok: &WordPieceTokenizer) {
    let r = common::reference();
    let cases = r
        .sentences
        .iter()
        .map(|s| (&s.text, &s.ids))
        .chain(r.tokenizer_cases.iter().map(|c| (&c.text, &c.ids)));
    let mut n = 0;
    for (text, ids) in cases {
        assert_eq!(
            &tok.encode(text, r.max_seq_length),
            ids,
            "ids differ for {text:?}"
        );
        n += 1;
    }
    assert!(n >= 20, "golden file lost cases: {n}");
}

#[test]
fn vocab_txt_tokenizer_matches_reference_ids() {
    // The committed copy must be the model's own vocab.txt, not a look-alike.
    let bytes = std::fs::read(common::data_dir().join("vocab.txt")).unwrap();
    assert_eq!(
        polymodal_text::sha256_hex(&bytes),
        polymodal_text::VOCAB_TXT_SHA256
    );
    let tok = WordPieceTokenizer::from_vocab_txt(&common::data_dir().join("vocab.txt")).unwrap();
    assert_eq!(tok.vocab_size(), 30522);
    check(&tok);
}

#[test]
fn tokenizer_json_matches_reference_ids() {
    let Some(dir) = common::model_dir() else {
        return;
    };
    let tok = WordPieceTokenizer::from_tokenizer_json(&dir.join("tokenizer.json")).unwrap();
    assert_eq!(tok.vocab_size(), 30522);
    check(&tok);
}

#[test]
fn truncation_keeps_cls_and_sep() {
    let tok = WordPieceTokenizer::from_vocab_txt(&common::data_dir().join("vocab.txt")).unwrap();
    let long = "word ".repeat(1000);
    let ids = tok.encode(&long, 16);
    assert_eq!(ids.len(), 16);
    assert_eq!((ids[0], ids[15]), (101, 102));
}
