//! The proofs of a password that MySQL's and MariaDB's authentication plugins exchange:
//! `mysql_native_password` (SHA-1), `caching_sha2_password` (SHA-256) and MariaDB's `ed25519`.

use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
use ed25519_dalek::{Sha512, VerifyingKey};

pub const NATIVE: &[u8] = b"mysql_native_password";
pub const CACHING_SHA2: &[u8] = b"caching_sha2_password";
pub const ED25519: &[u8] = b"client_ed25519";
pub const CLEAR: &[u8] = b"mysql_clear_password";

/// `caching_sha2_password`'s AuthMoreData: the server has no cached hash and wants the password
/// itself (over TLS).
pub const PERFORM_FULL_AUTH: u8 = 4;
/// `caching_sha2_password`'s AuthMoreData: the scramble matched a cached hash.
pub const FAST_AUTH_OK: u8 = 3;
/// `caching_sha2_password`: the client asks for the server's RSA key.
pub const REQUEST_PUBLIC_KEY: u8 = 2;

fn xor(a: &mut [u8], b: &[u8]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// `mysql_native_password`: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); empty
/// for an empty password.
pub fn native(password: &[u8], scramble: &[u8]) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha1::digest(password);
    let stage2 = Sha1::digest(stage1.as_slice());
    let mut h = Sha1::new();
    h.update(scramble.get(..20).unwrap_or(scramble));
    h.update(stage2.as_slice());
    let mut out = h.finalize().to_vec();
    xor(&mut out, stage1.as_slice());
    out
}

/// `caching_sha2_password`'s fast path: SHA256(password) XOR SHA256(SHA256(SHA256(password)) +
/// scramble); empty for an empty password.
pub fn caching_sha2(password: &[u8], scramble: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha256::digest(password);
    let stage2 = Sha256::digest(stage1);
    let mut h = Sha256::new();
    h.update(stage2);
    h.update(scramble.get(..20).unwrap_or(scramble));
    let mut out = h.finalize().to_vec();
    xor(&mut out, &stage1);
    out
}

/// MariaDB's `ed25519`: an Ed25519 signature of the server's 32-byte nonce, with the key whose
/// expanded form is SHA-512 of the password (the password stands where a 32-byte seed would).
pub fn ed25519(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    use ed25519_dalek::Digest;
    let expanded: [u8; 64] = Sha512::digest(password).into();
    let key = ExpandedSecretKey::from_bytes(&expanded);
    let public = VerifyingKey::from(&key);
    raw_sign::<Sha512>(&key, nonce, &public).to_bytes().to_vec()
}

/// The public key MariaDB stores for `password` (`ed25519_password()` prints it in base64).
#[cfg(test)]
fn ed25519_public(password: &[u8]) -> [u8; 32] {
    use ed25519_dalek::Digest;
    let expanded: [u8; 64] = Sha512::digest(password).into();
    VerifyingKey::from(&ExpandedSecretKey::from_bytes(&expanded)).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn native_matches_the_servers_stored_hash() {
        // The server stores SHA1(SHA1(password)) and checks
        // SHA1(reply XOR SHA1(scramble + stored)) == stored.
        use sha1::{Digest, Sha1};
        let scramble = b"01234567890123456789";
        let reply = native(b"secret", scramble);
        let stored = Sha1::digest(Sha1::digest(b"secret").as_slice());
        let mut h = Sha1::new();
        h.update(scramble);
        h.update(stored.as_slice());
        let mut stage1 = reply.clone();
        xor(&mut stage1, h.finalize().as_slice());
        assert_eq!(Sha1::digest(&stage1).as_slice(), stored.as_slice());
        // MariaDB 10.11's PASSWORD('secret') is '*' + this, uppercase.
        assert_eq!(
            hex(stored.as_slice()),
            "14e65567abdb5135d0cfd9a70b3032c179a49ee7"
        );
        assert!(native(b"", scramble).is_empty());
    }

    #[test]
    fn caching_sha2_reverses_with_the_stored_hash() {
        use sha2::{Digest, Sha256};
        let scramble = b"abcdefghijabcdefghij";
        let reply = caching_sha2(b"pw", scramble);
        let stage2 = Sha256::digest(Sha256::digest(b"pw"));
        let mut h = Sha256::new();
        h.update(stage2);
        h.update(scramble);
        let mut stage1 = reply.clone();
        xor(&mut stage1, &h.finalize());
        assert_eq!(Sha256::digest(&stage1), stage2);
    }

    #[test]
    fn ed25519_signs_with_marias_key() {
        // MariaDB 10.11: SELECT ed25519_password('secret') gives this key.
        use base64::Engine;
        let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD_NO_PAD.encode(b);
        assert_eq!(
            encode(&ed25519_public(b"secret")),
            "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY"
        );
        let sig = ed25519(b"secret", &[7; 32]);
        let key = VerifyingKey::from_bytes(&ed25519_public(b"secret")).expect("key");
        let sig = ed25519_dalek::Signature::from_slice(&sig).expect("sig");
        key.verify_strict(&[7; 32], &sig).expect("verifies");
    }
}
