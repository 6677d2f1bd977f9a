//! Signed checkpoints: what the recorder commits to, how it is encoded, signed and stored.
//!
//! A checkpoint lists the chain head of every session that advanced since the one before (one
//! *leaf* per session), commits to them with a Merkle root (RFC 9162, see [`crate::merkle`]),
//! links to the previous checkpoint by hash, and is signed with Ed25519. docs/evidence.md gives
//! the byte layouts with test vectors.
//!
//! `leaf = "ward.leaf.v1" 0x00 ‖ session id (16) ‖ events (u64 BE) ‖ head hash (32) ‖ ended (u8)`
//! `body = "ward.checkpoint.v1" 0x00 ‖ seq (u64 BE) ‖ at (i64 BE, ns) ‖ prev (32) ‖ key id (32)
//!         ‖ leaf count (u64 BE) ‖ root (32)`
//! `hash = SHA-256(body)`, `signature = Ed25519(body)`; `prev` of checkpoint 0 is 32 zero bytes.

use sha2::{Digest, Sha256};
use ward_core::SessionId;

use crate::chain::Hash;
use crate::db::{Db, Row, params};
use crate::keys::SigningKey;
use crate::merkle;
use crate::query::session_id;
use crate::store::StoreError;

const LEAF_TAG: &[u8] = b"ward.leaf.v1\0";
const CHECKPOINT_TAG: &[u8] = b"ward.checkpoint.v1\0";

/// One session's head as a checkpoint records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub session: SessionId,
    /// How many events the session had (its last seq + 1).
    pub events: u64,
    /// The hash of its last event.
    pub head: Hash,
    /// The session had ended: no event may follow.
    pub ended: bool,
}

impl Leaf {
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(LEAF_TAG.len() + 57);
        b.extend_from_slice(LEAF_TAG);
        b.extend_from_slice(self.session.0.as_bytes());
        b.extend_from_slice(&self.events.to_be_bytes());
        b.extend_from_slice(&self.head);
        b.push(u8::from(self.ended));
        b
    }

    pub fn hash(&self) -> Hash {
        merkle::leaf_hash(&self.bytes())
    }
}

/// A signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub at: i64,
    pub prev: Hash,
    pub key_id: Hash,
    pub leaf_count: u64,
    pub root: Hash,
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// The signed bytes.
    pub fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(CHECKPOINT_TAG.len() + 144);
        b.extend_from_slice(CHECKPOINT_TAG);
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.at.to_be_bytes());
        b.extend_from_slice(&self.prev);
        b.extend_from_slice(&self.key_id);
        b.extend_from_slice(&self.leaf_count.to_be_bytes());
        b.extend_from_slice(&self.root);
        b
    }

    pub fn hash(&self) -> Hash {
        Sha256::digest(self.body()).into()
    }
}

/// The position the next checkpoint continues from: the last one's seq and hash.
pub(crate) fn last(db: &mut Db) -> Result<Option<(u64, Hash)>, StoreError> {
    db.query_opt(
        "SELECT seq, hash FROM checkpoints ORDER BY seq DESC LIMIT 1",
        &[],
    )?
    .map(|r| Ok((u64_of(r.int(0)?), hash32(&r.bytes(1)?)?)))
    .transpose()
}

/// A PostgreSQL advisory lock key ("WARD" in ASCII) that serializes checkpoint writers.
const CHECKPOINT_LOCK: i64 = 0x5741_5244;

/// Signs and stores a checkpoint over `leaves` (in any order; stored sorted by session id),
/// following the last one in the store. Must run inside the caller's transaction: several Ward
/// processes sharing a PostgreSQL store take turns through an advisory lock, so the chain of
/// checkpoints stays linear.
pub(crate) fn write(
    db: &mut Db,
    key: &SigningKey,
    mut leaves: Vec<Leaf>,
) -> Result<Checkpoint, StoreError> {
    if db.is_postgres() {
        db.query_one(
            "SELECT pg_advisory_xact_lock(?1)",
            &params![CHECKPOINT_LOCK],
        )?;
    }
    let prev = last(db)?;
    leaves.sort_by(|a, b| a.session.0.as_bytes().cmp(b.session.0.as_bytes()));
    let hashes: Vec<Hash> = leaves.iter().map(Leaf::hash).collect();
    let mut cp = Checkpoint {
        seq: prev.map_or(0, |(s, _)| s + 1),
        at: ward_core::Timestamp::now().0,
        prev: prev.map_or([0; 32], |(_, h)| h),
        key_id: key.public().id(),
        leaf_count: leaves.len() as u64,
        root: merkle::root(&hashes),
        signature: Vec::new(),
    };
    cp.signature = key.sign(&cp.body()).to_vec();
    db.execute(
        "INSERT INTO checkpoints (seq, at, prev_hash, key_id, leaf_count, root, signature, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &params![
            i64_of(cp.seq),
            cp.at,
            &cp.prev,
            &cp.key_id,
            i64_of(cp.leaf_count),
            &cp.root,
            &cp.signature,
            &cp.hash(),
        ],
    )?;
    for (i, leaf) in leaves.iter().enumerate() {
        db.execute(
            "INSERT INTO checkpoint_leaves (checkpoint_seq, idx, session_id, events, head_hash, ended) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &params![
                i64_of(cp.seq),
                i64_of(i as u64),
                leaf.session.0.as_bytes().as_slice(),
                i64_of(leaf.events),
                &leaf.head,
                i64::from(leaf.ended),
            ],
        )?;
    }
    Ok(cp)
}

