//! Opening the SQLite store and the errors it reports.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use ward_core::{Outcome, Timestamp};

use crate::schema::SCHEMA;

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
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks sessions left open by a previous run as `incomplete`. Returns how many.
    pub fn close_abandoned_sessions(&self) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE sessions SET outcome = ?1, ended_at = ?2 WHERE ended_at IS NULL",
            rusqlite::params![Outcome::Incomplete.as_str(), Timestamp::now().0],
        )?)
    }
}
