//! The schema, in SQLite's and PostgreSQL's dialects, with versioned migrations.
//!
//! Every audit table is insert-only: a session's end is a row of its own (`session_ends`), and a
//! session's event count and head are read from its events. Triggers refuse UPDATE and DELETE
//! (and TRUNCATE on PostgreSQL) on them; only `ward prune` lifts the delete triggers, inside its
//! own transaction. On PostgreSQL, Ward's runtime role is granted SELECT and INSERT only (and
//! UPDATE on `users`, `access_requests`, `siem_cursors` and the `scim_` tables, DELETE on `user_keys`,
//! `disabled_users` and the `scim_` tables, none of them evidence), by
//! `ward store migrate`.

use crate::db::{Db, params};
use crate::store::StoreError;

/// The insert-only tables (the audit evidence and the credentials), which the append-only
/// triggers guard.
pub const AUDIT_TABLES: [&str; 11] = [
    "sessions",
    "session_ends",
    "events",
    "signing_keys",
    "checkpoints",
    "checkpoint_leaves",
    "prunes",
    "pruned_sessions",
    "credentials",
    "credential_revocations",
    "credential_keys",
];

/// Migration 1, written in SQLite's dialect; [`dialect`] gives PostgreSQL's.
const V1: &str = r#"
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

/// Migration 2: Ward's own credentials (tokens from `ward login`, service-account keys), stored
/// as SHA-256 digests of the secret; revoking one is a row of its own.
const V2: &str = r#"
CREATE TABLE credentials (
    id          TEXT PRIMARY KEY,
    digest      BLOB NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    groups      TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    method      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX credentials_subject ON credentials (subject);

CREATE TABLE credential_revocations (
    credential_id TEXT PRIMARY KEY,
    revoked_at    INTEGER NOT NULL,
    revoked_by    TEXT NOT NULL
);
"#;

/// Migration 3: a full-text index of what people and agents typed (statements, commands, notes;
/// masked, as recorded), derived from the events and not part of the evidence. SQLite's FTS5
/// here; [`V3_POSTGRES`] on PostgreSQL.
const V3: &str = r#"
CREATE VIRTUAL TABLE event_text USING fts5(text, session_id UNINDEXED, seq UNINDEXED, kind UNINDEXED);
"#;

const V3_POSTGRES: &str = r#"
CREATE TABLE event_text (
    session_id BYTEA NOT NULL,
    seq        BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    text       TEXT NOT NULL,
    tsv        tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
CREATE INDEX event_text_tsv ON event_text USING GIN (tsv);
CREATE INDEX event_text_session ON event_text (session_id);
"#;

/// Migration 4: SSH public keys registered for local users (`ward users add-key`), by their
/// SHA-256 fingerprint. Not evidence: a key can be removed.
const V4: &str = r#"
CREATE TABLE user_keys (
    fingerprint TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX user_keys_name ON user_keys (name);
"#;

/// Migration 5: SSH host keys learned on first use (resources with `trust_on_first_use`). The
/// first key a host presents is kept; a row is never changed.
const V5: &str = r#"
CREATE TABLE ssh_host_keys (
    resource   TEXT PRIMARY KEY,
    host_key   TEXT NOT NULL,
    learned_at INTEGER NOT NULL
);
"#;

/// Migration 6: users disabled (`ward users disable`), whom every Ward of the store refuses and
/// whose open sessions it ends (enabling one again removes the row); and sessions someone asked
/// to end (`ward sessions terminate`), which the Ward serving each ends. Each ending is
/// recorded in the session's own chain; these tables only carry the request between processes.
const V6: &str = r#"
CREATE TABLE disabled_users (
    name        TEXT PRIMARY KEY,
    disabled_at INTEGER NOT NULL,
    disabled_by TEXT NOT NULL,
    reason      TEXT NOT NULL
);

CREATE TABLE terminations (
    session_id   BLOB PRIMARY KEY,
    requested_at INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX terminations_requested_at ON terminations (requested_at);
"#;

/// Migration 7: access requests (`ward request`) and steps held for review (kind `step`), and
/// their reviews. A request's state changes (pending, then approved or denied); each request,
/// hold and review is evidence as an event in its author's session, and these rows only carry
/// the state between processes.
const V7: &str = r#"
CREATE TABLE access_requests (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    rule         TEXT,
    requester    TEXT NOT NULL,
    resource     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    seconds      INTEGER NOT NULL,
    approvers    TEXT NOT NULL,
    approvals    INTEGER NOT NULL,
    requested_at INTEGER NOT NULL,
    session_id   BLOB NOT NULL,
    state        TEXT NOT NULL,
    decided_at   INTEGER,
    expires_at   INTEGER
);
CREATE INDEX access_requests_state ON access_requests (state, expires_at);

CREATE TABLE access_reviews (
    request_id TEXT NOT NULL,
    reviewer   TEXT NOT NULL,
    approved   INTEGER NOT NULL,
    comment    TEXT NOT NULL,
    at         INTEGER NOT NULL,
    session_id BLOB NOT NULL,
    PRIMARY KEY (request_id, reviewer)
);
"#;

/// Migration 8: users and groups an identity provider pushes through SCIM (`/scim/v2`): each
/// resource as last written, and group memberships. A user made inactive or deleted is also
/// disabled (`disabled_users`); Ward reads the memberships as the groups of SCIM users. And the
/// logins through an OIDC issuer that Ward checks again with their refresh tokens: when next,
/// and the groups the issuer gave at the last check.
const V8: &str = r#"
CREATE TABLE scim_users (
    id         TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL UNIQUE,
    active     INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE scim_groups (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL UNIQUE,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE scim_members (
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE idp_logins (
    credential_id TEXT PRIMARY KEY,
    issuer        TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    check_at      INTEGER NOT NULL,
    groups        TEXT
);
CREATE INDEX idp_logins_check_at ON idp_logins (check_at);
"#;

/// Migration 9: the keys credentials are bound to (DPoP, RFC 9449): a bound credential is
/// accepted only with a proof signed by the key of this thumbprint (RFC 7638, SHA-256).
const V9: &str = r#"
CREATE TABLE credential_keys (
    credential_id TEXT PRIMARY KEY,
    jkt           TEXT NOT NULL
);
"#;

/// Migration 10: where each SIEM stream has got to (`[[siem]]`): the position after the last
/// event it delivered (a checkpoint, a leaf of it, an event of that leaf's session), and which
/// Ward sends it (one at a time, by lease). Not evidence: it moves forward as events go out.
const V10: &str = r#"
CREATE TABLE siem_cursors (
    name        TEXT PRIMARY KEY,
    checkpoint  INTEGER NOT NULL,
    leaf        INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    holder      TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);
"#;

/// The migrations, oldest first: SQLite's text, and PostgreSQL's where [`dialect`] is not
/// enough.
const MIGRATIONS: [(i64, &str, Option<&str>); 10] = [
    (1, V1, None),
    (2, V2, None),
    (3, V3, Some(V3_POSTGRES)),
    (4, V4, None),
    (5, V5, None),
    (6, V6, None),
    (7, V7, None),
    (8, V8, None),
    (9, V9, None),
    (10, V10, None),
];

/// A migration in `db`'s dialect. The schema uses only what both share, except the column
/// types (`BLOB`, `INTEGER`) and SQLite's `WITHOUT ROWID`.
fn dialect(db: &Db, sql: &'static str) -> std::borrow::Cow<'static, str> {
    if db.is_postgres() {
        sql.replace(" BLOB", " BYTEA")
            .replace(" INTEGER", " BIGINT")
            .replace(") WITHOUT ROWID;", ");")
            .into()
    } else {
        sql.into()
    }
}

/// What the PostgreSQL triggers call.
const POSTGRES_APPEND_ONLY: &str = r#"
CREATE OR REPLACE FUNCTION ward_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit evidence is append-only (% on %); only ward prune removes expired sessions', TG_OP, TG_TABLE_NAME;
END $$;
"#;

pub const LATEST: i64 = 10;

/// The triggers that keep the audit tables append-only, in `db`'s dialect.
pub fn triggers(db: &Db) -> String {
    let mut sql = String::new();
    if db.is_postgres() {
        sql.push_str(POSTGRES_APPEND_ONLY);
    }
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
    for (v, sql, postgres) in MIGRATIONS {
        if v <= current {
            continue;
        }
        let sql = match postgres {
            Some(pg) if db.is_postgres() => pg.into(),
            _ => dialect(db, sql),
        };
        db.transaction(|db| {
            db.batch(&sql)?;
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
