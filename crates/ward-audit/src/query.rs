//! Reading the store: sessions with filters, one session, its events.

use rusqlite::{Row, params_from_iter, types::Value};
use serde::{Deserialize, Serialize};
use ward_core::{SessionId, Timestamp};

use crate::store::{Store, StoreError};

/// A session as `ward sessions list --json` prints it (a stable shape, see docs/cli.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub user: String,
    pub groups: Vec<String>,
    pub auth_method: String,
    pub resource: String,
    pub protocol: String,
    pub client_addr: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub outcome: Option<String>,
    pub bytes_up: i64,
    pub bytes_down: i64,
    pub event_count: i64,
}

/// An event as `ward sessions show --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub hash: String,
}

#[derive(Debug, Default, Clone)]
pub struct SessionFilter {
    pub user: Option<String>,
    pub resource: Option<String>,
    pub since: Option<Timestamp>,
    pub limit: Option<u32>,
}

const SESSION_COLUMNS: &str = "id, subject, groups, auth_method, resource, protocol, client_addr, started_at, ended_at, outcome, bytes_up, bytes_down, event_count";

impl Store {
    /// Sessions matching `filter`, newest first.
    pub fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionRow>, StoreError> {
        let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(u) = &filter.user {
            args.push(Value::Text(u.clone()));
            sql.push_str(&format!(" AND subject = ?{}", args.len()));
        }
        if let Some(r) = &filter.resource {
            args.push(Value::Text(r.clone()));
            sql.push_str(&format!(" AND resource = ?{}", args.len()));
        }
        if let Some(t) = filter.since {
            args.push(Value::Integer(t.0));
            sql.push_str(&format!(" AND started_at >= ?{}", args.len()));
        }
        sql.push_str(" ORDER BY started_at DESC, id DESC");
        if let Some(n) = filter.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), session_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One session by id (a full id, or a unique prefix of at least 8 characters).
    pub fn session(&self, id: &str) -> Result<SessionRow, StoreError> {
        let sid = self.resolve_session(id)?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([sid.0.as_bytes()], session_row)?)
    }

    /// Turns a full id or a unique prefix into a session id that exists.
    pub fn resolve_session(&self, id: &str) -> Result<SessionId, StoreError> {
        if let Ok(sid) = id.parse::<SessionId>() {
            let found: i64 = self.conn.query_row(
                "SELECT count(*) FROM sessions WHERE id = ?1",
                [sid.0.as_bytes()],
                |r| r.get(0),
            )?;
            return if found == 1 {
                Ok(sid)
            } else {
                Err(StoreError::NoSuchSession(id.to_owned()))
            };
        }
        let prefix = id.replace('-', "").to_ascii_lowercase();
        if prefix.len() < 8 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NoSuchSession(id.to_owned()));
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM sessions WHERE lower(hex(id)) LIKE ?1 || '%' LIMIT 2")?;
        let ids: Vec<Vec<u8>> = stmt
            .query_map([&prefix], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        match ids.as_slice() {
            [one] => session_id(one),
            _ => Err(StoreError::NoSuchSession(id.to_owned())),
        }
    }

    /// The events of a session in seq order.
    pub fn events(&self, id: SessionId) -> Result<Vec<EventRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, at, kind, payload, compressed, hash FROM events WHERE session_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([id.0.as_bytes()], |r| {
            let stored: Vec<u8> = r.get(3)?;
            let compressed: bool = r.get(4)?;
            let hash: Vec<u8> = r.get(5)?;
            let payload = crate::payload::decode(&stored, compressed).unwrap_or(stored);
            Ok(EventRow {
                seq: r.get(0)?,
                at: Timestamp(r.get(1)?).to_rfc3339(),
                kind: r.get(2)?,
                payload: serde_json::from_slice(&payload).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&payload).into_owned())
                }),
                hash: hex::encode(hash),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

pub(crate) fn session_id(bytes: &[u8]) -> Result<SessionId, StoreError> {
    uuid::Uuid::from_slice(bytes)
        .map(SessionId)
        .map_err(|e| StoreError::Corrupt(format!("session id: {e}")))
}

fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionRow> {
    let id: Vec<u8> = r.get(0)?;
    let groups: String = r.get(2)?;
    Ok(SessionRow {
        id: uuid::Uuid::from_slice(&id)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| hex::encode(&id)),
        user: r.get(1)?,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        auth_method: r.get(3)?,
        resource: r.get(4)?,
        protocol: r.get(5)?,
        client_addr: r.get(6)?,
        started_at: Timestamp(r.get(7)?).to_rfc3339(),
        ended_at: r
            .get::<_, Option<i64>>(8)?
            .map(|t| Timestamp(t).to_rfc3339()),
        outcome: r.get(9)?,
        bytes_up: r.get(10)?,
        bytes_down: r.get(11)?,
        event_count: r.get(12)?,
    })
}
