//! The SQLite schema. Events, checkpoints and signing keys are append-only: triggers refuse
//! UPDATE and DELETE on them.

pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sessions (
    id          BLOB PRIMARY KEY,
    subject     TEXT NOT NULL,
    groups      TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    resource    TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    outcome     TEXT,
    bytes_up    INTEGER NOT NULL DEFAULT 0,
    bytes_down  INTEGER NOT NULL DEFAULT 0,
    event_count INTEGER NOT NULL DEFAULT 0,
    head_hash   BLOB
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started_at);

CREATE TABLE IF NOT EXISTS events (
    session_id BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    payload    BLOB NOT NULL,
    compressed INTEGER NOT NULL DEFAULT 0,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

CREATE TABLE IF NOT EXISTS signing_keys (
    key_id      BLOB PRIMARY KEY,
    public_key  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    endorsed_by BLOB,
    endorsement BLOB
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS checkpoints (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    prev_hash  BLOB NOT NULL,
    key_id     BLOB NOT NULL,
    leaf_count INTEGER NOT NULL,
    root       BLOB NOT NULL,
    signature  BLOB NOT NULL,
    hash       BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS checkpoint_leaves (
    checkpoint_seq INTEGER NOT NULL,
    idx            INTEGER NOT NULL,
    session_id     BLOB NOT NULL,
    events         INTEGER NOT NULL,
    head_hash      BLOB NOT NULL,
    ended          INTEGER NOT NULL,
    PRIMARY KEY (checkpoint_seq, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS checkpoint_leaves_session ON checkpoint_leaves (session_id, checkpoint_seq);
CREATE TRIGGER IF NOT EXISTS signing_keys_append_only_update BEFORE UPDATE ON signing_keys
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS signing_keys_append_only_delete BEFORE DELETE ON signing_keys
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_append_only_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_append_only_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoint_leaves_append_only_update BEFORE UPDATE ON checkpoint_leaves
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoint_leaves_append_only_delete BEFORE DELETE ON checkpoint_leaves
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;

CREATE TABLE IF NOT EXISTS prunes (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    key_id    BLOB NOT NULL,
    body      BLOB NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS pruned_sessions (
    prune_seq  INTEGER NOT NULL,
    session_id BLOB PRIMARY KEY,
    events     INTEGER NOT NULL,
    head_hash  BLOB NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS prunes_append_only_update BEFORE UPDATE ON prunes
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS prunes_append_only_delete BEFORE DELETE ON prunes
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS pruned_sessions_append_only_update BEFORE UPDATE ON pruned_sessions
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS pruned_sessions_append_only_delete BEFORE DELETE ON pruned_sessions
    BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only'); END;

CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    groups        TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
"#;

/// The triggers that refuse deleting events and sessions; only `ward prune` lifts them, inside
/// its own transaction, and puts them back before it commits.
pub const DELETE_TRIGGERS: &str = r#"
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only; only ward prune removes expired sessions'); END;
CREATE TRIGGER IF NOT EXISTS sessions_append_only_delete BEFORE DELETE ON sessions
    BEGIN SELECT RAISE(ABORT, 'audit sessions are append-only; only ward prune removes expired sessions'); END;
"#;
