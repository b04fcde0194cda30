//! A BERT WordPiece tokenizer that reproduces, id for id, what Hugging Face `tokenizers` does
//! with all-MiniLM-L6-v2's `tokenizer.json`: added-token split → `BertNormalizer` →
//! `BertPreTokenizer` → `WordPiece` → `[CLS] … [SEP]` with truncation.
//!
//! Each step mirrors the corresponding HF component (not the older pure-Python
//! `BertTokenizer`), because sentence-transformers tokenizes with the fast tokenizer and the
//! golden ids in `tests/data/minilm_reference.json` come from it.

use std::collections::HashMap;
use std::path::Path;

use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

use crate::error::{read_file, TextError};

/// The special tokens of BERT's uncased vocabulary. HF matches them in the raw text before
/// normalisation (they are "added tokens" with `normalized: false`), so "[MASK]" in a sentence
/// becomes id 103 while "[mask]" is split into "[", "mask", "]".
const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// Words longer than this (in chars) become a single `[UNK]`, as in HF's WordPiece.
const MAX_INPUT_CHARS_PER_WORD: usize = 100;

#[derive(Debug, Clone)]
pub struct WordPieceTokenizer {
    vocab: HashMap<String, u32>,
    vocab_size: usize,
    /// (text, id), longest first so that leftmost-longest matching is a first-hit scan.
    specials: Vec<(String, u32)>,
    unk_id: u32,
    cls_id: u32,
    sep_id: u32,
    pad_id: u32,
}

