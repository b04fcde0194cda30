//! On-disk caches of AV-Digits loads.
//!
//! Two levels, both in `<data dir>/.logmel-cache/`:
//!
//! - [`DatasetCache`] holds a whole loaded dataset (ids, labels, splits, model-ready values,
//!   fingerprint), uncompressed. Its key is the store file's size, modification time and first
//!   and last 64 KiB, plus the loader's full settings serialised (every field of
//!   `AvDigitsConfig` but the directory), so a hit reads one file and touches neither the gzip
//!   stream nor its SHA-256. A new settings field changes the serialisation and therefore the
//!   key without any change here. The fingerprint stored is the one the full load computed.
//! - [`LogMelCache`] holds only the rendered log-mels. Rendering the noisy log-mels (mu-law
//!   decode, noise at each clip's SNR, FFT, mel filters) is most of a load, and its result
//!   depends only on the store's bytes, the degradation seed, the audio settings and the mel
//!   front end. [`LogMelCache::key`] hashes exactly those, so a load whose image settings
//!   changed still skips the rendering.
//!
//! Both are best effort: a directory that cannot be written, or a file that is missing, short
//! or from another format version, just means the values are computed as before. Files are
//! written to a temporary name and renamed, so a reader never sees a half-written file.

use crate::dataset::{Dataset, ModalityData};
use polymodal_core::{ModalitySpec, SampleId, Split};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom, Write};
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
        let mut bytes = Vec::with_capacity(HEADER + 4 * values.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        persist(&self.path, &bytes)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
fn persist(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache file has a directory");
    std::fs::create_dir_all(dir)?;
    // Keeps the cache out of version control wherever the data directory lives.
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n")?;
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

const DATASET_MAGIC: &[u8; 8] = b"PMAVDSET";
/// Bump when the loader changes in a way the key does not capture (front ends, standardisation).
const DATASET_VERSION: u32 = 1;
/// Bytes of the store's head and tail that go into the key, as a guard against a file that was
/// replaced with the same size and modification time.
const EDGE: u64 = 64 * 1024;

/// Everything of a [`Dataset`] but the values, which follow the header as raw f32.
#[derive(Serialize, Deserialize)]
struct DatasetMeta {
    name: String,
    ids: Vec<SampleId>,
    labels: Vec<Option<usize>>,
    class_names: Vec<String>,
    splits: Vec<Split>,
    modalities: Vec<(ModalitySpec, Vec<bool>)>,
    fingerprint: String,
}

/// A whole loaded dataset, keyed without reading the store's contents.
pub(crate) struct DatasetCache {
    path: PathBuf,
}

impl DatasetCache {
    /// Cache key of the dataset loaded from `store` with `settings` (the loader's settings,
    /// serialised); `None` when the file's metadata cannot be read (then there is no cache).
    pub(crate) fn key(store: &Path, settings: &str) -> Option<String> {
        let meta = std::fs::metadata(store).ok()?;
        let mtime = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        let mut h = Sha256::new();
        h.update(DATASET_VERSION.to_le_bytes());
        h.update(meta.len().to_le_bytes());
        h.update(mtime.to_le_bytes());
        let mut f = std::fs::File::open(store).ok()?;
        let mut edge = vec![0u8; EDGE.min(meta.len()) as usize];
        f.read_exact(&mut edge).ok()?;
        h.update(&edge);
        f.seek(SeekFrom::Start(meta.len() - edge.len() as u64))
            .ok()?;
        f.read_exact(&mut edge).ok()?;
        h.update(&edge);
        h.update((settings.len() as u64).to_le_bytes());
        h.update(settings.as_bytes());
        Some(format!("{:x}", h.finalize()))
    }

    pub(crate) fn new(data_dir: &Path, key: &str) -> Self {
        Self {
            path: data_dir.join(DIR).join(format!("{key}.dataset")),
        }
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The cached dataset, if a complete, well-formed file is there.
    pub(crate) fn read(&self) -> Option<Dataset> {
        let bytes = std::fs::read(&self.path).ok()?;
        if bytes.len() < 20 || &bytes[..8] != DATASET_MAGIC {
            return None;
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
        let meta_len = usize::try_from(u64::from_le_bytes(bytes[12..20].try_into().ok()?)).ok()?;
        if version != DATASET_VERSION {
            return None;
        }
        let meta_end = 20usize.checked_add(meta_len)?;
        let meta: DatasetMeta = serde_json::from_slice(bytes.get(20..meta_end)?).ok()?;
        let n = meta.ids.len();
        let mut rest = &bytes[meta_end..];
        let mut modalities = Vec::with_capacity(meta.modalities.len());
        for (spec, present) in meta.modalities {
            let len = n.checked_mul(spec.numel())?.checked_mul(4)?;
            if rest.len() < len || present.len() != n {
                return None;
            }
            let values = rest[..len]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            rest = &rest[len..];
            modalities.push(ModalityData {
                spec,
                values,
                present,
            });
        }
        if !rest.is_empty() || meta.labels.len() != n || meta.splits.len() != n {
            return None;
        }
        Some(Dataset {
            name: meta.name,
            ids: meta.ids,
            labels: meta.labels,
            class_names: meta.class_names,
            splits: meta.splits,
            modalities,
            fingerprint: meta.fingerprint,
        })
    }

    /// Stores `dataset`; failures are ignored (the next load computes it again).
    pub(crate) fn write(&self, dataset: &Dataset) {
        let _ = self.try_write(dataset);
    }

    fn try_write(&self, d: &Dataset) -> std::io::Result<()> {
        let meta = DatasetMeta {
            name: d.name.clone(),
            ids: d.ids.clone(),
            labels: d.labels.clone(),
            class_names: d.class_names.clone(),
            splits: d.splits.clone(),
            modalities: d
                .modalities
                .iter()
                .map(|m| (m.spec.clone(), m.present.clone()))
                .collect(),
            fingerprint: d.fingerprint.clone(),
        };
        let json = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
        let values: usize = d.modalities.iter().map(|m| m.values.len()).sum();
        let mut bytes = Vec::with_capacity(20 + json.len() + 4 * values);
        bytes.extend_from_slice(DATASET_MAGIC);
        bytes.extend_from_slice(&DATASET_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        for m in &d.modalities {
            for v in &m.values {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        persist(&self.path, &bytes)
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

    fn tiny_dataset() -> Dataset {
        Dataset {
            name: "tiny".into(),
            ids: vec![SampleId("a".into()), SampleId("b,\"c".into())],
            labels: vec![Some(1), None],
            class_names: vec!["x".into(), "y".into()],
            splits: vec![Split::Train, Split::Test],
            modalities: vec![
                ModalityData {
                    spec: ModalitySpec {
                        name: "image".into(),
                        kind: polymodal_core::ModalityKind::Image,
                        shape: vec![1, 1, 2],
                    },
                    values: vec![0.5, -1.25, f32::MIN_POSITIVE, -0.0],
                    present: vec![true, true],
                },
                ModalityData {
                    spec: ModalitySpec {
                        name: "v".into(),
                        kind: polymodal_core::ModalityKind::Vector,
                        shape: vec![3],
                    },
                    values: vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0],
                    present: vec![true, false],
                },
            ],
            fingerprint: "sha256:abc".into(),
        }
    }

    fn bits(d: &Dataset) -> Vec<Vec<u32>> {
        d.modalities
            .iter()
            .map(|m| m.values.iter().map(|v| v.to_bits()).collect())
            .collect()
    }

    #[test]
    fn dataset_round_trips_bit_for_bit_and_rejects_damaged_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DatasetCache::new(dir.path(), "k");
        assert!(cache.read().is_none(), "nothing cached yet");
        let d = tiny_dataset();
        cache.write(&d);
        let back = cache.read().expect("cached");
        assert_eq!(bits(&back), bits(&d));
        assert_eq!(back.ids, d.ids);
        assert_eq!(back.labels, d.labels);
        assert_eq!(back.class_names, d.class_names);
        assert_eq!(back.splits, d.splits);
        assert_eq!(back.fingerprint, d.fingerprint);
        assert_eq!(back.name, d.name);
        for (a, b) in back.modalities.iter().zip(&d.modalities) {
            assert_eq!(a.spec, b.spec);
            assert_eq!(a.present, b.present);
        }
        let bytes = std::fs::read(cache.path()).unwrap();
        std::fs::write(cache.path(), &bytes[..bytes.len() - 4]).unwrap();
        assert!(cache.read().is_none(), "a truncated file is a miss");
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 4]);
        std::fs::write(cache.path(), &longer).unwrap();
        assert!(cache.read().is_none(), "trailing bytes are a miss");
        let mut foreign = bytes;
        foreign[0] = b'X';
        std::fs::write(cache.path(), &foreign).unwrap();
        assert!(cache.read().is_none(), "a foreign file is a miss");
    }

    #[test]
    fn dataset_key_follows_store_metadata_contents_and_settings() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store.gz");
        std::fs::write(&store, vec![7u8; 200_000]).unwrap();
        let a = DatasetCache::key(&store, r#"{"seed":0}"#).unwrap();
        assert_eq!(a, DatasetCache::key(&store, r#"{"seed":0}"#).unwrap());
        assert_ne!(a, DatasetCache::key(&store, r#"{"seed":1}"#).unwrap());
        // Same length and the old modification time, different last byte: still a new key.
        let mtime = std::fs::metadata(&store).unwrap().modified().unwrap();
        let mut changed = vec![7u8; 200_000];
        changed[199_999] = 8;
        std::fs::write(&store, &changed).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&store)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_ne!(a, DatasetCache::key(&store, r#"{"seed":0}"#).unwrap());
        assert_eq!(DatasetCache::key(&dir.path().join("missing"), "s"), None);
    }

    #[test]
    fn unwritable_directory_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let cache = LogMelCache::new(&file, "k");
        cache.write(&[1.0]);
        assert_eq!(cache.read(1), None);
        let cache = DatasetCache::new(&file, "k");
        cache.write(&tiny_dataset());
        assert!(cache.read().is_none());
    }
}