const CHECKPOINT_COLUMNS: &str = "seq, at, prev_hash, key_id, leaf_count, root, signature";

/// Every checkpoint in the store, by seq.
pub(crate) fn all(db: &mut Db) -> Result<Vec<Checkpoint>, StoreError> {
    db.query(
        &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq"),
        &[],
    )?
    .iter()
    .map(checkpoint_row)
    .collect()
}

/// One checkpoint by seq.
pub(crate) fn get(db: &mut Db, seq: u64) -> Result<Option<Checkpoint>, StoreError> {
    db.query_opt(
        &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE seq = ?1"),
        &params![i64_of(seq)],
    )?
    .as_ref()
    .map(checkpoint_row)
    .transpose()
}

fn checkpoint_row(r: &Row) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        seq: u64_of(r.int(0)?),
        at: r.int(1)?,
        prev: hash32(&r.bytes(2)?)?,
        key_id: hash32(&r.bytes(3)?)?,
        leaf_count: u64_of(r.int(4)?),
        root: hash32(&r.bytes(5)?)?,
        signature: r.bytes(6)?,
    })
}

/// The leaves of checkpoint `seq`, in tree order.
pub(crate) fn leaves(db: &mut Db, seq: u64) -> Result<Vec<Leaf>, StoreError> {
    db.query(
        "SELECT session_id, events, head_hash, ended FROM checkpoint_leaves WHERE checkpoint_seq = ?1 ORDER BY idx",
        &params![i64_of(seq)],
    )?
    .iter()
    .map(leaf_row)
    .collect()
}

/// Every leaf of one session: `(checkpoint seq, index in that checkpoint, leaf)`, oldest first.
pub(crate) fn session_leaves(
    db: &mut Db,
    session: SessionId,
) -> Result<Vec<(u64, u64, Leaf)>, StoreError> {
    db.query(
        "SELECT session_id, events, head_hash, ended, checkpoint_seq, idx FROM checkpoint_leaves WHERE session_id = ?1 ORDER BY checkpoint_seq",
        &params![session.0.as_bytes().as_slice()],
    )?
    .iter()
    .map(|r| Ok((u64_of(r.int(4)?), u64_of(r.int(5)?), leaf_row(r)?)))
    .collect()
}

fn leaf_row(r: &Row) -> Result<Leaf, StoreError> {
    Ok(Leaf {
        session: session_id(&r.bytes(0)?)?,
        events: u64_of(r.int(1)?),
        head: hash32(&r.bytes(2)?)?,
        ended: r.int(3)? != 0,
    })
}

pub(crate) fn hash32(b: &[u8]) -> Result<Hash, StoreError> {
    b.try_into()
        .map_err(|_| StoreError::Corrupt(format!("a hash of {} bytes, not 32", b.len())))
}

pub(crate) fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn u64_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_vectors() {
        // Deterministic inputs (Ed25519 signatures are deterministic too); the expected values
        // were computed independently with Python's hashlib and `cryptography`, and are the
        // test vectors of docs/evidence.md.
        let session: SessionId = "0192f0c1-0000-7000-8000-000000000001"
            .parse()
            .expect("uuid");
        let leaf = Leaf {
            session,
            events: 3,
            head: [0x11; 32],
            ended: true,
        };
        let key = SigningKey::parse(&base64_seed(7), "test").expect("key");
        let cp = Checkpoint {
            seq: 0,
            at: 1_700_000_000_000_000_000,
            prev: [0; 32],
            key_id: key.public().id(),
            leaf_count: 1,
            root: merkle::root(&[leaf.hash()]),
            signature: Vec::new(),
        };
        let sig = key.sign(&cp.body());
        assert!(key.public().verify(&cp.body(), &sig));
        assert_eq!(
            hex::encode(leaf.hash()),
            "fe930711d55f38a99de3787dae1d49e884d457a733a70e7951764edba2ae69a8"
        );
        assert_eq!(
            key.public().to_string(),
            "ed25519:6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="
        );
        assert_eq!(
            hex::encode(cp.hash()),
            "2d59e7642a03339e4111b4b09d56da92bfb473aa6653390380c0d070d2ee1b38"
        );
        assert_eq!(
            hex::encode(sig),
            "4fd6ba8ef59c939e1a7c06c5abcab7b4ceb23bb2aae54cae2ca978f77c00879f4666f7f0ad711ed213a4c08e379f3b49f16d79166ff1a9197eb8d7520d4bfc0e"
        );
    }

    fn base64_seed(byte: u8) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    }
}
