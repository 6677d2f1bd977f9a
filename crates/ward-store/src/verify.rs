//! Verification: recompute every hash chain, check every checkpoint's signature, link and
//! Merkle root, and hold each session's chain against the heads its checkpoints signed.
//!
//! The same [`Walk`] checks a session read from the store and one read from an export bundle.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use ward_core::SessionId;

use crate::chain::{self, Hash};
use crate::checkpoint::{self, Checkpoint, u64_of};
use crate::db::params;
use crate::keys::{self, PublicKey};
use crate::query::session_id;
use crate::store::{Store, StoreError};
use crate::{merkle, payload};

/// The result of checking one session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionVerdict {
    pub session: String,
    /// Events whose chain was checked.
    pub events: u64,
    #[serde(flatten)]
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Every event is present, every hash matches, and the last one is signed by checkpoint
    /// `checkpoint`.
    Verified { checkpoint: u64 },
    /// The chain is intact, but no checkpoint signed the session's end: it is still live, it
    /// was cut off by a crash that no restart has closed yet, or its newest events and its end
    /// were removed. Its newest `unsigned` events are not signed yet; `checkpoint` is the last
    /// one that covers the session, if any. Never a complete record: a failure unless the
    /// verifier accepts open sessions.
    Open {
        unsigned: u64,
        checkpoint: Option<u64>,
    },
    /// The event at `seq` does not hash to what is stored, does not link to the one before, or
    /// contradicts a signed checkpoint.
    Tampered { seq: u64, reason: String },
    /// Events that the session record or a signed checkpoint accounts for are not there.
    MissingEvents {
        after_seq: Option<u64>,
        expected: u64,
        found: u64,
    },
    /// A signed checkpoint covers this session but the store has no record of it.
    MissingSession { checkpoint: u64 },
    /// Removed by `ward prune`: prune record `prune` signed exactly the final head that the
    /// checkpoints signed.
    Pruned { prune: u64 },
    /// Events belong to a session the store has no record of (moved or forged events).
    Orphaned,
}

impl Status {
    /// What this verdict means, in words, for a session of which `events` events were checked.
    pub fn describe(&self, events: u64) -> String {
        match self {
            Status::Verified { checkpoint } => {
                format!("{events} events, signed by checkpoint {checkpoint}")
            }
            Status::Open {
                unsigned,
                checkpoint,
            } => {
                let signed = match (checkpoint, unsigned) {
                    (None, _) => "no checkpoint covers it yet".to_owned(),
                    (Some(c), 0) => format!("all signed up to checkpoint {c}"),
                    (Some(c), _) => {
                        format!("the last {unsigned} not signed yet, the rest by checkpoint {c}")
                    }
                };
                format!(
                    "{events} events and no signed end: live, cut off, or its newest events removed ({signed})"
                )
            }
            Status::Tampered { seq, reason } => format!("at seq {seq}: {reason}"),
            Status::MissingEvents {
                after_seq,
                expected,
                found,
            } => {
                let after = after_seq.map_or("the start".to_owned(), |s| format!("seq {s}"));
                format!("events missing after {after}: {expected} accounted for, {found} found")
            }
            Status::MissingSession { checkpoint } => format!(
                "session deleted: checkpoint {checkpoint} signed it, the store has no record"
            ),
            Status::Pruned { prune } => {
                format!("{events} events, removed by signed prune record {prune}")
            }
            Status::Orphaned => {
                format!("{events} events of a session the store has no record of (moved or forged)")
            }
        }
    }

    /// The verdict's name, as JSON gives it (`verified`, `open`, `tampered`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Status::Verified { .. } => "verified",
            Status::Open { .. } => "open",
            Status::Tampered { .. } => "tampered",
            Status::MissingEvents { .. } => "missing_events",
            Status::MissingSession { .. } => "missing_session",
            Status::Pruned { .. } => "pruned",
            Status::Orphaned => "orphaned",
        }
    }

    /// Whether this verdict means the record cannot be trusted.
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            Status::Verified { .. } | Status::Open { .. } | Status::Pruned { .. }
        )
    }

    /// Whether the record is whole: every event, up to a signed end (or pruned so).
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Verified { .. } | Status::Pruned { .. })
    }
}

/// What the checkpoint chain looked like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CheckpointStatus {
    Ok,
    Broken {
        seq: u64,
        reason: String,
    },
    /// An export bundle without a checkpoint signed by a trusted key: nothing vouches for it.
    Unsigned,
}

