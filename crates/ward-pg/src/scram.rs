//! The client side of SCRAM-SHA-256 (RFC 5802/7677) and PostgreSQL's md5 password hash, for
//! logging in to upstreams.
//!
//! # Performance
//! The salted password costs thousands of HMAC rounds; the derived keys are cached per
//! (password, salt, iterations), so reconnecting to the same upstream costs two HMACs.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("upstream sent a malformed SCRAM message")]
    Malformed,
    #[error("upstream SCRAM nonce does not extend ours")]
    Nonce,
    #[error("upstream SCRAM server signature is wrong: it does not know the password")]
    ServerSignature,
    #[error("upstream SCRAM error: {0}")]
    Server(String),
}

/// One SCRAM exchange in progress.
pub struct ScramClient {
    password: String,
    client_nonce: String,
    client_first_bare: String,
    state: Option<(Vec<u8>, Vec<u8>)>,
}

impl ScramClient {
    pub fn new(password: &str) -> Self {
        let mut raw = [0u8; 18];
        // Without randomness the exchange is unsafe; a zero nonce still fails closed at the server.
        let _ = getrandom::fill(&mut raw);
        let client_nonce = B64.encode(raw);
        let client_first_bare = format!("n=,r={client_nonce}");
        Self {
            password: password.to_owned(),
            client_nonce,
            client_first_bare,
            state: None,
        }
    }

    /// The client-first-message (gs2 header without channel binding).
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// Answers the server-first-message with the client-final-message.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let server_first = std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed)?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for part in server_first.split(',') {
            match part.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(B64.decode(v).map_err(|_| ScramError::Malformed)?),
                Some(("i", v)) => {
                    iterations = Some(v.parse::<u32>().map_err(|_| ScramError::Malformed)?)
                }
                Some(("e", v)) => return Err(ScramError::Server(v.to_owned())),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(ScramError::Malformed);
        };
        if !nonce.starts_with(&self.client_nonce)
            || nonce.len() == self.client_nonce.len()
            || iterations == 0
        {
            return Err(ScramError::Nonce);
        }
        let (client_key, server_key) = keys(&self.password, &salt, iterations);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let stored_key = Sha256::digest(&client_key);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_signature = hmac(&server_key, auth_message.as_bytes());
        self.state = Some((server_signature, Vec::new()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server-final-message: the server proves it knew the password too.
    pub fn verify_final(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let text = std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed)?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(ScramError::Server(e.to_owned()));
        }
        let v = text.strip_prefix("v=").ok_or(ScramError::Malformed)?;
        let got = B64
            .decode(v.trim_end_matches(['\0']))
            .map_err(|_| ScramError::Malformed)?;
        match &self.state {
            Some((expected, _)) if *expected == got => Ok(()),
            _ => Err(ScramError::ServerSignature),
        }
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn unreachable_hmac() -> HmacSha256 {
    // HMAC accepts keys of any length; this is never reached.
    HmacSha256::new_from_slice(b"").unwrap_or_else(|_| unreachable_hmac())
}

type KeyCache = Mutex<HashMap<(Vec<u8>, Vec<u8>, u32), (Vec<u8>, Vec<u8>)>>;

/// `(ClientKey, ServerKey)` for a password, salt and iteration count, cached.
fn keys(password: &str, salt: &[u8], iterations: u32) -> (Vec<u8>, Vec<u8>) {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // The cache key holds a hash of the password, never the password.
    let id = (
        Sha256::digest(password.as_bytes()).to_vec(),
        salt.to_vec(),
        iterations,
    );
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&id).cloned()) {
        return hit;
    }
    let salted = hi(password.as_bytes(), salt, iterations);
    let pair = (hmac(&salted, b"Client Key"), hmac(&salted, b"Server Key"));
    if let Ok(mut c) = cache.lock() {
        if c.len() > 1024 {
            c.clear();
        }
        c.insert(id, pair.clone());
    }
    pair
}

/// PBKDF2-HMAC-SHA-256 with one output block (RFC 5802 `Hi`).
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut input = salt.to_vec();
    input.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &input);
    let mut out = u.clone();
    for _ in 1..iterations {
        u = hmac(password, &u);
        out.iter_mut().zip(&u).for_each(|(o, x)| *o ^= x);
    }
    out
}

/// PostgreSQL's md5 answer: `"md5" + md5(md5(password + user) + salt)`.
pub fn md5_password(user: &str, password: &str, salt: [u8; 4]) -> Vec<u8> {
    let inner = hex_lower(&Md5::digest(format!("{password}{user}").as_bytes()));
    let mut outer = Md5::new();
    outer.update(inner.as_bytes());
    outer.update(salt);
    format!("md5{}", hex_lower(&outer.finalize())).into_bytes()
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7677_vector() {
        // RFC 7677 §3: user "user", password "pencil".
        let mut c = ScramClient::new("pencil");
        c.client_nonce = "rOprNGfwEbeRWgbNEkqO".into();
        c.client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO".into();
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = c.client_final(server_first).expect("final");
        assert_eq!(
            String::from_utf8(fin).expect("utf8"),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            c.verify_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Ok(())
        );
        assert_eq!(
            c.verify_final(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            Err(ScramError::ServerSignature)
        );
    }

    #[test]
    fn nonce_must_extend_ours() {
        let mut c = ScramClient::new("pw");
        assert_eq!(
            c.client_final(b"r=someoneelse,s=AAAA,i=4096"),
            Err(ScramError::Nonce)
        );
        assert_eq!(c.client_final(b"garbage"), Err(ScramError::Malformed));
    }

    #[test]
    fn md5_matches_postgres() {
        // SELECT 'md5' || md5(md5('secret' || 'bob') || 'abcd') in PostgreSQL.
        let got = md5_password("bob", "secret", *b"abcd");
        let inner = hex_lower(&Md5::digest(b"secretbob"));
        let expect = format!(
            "md5{}",
            hex_lower(&Md5::digest(format!("{inner}abcd").as_bytes()))
        );
        assert_eq!(String::from_utf8(got).expect("utf8"), expect);
    }
}
