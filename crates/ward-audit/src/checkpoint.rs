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

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use ward_core::SessionId;

use crate::chain::Hash;
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
pub fn last(conn: &Connection) -> Result<Option<(u64, Hash)>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM checkpoints ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(seq, hash)| Ok((u64_of(seq), hash32(&hash)?)))
        .transpose()
}

/// Signs and stores a checkpoint over `leaves` (in any order; stored sorted by session id),
/// following `prev`. Returns the new checkpoint.
pub fn write(
    conn: &Connection,
    key: &SigningKey,
    at: i64,
    prev: Option<(u64, Hash)>,
    mut leaves: Vec<Leaf>,
) -> Result<Checkpoint, StoreError> {
    leaves.sort_by(|a, b| a.session.0.as_bytes().cmp(b.session.0.as_bytes()));
    let hashes: Vec<Hash> = leaves.iter().map(Leaf::hash).collect();
    let mut cp = Checkpoint {
        seq: prev.map_or(0, |(s, _)| s + 1),
        at,
        prev: prev.map_or([0; 32], |(_, h)| h),
        key_id: key.public().id(),
        leaf_count: leaves.len() as u64,
        root: merkle::root(&hashes),
        signature: Vec::new(),
    };
    cp.signature = key.sign(&cp.body()).to_vec();
    conn.prepare_cached(
        "INSERT INTO checkpoints (seq, at, prev_hash, key_id, leaf_count, root, signature, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        i64_of(cp.seq),
        cp.at,
        &cp.prev[..],
        &cp.key_id[..],
        i64_of(cp.leaf_count),
        &cp.root[..],
        &cp.signature,
        &cp.hash()[..],
    ])?;
    let mut ins = conn.prepare_cached(
        "INSERT INTO checkpoint_leaves (checkpoint_seq, idx, session_id, events, head_hash, ended) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (i, leaf) in leaves.iter().enumerate() {
        ins.execute(params![
            i64_of(cp.seq),
            i64_of(i as u64),
            leaf.session.0.as_bytes(),
            i64_of(leaf.events),
            &leaf.head[..],
            leaf.ended,
        ])?;
    }
    Ok(cp)
}

/// Every checkpoint in the store, by seq.
pub fn all(conn: &Connection) -> Result<Vec<Checkpoint>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, prev_hash, key_id, leaf_count, root, signature FROM checkpoints ORDER BY seq",
    )?;
    let rows = stmt.query_map([], checkpoint_row)?;
    rows.map(|r| r?).collect()
}

/// One checkpoint by seq.
pub fn get(conn: &Connection, seq: u64) -> Result<Option<Checkpoint>, StoreError> {
    conn.query_row(
        "SELECT seq, at, prev_hash, key_id, leaf_count, root, signature FROM checkpoints WHERE seq = ?1",
        [i64_of(seq)],
        checkpoint_row,
    )
    .optional()?
    .transpose()
}

type RowResult = Result<Checkpoint, StoreError>;

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RowResult> {
    let blob = |i: usize| r.get::<_, Vec<u8>>(i);
    let (prev, key_id, root) = (blob(2)?, blob(3)?, blob(5)?);
    let (seq, at, count): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(4)?);
    let signature = blob(6)?;
    Ok((|| {
        Ok(Checkpoint {
            seq: u64_of(seq),
            at,
            prev: hash32(&prev)?,
            key_id: hash32(&key_id)?,
            leaf_count: u64_of(count),
            root: hash32(&root)?,
            signature,
        })
    })())
}

/// The leaves of checkpoint `seq`, in tree order.
pub fn leaves(conn: &Connection, seq: u64) -> Result<Vec<Leaf>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT session_id, events, head_hash, ended FROM checkpoint_leaves WHERE checkpoint_seq = ?1 ORDER BY idx",
    )?;
    let rows = stmt.query_map([i64_of(seq)], leaf_row)?;
    rows.map(|r| r?).collect()
}

/// Every leaf of one session: `(checkpoint seq, index in that checkpoint, leaf)`, oldest first.
pub fn session_leaves(
    conn: &Connection,
    session: SessionId,
) -> Result<Vec<(u64, u64, Leaf)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT session_id, events, head_hash, ended, checkpoint_seq, idx FROM checkpoint_leaves WHERE session_id = ?1 ORDER BY checkpoint_seq",
    )?;
    let rows = stmt.query_map([session.0.as_bytes()], |r| {
        let leaf = leaf_row(r)?;
        let cp: i64 = r.get(4)?;
        let idx: i64 = r.get(5)?;
        Ok(leaf.map(|l| (u64_of(cp), u64_of(idx), l)))
    })?;
    rows.map(|r| r?).collect()
}

fn leaf_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Leaf, StoreError>> {
    let (id, events, head, ended): (Vec<u8>, i64, Vec<u8>, bool) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    Ok((|| {
        Ok(Leaf {
            session: session_id(&id)?,
            events: u64_of(events),
            head: hash32(&head)?,
            ended,
        })
    })())
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
