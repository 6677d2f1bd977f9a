//! The hash chain over a session's events.
//!
//! `genesis = SHA-256("ward.session.v1" 0x00 ‖ session id (16 bytes))`
//! `hash    = SHA-256("ward.event.v1" 0x00 ‖ prev_hash (32) ‖ seq (u64 BE) ‖ at (i64 BE, ns)
//!                    ‖ len(kind) (u32 BE) ‖ kind ‖ len(payload) (u32 BE) ‖ payload)`
//!
//! The payload bytes are the stored JSON exactly as written; a verifier hashes what is stored.

use sha2::{Digest, Sha256};
use ward_core::SessionId;

pub type Hash = [u8; 32];

const SESSION_TAG: &[u8] = b"ward.session.v1\0";
const EVENT_TAG: &[u8] = b"ward.event.v1\0";

/// The `prev_hash` of a session's first event.
pub fn genesis(session: SessionId) -> Hash {
    let mut h = Sha256::new();
    h.update(SESSION_TAG);
    h.update(session.0.as_bytes());
    h.finalize().into()
}

/// The hash of one event given the hash before it.
pub fn event_hash(prev: &Hash, seq: u64, at_ns: i64, kind: &str, payload: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(EVENT_TAG);
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(at_ns.to_be_bytes());
    h.update(len32(kind.len()).to_be_bytes());
    h.update(kind.as_bytes());
    h.update(len32(payload.len()).to_be_bytes());
    h.update(payload);
    h.finalize().into()
}

fn len32(n: usize) -> u32 {
    // INVARIANT: payloads are capped far below 4 GiB by the recording limits.
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_vector() {
        let id: SessionId = "0192f0c1-0000-7000-8000-000000000001"
            .parse()
            .expect("uuid");
        let g = genesis(id);
        let h = event_hash(&g, 0, 1_700_000_000_000_000_000, "session.start", b"{}");
        // Fixed vectors, computed independently (Python hashlib): a change here breaks every verifier.
        assert_eq!(
            hex::encode(g),
            "998729fa62374417067ac5322710df7ff4e64debc003b6c62cd40c94c34ba5df"
        );
        assert_eq!(
            hex::encode(h),
            "e83eba0a5bc2893c99b5810def50eea15cd4406cc22383d871ca636737db1037"
        );
        assert_ne!(
            h,
            event_hash(&g, 1, 1_700_000_000_000_000_000, "session.start", b"{}")
        );
    }
}
