//! A labelling project: one directory whose durable state is a SQLite database
//! (`project.sqlite`). It records the dataset it was made for (absolute path and fingerprint),
//! the class names, the project config (TOML text, opaque here), every label with who, when and
//! where it came from (an append-only history, so undo works and nothing is overwritten
//! silently), the rounds with their selections, the labelling queue with expiring leases, and
//! each round's checkpoint path and metrics.
//!
//! The dataset directory is never modified. Rows that already carry a label in the train split
//! count as labelled (source `dataset`); the pool is the train-split rows without one. Val and
//! test rows never enter the pool.

mod csvio;
mod lock;
mod queue;
pub mod schema;
mod source;

pub use csvio::{ImportPolicy, ImportSummary};
pub use lock::TrainLock;
pub use queue::{Counts, LeasedItem, Progress, RoundInfo, RoundStatus, UndoOutcome};
pub use source::{DatasetInfo, DatasetSource, LoadedData, Originals};

use crate::LabError;
use polymodal_core::Split;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

pub const DB_FILE: &str = "project.sqlite";
pub const LOCK_FILE: &str = "train.lock";

/// Which of the dataset's train-split labels a new project takes as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DatasetLabels {
    /// Every train row with a label counts as labelled (source `dataset`).
    #[default]
    All,
    /// Only these ids keep their dataset label, in this labelling order; every other train row
    /// joins the pool. For replaying a simulation on fully labelled data with most labels
    /// hidden (`simulate::initial_set` gives the simulation's round-0 order).
    Only(Vec<String>),
}

/// What `init` needs besides the directory.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub dataset: DatasetSource,
    /// The project config (TOML text); stored as given, interpreted by the round commands.
    pub config_toml: String,
    pub dataset_labels: DatasetLabels,
}

/// An open project. Holds one SQLite connection; every mutating call is one transaction that
/// is committed before it returns.
#[derive(Debug)]
pub struct Project {
    dir: PathBuf,
    db_path: PathBuf,
    conn: Connection,
    classes: Vec<String>,
    dataset: DatasetSource,
    fingerprint: String,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn split_name(s: Split) -> &'static str {
    match s {
        Split::Train => "train",
        Split::Val => "val",
        Split::Test => "test",
    }
}

