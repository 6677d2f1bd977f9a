//! Retention: the only way events ever leave the store. `ward prune` removes sessions that
//! ended before a cutoff, after checking them, and writes a signed prune record naming each
//! removed session and its final head, so that verification tells a pruned session from a
//! deleted one.
//!
//! `record = "ward.prune.v1" 0x00 ‖ seq (u64 BE) ‖ at (i64 BE, ns) ‖ key id (32) ‖ count (u64 BE)
//!           ‖ count × (session id (16) ‖ events (u64 BE) ‖ head hash (32))`, signed with Ed25519.

use serde::Serialize;
use ward_core::{SessionId, Timestamp};

use crate::chain::Hash;
use crate::checkpoint::{hash32, i64_of, u64_of};
use crate::db::params;
use crate::keys::{PublicKey, SigningKey};
use crate::query::session_id;
use crate::store::{Store, StoreError};
use crate::verify::Status;

const PRUNE_TAG: &[u8] = b"ward.prune.v1\0";

/// A session a prune record removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub session: String,
    pub events: u64,
    pub head: String,
}

/// What `ward prune` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    /// The prune record written, if any.
    pub record: Option<u64>,
    pub removed: Vec<Pruned>,
    /// Sessions past the cutoff that were kept because they do not verify: `(id, reason)`.
    pub kept: Vec<(String, String)>,
}

fn record_bytes(seq: u64, at: i64, key_id: &Hash, sessions: &[(SessionId, u64, Hash)]) -> Vec<u8> {
    let mut b = PRUNE_TAG.to_vec();
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&at.to_be_bytes());
    b.extend_from_slice(key_id);
    b.extend_from_slice(&(sessions.len() as u64).to_be_bytes());
    for (id, events, head) in sessions {
        b.extend_from_slice(id.0.as_bytes());
        b.extend_from_slice(&events.to_be_bytes());
        b.extend_from_slice(head);
    }
    b
}

impl Store {
    /// Removes the sessions that ended before `cutoff` and verify against signed checkpoints,
    /// and signs a prune record listing them. With `dry_run`, only reports.
    pub fn prune(
        &mut self,
        cutoff: Timestamp,
        key: &SigningKey,
        dry_run: bool,
    ) -> Result<PruneReport, StoreError> {
        let ids: Vec<Vec<u8>> = self
            .db
            .query(
                "SELECT s.id FROM sessions s JOIN session_ends x ON x.session_id = s.id WHERE x.ended_at < ?1 ORDER BY s.started_at",
                &params![cutoff.0],
            )?
            .iter()
            .map(|r| r.bytes(0))
            .collect::<Result<_, _>>()?;
        // The store's own keys: sessions signed before a rotation stay prunable.
        let report = self.verify(None, &[])?;
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for raw in &ids {
            let id = session_id(raw)?;
            let verdict = report.sessions.iter().find(|v| v.session == id.to_string());
            match verdict.map(|v| (&v.status, v.events)) {
                Some((Status::Verified { .. }, events)) => {
                    let head = self.db.query_one(
                        "SELECT hash FROM events WHERE session_id = ?1 ORDER BY seq DESC LIMIT 1",
                        &params![raw],
                    )?;
                    removed.push((id, events, hash32(&head.bytes(0)?)?));
                }
                other => kept.push((id.to_string(), format!("{:?}", other.map(|o| o.0)))),
            }
        }
        let listed = removed
            .iter()
            .map(|(id, events, head)| Pruned {
                session: id.to_string(),
                events: *events,
                head: hex::encode(head),
            })
            .collect();
        if dry_run || removed.is_empty() {
            return Ok(PruneReport {
                record: None,
                removed: listed,
                kept,
            });
        }
        let postgres = self.db.is_postgres();
        let seq = self.db.transaction(|db| {
            let last = db
                .query_one("SELECT MAX(seq) FROM prunes", &[])?
                .opt_int(0)?;
            let seq = last.map_or(0, |s| u64_of(s) + 1);
            let at = Timestamp::now().0;
            let key_id = key.public().id();
            let body = record_bytes(seq, at, &key_id, &removed);
            db.execute(
                "INSERT INTO prunes (seq, at, key_id, body, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
                &params![i64_of(seq), at, &key_id, &body, &key.sign(&body)],
            )?;
            // The append-only triggers are lifted inside this transaction only.
            let lifted = ["events", "sessions", "session_ends"];
            for t in lifted {
                db.batch(&if postgres {
                    format!("ALTER TABLE {t} DISABLE TRIGGER {t}_append_only")
                } else {
                    format!("DROP TRIGGER {t}_append_only_delete")
                })?;
            }
            for (id, events, head) in &removed {
                let sid = id.0.as_bytes().as_slice();
                db.execute(
                    "INSERT INTO pruned_sessions (prune_seq, session_id, events, head_hash) VALUES (?1, ?2, ?3, ?4)",
                    &params![i64_of(seq), sid, i64_of(*events), head],
                )?;
                db.execute("DELETE FROM events WHERE session_id = ?1", &params![sid])?;
                db.execute("DELETE FROM event_text WHERE session_id = ?1", &params![sid])?;
                db.execute("DELETE FROM session_ends WHERE session_id = ?1", &params![sid])?;
                db.execute("DELETE FROM sessions WHERE id = ?1", &params![sid])?;
            }
            if postgres {
                for t in lifted {
                    db.batch(&format!("ALTER TABLE {t} ENABLE TRIGGER {t}_append_only"))?;
                }
            } else {
                let triggers = crate::schema::triggers(db);
                db.batch(&triggers)?;
            }
            Ok(seq)
        })?;
        Ok(PruneReport {
            record: Some(seq),
            removed: listed,
            kept,
        })
    }

    /// The sessions removed by prune records that verify with one of `trusted`:
    /// `(session, events, head, prune seq)`.
    pub(crate) fn pruned(
        &mut self,
        trusted: &[PublicKey],
    ) -> Result<Vec<(SessionId, u64, Hash, u64)>, StoreError> {
        let rows = self.db.query(
            "SELECT seq, key_id, body, signature FROM prunes ORDER BY seq",
            &[],
        )?;
        let mut out = Vec::new();
        for r in &rows {
            let (seq, key_id, body, signature) = (r.int(0)?, r.bytes(1)?, r.bytes(2)?, r.bytes(3)?);
            let Some(key) = trusted.iter().find(|k| k.id()[..] == key_id[..]) else {
                continue;
            };
            if !key.verify(&body, &signature) {
                continue;
            }
            // The signed body is the authority: parse the sessions out of it.
            let Some(list) = body.get(PRUNE_TAG.len() + 56..) else {
                continue;
            };
            for entry in list.chunks_exact(56) {
                let (id, rest) = entry.split_at(16);
                let (events, head) = rest.split_at(8);
                let events = u64::from_be_bytes(events.try_into().unwrap_or_default());
                out.push((session_id(id)?, events, hash32(head)?, u64_of(seq)));
            }
        }
        Ok(out)
    }
}
