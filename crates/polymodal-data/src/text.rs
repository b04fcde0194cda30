//! Text as token ids for the from-scratch text encoder.
//!
//! Words (lower-cased runs of letters and digits) are hashed into [`HASH_VOCAB`] buckets: no
//! vocabulary file to ship or fit, the same id for the same word in every dataset, and unseen
//! words at test time still get an id. Id 0 is padding. The pretrained route (MiniLM, its own
//! WordPiece tokenizer) goes through `polymodal embed` instead.

/// Token ids lie in `0..HASH_VOCAB`; 0 is padding.
pub const HASH_VOCAB: usize = polymodal_core::TEXT_VOCAB;

pub fn hash_token_ids(text: &str, max_tokens: usize) -> Vec<u32> {
    let mut ids = Vec::with_capacity(max_tokens);
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if ids.len() == max_tokens {
            break;
        }
        // FNV-1a: stable across platforms and releases, unlike std's SipHash keys.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.to_lowercase().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        ids.push(1 + (h % (HASH_VOCAB as u64 - 1)) as u32);
    }
    ids.resize(max_tokens, 0);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_word_same_id_case_insensitive_and_padded() {
        let a = hash_token_ids("The cat, the CAT!", 6);
        assert_eq!(a[0], a[2]);
        assert_eq!(a[1], a[3]);
        assert_ne!(a[0], a[1]);
        assert_eq!(&a[4..], &[0, 0]);
        assert!(a[..4].iter().all(|&t| t > 0 && (t as usize) < HASH_VOCAB));
        assert_eq!(hash_token_ids("a b c d", 2).len(), 2);
    }
}
