//! OpenID Connect: discovery, the key set cache, token validation, and the client side of the
//! authorization-code and device flows.
//!
//! # Validation
//! A token is routed to the configured issuer its (not yet trusted) `iss` names; a token from
//! any other issuer is refused. Its header's `alg` must be on the issuer's allow-list (RS256,
//! PS256, ES256, EdDSA at most: `none` and HMAC never, so a public key can never serve as an
//! HMAC secret), and its key is found in the issuer's JWKS by `kid`. An unknown `kid` fetches
//! the JWKS again, at most once per [`JWKS_MIN_REFRESH`]. Then the signature, `iss`, `aud`,
//! `exp`, `nbf` and `iat` are checked, with the issuer's leeway.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use ward_config::OidcIssuer;

/// An unknown `kid` refetches the key set at most this often.
pub const JWKS_MIN_REFRESH: Duration = Duration::from_secs(10);
/// A key set older than this is fetched again before use.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Talking to an issuer failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("identity provider {issuer}: {problem}")]
    Unavailable { issuer: String, problem: String },
    /// The provider answered with an OAuth error (`access_denied`, `expired_token`, …).
    #[error("identity provider {issuer} refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        issuer: String,
        error: String,
        description: Option<String>,
    },
    #[error("{0}")]
    Config(String),
}

/// Why a token was refused. The messages are meant for the person holding the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("algorithm `{alg}` is not allowed (allowed: {allowed})")]
    Algorithm { alg: String, allowed: String },
    #[error("issuer `{0}` is not configured")]
    UnknownIssuer(String),
    #[error("no key `{0}` in the issuer's key set")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("the token expired at {0}")]
    Expired(String),
    #[error("the token is not valid before {0}")]
    NotYetValid(String),
    #[error("the token was issued in the future ({0})")]
    IssuedInFuture(String),
    #[error("wrong audience {found}: expected {expected}")]
    Audience { found: String, expected: String },
    #[error("wrong issuer")]
    Issuer,
    #[error("the token has no `{0}` claim")]
    MissingClaim(String),
    #[error("the login nonce does not match")]
    Nonce,
    #[error("{0}")]
    Unavailable(#[from] OidcError),
}

/// Which `aud` a token must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The client id: an ID token from Ward's own login.
    ClientId,
    /// The issuer's accepted audiences: a token a client gives as its password.
    Accepted,
}

/// A validated token's identity.
#[derive(Debug, Clone)]
pub struct Verified {
    pub issuer: String,
    /// The `sub` claim.
    pub sub: String,
    /// The Ward user name (the issuer's `username_claim`, else `sub`).
    pub username: String,
    pub groups: Vec<String>,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
}

/// What discovery tells about an issuer.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub device_authorization_endpoint: Option<String>,
}

/// A token endpoint's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub id_token: Option<String>,
    pub access_token: Option<String>,
    /// Given when the client may refresh (the `refresh_token` grant, often `offline_access`).
    pub refresh_token: Option<String>,
    /// Seconds the access token lives.
    pub expires_in: Option<u64>,
}

/// A device authorization (RFC 8628) started at the issuer.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    #[serde(default = "DeviceAuthorization::default_interval")]
    pub interval: u64,
}

impl DeviceAuthorization {
    fn default_interval() -> u64 {
        5
    }
}

/// Where a device authorization stands.
#[derive(Debug)]
pub enum DevicePoll {
    Pending,
    SlowDown,
    Done(TokenResponse),
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, (Algorithm, Arc<DecodingKey>)>,
    /// Keys without a `kid`, usable when a token names none and exactly one fits.
    anonymous: Vec<(Algorithm, Arc<DecodingKey>)>,
    fetched: Option<Instant>,
    attempted: Option<Instant>,
}