impl Project {
    /// Creates a project in `dir` (which must not exist or be empty) for `opts.dataset`.
    ///
    /// The database is built as `project.sqlite.tmp` and renamed into place once complete, so
    /// a crash during init leaves no half-made project that `open` would accept.
    pub fn init(dir: &Path, opts: &InitOptions) -> Result<Self, LabError> {
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(|e| LabError::io(dir, e))?;
            if entries.next().is_some() {
                return Err(LabError::ProjectExists {
                    path: dir.to_path_buf(),
                });
            }
        }
        toml::from_str::<toml::Table>(&opts.config_toml).map_err(|e| LabError::Config {
            origin: "project config".into(),
            message: e.to_string(),
        })?;
        let source = opts.dataset.absolute()?;
        let info = source.inspect()?;
        if let DatasetLabels::Only(ids) = &opts.dataset_labels {
            let known: std::collections::HashSet<&String> = info.ids.iter().collect();
            if let Some(bad) = ids.iter().find(|id| !known.contains(id)) {
                return Err(LabError::UnknownId(bad.clone()));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        let db_path = dir.join(DB_FILE);
        let tmp = dir.join(format!("{DB_FILE}.tmp"));
        let sql = |e| LabError::Sqlite {
            path: tmp.clone(),
            source: e,
        };
        {
            let mut conn = Connection::open(&tmp).map_err(sql)?;
            conn.execute_batch(schema::PRAGMAS).map_err(sql)?;
            let tx = conn.transaction().map_err(sql)?;
            tx.execute_batch(schema::CREATE).map_err(sql)?;
            let created = now_ms();
            for (k, v) in [
                ("schema_version", schema::SCHEMA_VERSION.to_string()),
                ("dataset_kind", source.kind().to_string()),
                ("dataset_path", source.path().display().to_string()),
                ("fingerprint", info.fingerprint.clone()),
                ("config_toml", opts.config_toml.clone()),
                ("created_ms", created.to_string()),
                ("polymodal_version", env!("CARGO_PKG_VERSION").to_string()),
                (
                    "initial_order",
                    match &opts.dataset_labels {
                        DatasetLabels::All => String::new(),
                        DatasetLabels::Only(ids) => ids.join("\n"),
                    },
                ),
            ] {
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                    params![k, v],
                )
                .map_err(sql)?;
            }
            for (i, c) in info.class_names.iter().enumerate() {
                tx.execute(
                    "INSERT INTO classes(idx, name) VALUES (?1, ?2)",
                    params![i as i64, c],
                )
                .map_err(sql)?;
            }
            {
                let mut ins = tx
                    .prepare("INSERT INTO samples(id, row, split) VALUES (?1, ?2, ?3)")
                    .map_err(sql)?;
                for (row, (id, split)) in info.ids.iter().zip(&info.splits).enumerate() {
                    ins.execute(params![id, row as i64, split_name(*split)])
                        .map_err(sql)?;
                }
                let mut ev = tx
                    .prepare(
                        "INSERT INTO label_events(sample_id, kind, label, who, at_ms, source)
                         VALUES (?1, 'label', ?2, 'dataset', ?3, 'dataset')",
                    )
                    .map_err(sql)?;
                let mut cur = tx
                    .prepare("INSERT INTO labels(sample_id, label, event) VALUES (?1, ?2, ?3)")
                    .map_err(sql)?;
                let kept: std::collections::HashSet<&String> = match &opts.dataset_labels {
                    DatasetLabels::All => Default::default(),
                    DatasetLabels::Only(ids) => ids.iter().collect(),
                };
                for ((id, label), split) in info.ids.iter().zip(&info.labels).zip(&info.splits) {
                    // Val/test labels are the evaluation truth, not labelling work: not recorded.
                    let keep = match &opts.dataset_labels {
                        DatasetLabels::All => true,
                        DatasetLabels::Only(_) => kept.contains(id),
                    };
                    if let (Some(l), Split::Train, true) = (label, split, keep) {
                        let name = &info.class_names[*l];
                        ev.execute(params![id, name, created]).map_err(sql)?;
                        cur.execute(params![id, name, tx.last_insert_rowid()])
                            .map_err(sql)?;
                    }
                }
            }
            tx.commit().map_err(sql)?;
            // Closing checkpoints the WAL into the main file, so the rename moves everything.
            conn.close().map_err(|(_, e)| sql(e))?;
        }
        std::fs::rename(&tmp, &db_path).map_err(|e| LabError::io(&db_path, e))?;
        tracing::info!(project = %dir.display(), samples = info.ids.len(), "project created");
        Self::open(dir)
    }

