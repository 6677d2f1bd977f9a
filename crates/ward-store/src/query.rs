//! Reading the store: sessions with filters, one session, its events.

use serde::{Deserialize, Serialize};
use ward_core::{SessionId, Timestamp};

use crate::db::{P, Row, params};
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

impl EventRow {
    /// The payload as its kind's type: `None` for a kind this version does not know, or a
    /// payload of none of the shapes its kind ever had.
    pub fn read(&self) -> Option<ward_core::payload::Payload> {
        ward_core::payload::Payload::read(&self.kind, &self.payload)
    }
}

#[derive(Debug, Default, Clone)]
pub struct SessionFilter {
    pub user: Option<String>,
    pub resource: Option<String>,
    pub protocol: Option<String>,
    /// An outcome (`ok`, `denied`, `error`, `incomplete`), or `live` for sessions not ended.
    pub outcome: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Sessions whose statements, commands or notes contain these words.
    pub text: Option<String>,
    /// Only sessions before this one in the order (newest first): a page's last session.
    pub before: Option<(Timestamp, SessionId)>,
    pub limit: Option<u32>,
}

/// A place where a search matched: the event and the text around the match, with the matched
/// words between `\u{2}` and `\u{3}`.
#[derive(Debug, Clone, Serialize)]
pub struct TextMatch {
    pub seq: i64,
    pub kind: String,
    pub snippet: String,
}

/// A session with its end and its event count (read from its events: every table is append-only).
const SESSION_SELECT: &str = "SELECT s.id, s.subject, s.groups, s.auth_method, s.resource, s.protocol, s.client_addr, s.started_at, x.ended_at, x.outcome, COALESCE(x.bytes_up, 0), COALESCE(x.bytes_down, 0), COALESCE((SELECT MAX(seq) + 1 FROM events e WHERE e.session_id = s.id), 0) FROM sessions s LEFT JOIN session_ends x ON x.session_id = s.id";

impl Store {
    /// Sessions matching `filter`, newest first.
    pub fn sessions(&mut self, filter: &SessionFilter) -> Result<Vec<SessionRow>, StoreError> {
        let mut sql = format!("{SESSION_SELECT} WHERE 1 = 1");
        let mut args: Vec<P<'_>> = Vec::new();
        if let Some(u) = &filter.user {
            args.push(P::Text(u));
            sql.push_str(&format!(" AND s.subject = ?{}", args.len()));
        }
        if let Some(r) = &filter.resource {
            args.push(P::Text(r));
            sql.push_str(&format!(" AND s.resource = ?{}", args.len()));
        }
        if let Some(p) = &filter.protocol {
            args.push(P::Text(p));
            sql.push_str(&format!(" AND s.protocol = ?{}", args.len()));
        }
        match filter.outcome.as_deref() {
            Some("live") => sql.push_str(" AND x.session_id IS NULL"),
            Some(o) => {
                args.push(P::Text(o));
                sql.push_str(&format!(" AND x.outcome = ?{}", args.len()));
            }
            None => {}
        }
        if let Some(t) = filter.since {
            args.push(P::Int(t.0));
            sql.push_str(&format!(" AND s.started_at >= ?{}", args.len()));
        }
        if let Some(t) = filter.until {
            args.push(P::Int(t.0));
            sql.push_str(&format!(" AND s.started_at < ?{}", args.len()));
        }
        let id_bytes = filter.before.map(|(_, id)| *id.0.as_bytes());
        if let (Some((t, _)), Some(id)) = (filter.before, &id_bytes) {
            args.push(P::Int(t.0));
            args.push(P::Bytes(id));
            let (a, b) = (args.len() - 1, args.len());
            sql.push_str(&format!(
                " AND (s.started_at < ?{a} OR (s.started_at = ?{a} AND s.id < ?{b}))"
            ));
        }
        let query = filter.text.as_deref().map(|t| self.text_query(t));
        if let Some(q) = &query {
            args.push(P::Text(q));
            let matching = if self.db.is_postgres() {
                "tsv @@ plainto_tsquery('simple', ?{n})"
            } else {
                "event_text MATCH ?{n}"
            }
            .replace("{n}", &args.len().to_string());
            sql.push_str(&format!(
                " AND s.id IN (SELECT session_id FROM event_text WHERE {matching})"
            ));
        }
        sql.push_str(" ORDER BY s.started_at DESC, s.id DESC");
        if let Some(n) = filter.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        self.db
            .query(&sql, &args)?
            .iter()
            .map(session_row)
            .collect()
    }

