//! Export bundles: one JSON file that holds a session's record, all its events, the checkpoints
//! that cover it with Merkle inclusion proofs, and the public keys, so that it can be verified
//! offline with nothing but the file and a trusted public key. The format is in
//! docs/evidence.md.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ward_core::{SessionId, Timestamp};

use crate::checkpoint::{self, Checkpoint, Leaf};
use crate::db::params;
use crate::keys::{self, KeyRecord, PublicKey};
use crate::query::SessionRow;
use crate::store::{Store, StoreError};
use crate::verify::{
    CheckpointStatus, EventIn, Report, SessionVerdict, SignedLeaf, Trust, Walk, check_checkpoint,
};
use crate::{merkle, payload};

pub const FORMAT: &str = "ward.bundle.v1";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub exported_at: String,
    pub session: SessionRow,
    pub events: Vec<BundleEvent>,
    pub checkpoints: Vec<BundleCheckpoint>,
    pub keys: Vec<BundleKey>,
}

/// One event, with its payload exactly as hashed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEvent {
    pub seq: u64,
    /// Nanoseconds since the Unix epoch, as a decimal string (exact in every JSON reader).
    pub at_ns: String,
    pub kind: String,
    /// The payload bytes as text (they are JSON, hence UTF-8) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// ... or, should they not be UTF-8, as base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleCheckpoint {
    pub seq: u64,
    pub at_ns: String,
    pub prev: String,
    pub key_id: String,
    pub leaf_count: u64,
    pub root: String,
    pub signature: String,
    /// This session's leaf in the checkpoint, and its audit path (RFC 9162), leaf upwards.
    pub leaf: BundleLeaf,
    pub proof: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleLeaf {
    pub index: u64,
    pub events: u64,
    pub head: String,
    pub ended: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKey {
    pub public_key: String,
    pub created_at_ns: String,
    pub endorsed_by: Option<String>,
    pub endorsement: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a Ward export bundle: {0}")]
    Format(String),
}

/// What [`Store::write_bundle`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub session: String,
    pub events: u64,
    pub checkpoints: usize,
    pub keys: usize,
}

/// Writes `v` as JSON to `out`.
fn json<T: Serialize>(out: &mut dyn std::io::Write, v: &T) -> Result<(), StoreError> {
    serde_json::to_writer(out, v).map_err(|e| StoreError::Export(e.into()))
}

/// Events read from the store at a time while a bundle is written, and the payload bytes a
/// page stops after: a session of any size is exported in bounded memory.
const PAGE_EVENTS: u32 = 64;
const PAGE_BYTES: usize = 8 << 20;

