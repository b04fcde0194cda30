//! Label import and export as CSV `id,label` (the csv crate on both sides, so ids with
//! commas, quotes or newlines survive a round trip).

use super::{now_ms, Project};
use crate::LabError;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// What to do with an imported label for a sample that already has a different one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportPolicy {
    /// Refuse the whole file, listing every conflict (the default: nothing is overwritten
    /// silently).
    #[default]
    Refuse,
    /// Record the imported label as the newer one; the old stays in the history.
    Overwrite,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// New labels recorded.
    pub added: usize,
    /// Labels that replaced a different earlier one (only with `ImportPolicy::Overwrite`).
    pub overwritten: usize,
    /// Rows whose sample already had exactly this label: nothing recorded.
    pub unchanged: usize,
    /// Rows repeating an earlier row of the file with the same label: ignored.
    pub duplicates: usize,
}

impl Project {
    /// Imports labels from a CSV file with a header naming `id` and `label` columns (others
    /// are ignored). All or nothing: any unknown id, unknown class, id outside the train split,
    /// contradictory duplicate or (with `Refuse`) conflict with an existing label rejects the
    /// file, and the error lists every problem with its line number.
    pub fn import_labels(
        &mut self,
        path: &Path,
        who: &str,
        policy: ImportPolicy,
    ) -> Result<ImportSummary, LabError> {
        let csv_err = |e| LabError::Csv {
            path: path.to_path_buf(),
            source: e,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(csv_err)?;
        let headers = rdr.headers().map_err(csv_err)?.clone();
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(id_col), Some(label_col)) = (col("id"), col("label")) else {
            return Err(LabError::ImportRejected {
                path: path.to_path_buf(),
                problems: vec![format!(
                    "line 1: the header must name `id` and `label` columns (found: {})",
                    headers.iter().collect::<Vec<_>>().join(",")
                )],
            });
        };
        let current: HashMap<String, String> = {
            let mut st = self
                .conn
                .prepare("SELECT sample_id, label FROM labels")
                .map_err(|e| self.sql(e))?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))?
        };
        let mut problems = Vec::new();
        let mut summary = ImportSummary::default();
        // id -> (label, first line)
        let mut seen: HashMap<String, (String, u64)> = HashMap::new();
        let mut to_write: Vec<(String, String)> = Vec::new();
        for rec in rdr.records() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    problems.push(format!("line {line}: {e}"));
                    continue;
                }
            };
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let id = rec.get(id_col).unwrap_or("").to_string();
            let label = rec.get(label_col).unwrap_or("").to_string();
            if id.is_empty() {
                problems.push(format!("line {line}: empty id"));
                continue;
            }
            if label.is_empty() {
                problems.push(format!("line {line}: `{id}` has an empty label"));
                continue;
            }
            match self.split_of(&id) {
                Ok(polymodal_core::Split::Train) => {}
                Ok(_) => {
                    problems.push(format!(
                        "line {line}: `{id}` is not in the train split (val/test labels come from the dataset)"
                    ));
                    continue;
                }
                Err(LabError::UnknownId(_)) => {
                    problems.push(format!("line {line}: unknown id `{id}`"));
                    continue;
                }
                Err(e) => return Err(e),
            }
            if self.class_index(&label).is_err() {
                problems.push(format!(
                    "line {line}: `{id}`: label `{label}` is not a class (classes: {})",
                    self.classes.join(", ")
                ));
                continue;
            }
            if let Some((first, first_line)) = seen.get(&id) {
                if *first == label {
                    summary.duplicates += 1;
                } else {
                    problems.push(format!(
                        "line {line}: `{id}` labelled `{label}`, but line {first_line} labels it `{first}`"
                    ));
                }
                continue;
            }
            seen.insert(id.clone(), (label.clone(), line));
            match current.get(&id) {
                Some(old) if *old == label => summary.unchanged += 1,
                Some(old) => match policy {
                    ImportPolicy::Refuse => problems.push(format!(
                        "line {line}: `{id}` already has label `{old}`; use the overwrite option to replace it with `{label}`"
                    )),
                    ImportPolicy::Overwrite => {
                        summary.overwritten += 1;
                        to_write.push((id, label));
                    }
                },
                None => {
                    summary.added += 1;
                    to_write.push((id, label));
                }
            }
        }
        if !problems.is_empty() {
            return Err(LabError::ImportRejected {
                path: path.to_path_buf(),
                problems,
            });
        }
        let db = self.db_path.clone();
        let sql = |e| LabError::Sqlite {
            path: db.clone(),
            source: e,
        };
        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        for (id, label) in &to_write {
            tx.execute(
                "INSERT INTO label_events(sample_id, kind, label, who, at_ms, source)
                 VALUES (?1, 'label', ?2, ?3, ?4, 'import')",
                params![id, label, who, now],
            )
            .map_err(sql)?;
            let seq = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO labels(sample_id, label, event) VALUES (?1, ?2, ?3)
                 ON CONFLICT(sample_id) DO UPDATE SET label = ?2, event = ?3",
                params![id, label, seq],
            )
            .map_err(sql)?;
            let queued: Option<String> = tx
                .query_row("SELECT state FROM queue WHERE sample_id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql)?;
            if queued.is_some() {
                tx.execute(
                    "UPDATE queue SET state = 'done', holder = NULL, expires_ms = NULL WHERE sample_id = ?1",
                    [id],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        tracing::info!(file = %path.display(), ?summary, "labels imported");
        Ok(summary)
    }

    /// Writes every current label as CSV `id,label` in dataset row order (atomically: a crash
    /// leaves the old file or the new one, never half of it).
    pub fn export_labels(&self, path: &Path) -> Result<usize, LabError> {
        let labels = self.labels()?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |e| LabError::Csv {
            path: path.to_path_buf(),
            source: e,
        };
        w.write_record(["id", "label"]).map_err(csv_err)?;
        for (id, class) in &labels {
            w.write_record([id.as_str(), self.classes[*class].as_str()])
                .map_err(csv_err)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| LabError::io(path, e.into_error()))?;
        polymodal_core::fsutil::write_atomic(path, &bytes)?;
        Ok(labels.len())
    }
}
