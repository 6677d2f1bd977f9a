//! DPoP (RFC 9449): Ward tokens and service-account keys bound to a key their holder keeps. A
//! bound credential is accepted only with a proof, a JWT signed by that key, made for this
//! request: its method (`htm`), its URL (`htu`), recent (`iat`), used once (`jti`), and for
//! this credential (`ath`, the SHA-256 of the credential). A copied credential without the key
//! is refused.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How far a proof's `iat` may be from now, either way.
pub const WINDOW_SECS: i64 = 60;
/// `jti`s remembered at most; past this, proofs are refused until old ones expire.
const MAX_SEEN: usize = 100_000;

/// A proof as a request carried it, with the request it must be for.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The `DPoP` header.
    pub jwt: String,
    /// The request's method.
    pub method: String,
    /// The request's URL without its query and fragment (`https://ward:8443/api/x`).
    pub url: String,
}

impl Proof {
    /// The proof in a request's `DPoP` header (empty when absent) for `method` on `path` of
    /// the HTTPS origin the client named in its `Host` header.
    pub fn of_request(dpop: Option<&str>, method: &str, host: &str, path: &str) -> Self {
        Self {
            jwt: dpop.unwrap_or_default().to_owned(),
            method: method.to_owned(),
            url: format!("https://{host}{path}"),
        }
    }
}

/// The `jti`s of proofs seen lately, by key, with when they may be forgotten.
#[derive(Default)]
pub struct Seen(Mutex<HashMap<(String, String), i64>>);

impl Seen {
    /// Remembers `jti` of key `jkt` until `until`; false if it was seen already.
    fn first(&self, jkt: &str, jti: &str, now: i64, until: i64) -> Result<bool, String> {
        let mut seen = self
            .0
            .lock()
            .map_err(|_| "replay cache poisoned".to_owned())?;
        if seen.len() >= MAX_SEEN {
            seen.retain(|_, t| *t > now);
            if seen.len() >= MAX_SEEN {
                return Err("too many recent proofs; try again shortly".into());
            }
        }
        Ok(seen
            .insert((jkt.to_owned(), jti.to_owned()), until)
            .is_none_or(|t| t <= now))
    }
}

/// The JWK SHA-256 thumbprint (RFC 7638) of a public key: its required members, sorted, as
/// compact JSON, hashed, in base64url.
pub fn thumbprint(jwk: &Value) -> Result<String, String> {
    let members: &[&str] = match jwk["kty"].as_str() {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("OKP") => &["crv", "kty", "x"],
        Some("RSA") => &["e", "kty", "n"],
        other => return Err(format!("unsupported key type {other:?}")),
    };
    let mut required = BTreeMap::new();
    for m in members {
        let v = jwk[*m]
            .as_str()
            .ok_or_else(|| format!("the key has no `{m}`"))?;
        required.insert(*m, v);
    }
    let json = serde_json::to_string(&required).map_err(|e| e.to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes())))
}

/// The URL a proof is compared on: scheme and host in lower case, no query or fragment.
fn comparable(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!(
                "{}://{}{path}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => url.to_owned(),
    }
}

/// Checks `proof` for a credential (`secret`) bound to the key of thumbprint `jkt`, at `now`
/// (seconds since the epoch); why not, for the client and the record.
pub fn check(proof: &Proof, secret: &str, jkt: &str, now: i64, seen: &Seen) -> Result<(), String> {
    let signer = verify(proof, Some(secret), now, seen)?;
    if signer != jkt {
        return Err(
            "the DPoP proof is signed by another key than the one the credential is bound to"
                .into(),
        );
    }
    Ok(())
}

/// Checks `proof` as a request for a new credential bound to its key (RFC 9449, section 5):
/// the thumbprint of the key to bind it to.
pub fn check_new(proof: &Proof, now: i64, seen: &Seen) -> Result<String, String> {
    verify(proof, None, now, seen)
}

/// Checks `proof` (for `secret`, when it goes with one) and returns the thumbprint of the key
/// that signed it.
fn verify(proof: &Proof, secret: Option<&str>, now: i64, seen: &Seen) -> Result<String, String> {
    if proof.jwt.is_empty() {
        return Err("the request has no `DPoP` proof header".into());
    }
    let header_part = proof.jwt.split('.').next().unwrap_or_default();
    let header: Value = URL_SAFE_NO_PAD
        .decode(header_part)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or("the DPoP proof is not a JWT")?;
    if header["typ"] != "dpop+jwt" {
        return Err("the DPoP proof's `typ` is not `dpop+jwt`".into());
    }
    let alg = match header["alg"].as_str() {
        Some("ES256") => Algorithm::ES256,
        Some("ES384") => Algorithm::ES384,
        Some("EdDSA") => Algorithm::EdDSA,
        Some("RS256") => Algorithm::RS256,
        Some("PS256") => Algorithm::PS256,
        other => {
            return Err(format!(
                "the DPoP proof's algorithm {other:?} is not accepted"
            ));
        }
    };
    let jwk = &header["jwk"];
    if jwk.get("d").is_some() {
        return Err("the DPoP proof carries a private key".into());
    }
    let jkt = thumbprint(jwk)?;
    let key: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk.clone()).map_err(|e| format!("the DPoP proof's key: {e}"))?;
    let key = DecodingKey::from_jwk(&key).map_err(|e| format!("the DPoP proof's key: {e}"))?;
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(&proof.jwt, &key, &validation)
        .map_err(|e| format!("the DPoP proof's signature does not verify: {e}"))?
        .claims;
    if claims["htm"].as_str() != Some(proof.method.as_str()) {
        return Err(format!(
            "the DPoP proof is for another method than {}",
            proof.method
        ));
    }
    let htu = claims["htu"].as_str().unwrap_or_default();
    if comparable(htu) != comparable(&proof.url) {
        return Err(format!(
            "the DPoP proof is for another URL than {}",
            comparable(&proof.url)
        ));
    }
    let iat = claims["iat"]
        .as_i64()
        .ok_or("the DPoP proof has no `iat`")?;
    if (now - iat).abs() > WINDOW_SECS {
        return Err(format!(
            "the DPoP proof was made {}s from now, more than {WINDOW_SECS}s",
            now - iat
        ));
    }
    if let Some(secret) = secret {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()));
        if claims["ath"].as_str() != Some(ath.as_str()) {
            return Err("the DPoP proof is for another credential (`ath`)".into());
        }
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256);
    let jti = jti.ok_or("the DPoP proof has no usable `jti`")?;
    if !seen.first(&jkt, jti, now, iat + 2 * WINDOW_SECS)? {
        return Err("the DPoP proof was used before (`jti` replayed)".into());
    }
    Ok(jkt)
}

