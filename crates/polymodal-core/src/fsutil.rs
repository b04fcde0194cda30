//! File writes that are all-or-nothing: a crash mid-write leaves the old file (or none), never a
//! truncated one that a later command would trust.

use crate::CoreError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of one process; the pid distinguishes processes, so two
/// writers of the same path (two threads, or two commands) never share a temporary file.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A sibling of `path` named `.<name>.<pid>.<counter>.tmp`: unique per process and call.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Flushes a directory entry change (a rename or a create) to disk. Only Unix can open a
/// directory for syncing; elsewhere this is a no-op.
pub fn sync_dir(dir: &Path) -> Result<(), CoreError> {
    #[cfg(unix)]
    {
        let d = std::fs::File::open(dir).map_err(|e| CoreError::io(dir, e))?;
        d.sync_all().map_err(|e| CoreError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `bytes` to `path` through a uniquely named temporary sibling, an fsync and a rename,
/// then syncs the parent directory so the rename itself survives a power loss. On any error the
/// temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let tmp = temp_sibling(path);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
        file.write_all(bytes).map_err(|e| CoreError::io(&tmp, e))?;
        file.sync_all().map_err(|e| CoreError::io(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| CoreError::io(path, e))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), CoreError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CoreError::Json {
        path: path.to_path_buf(),
        err: e,
    })?;
    write_atomic(path, format!("{text}\n").as_bytes())
}

/// Reads and parses a JSON file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| CoreError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| CoreError::Json {
        path: path.to_path_buf(),
        err: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("pm-core-fs-{}", std::process::id()));
        let path = dir.join("a.json");
        write_json_atomic(&path, &vec![1, 2, 3]).unwrap();
        write_json_atomic(&path, &vec![4]).unwrap();
        let back: Vec<i32> = read_json(&path).unwrap();
        assert_eq!(back, vec![4]);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"], "no temporary file is left");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn temp_names_are_unique_and_failed_writes_leave_nothing() {
        let dir = std::env::temp_dir().join(format!("pm-core-fs2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.bin");
        assert_ne!(temp_sibling(&p), temp_sibling(&p));
        // Renaming a file over a non-empty directory fails: the temporary must be removed.
        std::fs::create_dir_all(p.join("inside")).unwrap();
        let e = write_atomic(&p, b"data").unwrap_err().to_string();
        assert!(e.contains("x.bin"), "{e}");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["x.bin"],
            "only the directory that blocked the rename"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
