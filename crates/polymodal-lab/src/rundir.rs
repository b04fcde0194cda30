//! Run directories: created empty, marked `running` first, `complete` or `failed` last, and
//! locked while a process writes them.
//!
//! Layout of a training run:
//! - `run.json`      manifest (status, version, build provenance, seed, dataset fingerprint)
//! - `config.toml`   the resolved config
//! - `metrics.csv`   one row per epoch
//! - `model.safetensors` best checkpoint
//! - `metrics.json`  final validation and test metrics (written last, atomically)
//! - `report.md` + `confusion.svg`, `curves.svg`
//! - `.lock`         held (an OS file lock) by the process writing the run

use crate::LabError;
use polymodal_core::fsutil;
use polymodal_core::run::{unix_now, RunManifest, RunStatus, MANIFEST_FILE};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = ".lock";

/// Which code made a run, fixed when polymodal was compiled (see `build.rs`).
pub mod provenance {
    /// Commit of the source tree the binary was built from, `-dirty` when it had uncommitted
    /// changes; vergen's placeholder when it was built outside a git checkout.
    pub fn git_hash() -> String {
        let sha = env!("VERGEN_GIT_SHA");
        if env!("VERGEN_GIT_DIRTY") == "true" {
            format!("{sha}-dirty")
        } else {
            sha.to_string()
        }
    }

    /// `rustc 1.x.y (...), <target>, <profile> opt-level N`.
    pub fn build() -> String {
        format!(
            "{}, {}, {} opt-level {}",
            env!("POLYMODAL_RUSTC"),
            env!("POLYMODAL_BUILD_TARGET"),
            env!("POLYMODAL_BUILD_PROFILE"),
            env!("POLYMODAL_BUILD_OPT_LEVEL")
        )
    }
}

pub struct RunDir {
    pub path: PathBuf,
    pub manifest: RunManifest,
    /// Held for the life of the value: a second process cannot open the same directory.
    _lock: std::fs::File,
}

