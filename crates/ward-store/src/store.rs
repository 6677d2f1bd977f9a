//! Opening the store (SQLite file or PostgreSQL database) and the errors it reports.

use std::fmt;
use std::path::PathBuf;

use ward_core::SessionId;

use crate::chain::Hash;
use crate::checkpoint::{hash32, u64_of};
use crate::db::{Db, PgConn, params};
pub use crate::pgtls::StoreTls;
use crate::query::session_id;
use crate::schema;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("audit store {location}: {problem}")]
    Open { location: String, problem: String },
    #[error("audit store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("audit store: {0}")]
    Postgres(String),
    #[error("audit store: corrupt row: {0}")]
    Corrupt(String),
    #[error("no session with id {0}")]
    NoSuchSession(String),
    #[error("no access request with id {0}")]
    NoSuchRequest(String),
    #[error("more than one session id begins with {0}: give more of it")]
    AmbiguousSession(String),
    #[error("{0}")]
    Unavailable(String),
    /// The change contradicts what is stored (a key already registered for another user).
    #[error("{0}")]
    Conflict(String),
    /// An export could not be written where it was going.
    #[error("writing the export: {0}")]
    Export(std::io::Error),
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // The server's own message, not just "db error".
        StoreError::Postgres(match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            // With its causes: "error performing TLS handshake: invalid peer certificate: …".
            None => {
                let mut message = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    message.push_str(&format!(": {c}"));
                    cause = c.source();
                }
                message
            }
        })
    }
}

