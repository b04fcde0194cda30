//! The training lock: an `flock`ed file, so the kernel releases it when the holding process
//! dies (even by SIGKILL) and a stale lock can never block a project forever.

use crate::LabError;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Held while a round trains; dropping it releases the lock.
#[derive(Debug)]
pub struct TrainLock {
    file: File,
    path: PathBuf,
}

impl TrainLock {
    pub(crate) fn acquire(path: &Path) -> Result<Self, LabError> {
        let io = |e| LabError::io(path, e);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(LabError::TrainingLocked {
                    path: path.to_path_buf(),
                    holder: if holder.trim().is_empty() {
                        "unknown process".into()
                    } else {
                        holder.trim().to_string()
                    },
                });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(io(e)),
        }
        // The holder's identity is only for the refusal message; the flock is the lock.
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "pid {} on {}", std::process::id(), host.trim()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TrainLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}