impl WordPieceTokenizer {
    /// Loads the vocabulary from a BERT `vocab.txt` (one token per line, id = line number) and
    /// applies this model's settings (lower-casing, accent stripping, CJK splitting), which
    /// `vocab.txt` itself does not record.
    pub fn from_vocab_txt(path: &Path) -> Result<Self, TextError> {
        let bytes = read_file(path)?;
        let text = String::from_utf8(bytes).map_err(|e| TextError::Tokenizer {
            path: path.to_path_buf(),
            message: format!("not UTF-8: {e}"),
        })?;
        let mut lines: Vec<&str> = text.split('\n').collect();
        // A trailing newline yields one empty "line" that is not a token.
        if lines.last() == Some(&"") {
            lines.pop();
        }
        let mut vocab = HashMap::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let token = line.strip_suffix('\r').unwrap_or(line);
            // Later duplicates win, as in HF's `load_vocab`.
            vocab.insert(token.to_string(), to_id(i, path)?);
        }
        Self::from_vocab(vocab, path)
    }

    /// Loads an HF `tokenizer.json`, refusing configurations this implementation does not
    /// reproduce (anything other than a lower-casing BERT WordPiece pipeline).
    pub fn from_tokenizer_json(path: &Path) -> Result<Self, TextError> {
        let bytes = read_file(path)?;
        Self::from_tokenizer_json_bytes(&bytes, path)
    }

    pub(crate) fn from_tokenizer_json_bytes(bytes: &[u8], path: &Path) -> Result<Self, TextError> {
        let bad = |message: String| TextError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        let doc: TokenizerJson =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("bad JSON: {e}")))?;
        if doc.model.kind != "WordPiece" {
            return Err(bad(format!(
                "model type {:?}, expected WordPiece",
                doc.model.kind
            )));
        }
        if doc.model.continuing_subword_prefix != "##" {
            return Err(bad(format!(
                "continuing_subword_prefix {:?}, expected \"##\"",
                doc.model.continuing_subword_prefix
            )));
        }
        if doc.model.max_input_chars_per_word != MAX_INPUT_CHARS_PER_WORD {
            return Err(bad(format!(
                "max_input_chars_per_word {}, expected {MAX_INPUT_CHARS_PER_WORD}",
                doc.model.max_input_chars_per_word
            )));
        }
        match &doc.normalizer {
            Some(n)
                if n.kind == "BertNormalizer"
                    && n.clean_text
                    && n.handle_chinese_chars
                    && n.lowercase
                    && n.strip_accents != Some(false) => {}
            other => {
                return Err(bad(format!(
                    "normalizer {other:?} unsupported: only a lower-casing, accent-stripping \
                     BertNormalizer is implemented"
                )))
            }
        }
        match &doc.pre_tokenizer {
            Some(p) if p.kind == "BertPreTokenizer" => {}
            other => return Err(bad(format!("pre_tokenizer {other:?} unsupported"))),
        }
        let mut tok = Self::from_vocab(doc.model.vocab, path)?;
        for added in &doc.added_tokens {
            if added.normalized || added.lstrip || added.rstrip || added.single_word {
                return Err(bad(format!(
                    "added token {:?} uses options this tokenizer does not implement",
                    added.content
                )));
            }
        }
        tok.specials = doc
            .added_tokens
            .into_iter()
            .map(|a| (a.content, a.id))
            .collect();
        tok.specials
            .sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        // Added tokens may lie outside the WordPiece vocabulary; the embedding table must
        // cover them too, so they count towards the size the model is checked against.
        let max_special = tok.specials.iter().map(|&(_, i)| i as usize + 1).max();
        tok.vocab_size = tok.vocab_size.max(max_special.unwrap_or(0));
        Ok(tok)
    }

    fn from_vocab(vocab: HashMap<String, u32>, path: &Path) -> Result<Self, TextError> {
        let id = |tok: &str| {
            vocab.get(tok).copied().ok_or_else(|| TextError::Tokenizer {
                path: path.to_path_buf(),
                message: format!("vocabulary has no {tok} token"),
            })
        };
        let (unk_id, cls_id, sep_id, pad_id) =
            (id("[UNK]")?, id("[CLS]")?, id("[SEP]")?, id("[PAD]")?);
        let mut specials: Vec<(String, u32)> = SPECIAL_TOKENS
            .iter()
            .filter_map(|s| vocab.get(*s).map(|&i| (s.to_string(), i)))
            .collect();
        specials.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        let vocab_size = vocab.values().map(|&i| i as usize + 1).max().unwrap_or(0);
        Ok(Self {
            vocab,
            vocab_size,
            specials,
            unk_id,
            cls_id,
            sep_id,
            pad_id,
        })
    }

    /// Token ids of `text` as `[CLS] tokens… [SEP]`, the tokens truncated so that the whole
    /// sequence has at most `max_len` ids (HF's `truncation=True, max_length=max_len`).
    /// `[CLS]` and `[SEP]` are always present, so the result has at least 2 ids even when
    /// `max_len < 2`.
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let budget = max_len.saturating_sub(2);
        let mut ids = Vec::with_capacity(budget.min(text.len() + 2) + 2);
        ids.push(self.cls_id);
        let mut content = 0usize;
        let mut push = |id: u32, ids: &mut Vec<u32>| {
            if content < budget {
                ids.push(id);
                content += 1;
                true
            } else {
                false
            }
        };
        'segments: for segment in self.split_specials(text) {
            match segment {
                Segment::Special(id) => {
                    if !push(id, &mut ids) {
                        break 'segments;
                    }
                }
                Segment::Text(raw) => {
                    let normalized = normalize(raw);
                    for word in pre_tokenize(&normalized) {
                        let mut full = false;
                        self.word_piece(word, |id| full |= !push(id, &mut ids));
                        if full {
                            break 'segments;
                        }
                    }
                }
            }
        }
        ids.push(self.sep_id);
        ids
    }

    /// Number of ids, i.e. one past the largest id (30,522 for this model).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The id used to pad batches; padded positions are masked out of attention and pooling.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    fn split_specials<'a>(&self, text: &'a str) -> Vec<Segment<'a>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            if let Some((s, id)) = self
                .specials
                .iter()
                .find(|(s, _)| rest.starts_with(s.as_str()))
            {
                if start < i {
                    out.push(Segment::Text(&text[start..i]));
                }
                out.push(Segment::Special(*id));
                i += s.len();
                start = i;
            } else {
                // Advance by one char so slices stay on UTF-8 boundaries.
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
        if start < text.len() {
            out.push(Segment::Text(&text[start..]));
        }
        out
    }

    /// Greedy longest-match-first WordPiece; a word with any unmatched remainder, or longer than
    /// the char limit, is a single `[UNK]`.
    fn word_piece(&self, word: &str, mut emit: impl FnMut(u32)) {
        if word.chars().count() > MAX_INPUT_CHARS_PER_WORD {
            emit(self.unk_id);
            return;
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut candidate = String::new();
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                candidate.clear();
                if start > 0 {
                    candidate.push_str("##");
                }
                candidate.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(&candidate) {
                    found = Some(id);
                    break;
                }
                end -= word[start..end]
                    .chars()
                    .next_back()
                    .map_or(1, char::len_utf8);
            }
            match found {
                Some(id) => {
                    pieces.push(id);
                    start = end;
                }
                None => {
                    emit(self.unk_id);
                    return;
                }
            }
        }
        pieces.into_iter().for_each(emit);
    }
}

enum Segment<'a> {
    Text(&'a str),
    Special(u32),
}

fn to_id(i: usize, path: &Path) -> Result<u32, TextError> {
    u32::try_from(i).map_err(|_| TextError::Tokenizer {
        path: path.to_path_buf(),
        message: "vocabulary larger than u32 ids".into(),
    })
}