/// The keys a verification accepted.
#[derive(Debug, Clone, Serialize)]
pub struct Trust {
    /// True when the verifier was given the keys to trust (`--key`); false when the store's
    /// own key list was taken on its word.
    pub anchored: bool,
    /// Fingerprints of the accepted keys.
    pub keys: Vec<String>,
}

/// A whole verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub trust: Trust,
    pub checkpoints: u64,
    pub checkpoint_chain: CheckpointStatus,
    /// The newest checkpoint in the store: recorded outside the store, it is an anchor that
    /// later verifications check with [`Store::check_anchor`].
    pub newest_checkpoint: Option<CheckpointRef>,
    /// The result of [`Store::check_anchor`], when an anchor was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorStatus>,
    pub sessions: Vec<SessionVerdict>,
}

impl Report {
    /// Sets `ok`: the checkpoint chain is sound, the anchor (if any) held, no session failed,
    /// and every session is complete, or merely open where `accept_open` (live sessions, say).
    pub fn judge(&mut self, accept_open: bool) {
        self.ok = self.checkpoint_chain == CheckpointStatus::Ok
            && !matches!(self.anchor, Some(AnchorStatus::Broken { .. }))
            && self
                .sessions
                .iter()
                .all(|s| !s.status.is_failure() && (accept_open || s.status.is_complete()));
    }
}

/// A checkpoint by seq and hash (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointRef {
    pub seq: u64,
    pub hash: String,
}

/// Whether the store still holds a checkpoint recorded earlier, unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AnchorStatus {
    /// Checkpoint `seq` is there with the recorded hash, and the chain after it verified.
    Held { seq: u64 },
    /// It is gone or different: newer records were removed or rewritten.
    Broken { seq: u64, reason: String },
}

/// A session head that a valid, trusted checkpoint signed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedLeaf {
    pub checkpoint: u64,
    pub events: u64,
    pub head: Hash,
    pub ended: bool,
}

/// Walks one session's events in order, checking each link and each signed head.
pub(crate) struct Walk {
    prev: Hash,
    next: u64,
    /// Signed heads, by event count.
    leaves: Vec<SignedLeaf>,
    at_leaf: usize,
    /// The checkpoint that signed the session's end, once passed.
    ended_at: Option<SignedLeaf>,
    failure: Option<Status>,
}

/// One event as stored.
pub(crate) struct EventIn<'a> {
    pub seq: u64,
    pub at: i64,
    /// The kind as stored (bytes: a tampered kind need not be UTF-8).
    pub kind: &'a [u8],
    /// `SHA-256` of the payload, or `None` when the payload cannot be read.
    pub digest: Option<Hash>,
    pub prev: &'a [u8],
    pub hash: &'a [u8],
}

impl Walk {
    pub fn new(session: SessionId, mut leaves: Vec<SignedLeaf>) -> Self {
        leaves.sort_by_key(|l| (l.events, l.checkpoint));
        Self {
            prev: chain::genesis(session),
            next: 0,
            leaves,
            at_leaf: 0,
            ended_at: None,
            failure: None,
        }
    }

