//! Ed25519 checkpoint signing keys: the private key Ward signs with, the public keys kept in the
//! store with their validity, and endorsements that carry trust across a rotation.
//!
//! A public key is written `ed25519:<base64 of the 32 bytes>`; its id is `SHA-256(key bytes)`, and
//! its fingerprint `SHA256:<unpadded base64 of the id>` (the style of `ssh-keygen -l`).
//! When a key is rotated, the old key signs
//! `"ward.key.v1" 0x00 ‖ new public key (32) ‖ created_at (i64 BE, ns)`,
//! so a verifier who trusts the old key trusts the new one.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::chain::Hash;
use crate::db::{Db, params};
use crate::store::StoreError;

const KEY_TAG: &[u8] = b"ward.key.v1\0";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: not an Ed25519 private key (expected one line of base64, 32 bytes)")]
    BadPrivate(String),
    #[error("not an Ed25519 public key: {0} (expected `ed25519:<base64>`, 32 bytes)")]
    BadPublic(String),
}

/// A public key that checkpoints are verified with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        VerifyingKey::from_bytes(&arr).ok().map(Self)
    }

    /// Parses `ed25519:<base64>` (or the bare base64).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let t = text.trim();
        let b64 = t.strip_prefix("ed25519:").unwrap_or(t);
        STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| Self::from_bytes(&b))
            .ok_or_else(|| KeyError::BadPublic(t.to_owned()))
    }

    pub fn bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// `SHA-256` of the key bytes: how checkpoints name the key that signed them.
    pub fn id(&self) -> Hash {
        Sha256::digest(self.0.as_bytes()).into()
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.id())
    }

    /// Checks an Ed25519 signature (strict: no malleable or small-order forms).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(message, &sig).is_ok()
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ed25519:{}", STANDARD.encode(self.0.as_bytes()))
    }
}

/// `SHA256:<unpadded base64>` of a key id.
pub fn fingerprint(id: &Hash) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(id))
}

/// The private key Ward signs checkpoints with.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            KeyError::Io(
                PathBuf::from("getrandom"),
                std::io::Error::other(e.to_string()),
            )
        })?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// Parses the text form: one line of base64 (the 32-byte seed); `#` lines are comments.
    pub fn parse(text: &str, origin: &str) -> Result<Self, KeyError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or_default();
        let seed: [u8; 32] = STANDARD
            .decode(line)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| KeyError::BadPrivate(origin.to_owned()))?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The text form [`SigningKey::parse`] reads.
    pub fn to_text(&self) -> String {
        format!(
            "# Ward checkpoint signing key ({}). Keep it secret.\n{}\n",
            self.public(),
            STANDARD.encode(self.0.as_bytes())
        )
    }

    /// Reads the key at `path`, creating it (mode 0600) when the file does not exist.
    /// Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::parse(&text, &path.display().to_string())?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                key.save(path)?;
                Ok((key, true))
            }
            Err(e) => Err(KeyError::Io(path.to_owned(), e)),
        }
    }

    /// Writes the key to `path` (mode 0600, atomically).
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        ward_core::fs::write_private(path, self.to_text().as_bytes())
            .map_err(|e| KeyError::Io(path.to_owned(), e))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// This key's endorsement of its successor `next`, created at `created_at_ns`.
    pub fn endorse(&self, next: &PublicKey, created_at_ns: i64) -> [u8; 64] {
        self.sign(&endorsement_message(next, created_at_ns))
    }
}

fn endorsement_message(key: &PublicKey, created_at_ns: i64) -> Vec<u8> {
    let mut m = KEY_TAG.to_vec();
    m.extend_from_slice(&key.bytes());
    m.extend_from_slice(&created_at_ns.to_be_bytes());
    m
}

/// A public key as the store keeps it.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub key: PublicKey,
    pub created_at: i64,
    /// Set when a later key replaced this one: the successor's `created_at`.
    pub valid_until: Option<i64>,
    pub endorsed_by: Option<Hash>,
    pub endorsement: Option<Vec<u8>>,
}

impl KeyRecord {
    /// Whether `by` signed this key's endorsement.
    pub fn endorsed_by(&self, by: &PublicKey) -> bool {
        self.endorsed_by == Some(by.id())
            && self
                .endorsement
                .as_deref()
                .is_some_and(|sig| by.verify(&endorsement_message(&self.key, self.created_at), sig))
    }
}