/// One configured issuer.
pub struct Issuer {
    pub config: OidcIssuer,
    http: reqwest::Client,
    discovery: tokio::sync::OnceCell<Discovery>,
    keys: RwLock<KeyCache>,
    fetching: tokio::sync::Mutex<()>,
    algorithms: Vec<Algorithm>,
}

impl Issuer {
    pub fn new(config: OidcIssuer) -> Result<Self, OidcError> {
        let http = http_client(config.ca_file.as_deref())?;
        let algorithms = config
            .algorithms
            .iter()
            .map(|a| {
                a.parse::<Algorithm>()
                    .map_err(|_| OidcError::Config(format!("unknown algorithm {a}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            config,
            http,
            discovery: tokio::sync::OnceCell::new(),
            keys: RwLock::new(KeyCache::default()),
            fetching: tokio::sync::Mutex::new(()),
            algorithms,
        })
    }

    fn unavailable(&self, problem: impl std::fmt::Display) -> OidcError {
        OidcError::Unavailable {
            issuer: self.config.issuer.clone(),
            problem: problem.to_string(),
        }
    }

    /// The issuer's discovery document, fetched once.
    pub async fn discovery(&self) -> Result<&Discovery, OidcError> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer.trim_end_matches('/')
                );
                let d: Discovery = self.get_json(&url).await?;
                if d.issuer != self.config.issuer {
                    return Err(
                        self.unavailable(format!("discovery names issuer {} instead", d.issuer))
                    );
                }
                Ok(d)
            })
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| self.unavailable(format!("{url}: {}", error_chain(&e))))?;
        if !response.status().is_success() {
            return Err(self.unavailable(format!("{url}: HTTP {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|e| self.unavailable(format!("{url}: {e}")))
    }

    /// Fetches the key set, unless another task just did or it was tried within
    /// [`JWKS_MIN_REFRESH`] (`force` skips only the age check, not the rate limit).
    async fn refresh_keys(&self, force: bool) -> Result<(), OidcError> {
        let _one_at_a_time = self.fetching.lock().await;
        {
            let cache = self
                .keys
                .read()
                .map_err(|_| self.unavailable("key cache poisoned"))?;
            let fresh = cache.fetched.is_some_and(|t| t.elapsed() < JWKS_MAX_AGE);
            let recent = cache
                .attempted
                .is_some_and(|t| t.elapsed() < JWKS_MIN_REFRESH);
            if recent && cache.fetched.is_none() {
                return Err(self.unavailable(
                    "its key set could not be fetched; Ward tries again within seconds",
                ));
            }
            if recent || (fresh && !force) {
                return Ok(());
            }
        }
        if let Ok(mut cache) = self.keys.write() {
            cache.attempted = Some(Instant::now());
        }
        let uri = self.discovery().await?.jwks_uri.clone();
        let set: JwkSet = self.get_json(&uri).await?;
        let mut fresh = KeyCache {
            fetched: Some(Instant::now()),
            attempted: Some(Instant::now()),
            ..KeyCache::default()
        };
        for jwk in &set.keys {
            let Some(alg) = key_algorithm(jwk) else {
                continue;
            };
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                tracing::warn!(issuer = %self.config.issuer, kid = ?jwk.common.key_id, "skipping a key the JWKS holds that cannot be read");
                continue;
            };
            let entry = (alg, Arc::new(key));
            match &jwk.common.key_id {
                Some(kid) => {
                    fresh.keys.insert(kid.clone(), entry);
                }
                None => fresh.anonymous.push(entry),
            }
        }
        tracing::debug!(issuer = %self.config.issuer, keys = fresh.keys.len() + fresh.anonymous.len(), "fetched the key set");
        *self
            .keys
            .write()
            .map_err(|_| self.unavailable("key cache poisoned"))? = fresh;
        Ok(())
    }

    fn cached_key(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<DecodingKey>> {
        let cache = self.keys.read().ok()?;
        let fits = |(a, k): &(Algorithm, Arc<DecodingKey>)| (*a == alg).then(|| k.clone());
        match kid {
            Some(kid) => cache.keys.get(kid).and_then(fits),
            None => {
                let mut all = cache.anonymous.iter().chain(cache.keys.values());
                let found = all.by_ref().filter_map(fits).collect::<Vec<_>>();
                (found.len() == 1).then(|| found[0].clone())
            }
        }
    }

    /// Checks `token`'s signature and claims; `nonce`, when given, must match its `nonce`.
    pub async fn validate(
        &self,
        token: &str,
        audience: Audience,
        nonce: Option<&str>,
    ) -> Result<Verified, TokenError> {
        let header = raw_header(token)?;
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_owned();
        let alg = alg_name
            .parse::<Algorithm>()
            .ok()
            .filter(|a| self.algorithms.contains(a))
            .ok_or_else(|| TokenError::Algorithm {
                alg: alg_name.clone(),
                allowed: self.config.algorithms.join(", "),
            })?;
        let kid = header.get("kid").and_then(Value::as_str);
        self.refresh_keys(false).await?;
        let key = match self.cached_key(kid, alg) {
            Some(k) => k,
            None => {
                self.refresh_keys(true).await?;
                self.cached_key(kid, alg)
                    .ok_or_else(|| TokenError::UnknownKey(kid.unwrap_or("(no kid)").to_owned()))?
            }
        };
        let expected = match audience {
            Audience::ClientId => vec![self.config.client_id.clone()],
            Audience::Accepted => self.config.accepted_audiences(),
        };
        let leeway = self.config.leeway.0.as_secs();
        let mut validation = Validation::new(alg);
        validation.leeway = leeway;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&expected);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
            Ok(data) => data.claims,
            Err(e) => return Err(explain(e, token, &expected)),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Some(iat) = claims.get("iat").and_then(Value::as_i64)
            && iat > now.saturating_add(i64::try_from(leeway).unwrap_or(0))
        {
            return Err(TokenError::IssuedInFuture(rfc3339(iat)));
        }
        if let Some(expected) = nonce
            && !claims
                .get("nonce")
                .and_then(Value::as_str)
                .is_some_and(|n| crate::secret::equal(n, expected))
        {
            return Err(TokenError::Nonce);
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let sub = text("sub").ok_or_else(|| TokenError::MissingClaim("sub".into()))?;
        let username = text(&self.config.username_claim).unwrap_or_else(|| sub.clone());
        let groups = match claims.get(&self.config.groups_claim) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        Ok(Verified {
            issuer: self.config.issuer.clone(),
            sub,
            username,
            groups,
            expires_at: claims.get("exp").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// Where to send a browser to log in: the authorization endpoint with PKCE (S256).
    pub async fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        challenge: &str,
    ) -> Result<String, OidcError> {
        let endpoint = &self.discovery().await?.authorization_endpoint;
        let mut url = reqwest::Url::parse(endpoint)
            .map_err(|e| self.unavailable(format!("authorization endpoint {endpoint}: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.config.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<TokenResponse, OidcError> {
        let endpoint = self.discovery().await?.token_endpoint.clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        match self.token_request(&endpoint, &form).await? {
            Ok(t) => Ok(t),
            Err((error, description)) => Err(self.refused(error, description)),
        }
    }

    /// Asks the issuer for fresh tokens with a login's refresh token: whether it still vouches
    /// for the person, and with which claims. A refusal (`invalid_grant`: the person disabled,
    /// the grant revoked) is [`OidcError::Refused`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, OidcError> {
        let endpoint = self.discovery().await?.token_endpoint.clone();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        match self.token_request(&endpoint, &form).await? {
            Ok(t) => Ok(t),
            Err((error, description)) => Err(self.refused(error, description)),
        }
    }

    /// How often a login of this issuer is checked again at most ([`Issuer::refresh`]).
    pub fn recheck(&self) -> std::time::Duration {
        self.config.recheck.0
    }

    /// The issuer's name in Ward's configuration.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Starts a device authorization.
    pub async fn start_device(&self) -> Result<DeviceAuthorization, OidcError> {
        let endpoint = self
            .discovery()
            .await?
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| self.unavailable("the issuer offers no device authorization"))?;
        let scope = self.config.scopes.join(" ");
        let form = [
            ("client_id", self.config.client_id.as_str()),
            ("scope", &scope),
        ];
        let (status, body) = self.post_form(&endpoint, &form).await?;
        if !status.is_success() {
            let (error, description) = oauth_error(&body);
            return Err(self.refused(error, description));
        }
        serde_json::from_value(body).map_err(|e| self.unavailable(format!("{endpoint}: {e}")))
    }

    /// Asks once whether the person approved the device authorization.
    pub async fn poll_device(&self, device_code: &str) -> Result<DevicePoll, OidcError> {
        let endpoint = self.discovery().await?.token_endpoint.clone();
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
        ];
        match self.token_request(&endpoint, &form).await? {
            Ok(t) => Ok(DevicePoll::Done(t)),
            Err((e, _)) if e == "authorization_pending" => Ok(DevicePoll::Pending),
            Err((e, _)) if e == "slow_down" => Ok(DevicePoll::SlowDown),
            Err((error, description)) => Err(self.refused(error, description)),
        }
    }

    fn refused(&self, error: String, description: Option<String>) -> OidcError {
        OidcError::Refused {
            issuer: self.config.issuer.clone(),
            error,
            description,
        }
    }

    fn client_auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.config.client_secret {
            Some(secret) => request.basic_auth(
                form_encode(&self.config.client_id),
                Some(form_encode(secret.expose())),
            ),
            None => request,
        }
    }

    /// POSTs a form with the client's credentials: the status and the JSON answer.
    async fn post_form(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, Value), OidcError> {
        let response = self
            .client_auth(self.http.post(endpoint))
            .form(form)
            .send()
            .await
            .map_err(|e| self.unavailable(format!("{endpoint}: {}", error_chain(&e))))?;
        let status = response.status();
        let body = response
            .json()
            .await
            .map_err(|e| self.unavailable(format!("{endpoint}: HTTP {status}: {e}")))?;
        Ok((status, body))
    }

    /// A token request: the tokens, or the OAuth error and description.
    async fn token_request(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<Result<TokenResponse, (String, Option<String>)>, OidcError> {
        let mut form = form.to_vec();
        if self.config.client_secret.is_none() {
            form.push(("client_id", &self.config.client_id));
        }
        let (status, body) = self.post_form(endpoint, &form).await?;
        if status.is_success() {
            return serde_json::from_value(body)
                .map(Ok)
                .map_err(|e| self.unavailable(format!("{endpoint}: {e}")));
        }
        Ok(Err(oauth_error(&body)))
    }
}

/// Every configured issuer.
pub struct Oidc {
    issuers: Vec<Arc<Issuer>>,
}

impl Oidc {
    pub fn new(configs: &[OidcIssuer]) -> Result<Self, OidcError> {
        let issuers = configs
            .iter()
            .map(|c| Issuer::new(c.clone()).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(Self { issuers })
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    pub fn names(&self) -> Vec<String> {
        self.issuers.iter().map(|i| i.config.name.clone()).collect()
    }

    /// The issuer called `name`, or the only one when `name` is `None`.
    pub fn by_name(&self, name: Option<&str>) -> Result<&Arc<Issuer>, OidcError> {
        match name {
            Some(n) => self
                .issuers
                .iter()
                .find(|i| i.config.name == n)
                .ok_or_else(|| {
                    OidcError::Config(format!(
                        "no issuer named `{n}` (configured: {})",
                        self.names().join(", ")
                    ))
                }),
            None => match self.issuers.as_slice() {
                [one] => Ok(one),
                [] => Err(OidcError::Config(
                    "no OpenID Connect issuer is configured".into(),
                )),
                _ => Err(OidcError::Config(format!(
                    "several issuers are configured: choose one of {}",
                    self.names().join(", ")
                ))),
            },
        }
    }

    /// Validates a token given as a password, with the issuer its `iss` names.
    pub async fn validate(&self, token: &str) -> Result<Verified, TokenError> {
        let payload = raw_payload(token)?;
        let iss = payload
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| TokenError::MissingClaim("iss".into()))?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == iss)
            .ok_or_else(|| TokenError::UnknownIssuer(iss.to_owned()))?;
        issuer.validate(token, Audience::Accepted, None).await
    }
}

/// Whether `s` has the shape of a JWS in compact form (three base64url parts, a JSON header).
pub fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.split('.').count() == 3
}

fn part(token: &str, index: usize) -> Result<Map<String, Value>, TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(TokenError::Malformed(format!(
            "{} parts instead of 3",
            parts.len()
        )));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[index])
        .map_err(|e| TokenError::Malformed(format!("base64: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| TokenError::Malformed(format!("JSON: {e}")))
}

fn raw_header(token: &str) -> Result<Map<String, Value>, TokenError> {
    part(token, 0)
}

fn raw_payload(token: &str) -> Result<Map<String, Value>, TokenError> {
    part(token, 1)
}

/// The algorithm a JWK may verify: its `alg`, else the first allowed one of its key type.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    if let Some(alg) = jwk.common.key_algorithm {
        return alg.to_string().parse().ok();
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// Turns a validation failure into what the token's holder can act on.
fn explain(e: jsonwebtoken::errors::Error, token: &str, expected: &[String]) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    let claims = raw_payload(token).unwrap_or_default();
    let time = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .map(rfc3339)
            .unwrap_or_default()
    };
    match e.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired(time("exp")),
        ErrorKind::ImmatureSignature => TokenError::NotYetValid(time("nbf")),
        ErrorKind::InvalidAudience => TokenError::Audience {
            found: claims
                .get("aud")
                .map(Value::to_string)
                .unwrap_or_else(|| "(none)".into()),
            expected: expected.join(" or "),
        },
        ErrorKind::InvalidIssuer => TokenError::Issuer,
        ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c.clone()),
        ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidEddsaKey => {
            TokenError::Signature
        }
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => TokenError::Signature,
        _ => TokenError::Malformed(e.to_string()),
    }
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

fn oauth_error(body: &Value) -> (String, Option<String>) {
    (
        body.get("error")
            .and_then(Value::as_str)
            .unwrap_or("invalid_response")
            .to_owned(),
        body.get("error_description")
            .and_then(Value::as_str)
            .map(str::to_owned),
    )
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before Basic authentication.
fn form_encode(s: &str) -> String {
    reqwest::Url::parse_with_params("x:", &[("v", s)])
        .ok()
        .and_then(|u| u.query().map(|q| q.trim_start_matches("v=").to_owned()))
        .unwrap_or_else(|| s.to_owned())
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// An HTTP client for talking to identity providers, trusting `ca_file` when given (else the
/// system's roots).
pub fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, OidcError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| OidcError::Config(format!("reading {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| OidcError::Config(format!("{}: {e}", path.display())))?;
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .map_err(|e| OidcError::Config(format!("HTTP client: {}", error_chain(&e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(!looks_like_jwt("ward_t_abc"));
        assert!(!looks_like_jwt("hunter2"));
    }

    #[test]
    fn malformed_tokens_are_named() {
        assert!(matches!(raw_header("a.b"), Err(TokenError::Malformed(_))));
        assert!(matches!(
            raw_header("!!.e30.x"),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn client_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c/d"), "a+b%3Ac%2Fd");
        assert_eq!(form_encode("plain"), "plain");
    }
}