    /// Whether no trusted checkpoint covers any of the session.
    pub fn unsigned(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Checks the next event; false once the walk has failed (later events are not looked at).
    pub fn push(&mut self, e: EventIn<'_>) -> bool {
        if self.failure.is_some() {
            return false;
        }
        let tampered = |reason: String| Status::Tampered { seq: e.seq, reason };
        let failure = if e.seq != self.next {
            Some(Status::MissingEvents {
                after_seq: self.next.checked_sub(1),
                expected: e.seq.saturating_add(1),
                found: self.next,
            })
        } else if let Some(end) = self.ended_at {
            Some(tampered(format!(
                "an event after the session's end, which checkpoint {} signed",
                end.checkpoint
            )))
        } else if e.prev != self.prev {
            Some(tampered(
                "prev_hash does not link to the event before".into(),
            ))
        } else {
            match e.digest {
                None => Some(tampered("payload cannot be decompressed".into())),
                Some(digest) => {
                    let hash = chain::event_hash(&self.prev, e.seq, e.at, e.kind, &digest);
                    if e.hash != hash {
                        Some(tampered("content does not match its hash".into()))
                    } else {
                        self.prev = hash;
                        self.next += 1;
                        self.check_leaves(e.seq)
                    }
                }
            }
        };
        self.failure = failure;
        self.failure.is_none()
    }

    fn check_leaves(&mut self, seq: u64) -> Option<Status> {
        while let Some(leaf) = self.leaves.get(self.at_leaf).copied() {
            if leaf.events != self.next {
                break;
            }
            self.at_leaf += 1;
            if leaf.head != self.prev {
                return Some(Status::Tampered {
                    seq,
                    reason: format!(
                        "differs from the head that checkpoint {} signed",
                        leaf.checkpoint
                    ),
                });
            }
            if leaf.ended {
                self.ended_at = Some(leaf);
            }
        }
        None
    }

    /// The verdict once every event was pushed. `ended`: the session's record says it ended,
    /// which the recorder always signs in the same transaction.
    pub fn finish(self, ended: bool) -> (u64, Status) {
        let found = self.next;
        if let Some(f) = self.failure {
            return (found, f);
        }
        let signed = self.leaves.last().copied();
        if let Some(leaf) = signed.filter(|l| l.events > found) {
            let status = Status::MissingEvents {
                after_seq: found.checked_sub(1),
                expected: leaf.events,
                found,
            };
            return (found, status);
        }
        if ended && self.ended_at.is_none() {
            let status = Status::Tampered {
                seq: found.saturating_sub(1),
                reason: "the session is recorded as ended but no checkpoint signed its end".into(),
            };
            return (found, status);
        }
        // INVARIANT: only a signed end makes a record complete. Without one, a session whose
        // newest events were removed together with the leaves that covered them looks exactly
        // like a live one, so neither is `verified`.
        let status = match (signed, self.ended_at) {
            (Some(l), Some(_)) if l.events == found => Status::Verified {
                checkpoint: l.checkpoint,
            },
            (last, _) => Status::Open {
                unsigned: found - last.map_or(0, |l| l.events),
                checkpoint: last.map(|l| l.checkpoint),
            },
        };
        (found, status)
    }
}

/// Checks one checkpoint against the keys trusted and its leaves' hashes; `None` when valid.
pub(crate) fn check_checkpoint(cp: &Checkpoint, trusted: &[PublicKey]) -> Option<String> {
    let Some(key) = trusted.iter().find(|k| k.id() == cp.key_id) else {
        return Some(format!(
            "signed by key {}, which is not trusted",
            keys::fingerprint(&cp.key_id)
        ));
    };
    if !key.verify(&cp.body(), &cp.signature) {
        return Some(format!(
            "signature does not verify with key {}",
            key.fingerprint()
        ));
    }
    None
}

impl Store {
    /// Verifies one session, or every session (and events of unknown sessions) when `only` is
    /// `None`. Checkpoints must be signed by one of `anchors` or a key they endorsed; with no
    /// anchors, by any key in the store.
    pub fn verify(
        &mut self,
        only: Option<SessionId>,
        anchors: &[PublicKey],
    ) -> Result<Report, StoreError> {
        let key_list = keys::list(&mut self.db)?;
        let trusted = keys::trusted(&key_list, anchors);
        let (count, chain_status, valid) = self.verify_checkpoints(&trusted)?;
        let newest_checkpoint = checkpoint::last(&mut self.db)?.map(|(seq, hash)| CheckpointRef {
            seq,
            hash: hex::encode(hash),
        });
        let ids: Vec<SessionId> = match only {
            Some(id) => vec![id],
            None => self
                .db
                .query("SELECT id FROM sessions ORDER BY started_at, id", &[])?
                .iter()
                .map(|r| session_id(&r.bytes(0)?))
                .collect::<Result<_, _>>()?,
        };
        let mut sessions = Vec::with_capacity(ids.len());
        for id in &ids {
            sessions.push(self.verify_session(*id, &valid)?);
        }
        if only.is_none() {
            sessions.extend(self.unaccounted(&ids, &valid, &trusted)?);
        }
        let mut report = Report {
            ok: false,
            trust: Trust {
                anchored: !anchors.is_empty(),
                keys: trusted.iter().map(PublicKey::fingerprint).collect(),
            },
            checkpoints: count,
            checkpoint_chain: chain_status,
            newest_checkpoint,
            anchor: None,
            sessions,
        };
        report.judge(false);
        Ok(report)
    }

