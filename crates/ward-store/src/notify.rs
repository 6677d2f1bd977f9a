//! Notifications: the recorder hands committed events of some kinds, as stored (masked), to
//! whoever listens (`ward serve`'s webhooks), without waiting for them.

use tokio::sync::mpsc;
use ward_core::{EventKind, SessionId, Timestamp};

use crate::db::EventRow;

/// Where the recorder hands the events of `kinds` once they are committed, as stored (masked).
/// It never waits for the listener: when `to` is full, the notice is dropped and logged.
pub struct Notify {
    pub kinds: Vec<EventKind>,
    pub to: mpsc::Sender<Notice>,
}

/// A committed event, for a notification.
#[derive(Debug, Clone)]
pub struct Notice {
    pub session: SessionId,
    pub seq: i64,
    pub at: Timestamp,
    pub kind: EventKind,
    pub payload: serde_json::Value,
}

/// A notice of `row`, if its kind is one of `kinds`.
pub(crate) fn notice(row: &EventRow, kinds: &[EventKind]) -> Option<Notice> {
    let kind = kinds.iter().find(|k| k.as_str() == row.kind)?;
    if row.compressed {
        return None;
    }
    Some(Notice {
        session: SessionId(uuid::Uuid::from_bytes(row.session)),
        seq: row.seq,
        at: Timestamp(row.at),
        kind: *kind,
        payload: serde_json::from_slice(&row.payload).ok()?,
    })
}