/// HF `BertNormalizer` with clean_text, handle_chinese_chars, strip_accents and lowercase on,
/// in HF's order (the order matters: accents are stripped before lower-casing, so "İ" becomes
/// "i" rather than "i̇").
fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_chinese_char(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.nfd().filter(|c| !c.is_mark_nonspacing()) {
        // Per char, like HF: `str::to_lowercase` would turn a word-final 'Σ' into 'ς'.
        out.extend(c.to_lowercase());
    }
    out
}

/// HF `BertPreTokenizer`: split on whitespace (dropped), then isolate every punctuation char.
fn pre_tokenize(text: &str) -> impl Iterator<Item = &str> {
    text.split(char::is_whitespace)
        .filter(|w| !w.is_empty())
        .flat_map(split_punctuation)
}

fn split_punctuation(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in word.char_indices() {
        if is_bert_punctuation(c) {
            if start < i {
                out.push(&word[start..i]);
            }
            out.push(&word[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < word.len() {
        out.push(&word[start..]);
    }
    out
}

fn is_whitespace(c: char) -> bool {
    c == '\t' || c == '\n' || c == '\r' || c.is_whitespace()
}

/// Cc, Cf, Cn and Co (HF's `is_other`), except the three whitespace controls.
fn is_control(c: char) -> bool {
    !(c == '\t' || c == '\n' || c == '\r') && c.is_other()
}

/// Symbols such as '$', '^', '`' are not Unicode punctuation but ASCII punctuation, so BERT
/// splits them too.
fn is_bert_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// The CJK ideograph blocks BERT surrounds with spaces, so each ideograph is its own word.
fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[derive(serde::Deserialize)]
struct TokenizerJson {
    model: WordPieceJson,
    normalizer: Option<NormalizerJson>,
    pre_tokenizer: Option<PreTokenizerJson>,
    #[serde(default)]
    added_tokens: Vec<AddedTokenJson>,
}

#[derive(serde::Deserialize)]
struct WordPieceJson {
    #[serde(rename = "type")]
    kind: String,
    vocab: HashMap<String, u32>,
    continuing_subword_prefix: String,
    max_input_chars_per_word: usize,
}

#[derive(serde::Deserialize, Debug)]
struct NormalizerJson {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    clean_text: bool,
    #[serde(default)]
    handle_chinese_chars: bool,
    /// `null` means "follow lowercase", which is on here.
    strip_accents: Option<bool>,
    #[serde(default)]
    lowercase: bool,
}

#[derive(serde::Deserialize, Debug)]
struct PreTokenizerJson {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(serde::Deserialize)]
struct AddedTokenJson {
    id: u32,
    content: String,
    #[serde(default)]
    single_word: bool,
    #[serde(default)]
    lstrip: bool,
    #[serde(default)]
    rstrip: bool,
    #[serde(default)]
    normalized: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> WordPieceTokenizer {
        let words = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "runn", "##ing",
            ",", "cafe", "!", "[", "]", "mask",
        ];
        let vocab = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.to_string(), i as u32))
            .collect();
        WordPieceTokenizer::from_vocab(vocab, Path::new("tiny")).unwrap()
    }

    #[test]
    fn wordpiece_greedy_and_unk() {
        let t = tiny();
        assert_eq!(t.encode("unaffable", 64), vec![2, 5, 6, 7, 3]);
        assert_eq!(
            t.encode("UNAFFABLE, running!", 64),
            vec![2, 5, 6, 7, 10, 8, 9, 12, 3]
        );
        // "unaffablex" has no match for "x": the whole word is [UNK], not a partial split.
        assert_eq!(t.encode("unaffablex", 64), vec![2, 1, 3]);
    }

    #[test]
    fn accents_specials_and_truncation() {
        let t = tiny();
        assert_eq!(t.encode("Café", 64), vec![2, 11, 3]);
        assert_eq!(t.encode("[MASK][mask]", 64), vec![2, 4, 13, 15, 14, 3]);
        assert_eq!(t.encode("unaffable unaffable", 4), vec![2, 5, 6, 3]);
        assert_eq!(t.encode("unaffable", 0), vec![2, 3]);
        assert_eq!(t.encode("", 64), vec![2, 3]);
    }

    #[test]
    fn normalizer_matches_hf_rules() {
        assert_eq!(normalize("a\tb\u{0}c\u{200b}d"), "a bcd");
        assert_eq!(normalize("ΣΑΣ"), "σασ");
        assert_eq!(normalize("İ"), "i");
        assert_eq!(normalize("中a"), " 中 a");
    }
}