impl Store {
    /// Writes the export bundle of one session to `out` as JSON, reading its events a page at
    /// a time: memory stays bounded whatever the session's size. Everything is read in one
    /// snapshot, so a live session's record, events and checkpoints are those of one moment.
    pub fn write_bundle(
        &mut self,
        id: SessionId,
        out: &mut dyn std::io::Write,
    ) -> Result<Exported, StoreError> {
        self.db.batch(if self.db.is_postgres() {
            "BEGIN ISOLATION LEVEL REPEATABLE READ"
        } else {
            "BEGIN"
        })?;
        let written = self.write_bundle_in_snapshot(id, out);
        self.db.batch(if written.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        })?;
        written
    }

    fn write_bundle_in_snapshot(
        &mut self,
        id: SessionId,
        out: &mut dyn std::io::Write,
    ) -> Result<Exported, StoreError> {
        let session = self.session(&id.to_string())?;
        let io = StoreError::Export;
        write!(
            out,
            "{{\"format\":\"{FORMAT}\",\"exported_at\":\"{}\",\"session\":",
            Timestamp::now().to_rfc3339()
        )
        .map_err(io)?;
        json(out, &session)?;
        out.write_all(b",\"events\":[\n").map_err(io)?;
        let (mut after, mut events) = (-1i64, 0u64);
        loop {
            let page = self.bundle_events(id, after)?;
            let Some(last) = page.last() else { break };
            after = i64::try_from(last.seq).unwrap_or(i64::MAX);
            for e in &page {
                if events > 0 {
                    out.write_all(b",\n").map_err(io)?;
                }
                json(out, e)?;
                events += 1;
            }
        }
        let checkpoints = self.bundle_checkpoints(id)?;
        let keys = self.bundle_keys()?;
        out.write_all(b"\n],\"checkpoints\":").map_err(io)?;
        json(out, &checkpoints)?;
        out.write_all(b",\"keys\":").map_err(io)?;
        json(out, &keys)?;
        out.write_all(b"}\n").map_err(io)?;
        out.flush().map_err(io)?;
        Ok(Exported {
            session: session.id,
            events,
            checkpoints: checkpoints.len(),
            keys: keys.len(),
        })
    }

    /// The next page of the session's events after `after`, payloads exactly as hashed.
    fn bundle_events(&mut self, id: SessionId, after: i64) -> Result<Vec<BundleEvent>, StoreError> {
        let mut events = Vec::new();
        let mut bytes = 0usize;
        self.db.for_each(
            &format!("SELECT seq, at, kind, payload, compressed, prev_hash, hash FROM events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT {PAGE_EVENTS}"),
            &params![id.0.as_bytes().as_slice(), after],
            |mut r| {
                let bytes_of = payload::decode(&r.take_bytes(3)?, r.int(4)? != 0)
                    .map_err(|e| StoreError::Corrupt(format!("a payload cannot be read: {e}")))?;
                bytes += bytes_of.len();
                let (payload, payload_base64) = match String::from_utf8(bytes_of) {
                    Ok(text) => (Some(text), None),
                    Err(e) => (None, Some(STANDARD.encode(e.into_bytes()))),
                };
                events.push(BundleEvent {
                    seq: checkpoint::u64_of(r.int(0)?),
                    at_ns: r.int(1)?.to_string(),
                    kind: r.text(2)?,
                    payload,
                    payload_base64,
                    prev_hash: hex::encode(r.bytes(5)?),
                    hash: hex::encode(r.bytes(6)?),
                });
                Ok(bytes < PAGE_BYTES)
            },
        )?;
        Ok(events)
    }

    /// The checkpoints that cover the session, each with its inclusion proof.
    fn bundle_checkpoints(&mut self, id: SessionId) -> Result<Vec<BundleCheckpoint>, StoreError> {
        let mut checkpoints = Vec::new();
        for (seq, index, leaf) in checkpoint::session_leaves(&mut self.db, id)? {
            let Some(cp) = checkpoint::get(&mut self.db, seq)? else {
                continue;
            };
            let hashes: Vec<_> = checkpoint::leaves(&mut self.db, seq)?
                .iter()
                .map(Leaf::hash)
                .collect();
            let proof = merkle::inclusion_proof(&hashes, usize::try_from(index).unwrap_or(0));
            checkpoints.push(BundleCheckpoint {
                seq: cp.seq,
                at_ns: cp.at.to_string(),
                prev: hex::encode(cp.prev),
                key_id: hex::encode(cp.key_id),
                leaf_count: cp.leaf_count,
                root: hex::encode(cp.root),
                signature: hex::encode(&cp.signature),
                leaf: BundleLeaf {
                    index,
                    events: leaf.events,
                    head: hex::encode(leaf.head),
                    ended: leaf.ended,
                },
                proof: proof.iter().map(hex::encode).collect(),
            });
        }
        Ok(checkpoints)
    }

    fn bundle_keys(&mut self) -> Result<Vec<BundleKey>, StoreError> {
        Ok(keys::list(&mut self.db)?
            .into_iter()
            .map(|k| BundleKey {
                public_key: k.key.to_string(),
                created_at_ns: k.created_at.to_string(),
                endorsed_by: k.endorsed_by.map(hex::encode),
                endorsement: k.endorsement.map(hex::encode),
            })
            .collect())
    }
}

impl Bundle {
    /// Reads a bundle from its JSON text.
    pub fn parse(text: &[u8]) -> Result<Self, BundleError> {
        let b: Bundle =
            serde_json::from_slice(text).map_err(|e| BundleError::Format(e.to_string()))?;
        if b.format != FORMAT {
            return Err(BundleError::Format(format!(
                "format `{}`, expected `{FORMAT}`",
                b.format
            )));
        }
        Ok(b)
    }

