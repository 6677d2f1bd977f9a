//! Local users: argon2id password hashes in the store, and the verifier gateways call.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier as _, SaltString};
use sha2::{Digest, Sha256};
use ward_core::Identity;
use ward_core::auth::AuthError;
use ward_store::{Location, Store, StoreError};

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

/// Checks passwords against the users table.
///
/// # Performance
/// argon2id costs tens of milliseconds by design. After a success, the verifier remembers a
/// keyed digest of the password for that exact stored hash, so reconnecting with the same
/// password skips argon2; changing the user's password changes the stored hash and ends it.
pub struct LocalUsers {
    store: Mutex<Store>,
    key: [u8; 32],
    verified: Mutex<HashMap<(String, String), [u8; 32]>>,
}

impl LocalUsers {
    pub fn open(location: &Location) -> Result<Self, StoreError> {
        let mut key = [0u8; 32];
        let _ = getrandom::fill(&mut key);
        Ok(Self {
            store: Mutex::new(Store::open(location)?),
            key,
            verified: Mutex::new(HashMap::new()),
        })
    }

    fn digest(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }
}

impl LocalUsers {
    /// Checks a local user's password. Blocking: it may be slow (argon2id).
    pub fn verify(&self, user: &str, password: &str) -> Result<Identity, AuthError> {
        let row = {
            let mut store = self
                .store
                .lock()
                .map_err(|_| AuthError::Unavailable("user store lock poisoned".into()))?;
            store
                .user(user)
                .map_err(|e| AuthError::Unavailable(e.to_string()))?
        };
        let Some(row) = row else {
            // Spend the same effort as for a real user, so timing does not reveal who exists.
            let _ = hash_password(password);
            return Err(AuthError::BadCredentials);
        };
        let identity = Identity {
            subject: row.name.clone(),
            groups: row.groups.clone(),
            method: "password".into(),
            issuer: "local".into(),
            credential: None,
        };
        let digest = self.digest(user, password);
        let cache_key = (row.name.clone(), row.password_hash.clone());
        if self
            .verified
            .lock()
            .ok()
            .and_then(|m| m.get(&cache_key).copied())
            == Some(digest)
        {
            return Ok(identity);
        }
        let parsed = PasswordHash::new(&row.password_hash)
            .map_err(|e| AuthError::Unavailable(format!("stored hash: {e}")))?;
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .map_err(|_| AuthError::BadCredentials)?;
        if let Ok(mut m) = self.verified.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(cache_key, digest);
        }
        Ok(identity)
    }
}
