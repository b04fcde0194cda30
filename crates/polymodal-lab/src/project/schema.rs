//! The project database's schema. Bump [`SCHEMA_VERSION`] with every change and refuse other
//! versions on open: a project is durable state, so it is never silently reinterpreted.

pub const SCHEMA_VERSION: u32 = 1;

/// Connection settings applied on every open.
///
/// WAL lets the page's readers run while a label is committed. `synchronous=FULL` (rather than
/// NORMAL, which is crash-safe in WAL mode but may lose the last commits on power loss): a label
/// the page has shown as saved must survive a power cut too, and labels arrive at human speed,
/// so one fsync per commit costs nothing noticeable.
pub const PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 5000;
";

pub const CREATE: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Class order is the dataset's: index i is class i everywhere.
CREATE TABLE classes (
    idx  INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
) STRICT;

-- Every dataset row, so ids and splits are checked without loading the dataset.
CREATE TABLE samples (
    id    TEXT PRIMARY KEY,
    row   INTEGER NOT NULL UNIQUE,
    split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test'))
) STRICT;

-- Append-only history: every label, skip and undo ever given. Nothing is overwritten.
CREATE TABLE label_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_id TEXT NOT NULL REFERENCES samples(id),
    kind      TEXT NOT NULL CHECK (kind IN ('label', 'skip', 'undo')),
    label     TEXT REFERENCES classes(name),
    who       TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    source    TEXT NOT NULL CHECK (source IN ('page', 'import', 'dataset')),
    undoes    INTEGER REFERENCES label_events(seq),
    undone_by INTEGER REFERENCES label_events(seq)
) STRICT;
CREATE INDEX label_events_by_sample ON label_events(sample_id, seq);
CREATE INDEX label_events_by_who ON label_events(who, seq);

-- The current label of each labelled sample; always equal to the last un-undone label event.
CREATE TABLE labels (
    sample_id TEXT PRIMARY KEY REFERENCES samples(id),
    label     TEXT NOT NULL REFERENCES classes(name),
    event     INTEGER NOT NULL REFERENCES label_events(seq)
) STRICT;

CREATE TABLE rounds (
    number      INTEGER PRIMARY KEY,
    strategy    TEXT NOT NULL,
    budget      INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('labelling', 'trained')),
    created_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    checkpoint  TEXT,
    metrics     TEXT
) STRICT;

CREATE TABLE selections (
    round     INTEGER NOT NULL REFERENCES rounds(number),
    sample_id TEXT NOT NULL REFERENCES samples(id),
    rank      INTEGER NOT NULL,
    PRIMARY KEY (round, sample_id),
    UNIQUE (round, rank)
) STRICT;

-- The labelling queue. A pending item with a live lease (expires_ms > now) belongs to its
-- holder; an expired lease is free for anyone.
CREATE TABLE queue (
    sample_id  TEXT PRIMARY KEY REFERENCES samples(id),
    round      INTEGER NOT NULL REFERENCES rounds(number),
    rank       INTEGER NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'done', 'skipped')),
    holder     TEXT,
    expires_ms INTEGER
) STRICT;
CREATE INDEX queue_order ON queue(state, round, rank);
";
