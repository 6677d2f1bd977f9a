//! The key checkpoints are signed with: where it comes from, and picking up a rotated one.

use std::path::PathBuf;
use std::time::SystemTime;

use ward_core::Timestamp;

use crate::db::Db;
use crate::keys::{self, KeyError, PublicKey, SigningKey};
use crate::store::StoreError;

/// Where the signing key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A file, created with a new key when missing; re-read when it changes (`ward keys rotate`).
    File(PathBuf),
    /// An environment variable holding the base64 seed.
    Env(String),
}

impl KeySource {
    /// Reads the key (creating a file key when missing).
    pub fn load(&self) -> Result<SigningKey, KeyError> {
        match self {
            KeySource::File(path) => {
                let (key, created) = SigningKey::load_or_create(path)?;
                if created {
                    tracing::info!(path = %path.display(), key = %key.public(), "generated a checkpoint signing key");
                }
                Ok(key)
            }
            KeySource::Env(name) => {
                let text = std::env::var(name).map_err(|_| {
                    KeyError::BadPrivate(format!("environment variable {name} (not set)"))
                })?;
                SigningKey::parse(&text, &format!("environment variable {name}"))
            }
        }
    }

    /// The public key, without creating a key file that does not exist yet.
    pub fn public_if_present(&self) -> Result<Option<PublicKey>, KeyError> {
        match self {
            KeySource::File(path) if !path.exists() => Ok(None),
            _ => self.load().map(|k| Some(k.public())),
        }
    }

    fn modified(&self) -> Option<SystemTime> {
        match self {
            KeySource::File(p) => std::fs::metadata(p).and_then(|m| m.modified()).ok(),
            KeySource::Env(_) => None,
        }
    }
}

/// The current signing key, reloaded when its file changes.
pub(crate) struct Signer {
    pub(crate) key: SigningKey,
    source: KeySource,
    modified: Option<SystemTime>,
}

impl Signer {
    pub(crate) fn load(source: KeySource, db: &mut Db) -> Result<Self, StoreError> {
        let key = source
            .load()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        register_key(db, &key)?;
        Ok(Self {
            modified: source.modified(),
            key,
            source,
        })
    }

    /// Picks up a rotated key file before signing.
    pub(crate) fn refresh(&mut self, db: &mut Db) {
        let modified = self.source.modified();
        if modified == self.modified {
            return;
        }
        self.modified = modified;
        match self.source.load() {
            Ok(key) if key.public() != self.key.public() => {
                if let Err(e) = register_key(db, &key) {
                    tracing::error!(error = %e, "cannot register the new signing key; still signing with the old one");
                    return;
                }
                tracing::info!(key = %key.public(), "signing checkpoints with a new key");
                self.key = key;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot read the signing key; still signing with the old one")
            }
        }
    }
}

/// Adds `key` to the store's key list if it is new. A new key that `ward keys rotate` did not
/// endorse is accepted with a warning: verifiers that trust only the older keys will not trust it.
fn register_key(db: &mut Db, key: &SigningKey) -> Result<(), StoreError> {
    let public = key.public();
    let previous = keys::current(db)?;
    if keys::register(db, &public, Timestamp::now().0, None)?
        && let Some(prev) = previous
    {
        tracing::warn!(new = %public, previous = %prev, "the signing key changed without `ward keys rotate`: verifiers that trust only the previous key will not trust checkpoints signed by this one");
    }
    Ok(())
}