    /// Checks that the store still holds checkpoint `seq` with `hash`, recorded earlier outside
    /// the store. With the chain check of [`Store::verify`] (every later checkpoint links to it),
    /// this proves that nothing signed up to then was removed by deleting the newest checkpoints.
    pub fn check_anchor(
        &mut self,
        report: &mut Report,
        seq: u64,
        hash: &Hash,
    ) -> Result<(), StoreError> {
        let status = match checkpoint::get(&mut self.db, seq)? {
            None => AnchorStatus::Broken {
                seq,
                reason: "the store no longer holds this checkpoint: newer records were removed"
                    .into(),
            },
            Some(cp) if cp.hash() != *hash => AnchorStatus::Broken {
                seq,
                reason: "this checkpoint differs from the recorded hash: the record was rewritten"
                    .into(),
            },
            Some(_) => AnchorStatus::Held { seq },
        };
        report.ok &= matches!(status, AnchorStatus::Held { .. });
        report.anchor = Some(status);
        Ok(())
    }

    /// Checks the checkpoint chain: consecutive seqs, each linked to the one before, signed by
    /// a trusted key, with a root that matches its stored leaves. Returns how many there are,
    /// the first break, and the seqs of the valid ones.
    fn verify_checkpoints(
        &mut self,
        trusted: &[PublicKey],
    ) -> Result<(u64, CheckpointStatus, BTreeSet<u64>), StoreError> {
        let all = checkpoint::all(&mut self.db)?;
        let mut valid = BTreeSet::new();
        let mut status = CheckpointStatus::Ok;
        let mut prev: Option<&Checkpoint> = None;
        let broken = |seq: u64, reason: String, status: &mut CheckpointStatus| {
            if *status == CheckpointStatus::Ok {
                *status = CheckpointStatus::Broken { seq, reason };
            }
        };
        for (i, cp) in all.iter().enumerate() {
            let expected_seq = prev.map_or(0, |p| p.seq + 1);
            if cp.seq != expected_seq {
                broken(
                    expected_seq,
                    format!("missing: the next checkpoint is {}", cp.seq),
                    &mut status,
                );
            } else if cp.prev != prev.map_or([0; 32], Checkpoint::hash) {
                broken(
                    cp.seq,
                    "does not link to the checkpoint before".into(),
                    &mut status,
                );
            }
            prev = all.get(i);
            match self.checkpoint_problem(cp, trusted)? {
                Some(reason) => broken(cp.seq, reason, &mut status),
                None => {
                    valid.insert(cp.seq);
                }
            }
        }
        Ok((all.len() as u64, status, valid))
    }

    /// Why checkpoint `cp` cannot be trusted by itself (its signature, its leaves), if it
    /// cannot.
    fn checkpoint_problem(
        &mut self,
        cp: &Checkpoint,
        trusted: &[PublicKey],
    ) -> Result<Option<String>, StoreError> {
        if let Some(reason) = check_checkpoint(cp, trusted) {
            return Ok(Some(reason));
        }
        let leaves = checkpoint::leaves(&mut self.db, cp.seq)?;
        let hashes: Vec<Hash> = leaves.iter().map(checkpoint::Leaf::hash).collect();
        if leaves.len() as u64 != cp.leaf_count || merkle::root(&hashes) != cp.root {
            return Ok(Some(
                "its stored leaves do not match its signed Merkle root".into(),
            ));
        }
        Ok(None)
    }

    /// Verifies one session against the checkpoints that cover it, each checked by itself
    /// (signature and Merkle root), without walking the whole checkpoint chain: what a viewer
    /// needs when opening a session, in time that does not grow with the store. `ward verify`
    /// also checks that the chain links and that nothing was removed from it.
    pub fn verify_session_alone(
        &mut self,
        id: SessionId,
        anchors: &[PublicKey],
    ) -> Result<SessionVerdict, StoreError> {
        let key_list = keys::list(&mut self.db)?;
        let trusted = keys::trusted(&key_list, anchors);
        let covering: BTreeSet<u64> = checkpoint::session_leaves(&mut self.db, id)?
            .iter()
            .map(|(cp, _, _)| *cp)
            .collect();
        let mut valid = BTreeSet::new();
        for seq in covering {
            if let Some(cp) = checkpoint::get(&mut self.db, seq)?
                && self.checkpoint_problem(&cp, &trusted)?.is_none()
            {
                valid.insert(seq);
            }
        }
        self.verify_session(id, &valid)
    }

