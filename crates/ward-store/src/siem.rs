//! The SIEM stream's reading side (`[[siem]]`, docs/operations.md): committed events in the
//! order the signed checkpoints cover them, from a cursor kept in the store, and the lease by
//! which one Ward of a shared store sends each stream at a time.
//!
//! Checkpoints form one hash chain, so they become visible in their order even when several
//! Wards write the store; each leaf says how many events its session had, and the leaf of the
//! same session in an earlier checkpoint says how many were covered before. Reading checkpoint
//! by checkpoint therefore reaches every committed event once a checkpoint covers it (at every
//! session end and every `checkpoint_interval`), each session's in order, and nothing is
//! skipped: what a stream sends is what `ward verify` can check.

use serde::Serialize;
use ward_core::Timestamp;

use crate::checkpoint::{self, i64_of, u64_of};
use crate::db::params;
use crate::query::{PAGE_BYTES, event_row};
use crate::store::{Store, StoreError};

/// Where a stream has got to: the next event to send is at or after event `seq` of leaf
/// `leaf` of checkpoint `checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub checkpoint: u64,
    pub leaf: u64,
    pub seq: u64,
}

/// One event as a SIEM gets it: the event, the session it belongs to, and the checkpoint that
/// covers it.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub session: String,
    pub seq: i64,
    /// RFC 3339, and in nanoseconds since the epoch.
    pub at: String,
    #[serde(skip)]
    pub at_ns: i64,
    pub kind: String,
    pub user: String,
    pub resource: String,
    pub protocol: String,
    pub payload: serde_json::Value,
    /// The event's hash in its session's chain (hex).
    pub hash: String,
    /// The signed checkpoint that covers it.
    pub checkpoint: u64,
}

impl Store {
    /// Takes stream `name` for `holder` until `until` (nanoseconds) unless another Ward holds
    /// it: its cursor, or `None`. A stream seen for the first time starts after the newest
    /// checkpoint, or with `from_start` at the oldest.
    pub fn siem_claim(
        &mut self,
        name: &str,
        holder: &str,
        (now, until): (Timestamp, Timestamp),
        from_start: bool,
    ) -> Result<Option<Cursor>, StoreError> {
        self.db.transaction(|db| {
            let row = db.query_opt(
                "SELECT checkpoint, leaf, seq, holder, lease_until FROM siem_cursors WHERE name = ?1",
                &params![name],
            )?;
            let Some(row) = row else {
                let first = match from_start {
                    true => 0,
                    false => db
                        .query_one("SELECT COALESCE(MAX(seq) + 1, 0) FROM checkpoints", &[])?
                        .int(0)?,
                };
                db.execute(
                    "INSERT INTO siem_cursors (name, checkpoint, leaf, seq, holder, lease_until) VALUES (?1, ?2, 0, 0, ?3, ?4)",
                    &params![name, first, holder, until.0],
                )?;
                return Ok(Some(Cursor {
                    checkpoint: u64_of(first),
                    ..Cursor::default()
                }));
            };
            if row.text(3)? != holder && row.int(4)? >= now.0 {
                return Ok(None);
            }
            db.execute(
                "UPDATE siem_cursors SET holder = ?1, lease_until = ?2 WHERE name = ?3",
                &params![holder, until.0, name],
            )?;
            Ok(Some(Cursor {
                checkpoint: u64_of(row.int(0)?),
                leaf: u64_of(row.int(1)?),
                seq: u64_of(row.int(2)?),
            }))
        })
    }

    /// Moves stream `name` on to `cursor` and extends `holder`'s lease; false if another Ward
    /// took the stream meanwhile (and the cursor stays its).
    pub fn siem_advance(
        &mut self,
        name: &str,
        holder: &str,
        cursor: Cursor,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = self.db.execute(
            "UPDATE siem_cursors SET checkpoint = ?1, leaf = ?2, seq = ?3, lease_until = ?4 WHERE name = ?5 AND holder = ?6",
            &params![
                i64_of(cursor.checkpoint),
                i64_of(cursor.leaf),
                i64_of(cursor.seq),
                until.0,
                name,
                holder
            ],
        )?;
        Ok(n == 1)
    }

    /// Up to `limit` events from `cursor` on, and the cursor after them (the same when there
    /// is nothing new). A page stops early past [`PAGE_BYTES`] of payload.
    pub fn siem_read(
        &mut self,
        mut cursor: Cursor,
        limit: usize,
    ) -> Result<(Vec<Exported>, Cursor), StoreError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < limit && bytes < PAGE_BYTES {
            let leaves = checkpoint::leaves(&mut self.db, cursor.checkpoint)?;
            if leaves.is_empty() {
                // Not written yet (checkpoints have at least one leaf).
                break;
            }
            let Some(leaf) = usize::try_from(cursor.leaf)
                .ok()
                .and_then(|i| leaves.get(i))
            else {
                cursor = Cursor {
                    checkpoint: cursor.checkpoint + 1,
                    ..Cursor::default()
                };
                continue;
            };
            let sid = leaf.session.0.as_bytes().as_slice();
            let covered_before = self
                .db
                .query_opt(
                    "SELECT events FROM checkpoint_leaves WHERE session_id = ?1 AND checkpoint_seq < ?2 ORDER BY checkpoint_seq DESC LIMIT 1",
                    &params![sid, i64_of(cursor.checkpoint)],
                )?
                .map(|r| r.int(0))
                .transpose()?
                .map_or(0, u64_of);
            let from = covered_before.max(cursor.seq);
            if from < leaf.events {
                let session = self.db.query_opt(
                    "SELECT subject, resource, protocol FROM sessions WHERE id = ?1",
                    &params![sid],
                )?;
                let (user, resource, protocol) = match session {
                    Some(s) => (s.text(0)?, s.text(1)?, s.text(2)?),
                    None => Default::default(), // pruned meanwhile: its events are gone too
                };
                let want = limit - out.len();
                let mut last = None;
                self.db.for_each(
                    &format!("SELECT seq, at, kind, payload, compressed, hash FROM events WHERE session_id = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq LIMIT {want}"),
                    &params![sid, i64_of(from), i64_of(leaf.events)],
                    |r| {
                        let (row, size) = event_row(r)?;
                        bytes += size;
                        last = Some(row.seq);
                        out.push(Exported {
                            session: leaf.session.to_string(),
                            seq: row.seq,
                            at_ns: Timestamp::parse_rfc3339(&row.at).map_or(0, |t| t.0),
                            at: row.at,
                            kind: row.kind,
                            user: user.clone(),
                            resource: resource.clone(),
                            protocol: protocol.clone(),
                            payload: row.payload,
                            hash: row.hash,
                            checkpoint: cursor.checkpoint,
                        });
                        Ok(bytes < PAGE_BYTES)
                    },
                )?;
                if let Some(seq) = last.map(u64_of).filter(|s| s + 1 < leaf.events) {
                    // The page ended inside this leaf.
                    cursor.seq = seq + 1;
                    break;
                }
            }
            cursor = Cursor {
                leaf: cursor.leaf + 1,
                seq: 0,
                ..cursor
            };
        }
        Ok((out, cursor))
    }
}