    /// The search `text` in the index's query language: on SQLite every word quoted (all must
    /// occur, no operators); on PostgreSQL `plainto_tsquery` does the same.
    fn text_query(&self, text: &str) -> String {
        if self.db.is_postgres() {
            return text.to_owned();
        }
        text.split_whitespace()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Where `text` matched in session `id`: the first `limit` events, in order.
    pub fn text_matches(
        &mut self,
        id: SessionId,
        text: &str,
        limit: u32,
    ) -> Result<Vec<TextMatch>, StoreError> {
        let query = self.text_query(text);
        let sql = if self.db.is_postgres() {
            format!(
                "SELECT seq, kind, ts_headline('simple', text, plainto_tsquery('simple', ?1), 'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=24, MinWords=8') FROM event_text WHERE tsv @@ plainto_tsquery('simple', ?1) AND session_id = ?2 ORDER BY seq LIMIT {limit}"
            )
        } else {
            format!(
                "SELECT seq, kind, snippet(event_text, 0, char(2), char(3), '…', 16) FROM event_text WHERE event_text MATCH ?1 AND session_id = ?2 ORDER BY seq LIMIT {limit}"
            )
        };
        self.db
            .query(&sql, &params![query.as_str(), id.0.as_bytes().as_slice()])?
            .iter()
            .map(|r| {
                Ok(TextMatch {
                    seq: r.int(0)?,
                    kind: r.text(1)?,
                    snippet: r.text(2)?,
                })
            })
            .collect()
    }

    /// Events of session `id` with seq above `after`, in order: at most `limit`, and no more
    /// once [`PAGE_BYTES`] of payload are read; with whether more may follow.
    pub fn events_page(
        &mut self,
        id: SessionId,
        after: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<EventRow>, bool), StoreError> {
        let mut out = Vec::new();
        let (mut bytes, mut cut) = (0usize, false);
        self.db.for_each(
            &format!("SELECT seq, at, kind, payload, compressed, hash FROM events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT {limit}"),
            &params![id.0.as_bytes().as_slice(), after.unwrap_or(-1)],
            |r| {
                let (row, size) = event_row(r)?;
                out.push(row);
                bytes += size;
                cut = bytes >= PAGE_BYTES;
                Ok(!cut)
            },
        )?;
        let more = cut || out.len() == limit as usize;
        Ok((out, more))
    }

    /// One session by id (a full id, or a unique prefix of at least 8 characters).
    pub fn session(&mut self, id: &str) -> Result<SessionRow, StoreError> {
        let sid = self.resolve_session(id)?;
        let row = self.db.query_one(
            &format!("{SESSION_SELECT} WHERE s.id = ?1"),
            &params![sid.0.as_bytes().as_slice()],
        )?;
        session_row(&row)
    }

    /// Turns a full id or a unique prefix into a session id that exists.
    pub fn resolve_session(&mut self, id: &str) -> Result<SessionId, StoreError> {
        if let Ok(sid) = id.parse::<SessionId>() {
            let found = self.db.query_opt(
                "SELECT 1 FROM sessions WHERE id = ?1",
                &params![sid.0.as_bytes().as_slice()],
            )?;
            return match found {
                Some(_) => Ok(sid),
                None => Err(StoreError::NoSuchSession(id.to_owned())),
            };
        }
        let prefix = id.replace('-', "").to_ascii_lowercase();
        if prefix.len() < 8 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NoSuchSession(id.to_owned()));
        }
        let hex = if self.db.is_postgres() {
            "encode(id, 'hex')"
        } else {
            "lower(hex(id))"
        };
        let rows = self.db.query(
            &format!("SELECT id FROM sessions WHERE {hex} LIKE ?1 || '%' LIMIT 2"),
            &params![prefix.as_str()],
        )?;
        match rows.as_slice() {
            [one] => session_id(&one.bytes(0)?),
            [] => Err(StoreError::NoSuchSession(id.to_owned())),
            _ => Err(StoreError::AmbiguousSession(id.to_owned())),
        }
    }

    /// The events of a session in seq order.
    pub fn events(&mut self, id: SessionId) -> Result<Vec<EventRow>, StoreError> {
        let mut out = Vec::new();
        self.db.for_each(
            "SELECT seq, at, kind, payload, compressed, hash FROM events WHERE session_id = ?1 ORDER BY seq",
            &params![id.0.as_bytes().as_slice()],
            |r| {
                out.push(event_row(r)?.0);
                Ok(true)
            },
        )?;
        Ok(out)
    }
}

/// Payload bytes a page of events holds at most (past its first event): pages are bounded
/// in memory, not only in events.
pub const PAGE_BYTES: usize = 8 << 20;

/// `seq, at, kind, payload, compressed, hash` as an event, and its payload's size.
pub(crate) fn event_row(mut r: Row) -> Result<(EventRow, usize), StoreError> {
    let stored = r.take_bytes(3)?;
    let payload = crate::payload::decode(&stored, r.int(4)? != 0).unwrap_or(stored);
    let size = payload.len();
    let row = EventRow {
        seq: r.int(0)?,
        at: Timestamp(r.int(1)?).to_rfc3339(),
        kind: r.text(2)?,
        payload: serde_json::from_slice(&payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&payload).into_owned())
        }),
        hash: hex::encode(r.bytes(5)?),
    };
    Ok((row, size))
}

pub(crate) fn session_id(bytes: &[u8]) -> Result<SessionId, StoreError> {
    uuid::Uuid::from_slice(bytes)
        .map(SessionId)
        .map_err(|e| StoreError::Corrupt(format!("session id: {e}")))
}

fn session_row(r: &Row) -> Result<SessionRow, StoreError> {
    let id = r.bytes(0)?;
    Ok(SessionRow {
        id: uuid::Uuid::from_slice(&id)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| hex::encode(&id)),
        user: r.text(1)?,
        groups: serde_json::from_str(&r.text(2)?).unwrap_or_default(),
        auth_method: r.text(3)?,
        resource: r.text(4)?,
        protocol: r.text(5)?,
        client_addr: r.text(6)?,
        started_at: Timestamp(r.int(7)?).to_rfc3339(),
        ended_at: r.opt_int(8)?.map(|t| Timestamp(t).to_rfc3339()),
        outcome: r.opt_text(9)?,
        bytes_up: r.int(10)?,
        bytes_down: r.int(11)?,
        event_count: r.int(12)?,
    })
}
