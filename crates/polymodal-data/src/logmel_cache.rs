//! On-disk cache of AV-Digits' rendered log-mels.
//!
//! Rendering the noisy log-mels (mu-law decode, noise at each clip's SNR, FFT, mel filters)
//! is most of an AV-Digits load, and its result depends only on the store's bytes, the
//! degradation seed, the audio settings and the mel front end. [`LogMelCache::key`] hashes
//! exactly those, so a cached file can only be found by a load that would recompute the same
//! values; a second load then reads it instead of rendering.
//!
//! The cache is best effort: it lives in `<data dir>/.logmel-cache/`, and a directory that cannot
//! be written, or a file that is missing, short or from another format version, just means the
//! values are computed as before. Files are written to a temporary name and renamed, so a reader
//! never sees a half-written file.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

const DIR: &str = ".logmel-cache";
const MAGIC: &[u8; 8] = b"PMLOGMEL";
/// Bump when the rendering changes in a way the key does not capture (front-end code).
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8;

pub(crate) struct LogMelCache {
    path: PathBuf,
}

impl LogMelCache {
    /// Cache key of the log-mels rendered from `store` (the compressed store's bytes) with
    /// `settings` (every setting the rendering reads, serialised).
    pub(crate) fn key(store: &[u8], settings: &str) -> String {
        let mut h = Sha256::new();
        h.update(VERSION.to_le_bytes());
        h.update((store.len() as u64).to_le_bytes());
        h.update(store);
        h.update(settings.as_bytes());
        format!("{:x}", h.finalize())
    }

    pub(crate) fn new(data_dir: &Path, key: &str) -> Self {
        Self {
            path: data_dir.join(DIR).join(format!("{key}.f32")),
        }
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The cached values, if a complete file of exactly `len` values is there.
    pub(crate) fn read(&self, len: usize) -> Option<Vec<f32>> {
        let bytes = std::fs::read(&self.path).ok()?;
        if bytes.len() != HEADER + 4 * len || &bytes[..8] != MAGIC {
            return None;
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
        let stored_len = u64::from_le_bytes(bytes[12..20].try_into().ok()?);
        if version != VERSION || stored_len != len as u64 {
            return None;
        }
        Some(
            bytes[HEADER..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }

    /// Stores `values`; failures are ignored (the next load recomputes).
    pub(crate) fn write(&self, values: &[f32]) {
        let _ = self.try_write(values);
    }

    fn try_write(&self, values: &[f32]) -> std::io::Result<()> {
        let dir = self.path.parent().expect("cache file has a directory");
        std::fs::create_dir_all(dir)?;
        // Keeps the cache out of version control wherever the data directory lives.
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n")?;
        }
        let mut bytes = Vec::with_capacity(HEADER + 4 * values.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&bytes)?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_lengths_and_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let key = LogMelCache::key(b"store bytes", r#"{"seed":0}"#);
        let cache = LogMelCache::new(dir.path(), &key);
        assert_eq!(cache.read(3), None, "nothing cached yet");
        let values = [1.5f32, -0.0, f32::MIN_POSITIVE];
        cache.write(&values);
        let back = cache.read(3).expect("cached");
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(cache.read(4), None, "a different length is a miss");
        let mut bytes = std::fs::read(cache.path()).unwrap();
        bytes.truncate(bytes.len() - 1);
        std::fs::write(cache.path(), &bytes).unwrap();
        assert_eq!(cache.read(3), None, "a truncated file is a miss");
        bytes[0] = b'X';
        bytes.push(0);
        std::fs::write(cache.path(), &bytes).unwrap();
        assert_eq!(cache.read(3), None, "a foreign file is a miss");
    }

    #[test]
    fn key_changes_with_store_and_settings() {
        let a = LogMelCache::key(b"store", "s1");
        assert_eq!(a, LogMelCache::key(b"store", "s1"));
        assert_ne!(a, LogMelCache::key(b"store2", "s1"));
        assert_ne!(a, LogMelCache::key(b"store", "s2"));
    }

    #[test]
    fn unwritable_directory_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let cache = LogMelCache::new(&file, "k");
        cache.write(&[1.0]);
        assert_eq!(cache.read(1), None);
    }
}
