//! The schema, in SQLite's and PostgreSQL's dialects, with versioned migrations.
//!
//! Every audit table is insert-only: a session's end is a row of its own (`session_ends`), and a
//! session's event count and head are read from its events. Triggers refuse UPDATE and DELETE
//! (and TRUNCATE on PostgreSQL) on them; only `ward prune` lifts the delete triggers, inside its
//! own transaction. On PostgreSQL, Ward's runtime role is granted SELECT and INSERT only (and
//! UPDATE on `users`), by `ward store migrate`.

use crate::db::{Db, params};
use crate::store::StoreError;

/// The audit tables, which the append-only triggers guard.
pub const AUDIT_TABLES: [&str; 8] = [
    "sessions",
    "session_ends",
    "events",
    "signing_keys",
    "checkpoints",
    "checkpoint_leaves",
    "prunes",
    "pruned_sessions",
];

/// Migration 1 for SQLite.
const SQLITE_V1: &str = r#"
CREATE TABLE sessions (
    id          BLOB PRIMARY KEY,
    node        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    groups      TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    resource    TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    started_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_started ON sessions (started_at);

CREATE TABLE session_ends (
    session_id BLOB PRIMARY KEY,
    ended_at   INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    bytes_up   INTEGER NOT NULL,
    bytes_down INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
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

CREATE TABLE signing_keys (
    key_id      BLOB PRIMARY KEY,
    public_key  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    endorsed_by BLOB,
    endorsement BLOB
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    prev_hash  BLOB NOT NULL,
    key_id     BLOB NOT NULL,
    leaf_count INTEGER NOT NULL,
    root       BLOB NOT NULL,
    signature  BLOB NOT NULL,
    hash       BLOB NOT NULL
);

CREATE TABLE checkpoint_leaves (
    checkpoint_seq INTEGER NOT NULL,
    idx            INTEGER NOT NULL,
    session_id     BLOB NOT NULL,
    events         INTEGER NOT NULL,
    head_hash      BLOB NOT NULL,
    ended          INTEGER NOT NULL,
    PRIMARY KEY (checkpoint_seq, idx)
) WITHOUT ROWID;
CREATE INDEX checkpoint_leaves_session ON checkpoint_leaves (session_id, checkpoint_seq);

CREATE TABLE prunes (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    key_id    BLOB NOT NULL,
    body      BLOB NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE pruned_sessions (
    prune_seq  INTEGER NOT NULL,
    session_id BLOB PRIMARY KEY,
    events     INTEGER NOT NULL,
    head_hash  BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    groups        TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
"#;

/// Migration 1 for PostgreSQL.
const POSTGRES_V1: &str = r#"
CREATE TABLE sessions (
    id          BYTEA PRIMARY KEY,
    node        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    groups      TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    resource    TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    started_at  BIGINT NOT NULL
);
CREATE INDEX sessions_started ON sessions (started_at);

CREATE TABLE session_ends (
    session_id BYTEA PRIMARY KEY,
    ended_at   BIGINT NOT NULL,
    outcome    TEXT NOT NULL,
    bytes_up   BIGINT NOT NULL,
    bytes_down BIGINT NOT NULL
);

CREATE TABLE events (
    session_id BYTEA NOT NULL,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    payload    BYTEA NOT NULL,
    compressed BIGINT NOT NULL DEFAULT 0,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE signing_keys (
    key_id      BYTEA PRIMARY KEY,
    public_key  BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    endorsed_by BYTEA,
    endorsement BYTEA
);

CREATE TABLE checkpoints (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    prev_hash  BYTEA NOT NULL,
    key_id     BYTEA NOT NULL,
    leaf_count BIGINT NOT NULL,
    root       BYTEA NOT NULL,
    signature  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);

CREATE TABLE checkpoint_leaves (
    checkpoint_seq BIGINT NOT NULL,
    idx            BIGINT NOT NULL,
    session_id     BYTEA NOT NULL,
    events         BIGINT NOT NULL,
    head_hash      BYTEA NOT NULL,
    ended          BIGINT NOT NULL,
    PRIMARY KEY (checkpoint_seq, idx)
);
CREATE INDEX checkpoint_leaves_session ON checkpoint_leaves (session_id, checkpoint_seq);

CREATE TABLE prunes (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    key_id    BYTEA NOT NULL,
    body      BYTEA NOT NULL,
    signature BYTEA NOT NULL
);
CREATE TABLE pruned_sessions (
    prune_seq  BIGINT NOT NULL,
    session_id BYTEA PRIMARY KEY,
    events     BIGINT NOT NULL,
    head_hash  BYTEA NOT NULL
);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    groups        TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE FUNCTION ward_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit evidence is append-only (% on %); only ward prune removes expired sessions', TG_OP, TG_TABLE_NAME;
END $$;
"#;

/// The migrations, oldest first: `(version, SQLite, PostgreSQL)`.
const MIGRATIONS: [(i64, &str, &str); 1] = [(1, SQLITE_V1, POSTGRES_V1)];

pub const LATEST: i64 = 1;

/// The triggers that keep the audit tables append-only, in `db`'s dialect.
pub fn triggers(db: &Db) -> String {
    let mut sql = String::new();
    for t in AUDIT_TABLES {
        if db.is_postgres() {
            sql.push_str(&format!(
                "CREATE OR REPLACE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} \
                 FOR EACH ROW EXECUTE FUNCTION ward_append_only();\n\
                 CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} \
                 FOR EACH STATEMENT EXECUTE FUNCTION ward_append_only();\n"
            ));
        } else {
            for op in ["UPDATE", "DELETE"] {
                sql.push_str(&format!(
                    "CREATE TRIGGER IF NOT EXISTS {t}_append_only_{} BEFORE {op} ON {t} \
                     BEGIN SELECT RAISE(ABORT, 'audit evidence is append-only; only ward prune removes expired sessions'); END;\n",
                    op.to_ascii_lowercase()
                ));
            }
        }
    }
    sql
}

/// The schema version of the store (the migrations table must exist).
pub fn version(db: &mut Db) -> Result<i64, StoreError> {
    db.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    )?
    .int(0)
}

/// Applies the migrations `db` lacks, each in its own transaction, and (re)creates the
/// append-only triggers. Returns the versions applied.
pub fn migrate(db: &mut Db) -> Result<Vec<i64>, StoreError> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    let current = version(db)?;
    if current == 0 && !db.is_postgres() {
        let old = db
            .query_opt(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sessions'",
                &[],
            )?
            .is_some();
        if old {
            return Err(StoreError::Corrupt(
                "this store was written by a development build of Ward before versioned migrations; move it aside and start a new one".into(),
            ));
        }
    }
    let mut applied = Vec::new();
    for (v, sqlite, postgres) in MIGRATIONS {
        if v <= current {
            continue;
        }
        let sql = if db.is_postgres() { postgres } else { sqlite };
        db.transaction(|db| {
            db.batch(sql)?;
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                &params![v, ward_core::Timestamp::now().0],
            )?;
            Ok(())
        })?;
        applied.push(v);
    }
    let t = triggers(db);
    db.batch(&t)?;
    Ok(applied)
}