/// A client's DPoP key (Ed25519), as `ward login --dpop` keeps it: it makes the proofs that go
/// with a credential bound to it.
pub struct Key(ed25519_dalek::SigningKey);

impl Key {
    /// A new random key.
    pub fn generate() -> Result<Self, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The key kept as [`Key::secret`] gave it.
    pub fn from_secret(secret: &str) -> Result<Self, String> {
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(secret.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("the DPoP key is not 32 bytes in base64url")?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The private key, in base64url, for a file only its owner reads.
    pub fn secret(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.to_bytes())
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.0.verifying_key().to_bytes()),
        })
    }

    /// The public key's thumbprint, which a credential is bound to.
    pub fn thumbprint(&self) -> String {
        thumbprint(&self.jwk()).unwrap_or_default()
    }

    /// A proof for one request of `method` on `url`, with the credential it goes with (none
    /// when asking for a new one).
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        credential: Option<&str>,
    ) -> Result<String, String> {
        use ed25519_dalek::Signer as _;
        let header = serde_json::json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": self.jwk() });
        let mut claims = serde_json::json!({
            "jti": crate::secret::random(16).map_err(|e| e.to_string())?,
            "htm": method,
            "htu": comparable(url),
            "iat": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        });
        if let Some(credential) = credential {
            claims["ath"] = URL_SAFE_NO_PAD
                .encode(Sha256::digest(credential.as_bytes()))
                .into();
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.0.sign(input.as_bytes());
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_rfc_7638s() {
        // RFC 7638, section 3.1.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).expect("thumbprint"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn urls_compare_without_query_and_with_case_folded_hosts() {
        assert_eq!(
            comparable("HTTPS://Ward:8443/api/x?y=1#z"),
            "https://ward:8443/api/x"
        );
        assert_ne!(
            comparable("https://ward/api/x"),
            comparable("https://ward/api/X")
        );
    }

    #[test]
    fn wards_own_proofs_verify_once_and_only_for_their_request() {
        let key = Key::generate().expect("key");
        let again = Key::from_secret(&key.secret()).expect("kept key");
        assert_eq!(again.thumbprint(), key.thumbprint());
        let (seen, url) = (Seen::default(), "https://ward:8444/api/x");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or_default())
            .unwrap_or_default();
        let proof = |method: &str, credential| Proof {
            jwt: key.proof(method, url, credential).expect("proof"),
            method: "GET".into(),
            url: format!("{url}?q=1"),
        };
        let new = proof("GET", None);
        assert_eq!(check_new(&new, now, &seen), Ok(key.thumbprint()));
        assert!(check_new(&new, now, &seen).is_err_and(|e| e.contains("used before")));
        let bound = proof("GET", Some("ward_t_x"));
        assert_eq!(
            check(&bound, "ward_t_x", &key.thumbprint(), now, &seen),
            Ok(())
        );
        let other = Key::generate().expect("key");
        let copied = proof("GET", Some("ward_t_x"));
        assert!(
            check(&copied, "ward_t_x", &other.thumbprint(), now, &seen)
                .is_err_and(|e| e.contains("another key"))
        );
        assert!(
            check(
                &proof("POST", Some("ward_t_x")),
                "ward_t_x",
                &key.thumbprint(),
                now,
                &seen
            )
            .is_err_and(|e| e.contains("another method"))
        );
        assert!(
            check(
                &proof("GET", Some("ward_t_y")),
                "ward_t_x",
                &key.thumbprint(),
                now,
                &seen
            )
            .is_err_and(|e| e.contains("`ath`"))
        );
    }

    #[test]
    fn a_jti_is_accepted_once() {
        let seen = Seen::default();
        assert_eq!(seen.first("k", "j", 100, 220), Ok(true));
        assert_eq!(seen.first("k", "j", 101, 221), Ok(false));
        assert_eq!(seen.first("other", "j", 101, 221), Ok(true));
        // Forgotten once past its time.
        assert_eq!(seen.first("k", "j", 300, 420), Ok(true));
    }
}
