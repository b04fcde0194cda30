//! Rounds, selections, the labelling queue with leases, and label / skip / undo.
//!
//! Every mutating call runs in one `BEGIN IMMEDIATE` transaction: the write lock is taken up
//! front, so two servers or tabs racing for the same item serialise instead of both reading it
//! as free.

use super::{now_ms, Project};
use crate::LabError;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoundStatus {
    /// Selected and queued; labels are coming in.
    Labelling,
    /// A model was trained on the round's labels and its metrics recorded.
    Trained,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundInfo {
    pub number: u32,
    pub strategy: String,
    pub budget: usize,
    pub status: RoundStatus,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    pub checkpoint: Option<String>,
    /// JSON text as recorded.
    pub metrics: Option<String>,
    pub selected: usize,
    pub labelled: usize,
    pub skipped: usize,
    pub pending: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeasedItem {
    pub id: String,
    pub round: u32,
    pub rank: usize,
    pub expires_ms: i64,
}

/// Project-wide counts for `status` and the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Train-split rows.
    pub train: usize,
    pub labelled: usize,
    pub labelled_dataset: usize,
    pub labelled_import: usize,
    pub labelled_page: usize,
    /// Unlabelled train rows not waiting in the queue.
    pub pool: usize,
    pub queued_pending: usize,
    pub queued_leased: usize,
    pub skipped: usize,
    /// (class, labelled count) in class order.
    pub per_class: Vec<(String, usize)>,
}

/// Progress of the latest round with pending work, and overall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub round: Option<u32>,
    pub batch_done: usize,
    pub batch_total: usize,
    pub labelled: usize,
    pub train: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndoOutcome {
    pub id: String,
    /// What was undone: `label` or `skip`.
    pub undone: String,
    /// The label the sample has again after the undo (`None`: unlabelled, back in the queue).
    pub restored: Option<String>,
}

fn status_of(s: &str) -> RoundStatus {
    if s == "trained" {
        RoundStatus::Trained
    } else {
        RoundStatus::Labelling
    }
}

impl Project {
    fn immediate(&mut self) -> Result<rusqlite::Transaction<'_>, LabError> {
        let path = self.db_path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LabError::Sqlite { path, source: e })
    }

    /// Records a new round that selected `ids` (in rank order) with `strategy`, and queues them
    /// for labelling. Every id must be in the pool (train split, unlabelled, not queued).
    /// Returns the round number (1, 2, ...).
    pub fn queue_round(
        &mut self,
        strategy: &str,
        budget: usize,
        ids: &[String],
    ) -> Result<u32, LabError> {
        if ids.len() > budget {
            return Err(LabError::Invalid(format!(
                "{} ids selected for a budget of {budget}",
                ids.len()
            )));
        }
        let pool: HashSet<String> = self.pool()?.into_iter().collect();
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                return Err(LabError::NotInPool {
                    id: id.clone(),
                    reason: "selected twice".into(),
                });
            }
            if !pool.contains(id) {
                let reason = match self.split_of(id)? {
                    polymodal_core::Split::Train => "already labelled or queued",
                    _ => "not in the train split",
                };
                return Err(LabError::NotInPool {
                    id: id.clone(),
                    reason: reason.into(),
                });
            }
        }
        let path = self.db_path.clone();
        let sql = |e| LabError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.immediate()?;
        let number: u32 = tx
            .query_row("SELECT COALESCE(MAX(number), 0) + 1 FROM rounds", [], |r| {
                r.get(0)
            })
            .map_err(sql)?;
        tx.execute(
            "INSERT INTO rounds(number, strategy, budget, status, created_ms)
             VALUES (?1, ?2, ?3, 'labelling', ?4)",
            params![number, strategy, budget as i64, now_ms()],
        )
        .map_err(sql)?;
        for (rank, id) in ids.iter().enumerate() {
            tx.execute(
                "INSERT INTO selections(round, sample_id, rank) VALUES (?1, ?2, ?3)",
                params![number, id, rank as i64],
            )
            .map_err(sql)?;
            // A sample skipped in an earlier round may be selected again: its row is reset.
            tx.execute(
                "INSERT INTO queue(sample_id, round, rank, state) VALUES (?1, ?2, ?3, 'pending')
                 ON CONFLICT(sample_id) DO UPDATE SET round = ?2, rank = ?3, state = 'pending',
                   holder = NULL, expires_ms = NULL",
                params![id, number, rank as i64],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        tracing::info!(
            round = number,
            strategy,
            selected = ids.len(),
            "round queued"
        );
        Ok(number)
    }

    /// Records the model trained after `round`: its checkpoint path and metrics (JSON text).
    pub fn record_round(
        &mut self,
        round: u32,
        checkpoint: Option<&Path>,
        metrics_json: &str,
    ) -> Result<(), LabError> {
        serde_json::from_str::<serde_json::Value>(metrics_json)
            .map_err(|e| LabError::Invalid(format!("round {round} metrics are not JSON: {e}")))?;
        let ck = checkpoint.map(|p| p.display().to_string());
        let n = self
            .conn
            .execute(
                "UPDATE rounds SET status = 'trained', finished_ms = ?2, checkpoint = ?3, metrics = ?4
                 WHERE number = ?1",
                params![round, now_ms(), ck, metrics_json],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(LabError::UnknownRound(round));
        }
        Ok(())
    }

    /// The ids a round selected, in rank order.
    pub fn selection(&self, round: u32) -> Result<Vec<String>, LabError> {
        let mut st = self
            .conn
            .prepare("SELECT sample_id FROM selections WHERE round = ?1 ORDER BY rank")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([round], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    pub fn rounds(&self) -> Result<Vec<RoundInfo>, LabError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT r.number, r.strategy, r.budget, r.status, r.created_ms, r.finished_ms,
                        r.checkpoint, r.metrics,
                        (SELECT COUNT(*) FROM selections s WHERE s.round = r.number),
                        (SELECT COUNT(*) FROM selections s JOIN labels l ON l.sample_id = s.sample_id
                          WHERE s.round = r.number),
                        (SELECT COUNT(*) FROM queue q WHERE q.round = r.number AND q.state = 'skipped'),
                        (SELECT COUNT(*) FROM queue q WHERE q.round = r.number AND q.state = 'pending')
                 FROM rounds r ORDER BY r.number",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(RoundInfo {
                    number: r.get(0)?,
                    strategy: r.get(1)?,
                    budget: r.get::<_, i64>(2)? as usize,
                    status: status_of(&r.get::<_, String>(3)?),
                    created_ms: r.get(4)?,
                    finished_ms: r.get(5)?,
                    checkpoint: r.get(6)?,
                    metrics: r.get(7)?,
                    selected: r.get::<_, i64>(8)? as usize,
                    labelled: r.get::<_, i64>(9)? as usize,
                    skipped: r.get::<_, i64>(10)? as usize,
                    pending: r.get::<_, i64>(11)? as usize,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Leases up to `n` queued items to `holder` for `lease_ms`: first the items it already
    /// holds (their leases are renewed, so a reloaded page gets its batch back), then free
    /// items — never leased or with an expired lease — in round and rank order.
    pub fn lease(
        &mut self,
        holder: &str,
        n: usize,
        lease_ms: i64,
    ) -> Result<Vec<LeasedItem>, LabError> {
        self.lease_at(holder, n, lease_ms, now_ms())
    }

    /// [`Project::lease`] at an explicit clock reading (tests move time instead of sleeping).
    pub fn lease_at(
        &mut self,
        holder: &str,
        n: usize,
        lease_ms: i64,
        now: i64,
    ) -> Result<Vec<LeasedItem>, LabError> {
        if holder.is_empty() {
            return Err(LabError::Invalid("empty lease holder".into()));
        }
        let path = self.db_path.clone();
        let sql = |e| LabError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let expires = now.saturating_add(lease_ms);
        let tx = self.immediate()?;
        tx.execute(
            "UPDATE queue SET expires_ms = ?2
             WHERE state = 'pending' AND holder = ?1 AND expires_ms > ?3",
            params![holder, expires, now],
        )
        .map_err(sql)?;
        let held: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM queue WHERE state = 'pending' AND holder = ?1 AND expires_ms > ?2",
                params![holder, now],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let want = (n as i64 - held).max(0);
        if want > 0 {
            tx.execute(
                "UPDATE queue SET holder = ?1, expires_ms = ?2
                 WHERE sample_id IN (
                   SELECT sample_id FROM queue
                   WHERE state = 'pending' AND (holder IS NULL OR expires_ms <= ?3)
                   ORDER BY round, rank LIMIT ?4)",
                params![holder, expires, now, want],
            )
            .map_err(sql)?;
        }
        let items = {
            let mut st = tx
                .prepare(
                    "SELECT sample_id, round, rank, expires_ms FROM queue
                     WHERE state = 'pending' AND holder = ?1 AND expires_ms > ?2
                     ORDER BY round, rank",
                )
                .map_err(sql)?;
            let rows = st
                .query_map(params![holder, now], |r| {
                    Ok(LeasedItem {
                        id: r.get(0)?,
                        round: r.get(1)?,
                        rank: r.get::<_, i64>(2)? as usize,
                        expires_ms: r.get(3)?,
                    })
                })
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)?
        };
        tx.commit().map_err(sql)?;
        Ok(items)
    }

    /// Gives back every item `holder` leases (the page calls this when a tab closes).
    pub fn release(&mut self, holder: &str) -> Result<usize, LabError> {
        let n = self
            .conn
            .execute(
                "UPDATE queue SET holder = NULL, expires_ms = NULL
                 WHERE state = 'pending' AND holder = ?1",
                [holder],
            )
            .map_err(|e| self.sql(e))?;
        Ok(n)
    }

    /// Checks that `id` is pending in the queue and not leased to someone else right now.
    fn check_queued(
        tx: &rusqlite::Transaction<'_>,
        id: &str,
        holder: &str,
        now: i64,
    ) -> Result<(), LabError> {
        let row: Option<(String, Option<String>, Option<i64>)> = tx
            .query_row(
                "SELECT state, holder, expires_ms FROM queue WHERE sample_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| LabError::Server(e.to_string()))?;
        match row {
            None => Err(LabError::NotQueued {
                id: id.into(),
                state: "never selected".into(),
            }),
            Some((state, _, _)) if state != "pending" => Err(LabError::NotQueued {
                id: id.into(),
                state: if state == "done" {
                    "already labelled".into()
                } else {
                    "skipped".into()
                },
            }),
            Some((_, Some(h), Some(exp))) if h != holder && exp > now => {
                Err(LabError::LeasedToOther { id: id.into() })
            }
            Some(_) => Ok(()),
        }
    }

    /// Labels a queued item from the page. Committed when this returns.
    pub fn label(&mut self, holder: &str, id: &str, label: &str) -> Result<(), LabError> {
        self.label_at(holder, id, label, now_ms())
    }

    pub fn label_at(
        &mut self,
        holder: &str,
        id: &str,
        label: &str,
        now: i64,
    ) -> Result<(), LabError> {
        self.split_of(id)?;
        self.class_index(label)?;
        let path = self.db_path.clone();
        let sql = |e| LabError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.immediate()?;
        Self::check_queued(&tx, id, holder, now)?;
        tx.execute(
            "INSERT INTO label_events(sample_id, kind, label, who, at_ms, source)
             VALUES (?1, 'label', ?2, ?3, ?4, 'page')",
            params![id, label, holder, now],
        )
        .map_err(sql)?;
        let seq = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO labels(sample_id, label, event) VALUES (?1, ?2, ?3)
             ON CONFLICT(sample_id) DO UPDATE SET label = ?2, event = ?3",
            params![id, label, seq],
        )
        .map_err(sql)?;
        tx.execute(
            "UPDATE queue SET state = 'done', holder = NULL, expires_ms = NULL WHERE sample_id = ?1",
            [id],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Skips a queued item: it is not a label, and the item is not served again unless the
    /// skip is undone or a later round selects it again.
    pub fn skip(&mut self, holder: &str, id: &str) -> Result<(), LabError> {
        let now = now_ms();
        self.split_of(id)?;
        let path = self.db_path.clone();
        let sql = |e| LabError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.immediate()?;
        Self::check_queued(&tx, id, holder, now)?;
        tx.execute(
            "INSERT INTO label_events(sample_id, kind, who, at_ms, source)
             VALUES (?1, 'skip', ?2, ?3, 'page')",
            params![id, holder, now],
        )
        .map_err(sql)?;
        tx.execute(
            "UPDATE queue SET state = 'skipped', holder = NULL, expires_ms = NULL WHERE sample_id = ?1",
            [id],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Undoes `holder`'s most recent label or skip that is not undone yet. The history keeps
    /// both events; the sample gets its previous label back (or none) and, if it was a queue
    /// item, returns to the queue leased to `holder` so the page can show it again.
    pub fn undo(&mut self, holder: &str, lease_ms: i64) -> Result<UndoOutcome, LabError> {
        let now = now_ms();
        let path = self.db_path.clone();
        let sql = |e| LabError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.immediate()?;
        let last: Option<(i64, String, String)> = tx
            .query_row(
                "SELECT seq, sample_id, kind FROM label_events
                 WHERE who = ?1 AND kind IN ('label', 'skip') AND undone_by IS NULL
                 ORDER BY seq DESC LIMIT 1",
                [holder],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql)?;
        let Some((seq, id, kind)) = last else {
            return Err(LabError::NothingToUndo {
                who: holder.to_string(),
            });
        };
        // A later label of the same sample by someone else wins: undo never erases it.
        let later: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM label_events WHERE sample_id = ?1 AND seq > ?2
                 AND kind IN ('label', 'skip') AND undone_by IS NULL",
                params![id, seq],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if later > 0 {
            return Err(LabError::NothingToUndo {
                who: format!("{holder} (sample `{id}` was labelled again since)"),
            });
        }
        tx.execute(
            "INSERT INTO label_events(sample_id, kind, who, at_ms, source, undoes)
             VALUES (?1, 'undo', ?2, ?3, 'page', ?4)",
            params![id, holder, now, seq],
        )
        .map_err(sql)?;
        let undo_seq = tx.last_insert_rowid();
        tx.execute(
            "UPDATE label_events SET undone_by = ?1 WHERE seq = ?2",
            params![undo_seq, seq],
        )
        .map_err(sql)?;
        let previous: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, label FROM label_events
                 WHERE sample_id = ?1 AND kind = 'label' AND undone_by IS NULL
                 ORDER BY seq DESC LIMIT 1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql)?;
        match &previous {
            Some((pseq, label)) => {
                tx.execute(
                    "UPDATE labels SET label = ?2, event = ?3 WHERE sample_id = ?1",
                    params![id, label, pseq],
                )
                .map_err(sql)?;
            }
            None => {
                tx.execute("DELETE FROM labels WHERE sample_id = ?1", [&id])
                    .map_err(sql)?;
                tx.execute(
                    "UPDATE queue SET state = 'pending', holder = ?2, expires_ms = ?3
                     WHERE sample_id = ?1",
                    params![id, holder, now.saturating_add(lease_ms)],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(UndoOutcome {
            id,
            undone: kind,
            restored: previous.map(|(_, l)| l),
        })
    }

    /// The label history of one sample: (kind, label, who, at_ms, source, undone).
    #[allow(clippy::type_complexity)]
    pub fn history(
        &self,
        id: &str,
    ) -> Result<Vec<(String, Option<String>, String, i64, String, bool)>, LabError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT kind, label, who, at_ms, source, undone_by IS NOT NULL FROM label_events
                 WHERE sample_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    pub fn counts(&self) -> Result<Counts, LabError> {
        let now = now_ms();
        let one = |q: &str| -> Result<usize, LabError> {
            self.conn
                .query_row(q, [], |r| r.get::<_, i64>(0))
                .map(|v| v as usize)
                .map_err(|e| self.sql(e))
        };
        let by_source = |s: &str| -> Result<usize, LabError> {
            self.conn
                .query_row(
                    "SELECT COUNT(*) FROM labels l JOIN label_events e ON e.seq = l.event
                     WHERE e.source = ?1",
                    [s],
                    |r| r.get::<_, i64>(0),
                )
                .map(|v| v as usize)
                .map_err(|e| self.sql(e))
        };
        let per_class = {
            let mut st = self
                .conn
                .prepare(
                    "SELECT c.name, (SELECT COUNT(*) FROM labels l WHERE l.label = c.name)
                     FROM classes c ORDER BY c.idx",
                )
                .map_err(|e| self.sql(e))?;
            let rows = st
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
                })
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.sql(e))?
        };
        let leased = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM queue WHERE state = 'pending' AND holder IS NOT NULL AND expires_ms > ?1",
                [now],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.sql(e))? as usize;
        Ok(Counts {
            train: one("SELECT COUNT(*) FROM samples WHERE split = 'train'")?,
            labelled: one("SELECT COUNT(*) FROM labels")?,
            labelled_dataset: by_source("dataset")?,
            labelled_import: by_source("import")?,
            labelled_page: by_source("page")?,
            pool: self.pool()?.len(),
            queued_pending: one("SELECT COUNT(*) FROM queue WHERE state = 'pending'")?,
            queued_leased: leased,
            skipped: one("SELECT COUNT(*) FROM queue WHERE state = 'skipped'")?,
            per_class,
        })
    }

    /// Progress for the page: the oldest round that still has pending items (else the latest
    /// round), and overall labelled / train.
    pub fn progress(&self) -> Result<Progress, LabError> {
        let round: Option<u32> = self
            .conn
            .query_row(
                "SELECT COALESCE(
                   (SELECT MIN(round) FROM queue WHERE state = 'pending'),
                   (SELECT MAX(number) FROM rounds))",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        let (done, total) = match round {
            Some(r) => self
                .conn
                .query_row(
                    "SELECT COALESCE(SUM(state <> 'pending'), 0), COUNT(*) FROM queue WHERE round = ?1",
                    [r],
                    |row| Ok((row.get::<_, i64>(0)? as usize, row.get::<_, i64>(1)? as usize)),
                )
                .map_err(|e| self.sql(e))?,
            None => (0, 0),
        };
        let c = self.counts()?;
        Ok(Progress {
            round,
            batch_done: done,
            batch_total: total,
            labelled: c.labelled,
            train: c.train,
        })
    }
}
