//! Run directories: created empty, marked `running` first, `complete` last.
//!
//! Layout of a training run:
//! - `run.json`      manifest (status, version, git hash, seed, dataset fingerprint)
//! - `config.toml`   the resolved config
//! - `metrics.csv`   one row per epoch
//! - `model.safetensors` best checkpoint
//! - `metrics.json`  final validation and test metrics (written last, atomically)
//! - `report.md` + `confusion.svg`, `curves.svg`

use anyhow::{bail, Context, Result};
use polymodal_core::fsutil;
use polymodal_core::run::{unix_now, RunManifest, RunStatus, MANIFEST_FILE};
use std::path::{Path, PathBuf};

pub struct RunDir {
    pub path: PathBuf,
    pub manifest: RunManifest,
}

/// Hash of the source checkout, with `-dirty` when it has uncommitted changes.
pub fn git_hash() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(h) if !h.is_empty() => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{h}-dirty")
            } else {
                h
            }
        }
        _ => "unknown".into(),
    }
}

impl RunDir {
    /// Creates `path` (which must not exist or be empty) and writes a `running` manifest.
    pub fn create(
        path: &Path,
        command: &str,
        seed: u64,
        dataset_fingerprint: &str,
    ) -> Result<Self> {
        if path.exists() {
            let non_empty = std::fs::read_dir(path)
                .with_context(|| format!("{}: cannot read", path.display()))?
                .next()
                .is_some();
            if non_empty {
                bail!(
                    "{}: output directory already exists and is not empty; choose another --out",
                    path.display()
                );
            }
        }
        std::fs::create_dir_all(path)
            .with_context(|| format!("{}: cannot create", path.display()))?;
        let manifest = RunManifest {
            command: command.into(),
            status: RunStatus::Running,
            polymodal_version: env!("CARGO_PKG_VERSION").into(),
            git_hash: git_hash(),
            seed,
            dataset_fingerprint: dataset_fingerprint.into(),
            started_at: unix_now(),
            finished_at: None,
            error: None,
        };
        let dir = Self {
            path: path.to_path_buf(),
            manifest,
        };
        dir.write_manifest()?;
        Ok(dir)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn write_manifest(&self) -> Result<()> {
        fsutil::write_json_atomic(&self.file(MANIFEST_FILE), &self.manifest)?;
        Ok(())
    }

    pub fn finish(&mut self, outcome: &Result<()>) -> Result<()> {
        self.manifest.finished_at = Some(unix_now());
        match outcome {
            Ok(()) => self.manifest.status = RunStatus::Complete,
            Err(e) => {
                self.manifest.status = RunStatus::Failed;
                self.manifest.error = Some(format!("{e:#}"));
            }
        }
        self.write_manifest()
    }

    /// Reopens an unfinished (interrupted or failed) run to resume it; the dataset must be the
    /// one it started with.
    pub fn reopen(path: &Path, dataset_fingerprint: &str) -> Result<Self> {
        let mut manifest: RunManifest = fsutil::read_json(&path.join(MANIFEST_FILE))?;
        if manifest.dataset_fingerprint != dataset_fingerprint {
            bail!(
                "{}: was started on dataset {}, now {}: the data or its settings changed",
                path.display(),
                manifest.dataset_fingerprint,
                dataset_fingerprint
            );
        }
        manifest.status = RunStatus::Running;
        manifest.error = None;
        manifest.finished_at = None;
        manifest.git_hash = git_hash();
        let dir = Self {
            path: path.to_path_buf(),
            manifest,
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
    ) -> Result<Self> {
        let config_path = path.join(config_file);
        if config_path.exists() {
            let before = std::fs::read_to_string(&config_path)?;
            if before != resolved_config {
                bail!(
                    "{}: holds a {kind} run with a different config; resume needs the same config and overrides, or choose another --out",
                    path.display()
                );
            }
            tracing::info!("resuming the {kind} run in {}", path.display());
            return Self::reopen(path, dataset_fingerprint);
        }
        let dir = Self::create(path, kind, seed, dataset_fingerprint)?;
        fsutil::write_atomic(&config_path, resolved_config.as_bytes())?;
        Ok(dir)
    }

    /// Opens a finished run; refuses one that is still running, failed or was interrupted.
    pub fn open_complete(path: &Path) -> Result<Self> {
        let manifest_path = path.join(MANIFEST_FILE);
        if !manifest_path.exists() {
            bail!(
                "{}: not a run directory (no {MANIFEST_FILE})",
                path.display()
            );
        }
        let manifest: RunManifest = fsutil::read_json(&manifest_path)?;
        match manifest.status {
            RunStatus::Complete => Ok(Self {
                path: path.to_path_buf(),
                manifest,
            }),
            RunStatus::Running => bail!(
                "{}: run is not complete (still running, or interrupted)",
                path.display()
            ),
            RunStatus::Failed => bail!(
                "{}: run failed: {}",
                path.display(),
                manifest.error.unwrap_or_default()
            ),
        }
    }
}
