//! Keyed tokens: HMAC-SHA256 of a value under a secret key, so equal values correlate without being revealed.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// How many bytes of the MAC appear in a token (12 hex digits): short enough to read, and 48 bits keeps
/// accidental collisions rare even across millions of distinct values.
const TOKEN_BYTES: usize = 6;

/// A secret key for keyed tokens. Cloning shares no secret beyond what the clone already holds.
#[derive(Clone)]
pub struct TokenKey {
    // The keyed state is computed once; each token clones it instead of re-keying.
    mac: Hmac<Sha256>,
}

impl TokenKey {
    /// Builds a key from secret bytes (any length; 32 random bytes recommended).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of every length, so this cannot fail; fall back to an empty key to stay panic-free.
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        Self { mac }
    }

    /// Appends `tok_<12 hex>` for `value` to `out`.
    pub(crate) fn write_token(&self, value: &[u8], out: &mut Vec<u8>) {
        let mut mac = self.mac.clone();
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        out.extend_from_slice(b"tok_");
        for b in digest.iter().take(TOKEN_BYTES) {
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.write_str("TokenKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(key: &TokenKey, v: &[u8]) -> String {
        let mut out = Vec::new();
        key.write_token(v, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn equal_values_equal_tokens_and_key_matters() {
        let a = TokenKey::new(b"key-a");
        let b = TokenKey::new(b"key-b");
        assert_eq!(
            token(&a, b"alice@example.com"),
            token(&a, b"alice@example.com")
        );
        assert_ne!(
            token(&a, b"alice@example.com"),
            token(&a, b"bob@example.com")
        );
        assert_ne!(
            token(&a, b"alice@example.com"),
            token(&b, b"alice@example.com")
        );
        assert_eq!(token(&a, b"x").len(), 4 + 2 * TOKEN_BYTES);
        assert_eq!(format!("{a:?}"), "TokenKey(..)");
    }
}
