//! Verification of the hash chains: recompute every hash and check that nothing is missing.

use serde::Serialize;
use ward_core::SessionId;

use crate::query::session_id;
use crate::store::{Store, StoreError};
use crate::{chain, payload};

/// The result of checking one session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionVerdict {
    pub session: String,
    pub events: u64,
    #[serde(flatten)]
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Every event is present and every hash matches.
    Intact,
    /// The event at `seq` does not hash to what is stored, or does not link to the one before.
    Tampered { seq: u64, reason: String },
    /// Events expected by the session record are not in the store.
    MissingEvents {
        after_seq: Option<u64>,
        expected: u64,
        found: u64,
    },
}

impl Store {
    /// Verifies one session, or every session when `only` is `None`.
    pub fn verify(&self, only: Option<SessionId>) -> Result<Vec<SessionVerdict>, StoreError> {
        let ids: Vec<SessionId> = match only {
            Some(id) => vec![id],
            None => {
                let mut stmt = self
                    .conn
                    .prepare("SELECT id FROM sessions ORDER BY started_at")?;
                let raw: Vec<Vec<u8>> = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                raw.iter()
                    .map(|b| session_id(b))
                    .collect::<Result<_, _>>()?
            }
        };
        ids.into_iter().map(|id| self.verify_session(id)).collect()
    }

    fn verify_session(&self, id: SessionId) -> Result<SessionVerdict, StoreError> {
        let (count, head): (i64, Option<Vec<u8>>) = self.conn.query_row(
            "SELECT event_count, head_hash FROM sessions WHERE id = ?1",
            [id.0.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let expected = u64::try_from(count).unwrap_or(0);
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at, kind, payload, compressed, prev_hash, hash FROM events WHERE session_id = ?1 ORDER BY seq")?;
        let mut rows = stmt.query([id.0.as_bytes()])?;
        let mut prev = chain::genesis(id);
        let mut next: u64 = 0;
        let verdict = |events, status| SessionVerdict {
            session: id.to_string(),
            events,
            status,
        };
        while let Some(r) = rows.next()? {
            let seq = u64::try_from(r.get::<_, i64>(0)?).unwrap_or(u64::MAX);
            let at: i64 = r.get(1)?;
            let kind: String = r.get(2)?;
            let payload: Vec<u8> = r.get(3)?;
            let compressed: bool = r.get(4)?;
            let stored_prev: Vec<u8> = r.get(5)?;
            let stored: Vec<u8> = r.get(6)?;
            if seq != next {
                let status = Status::MissingEvents {
                    after_seq: next.checked_sub(1),
                    expected,
                    found: next,
                };
                return Ok(verdict(next, status));
            }
            if stored_prev != prev {
                return Ok(verdict(
                    next,
                    Status::Tampered {
                        seq,
                        reason: "prev_hash does not link to the event before".into(),
                    },
                ));
            }
            let Ok(digest) = payload::digest(&payload, compressed) else {
                let reason = "payload cannot be decompressed".into();
                return Ok(verdict(next, Status::Tampered { seq, reason }));
            };
            let hash = chain::event_hash(&prev, seq, at, &kind, &digest);
            if stored != hash {
                return Ok(verdict(
                    next,
                    Status::Tampered {
                        seq,
                        reason: "content does not match its hash".into(),
                    },
                ));
            }
            prev = hash;
            next += 1;
        }
        if next < expected {
            let status = Status::MissingEvents {
                after_seq: next.checked_sub(1),
                expected,
                found: next,
            };
            return Ok(verdict(next, status));
        }
        if next > expected || (next > 0 && head.as_deref() != Some(&prev[..])) {
            let seq = next.saturating_sub(1);
            return Ok(verdict(
                next,
                Status::Tampered {
                    seq,
                    reason: "chain head differs from the session record".into(),
                },
            ));
        }
        Ok(verdict(next, Status::Intact))
    }
}
