//! Opening the SQLite store and the errors it reports.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use ward_core::SessionId;

use crate::chain::Hash;
use crate::checkpoint::{hash32, u64_of};
use crate::query::session_id;
use crate::schema::{DELETE_TRIGGERS, SCHEMA};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("audit store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("audit store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("audit store: corrupt row: {0}")]
    Corrupt(String),
    #[error("no session with id {0}")]
    NoSuchSession(String),
}

/// A connection to the audit store, for readers and administrative writes.
/// The recorder opens its own connection so readers never block it (WAL).
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::InvalidPath(PathBuf::from(format!(
                    "{}: {e}",
                    dir.display()
                ))),
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(DELETE_TRIGGERS)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying connection, for the key and checkpoint functions.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The chain heads of sessions a previous run left open: `(id, events, head hash)`.
    pub(crate) fn open_session_heads(&self) -> Result<Vec<(SessionId, u64, Hash)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT s.id, e.seq, e.hash FROM sessions s JOIN events e ON e.session_id = s.id \
             WHERE s.ended_at IS NULL AND e.seq = (SELECT MAX(seq) FROM events WHERE session_id = s.id)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, seq, hash) = row?;
            out.push((session_id(&id)?, u64_of(seq) + 1, hash32(&hash)?));
        }
        Ok(out)
    }
}