/// Adds `key` to the store's key list unless it is there already. Returns whether it was added.
pub(crate) fn register(
    db: &mut Db,
    key: &PublicKey,
    created_at: i64,
    endorsement: Option<(&PublicKey, &[u8; 64])>,
) -> Result<bool, StoreError> {
    let by = endorsement.map(|(by, _)| by.id().to_vec());
    let sig = endorsement.map(|(_, sig)| sig.to_vec());
    let n = db.execute(
        "INSERT INTO signing_keys (key_id, public_key, created_at, endorsed_by, endorsement) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        &params![&key.id(), &key.bytes(), created_at, by.as_ref(), sig.as_ref()],
    )?;
    Ok(n == 1)
}

/// Every key the store knows, oldest first, with the validity each one had.
pub(crate) fn list(db: &mut Db) -> Result<Vec<KeyRecord>, StoreError> {
    let rows = db.query(
        "SELECT public_key, created_at, endorsed_by, endorsement FROM signing_keys ORDER BY created_at, key_id",
        &[],
    )?;
    let mut out: Vec<KeyRecord> = Vec::new();
    for r in &rows {
        let key = PublicKey::from_bytes(&r.bytes(0)?)
            .ok_or_else(|| StoreError::Corrupt("a signing key is not an Ed25519 key".into()))?;
        let created_at = r.int(1)?;
        if let Some(prev) = out.last_mut() {
            prev.valid_until = Some(created_at);
        }
        out.push(KeyRecord {
            key,
            created_at,
            valid_until: None,
            endorsed_by: r.opt_bytes(2)?.and_then(|b| b.try_into().ok()),
            endorsement: r.opt_bytes(3)?,
        });
    }
    Ok(out)
}

/// The newest key in the store, if any.
pub(crate) fn current(db: &mut Db) -> Result<Option<PublicKey>, StoreError> {
    Ok(db
        .query_opt(
            "SELECT public_key FROM signing_keys ORDER BY created_at DESC, key_id DESC LIMIT 1",
            &[],
        )?
        .map(|r| r.bytes(0))
        .transpose()?
        .and_then(|b| PublicKey::from_bytes(&b)))
}

/// The keys a verifier accepts: the `anchors` it was given and every key endorsed, directly or
/// through a chain of rotations, by one of them. Without anchors every key in `keys` is accepted
/// (the store vouches for itself; `ward verify --key` is the stronger check).
pub fn trusted(keys: &[KeyRecord], anchors: &[PublicKey]) -> Vec<PublicKey> {
    if anchors.is_empty() {
        return keys.iter().map(|k| k.key).collect();
    }
    let mut trusted: Vec<PublicKey> = anchors.to_vec();
    loop {
        let before = trusted.len();
        for k in keys {
            if !trusted.contains(&k.key) && trusted.iter().any(|t| k.endorsed_by(t)) {
                trusted.push(k.key);
            }
        }
        if trusted.len() == before {
            return trusted;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_and_endorsements_check() {
        let a = SigningKey::generate().expect("key");
        let b = SigningKey::generate().expect("key");
        let again = SigningKey::parse(&a.to_text(), "test").expect("parse");
        assert_eq!(again.public(), a.public());
        assert_eq!(
            PublicKey::parse(&a.public().to_string()).expect("pub"),
            a.public()
        );
        assert!(PublicKey::parse("ed25519:AAAA").is_err());
        assert!(a.public().fingerprint().starts_with("SHA256:"));

        let sig = a.endorse(&b.public(), 42);
        let rec = KeyRecord {
            key: b.public(),
            created_at: 42,
            valid_until: None,
            endorsed_by: Some(a.public().id()),
            endorsement: Some(sig.to_vec()),
        };
        assert!(rec.endorsed_by(&a.public()));
        assert!(!rec.endorsed_by(&b.public()));
        let forged = KeyRecord {
            created_at: 43,
            ..rec.clone()
        };
        assert!(!forged.endorsed_by(&a.public()));
        let first = KeyRecord {
            key: a.public(),
            created_at: 1,
            valid_until: None,
            endorsed_by: None,
            endorsement: None,
        };
        let keys = [first, rec];
        assert_eq!(trusted(&keys, &[a.public()]).len(), 2);
        assert_eq!(trusted(&keys, &[b.public()]), vec![b.public()]);
    }
}