    fn signed_leaves(
        &mut self,
        id: SessionId,
        valid: &BTreeSet<u64>,
    ) -> Result<Vec<SignedLeaf>, StoreError> {
        Ok(checkpoint::session_leaves(&mut self.db, id)?
            .into_iter()
            .filter(|(cp, _, _)| valid.contains(cp))
            .map(|(cp, _, l)| SignedLeaf {
                checkpoint: cp,
                events: l.events,
                head: l.head,
                ended: l.ended,
            })
            .collect())
    }

    fn verify_session(
        &mut self,
        id: SessionId,
        valid: &BTreeSet<u64>,
    ) -> Result<SessionVerdict, StoreError> {
        let sid = id.0.as_bytes().as_slice();
        let ended = self
            .db
            .query_opt(
                "SELECT 1 FROM session_ends WHERE session_id = ?1",
                &params![sid],
            )?
            .is_some();
        let mut walk = Walk::new(id, self.signed_leaves(id, valid)?);
        self.db.for_each(
            "SELECT seq, at, kind, payload, compressed, prev_hash, hash FROM events WHERE session_id = ?1 ORDER BY seq",
            &params![sid],
            |mut r| {
                let payload = r.take_bytes(3)?;
                let kind = r.bytes(2)?;
                let prev = r.bytes(5)?;
                let hash = r.bytes(6)?;
                let event = EventIn {
                    seq: u64_of(r.int(0)?),
                    at: r.int(1)?,
                    kind: &kind,
                    digest: payload::digest(&payload, r.int(4)? != 0).ok(),
                    prev: &prev,
                    hash: &hash,
                };
                Ok(walk.push(event))
            },
        )?;
        let (events, status) = walk.finish(ended);
        Ok(SessionVerdict {
            session: id.to_string(),
            events,
            status,
        })
    }

    /// Sessions that signed checkpoints cover but the store has no record of, and events of
    /// sessions it has no record of.
    fn unaccounted(
        &mut self,
        known: &[SessionId],
        valid: &BTreeSet<u64>,
        trusted: &[PublicKey],
    ) -> Result<Vec<SessionVerdict>, StoreError> {
        let pruned = self.pruned(trusted)?;
        let known: std::collections::HashSet<&SessionId> = known.iter().collect();
        let mut out = Vec::new();
        let mut first_checkpoint: HashMap<SessionId, u64> = HashMap::new();
        let rows = self.db.query(
            "SELECT session_id, MIN(checkpoint_seq) FROM checkpoint_leaves GROUP BY session_id",
            &[],
        )?;
        for r in &rows {
            let Ok(id) = session_id(&r.bytes(0)?) else {
                continue;
            };
            let cp = u64_of(r.int(1)?);
            if !known.contains(&id) && valid.contains(&cp) {
                first_checkpoint.insert(id, cp);
            }
        }
        let mut ids: Vec<_> = first_checkpoint.into_iter().collect();
        ids.sort();
        for (id, cp) in ids {
            // Pruned sessions: the prune record must name the head the checkpoints signed last.
            let last = self
                .signed_leaves(id, valid)?
                .into_iter()
                .max_by_key(|l| l.events);
            let prune = pruned.iter().find(|(p, events, head, _)| {
                *p == id && last.is_some_and(|l| l.ended && l.events == *events && l.head == *head)
            });
            let (events, status) = match prune {
                Some((_, events, _, seq)) => (*events, Status::Pruned { prune: *seq }),
                None => (0, Status::MissingSession { checkpoint: cp }),
            };
            out.push(SessionVerdict {
                session: id.to_string(),
                events,
                status,
            });
        }
        let rows = self.db.query(
            "SELECT session_id, COUNT(*) FROM events WHERE session_id NOT IN (SELECT id FROM sessions) GROUP BY session_id",
            &[],
        )?;
        for r in &rows {
            let raw = r.bytes(0)?;
            let session = session_id(&raw).map_or_else(|_| hex::encode(&raw), |id| id.to_string());
            if out.iter().any(|v| v.session == session) {
                continue;
            }
            out.push(SessionVerdict {
                session,
                events: u64_of(r.int(1)?),
                status: Status::Orphaned,
            });
        }
        Ok(out)
    }
}
