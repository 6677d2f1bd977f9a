//! An attacker with write access to an SQLite store file: opens it directly and drops every
//! trigger, including the append-only ones, as anyone who can write the file can.

use std::path::Path;

use anyhow::Context;

/// Opens the SQLite file at `path` with all its triggers dropped; returns the connection and
/// the names of the triggers it dropped.
pub fn sqlite_without_triggers(path: &Path) -> anyhow::Result<(rusqlite::Connection, Vec<String>)> {
    let conn =
        rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for t in &triggers {
        conn.execute_batch(&format!("DROP TRIGGER {t}"))?;
    }
    Ok((conn, triggers))
}