fn lock(path: &Path) -> Result<std::fs::File, LabError> {
    let lock_path = path.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .open(&lock_path)
        .map_err(|e| LabError::io(&lock_path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            return Err(LabError::Locked {
                path: path.to_path_buf(),
                lock: lock_path,
                holder: if holder.trim().is_empty() {
                    "unknown process".into()
                } else {
                    holder.trim().to_string()
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(LabError::io(&lock_path, e)),
    }
    // Who holds it, for the message another process shows (the OS lock is the truth).
    use std::io::{Seek, Write};
    let mut f = &file;
    let _ = f.set_len(0);
    let _ = f.seek(std::io::SeekFrom::Start(0));
    let _ = write!(f, "pid {}", std::process::id());
    Ok(file)
}

/// Whether `path` has any entry other than a lock file left by a finished process.
fn has_entries(path: &Path) -> Result<bool, LabError> {
    let mut entries = std::fs::read_dir(path).map_err(|e| LabError::io(path, e))?;
    Ok(entries.any(|e| e.map(|e| e.file_name() != LOCK_FILE).unwrap_or(true)))
}

impl RunDir {
    /// Creates `path` (which must not exist or be empty), locks it and writes a `running`
    /// manifest.
    pub fn create(
        path: &Path,
        command: &str,
        seed: u64,
        dataset_fingerprint: &str,
    ) -> Result<Self, LabError> {
        if path.exists() && has_entries(path)? {
            let hint = match fsutil::read_json::<RunManifest>(&path.join(MANIFEST_FILE)) {
                Ok(m) if m.status == RunStatus::Failed => format!(
                    "holds a failed {} run ({}); remove it (rm -r {}) or choose another --out",
                    m.command,
                    m.error.unwrap_or_default(),
                    path.display()
                ),
                Ok(m) if m.status == RunStatus::Running => format!(
                    "holds an unfinished {} run (interrupted, or still running); remove it (rm -r {}) or choose another --out",
                    m.command,
                    path.display()
                ),
                _ => "output directory already exists and is not empty; choose another --out"
                    .into(),
            };
            return Err(LabError::run_dir(path, hint));
        }
        std::fs::create_dir_all(path).map_err(|e| LabError::io(path, e))?;
        let lock = lock(path)?;
        // Checked again under the lock: another process may have started here meanwhile.
        if path.join(MANIFEST_FILE).exists() {
            return Err(LabError::run_dir(
                path,
                "another run started in this directory; choose another --out",
            ));
        }
        let manifest = RunManifest {
            command: command.into(),
            status: RunStatus::Running,
            polymodal_version: env!("CARGO_PKG_VERSION").into(),
            git_hash: provenance::git_hash(),
            build: Some(provenance::build()),
            seed,
            dataset_fingerprint: dataset_fingerprint.into(),
            started_at: unix_now(),
            finished_at: None,
            error: None,
        };
        let dir = Self {
            path: path.to_path_buf(),
            manifest,
            _lock: lock,
        };
        dir.write_manifest()?;
        Ok(dir)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn write_manifest(&self) -> Result<(), LabError> {
        fsutil::write_json_atomic(&self.file(MANIFEST_FILE), &self.manifest)?;
        Ok(())
    }

    /// Marks the run complete or failed (with the cause).
    pub fn finish<T>(&mut self, outcome: &Result<T, LabError>) -> Result<(), LabError> {
        self.manifest.finished_at = Some(unix_now());
        match outcome {
            Ok(_) => self.manifest.status = RunStatus::Complete,
            Err(e) => {
                self.manifest.status = RunStatus::Failed;
                self.manifest.error = Some(e.to_string());
            }
        }
        self.write_manifest()
    }

    /// Runs `body`, then marks the run complete or failed. A panic inside `body` fails the run
    /// with the panic's message instead of leaving it `running`. When the manifest itself
    /// cannot be written (a full disk), the body's own error is the one returned.
    pub fn run<T>(
        &mut self,
        body: impl FnOnce(&Self) -> Result<T, LabError>,
    ) -> Result<T, LabError> {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(self)))
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown cause".into());
                Err(LabError::Invalid(format!("internal error (panic): {msg}")))
            });
        let written = self.finish(&outcome);
        match (outcome, written) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
        }
    }

    /// Reopens an unfinished (interrupted or failed) run to resume it; the dataset must be the
    /// one it started with.
    pub fn reopen(path: &Path, dataset_fingerprint: &str) -> Result<Self, LabError> {
        let lock = lock(path)?;
        let mut manifest: RunManifest = fsutil::read_json(&path.join(MANIFEST_FILE))?;
        if manifest.dataset_fingerprint != dataset_fingerprint {
            return Err(LabError::DatasetChanged {
                origin: path.display().to_string(),
                what: format!("this {} run", manifest.command),
                expected: manifest.dataset_fingerprint,
                found: dataset_fingerprint.into(),
            });
        }
        manifest.status = RunStatus::Running;
        manifest.error = None;
        manifest.finished_at = None;
        manifest.git_hash = provenance::git_hash();
        manifest.build = Some(provenance::build());
        let dir = Self {
            path: path.to_path_buf(),
            manifest,
            _lock: lock,
        };
        dir.write_manifest()?;
        Ok(dir)
    }

    /// For resumable commands (`simulate`, `compare`): reopens `path` if it holds a run of the
    /// same resolved config (written as `config_file`), creates it otherwise. A different
    /// config in the same directory is refused, since its finished cells would be mixed in.
    pub fn create_or_resume(
        path: &Path,
        kind: &str,
        seed: u64,
        dataset_fingerprint: &str,
        config_file: &str,
        resolved_config: &str,
    ) -> Result<Self, LabError> {
        let config_path = path.join(config_file);
        if config_path.exists() {
            let before =
                std::fs::read_to_string(&config_path).map_err(|e| LabError::io(&config_path, e))?;
            if before != resolved_config {
                return Err(LabError::run_dir(
                    path,
                    format!("holds a {kind} run with a different config; resume needs the same config and overrides, or choose another --out"),
                ));
            }
            tracing::info!("resuming the {kind} run in {}", path.display());
            return Self::reopen(path, dataset_fingerprint);
        }
        let dir = Self::create(path, kind, seed, dataset_fingerprint)?;
        fsutil::write_atomic(&config_path, resolved_config.as_bytes())?;
        Ok(dir)
    }

    /// Opens a finished run for reading; refuses one that is still running, failed or was
    /// interrupted. Takes no lock: a complete run is never written again.
    pub fn read_complete(path: &Path) -> Result<RunManifest, LabError> {
        let manifest_path = path.join(MANIFEST_FILE);
        if !manifest_path.exists() {
            return Err(LabError::run_dir(
                path,
                format!("not a run directory (no {MANIFEST_FILE})"),
            ));
        }
        let manifest: RunManifest = fsutil::read_json(&manifest_path)?;
        match manifest.status {
            RunStatus::Complete => Ok(manifest),
            RunStatus::Running => Err(LabError::run_dir(
                path,
                "run is not complete (still running, or interrupted)",
            )),
            RunStatus::Failed => Err(LabError::run_dir(
                path,
                format!("run failed: {}", manifest.error.unwrap_or_default()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let first = RunDir::create(&out, "train", 1, "fp").unwrap();
        let e = RunDir::reopen(&out, "fp").err().unwrap().to_string();
        assert!(e.contains("in use by another polymodal process"), "{e}");
        drop(first);
        // Released with the value (or the process): resuming now works.
        RunDir::reopen(&out, "fp").unwrap();
    }

    #[test]
    fn a_panic_fails_the_run_with_its_message() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut run = RunDir::create(&out, "train", 1, "fp").unwrap();
        let r: Result<(), _> = run.run(|_| panic!("boom at step 3"));
        assert!(r.unwrap_err().to_string().contains("boom at step 3"));
        drop(run);
        let m: RunManifest = fsutil::read_json(&out.join(MANIFEST_FILE)).unwrap();
        assert_eq!(m.status, RunStatus::Failed);
        assert!(m.error.unwrap().contains("boom at step 3"));
        // Rerunning into the failed directory says how to clean up.
        let e = RunDir::create(&out, "train", 1, "fp")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("failed train run") && e.contains("rm -r"), "{e}");
    }

    #[test]
    fn resuming_with_other_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        drop(RunDir::create(&out, "simulate", 1, "fp-a").unwrap());
        let e = RunDir::reopen(&out, "fp-b").err().unwrap().to_string();
        assert!(e.contains("fingerprint fp-b differs"), "{e}");
    }

    #[test]
    fn provenance_is_recorded() {
        assert!(!provenance::git_hash().is_empty());
        assert!(provenance::build().starts_with("rustc "));
    }
}