    /// Verifies the bundle on its own: every event's chain link, every checkpoint's signature
    /// by a key in `anchors` (or one they endorsed) and its inclusion proof, and the session's
    /// chain against the signed heads. Without anchors the bundle's own keys are trusted.
    pub fn verify(&self, anchors: &[PublicKey]) -> Result<Report, BundleError> {
        let bad = |what: &str| BundleError::Format(what.to_owned());
        let id: SessionId = self
            .session
            .id
            .parse()
            .map_err(|_| bad("session id is not a UUID"))?;
        let records = self
            .keys
            .iter()
            .map(|k| {
                Ok(KeyRecord {
                    key: PublicKey::parse(&k.public_key).map_err(|e| bad(&e.to_string()))?,
                    created_at: k
                        .created_at_ns
                        .parse()
                        .map_err(|_| bad("key created_at_ns"))?,
                    valid_until: None,
                    endorsed_by: k.endorsed_by.as_deref().map(hash32).transpose()?,
                    endorsement: k.endorsement.as_deref().map(unhex).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, BundleError>>()?;
        let trusted = keys::trusted(&records, anchors);
        let mut chain_status = CheckpointStatus::Ok;
        let mut leaves = Vec::new();
        let mut before: Option<Checkpoint> = None;
        for c in &self.checkpoints {
            let cp = Checkpoint {
                seq: c.seq,
                at: c.at_ns.parse().map_err(|_| bad("checkpoint at_ns"))?,
                prev: hash32(&c.prev)?,
                key_id: hash32(&c.key_id)?,
                leaf_count: c.leaf_count,
                root: hash32(&c.root)?,
                signature: unhex(&c.signature)?,
            };
            let leaf = Leaf {
                session: id,
                events: c.leaf.events,
                head: hash32(&c.leaf.head)?,
                ended: c.leaf.ended,
            };
            let proof = c
                .proof
                .iter()
                .map(|p| hash32(p))
                .collect::<Result<Vec<_>, _>>()?;
            // Checkpoints in the bundle are in seq order; consecutive ones must link.
            let link = match &before {
                Some(b) if cp.seq <= b.seq => {
                    Some("checkpoints out of order or repeated".to_owned())
                }
                Some(b) if cp.seq == b.seq + 1 && cp.prev != b.hash() => {
                    Some("does not link to the checkpoint before".to_owned())
                }
                None if cp.seq == 0 && cp.prev != [0; 32] => {
                    Some("checkpoint 0 must follow 32 zero bytes".to_owned())
                }
                _ => None,
            };
            before = Some(cp.clone());
            let problem = link
                .or_else(|| check_checkpoint(&cp, &trusted))
                .or_else(|| {
                    (!merkle::verify_inclusion(
                        &leaf.hash(),
                        c.leaf.index,
                        cp.leaf_count,
                        &proof,
                        &cp.root,
                    ))
                    .then(|| {
                        "the session's leaf is not in its Merkle tree (inclusion proof fails)"
                            .to_owned()
                    })
                });
            match problem {
                Some(reason) => {
                    if chain_status == CheckpointStatus::Ok {
                        chain_status = CheckpointStatus::Broken {
                            seq: cp.seq,
                            reason,
                        };
                    }
                }
                None => leaves.push(SignedLeaf {
                    checkpoint: cp.seq,
                    events: leaf.events,
                    head: leaf.head,
                    ended: leaf.ended,
                }),
            }
        }
        let mut walk = Walk::new(id, leaves);
        for e in &self.events {
            let bytes = match (&e.payload, &e.payload_base64) {
                (Some(text), None) => text.as_bytes().to_vec(),
                (None, Some(b64)) => STANDARD.decode(b64).map_err(|_| bad("payload_base64"))?,
                _ => return Err(bad("an event needs exactly one of payload, payload_base64")),
            };
            let prev = unhex(&e.prev_hash)?;
            let hash = unhex(&e.hash)?;
            let event = EventIn {
                seq: e.seq,
                at: e.at_ns.parse().map_err(|_| bad("event at_ns"))?,
                kind: e.kind.as_bytes(),
                digest: Some(Sha256::digest(&bytes).into()),
                prev: &prev,
                hash: &hash,
            };
            if !walk.push(event) {
                break;
            }
        }
        let signed = !walk.unsigned();
        let (events, status) = walk.finish(self.session.ended_at.is_some());
        if !signed && chain_status == CheckpointStatus::Ok {
            chain_status = CheckpointStatus::Unsigned;
        }
        let mut report = Report {
            ok: false,
            trust: Trust {
                anchored: !anchors.is_empty(),
                keys: trusted.iter().map(PublicKey::fingerprint).collect(),
            },
            checkpoints: self.checkpoints.len() as u64,
            checkpoint_chain: chain_status,
            newest_checkpoint: None,
            anchor: None,
            sessions: vec![SessionVerdict {
                session: id.to_string(),
                events,
                status,
            }],
        };
        report.judge(false);
        Ok(report)
    }
}

fn unhex(s: &str) -> Result<Vec<u8>, BundleError> {
    hex::decode(s).map_err(|_| BundleError::Format(format!("`{s}` is not hex")))
}

fn hash32(s: &str) -> Result<[u8; 32], BundleError> {
    unhex(s)?
        .try_into()
        .map_err(|_| BundleError::Format(format!("`{s}` is not a 32-byte hash")))
}
