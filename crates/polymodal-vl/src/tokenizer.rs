//! Word-level tokenizer built from the training text and saved next to the model weights.

use crate::error::{Result, VlError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

pub const PAD: usize = 0;
pub const BOS: usize = 1;
pub const EOS: usize = 2;
/// Separates the instruction from the answer.
pub const SEP: usize = 3;
const SPECIALS: [&str; 4] = ["<pad>", "<bos>", "<eos>", "<sep>"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokenizer {
    /// Index = token id; the first four are the special tokens.
    pub words: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl Tokenizer {
    /// Vocabulary of every whitespace-separated word in `texts`, sorted so that it does not
    /// depend on the order of the texts.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set: Vec<String> = texts
            .into_iter()
            .flat_map(str::split_whitespace)
            .map(str::to_lowercase)
            .collect();
        set.sort();
        set.dedup();
        let words = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(set.into_iter().filter(|w| !SPECIALS.contains(&w.as_str())))
            .collect();
        Self::from_words(words)
    }

    fn from_words(words: Vec<String>) -> Self {
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i))
            .collect();
        Self { words, index }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn id(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }

    /// Word ids of a text; an unknown word is an error naming it.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.split_whitespace()
            .map(|w| {
                let w = w.to_lowercase();
                self.id(&w).ok_or(VlError::UnknownWord(w))
            })
            .collect()
    }

    /// Words of ids, special tokens dropped.
    pub fn decode(&self, ids: &[usize]) -> Vec<String> {
        ids.iter()
            .filter(|&&i| i >= SPECIALS.len())
            .filter_map(|&i| self.words.get(i).cloned())
            .collect()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| VlError::file(path, e))?;
        crate::error::write(path, &json)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = crate::error::read_string(path)?;
        let t: Tokenizer = serde_json::from_str(&text).map_err(|e| VlError::file(path, e))?;
        if t.words.len() < SPECIALS.len() || t.words[..SPECIALS.len()] != SPECIALS {
            return Err(VlError::file(
                path,
                "not a tokenizer: special tokens missing",
            ));
        }
        Ok(Self::from_words(t.words))
    }

    /// `[bos] question [sep]`: what the model is given.
    pub fn prompt(&self, question: &str) -> Result<Vec<usize>> {
        let mut ids = vec![BOS];
        ids.extend(self.encode(question)?);
        ids.push(SEP);
        Ok(ids)
    }

    /// `[bos] question [sep] answer [eos]` and the index of the first answer token.
    pub fn sequence(&self, question: &str, answer: &str) -> Result<(Vec<usize>, usize)> {
        let mut ids = self.prompt(question)?;
        let start = ids.len();
        ids.extend(self.encode(answer)?);
        ids.push(EOS);
        Ok((ids, start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_encode_decode_save_load() {
        let t = Tokenizer::build(["is there a seven ?", "yes , there is a seven ."]);
        assert_eq!(
            &t.words[4..],
            [",", ".", "?", "a", "is", "seven", "there", "yes"]
        );
        let (ids, start) = t.sequence("is there a seven ?", "yes .").unwrap();
        assert_eq!(start, 7);
        assert_eq!(ids[0], BOS);
        assert_eq!(*ids.last().unwrap(), EOS);
        assert_eq!(t.decode(&ids[start..]), ["yes", "."]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        t.save(&p).unwrap();
        assert_eq!(Tokenizer::load(&p).unwrap(), t);
        let e = t.encode("is there a nine ?").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown word `nine` (not in the model's vocabulary)"
        );
    }
}