    /// Opens a project, refusing a different schema version or a dataset whose fingerprint
    /// changed since `init`.
    pub fn open(dir: &Path) -> Result<Self, LabError> {
        let db_path = dir.join(DB_FILE);
        if !db_path.is_file() {
            return Err(LabError::NotAProject {
                path: dir.to_path_buf(),
                reason: format!("no {DB_FILE}; create one with `polymodal project init`"),
            });
        }
        let sql = |e| LabError::Sqlite {
            path: db_path.clone(),
            source: e,
        };
        let conn = Connection::open(&db_path).map_err(sql)?;
        conn.execute_batch(schema::PRAGMAS).map_err(sql)?;
        let meta = |key: &str| -> Result<String, LabError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(sql)?
                .ok_or_else(|| LabError::NotAProject {
                    path: dir.to_path_buf(),
                    reason: format!("meta key `{key}` missing"),
                })
        };
        let version = meta("schema_version")?;
        if version != schema::SCHEMA_VERSION.to_string() {
            return Err(LabError::SchemaVersion {
                path: db_path.clone(),
                found: version,
                expected: schema::SCHEMA_VERSION,
            });
        }
        let dataset = DatasetSource::from_meta(&meta("dataset_kind")?, &meta("dataset_path")?)
            .ok_or_else(|| LabError::NotAProject {
                path: dir.to_path_buf(),
                reason: "unknown dataset kind".into(),
            })?;
        let recorded = meta("fingerprint")?;
        let found = dataset.fingerprint()?;
        if found != recorded {
            return Err(LabError::FingerprintChanged {
                project: dir.to_path_buf(),
                dataset: dataset.path().to_path_buf(),
                recorded,
                found,
            });
        }
        let classes = {
            let mut st = conn
                .prepare("SELECT name FROM classes ORDER BY idx")
                .map_err(sql)?;
            let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)?
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            db_path,
            conn,
            classes,
            dataset,
            fingerprint: recorded,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn dataset(&self) -> &DatasetSource {
        &self.dataset
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The project config as given to `init`.
    pub fn config_toml(&self) -> Result<String, LabError> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'config_toml'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    pub(crate) fn sql(&self, e: rusqlite::Error) -> LabError {
        LabError::Sqlite {
            path: self.db_path.clone(),
            source: e,
        }
    }

    /// The class index of `label`, or an error listing the classes.
    pub fn class_index(&self, label: &str) -> Result<usize, LabError> {
        self.classes
            .iter()
            .position(|c| c == label)
            .ok_or_else(|| LabError::UnknownLabel {
                label: label.to_string(),
                classes: self.classes.clone(),
            })
    }

    /// The split of sample `id`, or `UnknownId`.
    pub fn split_of(&self, id: &str) -> Result<Split, LabError> {
        let s: Option<String> = self
            .conn
            .query_row("SELECT split FROM samples WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))?;
        match s.as_deref() {
            Some("train") => Ok(Split::Train),
            Some("val") => Ok(Split::Val),
            Some(_) => Ok(Split::Test),
            None => Err(LabError::UnknownId(id.to_string())),
        }
    }

    /// Current labels as (sample id, class index), in dataset row order.
    pub fn labels(&self) -> Result<Vec<(String, usize)>, LabError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT l.sample_id, c.idx FROM labels l
                 JOIN samples s ON s.id = l.sample_id JOIN classes c ON c.name = l.label
                 ORDER BY s.row",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// The unlabelled pool: train-split rows with no label that are not waiting in the queue,
    /// in dataset row order.
    pub fn pool(&self) -> Result<Vec<String>, LabError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT s.id FROM samples s
                 WHERE s.split = 'train'
                   AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.sample_id = s.id)
                   AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.sample_id = s.id AND q.state = 'pending')
                 ORDER BY s.row",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Every labelled train sample in labelling order: the initial labels (in the order given
    /// at `init`, else dataset row order), then each round's selection in rank order. Round
    /// training uses this order, so it does not depend on when a label was clicked.
    pub fn label_order(&self) -> Result<Vec<String>, LabError> {
        let initial: String = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'initial_order'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?
            .unwrap_or_default();
        let selected: std::collections::HashSet<String> = {
            let mut st = self
                .conn
                .prepare("SELECT sample_id FROM selections")
                .map_err(|e| self.sql(e))?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))?
        };
        let mut order: Vec<String> = if initial.is_empty() {
            self.labels()?
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| !selected.contains(id))
                .collect()
        } else {
            initial.lines().map(str::to_string).collect()
        };
        let mut st = self
            .conn
            .prepare(
                "SELECT s.sample_id FROM selections s JOIN labels l ON l.sample_id = s.sample_id
                 ORDER BY s.round, s.rank",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        for id in rows {
            order.push(id.map_err(|e| self.sql(e))?);
        }
        Ok(order)
    }

    /// Makes sure round 0 (the model trained on the initial labels, before any selection)
    /// exists, so its metrics can be recorded like any round's.
    pub fn ensure_round_zero(&mut self) -> Result<(), LabError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO rounds(number, strategy, budget, status, created_ms)
                 VALUES (0, 'initial', 0, 'labelling', ?1)",
                params![now_ms()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Takes the training lock: a second `round train` on the same project gets
    /// [`LabError::TrainingLocked`] until this guard is dropped (or its process dies).
    pub fn lock_training(&self) -> Result<TrainLock, LabError> {
        TrainLock::acquire(&self.dir.join(LOCK_FILE))
    }
}