/// Where the store lives.
#[derive(Clone)]
pub enum Location {
    /// An SQLite file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL database (a libpq URL or key=value string) that `ward store migrate` set up,
    /// reached over TLS when it has a [`StoreTls`].
    Postgres(String, Option<StoreTls>),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            // Never print the password a URL may hold.
            Location::Postgres(url, _) => {
                f.write_str(&describe_postgres(url).unwrap_or_else(|| "postgres://…".into()))
            }
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `postgres://user@host:port/dbname` of a connection string, without its password.
fn describe_postgres(url: &str) -> Option<String> {
    let c: postgres::Config = url.parse().ok()?;
    let host = match c.get_hosts().first()? {
        postgres::config::Host::Tcp(h) => h.clone(),
        postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    Some(format!(
        "postgres://{}@{host}:{port}/{}",
        c.get_user().unwrap_or_default(),
        c.get_dbname().unwrap_or_default()
    ))
}

/// A connection to the audit store. The recorder opens its own, so readers never block it.
pub struct Store {
    pub(crate) db: Db,
    location: Location,
}

impl Store {
    /// Opens the store. An SQLite file is created and migrated as needed; a PostgreSQL
    /// database must have been set up by `ward store migrate` (Ward's own role cannot).
    pub fn open(location: &Location) -> Result<Self, StoreError> {
        let fail = |problem: String| StoreError::Open {
            location: location.to_string(),
            problem,
        };
        let db = match location {
            Location::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| fail(format!("{}: {e}", dir.display())))?;
                }
                let conn = rusqlite::Connection::open(path).map_err(|e| fail(e.to_string()))?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                conn.execute_batch(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )?;
                let mut db = Db::Sqlite(conn);
                schema::migrate(&mut db)?;
                db
            }
            Location::Postgres(url, tls) => {
                let mut db = connect(url, tls.as_ref()).map_err(|e| fail(e.to_string()))?;
                let v = schema::version(&mut db).map_err(|e| {
                    fail(format!(
                        "{e}: set the store up with `ward store migrate --admin-url URL` as the database owner"
                    ))
                })?;
                if v != schema::LATEST {
                    return Err(fail(format!(
                        "schema version {v}, this Ward needs {}: run `ward store migrate --admin-url URL` as the database owner",
                        schema::LATEST
                    )));
                }
                db
            }
        };
        Ok(Self {
            db,
            location: location.clone(),
        })
    }

    /// Sets up (or upgrades) a PostgreSQL store as its owner and lets `runtime_role` read and
    /// append: SELECT and INSERT on every table, UPDATE on `users` and DELETE on `user_keys`
    /// and `disabled_users` (none of them is evidence). Returns the versions applied.
    pub fn migrate_postgres(
        admin_url: &str,
        tls: Option<&StoreTls>,
        runtime_role: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let mut db = connect(admin_url, tls)?;
        let applied = schema::migrate(&mut db)?;
        let role = quote_ident(runtime_role);
        let mut grants = format!("GRANT SELECT ON schema_migrations TO {role};\n");
        for t in schema::AUDIT_TABLES {
            grants.push_str(&format!("GRANT SELECT, INSERT ON {t} TO {role};\n"));
        }
        grants.push_str(&format!(
            "GRANT SELECT, INSERT, UPDATE ON users TO {role};\nGRANT SELECT, INSERT, DELETE ON user_keys TO {role};\nGRANT SELECT, INSERT ON ssh_host_keys TO {role};\nGRANT SELECT, INSERT ON event_text TO {role};\n\
             GRANT SELECT, INSERT, DELETE ON disabled_users TO {role};\nGRANT SELECT, INSERT ON terminations TO {role};\n\
             GRANT SELECT, INSERT, UPDATE ON access_requests TO {role};\nGRANT SELECT, INSERT ON access_reviews TO {role};\n\
             GRANT SELECT, INSERT, UPDATE, DELETE ON scim_users, scim_groups, scim_members TO {role};\n\
             GRANT SELECT, INSERT, UPDATE, DELETE ON idp_logins TO {role};\n\
             GRANT SELECT, INSERT, UPDATE ON siem_cursors TO {role};\n"
        ));
        db.batch(&grants)?;
        Ok(applied)
    }

    /// The store's schema version; reading it proves the store answers.
    pub fn version(&mut self) -> Result<i64, StoreError> {
        schema::version(&mut self.db)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    /// Every signing key the store knows, oldest first, with its validity.
    pub fn keys(&mut self) -> Result<Vec<crate::keys::KeyRecord>, StoreError> {
        crate::keys::list(&mut self.db)
    }

    /// Adds a public key to the store's list (see [`crate::keys`]); false if it was there.
    pub fn register_key(
        &mut self,
        key: &crate::keys::PublicKey,
        created_at: i64,
        endorsement: Option<(&crate::keys::PublicKey, &[u8; 64])>,
    ) -> Result<bool, StoreError> {
        crate::keys::register(&mut self.db, key, created_at, endorsement)
    }

    /// One checkpoint by seq.
    pub fn checkpoint(
        &mut self,
        seq: u64,
    ) -> Result<Option<crate::checkpoint::Checkpoint>, StoreError> {
        crate::checkpoint::get(&mut self.db, seq)
    }

    /// The chain heads of sessions that `node` left open: `(id, events, head hash)`.
    pub(crate) fn open_session_heads(
        &mut self,
        node: &str,
    ) -> Result<Vec<(SessionId, u64, Hash)>, StoreError> {
        let rows = self.db.query(
            "SELECT s.id, e.seq, e.hash FROM sessions s JOIN events e ON e.session_id = s.id \
             WHERE s.node = ?1 AND NOT EXISTS (SELECT 1 FROM session_ends x WHERE x.session_id = s.id) \
             AND e.seq = (SELECT MAX(seq) FROM events WHERE session_id = s.id)",
            &params![node],
        )?;
        rows.iter()
            .map(|r| {
                Ok((
                    session_id(&r.bytes(0)?)?,
                    u64_of(r.int(1)?) + 1,
                    hash32(&r.bytes(2)?)?,
                ))
            })
            .collect()
    }
}

fn connect(url: &str, tls: Option<&StoreTls>) -> Result<Db, StoreError> {
    Ok(Db::Postgres(PgConn::connect(url, tls.cloned())?))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
