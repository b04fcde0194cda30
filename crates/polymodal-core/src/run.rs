//! The manifest every run directory carries: what ran, from which code and data, and whether it
//! finished. A run is complete only when its manifest says so; the manifest is written first as
//! `running` and rewritten atomically at the very end.

use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "run.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Complete,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunManifest {
    /// What produced the run (`train`, `simulate`, ...).
    pub command: String,
    pub status: RunStatus,
    pub polymodal_version: String,
    /// Commit the binary was built from (`-dirty` with uncommitted changes), recorded at
    /// compile time.
    pub git_hash: String,
    /// Compiler, target and optimisation level of the binary (absent in runs made before it
    /// was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    pub seed: u64,
    /// Content hash of the dataset files the run read.
    pub dataset_fingerprint: String,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    pub finished_at: Option<u64>,
    /// Why a failed run failed.
    pub error: Option<String>,
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
