//! The login routes `ward login` drives.
//!
//! # Browser flow: authorization code with PKCE on both legs
//! 1. `ward login` listens on a loopback port, makes a PKCE verifier, and opens
//!    `/auth/login?port=P&state=S&challenge=C` (and `&issuer=NAME`) in a browser.
//! 2. Ward keeps (P, S, C), makes its own state, nonce and PKCE verifier, and redirects the
//!    browser to the issuer's authorization endpoint.
//! 3. The issuer sends the browser back to `/auth/callback`. Ward exchanges the code (with its
//!    client secret and verifier), validates the ID token (signature, issuer, audience = the
//!    client id, nonce), and redirects the browser to `http://127.0.0.1:P/callback` with a
//!    one-time code and S.
//! 4. `ward login` posts the code and its verifier to `/api/v1/auth/token` and gets a Ward
//!    token. Another local process that sees the code cannot use it without the verifier.
//!
//! # SAML 2.0 (`ward login --saml`)
//! The same, with `/auth/saml/login` as the start: Ward sends an AuthnRequest (HTTP-Redirect
//! binding) with a random RelayState, the provider posts its signed Response to
//! `/auth/saml/acs`, and Ward checks it (see [`ward_auth::saml`]) before step 4.
//!
//! # Device flow (RFC 8628), for a box without a browser
//! `/api/v1/auth/device` starts a device authorization at the issuer; `ward login --device`
//! shows the user code and polls `/api/v1/auth/token` until the person has approved it.
//!
//! Logins in progress are kept in memory for [`PENDING_TTL`]: behind a load balancer, a login
//! must reach the same Ward (sticky sessions) from start to callback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_auth::oidc::{DevicePoll, Issuer};
use ward_auth::saml::SamlProvider;
use ward_auth::{Audience, Verified, secret};
use ward_core::Timestamp;
use ward_store::control::IdpLogin;
use ward_store::credentials::{Credential, CredentialFilter, CredentialKind, NewCredential};

use super::model::Info;
use super::{ApiError, Web};

/// How long a login may take from start to finish.
const PENDING_TTL: Duration = Duration::from_secs(15 * 60);
/// Logins in progress at once, per kind; more are refused rather than eat memory.
const MAX_PENDING: usize = 10_000;
/// Binds a web sign-in to the browser that started it: without it, an attacker could send a
/// victim's browser to the callback of the attacker's own login (login CSRF) and have the
/// victim work, and be recorded, as the attacker. `SameSite=None`: the SAML provider's POST
/// back is cross-site.
const LOGIN_COOKIE: &str = "ward_login";

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/auth/login", get(start))
        .route("/auth/callback", get(callback))
        .route("/auth/saml/login", get(saml_start))
        .route("/auth/saml/acs", post(saml_acs))
        .route("/auth/saml/metadata", get(saml_metadata))
        .route("/auth/web/login", get(web_start))
        .route("/auth/web/saml", get(web_saml_start))
        .route("/api/v1/info", get(info))
        .route(TOKEN_PATH, post(token))
        .route("/api/v1/auth/device", post(device))
        .route(REVOKE_PATH, post(revoke))
        .route(SSH_CERTIFICATE_PATH, post(ssh_certificate))
}

/// Who the browser was sent to, and what to check its answer against.
enum Upstream {
    Oidc {
        issuer: Arc<Issuer>,
        nonce: String,
        verifier: String,
    },
    Saml {
        provider: Arc<SamlProvider>,
        request_id: String,
    },
}

/// Where a login goes when it is done.
enum Return {
    /// Back to `ward login` on its loopback port, with a one-time code for its verifier.
    Cli {
        port: u16,
        client_state: String,
        client_challenge: String,
    },
    /// Signed in to the web UI, from this browser's address, in the browser that holds
    /// `binding` in its [`LOGIN_COOKIE`].
    Web {
        peer: std::net::SocketAddr,
        binding: String,
    },
}

struct BrowserLogin {
    upstream: Upstream,
    to: Return,
}

struct Finished {
    verified: Verified,
    refresh: Option<Refresh>,
    client_challenge: String,
}

/// What lets Ward check a login again with its issuer: the refresh token the issuer gave, and
/// how long its access token lives.
#[derive(Clone)]
struct Refresh {
    issuer: Arc<Issuer>,
    token: String,
    expires_in: Option<u64>,
}

impl Refresh {
    fn of(issuer: &Arc<Issuer>, tokens: &ward_auth::oidc::TokenResponse) -> Option<Self> {
        Some(Self {
            issuer: issuer.clone(),
            token: tokens.refresh_token.clone()?,
            expires_in: tokens.expires_in,
        })
    }
}

struct DeviceLogin {
    issuer: Arc<Issuer>,
    device_code: String,
}

/// Logins in progress, each with the time it started.
#[derive(Default)]
pub struct Pending {
    browser: Mutex<HashMap<String, (Instant, BrowserLogin)>>,
    finished: Mutex<HashMap<String, (Instant, Finished)>>,
    devices: Mutex<HashMap<String, (Instant, Arc<DeviceLogin>)>>,
}

fn put<T>(
    map: &Mutex<HashMap<String, (Instant, T)>>,
    key: String,
    value: T,
) -> Result<(), ApiError> {
    let mut map = map
        .lock()
        .map_err(|_| ApiError::internal("login table poisoned"))?;
    map.retain(|_, (at, _)| at.elapsed() < PENDING_TTL);
    if map.len() >= MAX_PENDING {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many logins in progress; try again in a few minutes",
        ));
    }
    map.insert(key, (Instant::now(), value));
    Ok(())
}

fn take<T>(map: &Mutex<HashMap<String, (Instant, T)>>, key: &str) -> Option<T> {
    let (at, value) = map.lock().ok()?.remove(key)?;
    (at.elapsed() < PENDING_TTL).then_some(value)
}

fn random() -> Result<String, ApiError> {
    secret::random(32).map_err(ApiError::internal)
}

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "issuer_unavailable", e.to_string())
}

#[derive(Deserialize)]
struct StartQuery {
    issuer: Option<String>,
    port: u16,
    state: String,
    challenge: String,
}

impl StartQuery {
    /// Checks what `ward login` sent, for the way back.
    fn cli(&self) -> Result<Return, ApiError> {
        if self.port == 0 || self.state.is_empty() || self.state.len() > 256 {
            return Err(bad_request(
                "invalid_request",
                "port and state are required (state at most 256 characters)",
            ));
        }
        if !(43..=128).contains(&self.challenge.len()) {
            return Err(bad_request(
                "invalid_request",
                "challenge must be an S256 PKCE challenge (43 to 128 characters)",
            ));
        }
        Ok(Return::Cli {
            port: self.port,
            client_state: self.state.clone(),
            client_challenge: self.challenge.clone(),
        })
    }
}

#[derive(Deserialize)]
struct WebStartQuery {
    issuer: Option<String>,
}

async fn start(
    State(web): State<Arc<Web>>,
    Query(q): Query<StartQuery>,
) -> Result<Redirect, ApiError> {
    let to = q.cli()?;
    begin_oidc(&web, q.issuer.as_deref(), to).await
}

async fn saml_start(
    State(web): State<Arc<Web>>,
    Query(q): Query<StartQuery>,
) -> Result<Redirect, ApiError> {
    let to = q.cli()?;
    begin_saml(&web, q.issuer.as_deref(), to)
}

/// `/auth/web/login`: signs in to the web UI through an OpenID Connect issuer.
async fn web_start(
    State(web): State<Arc<Web>>,
    axum::Extension(peer): axum::Extension<super::Peer>,
    Query(q): Query<WebStartQuery>,
) -> Result<Response, ApiError> {
    let binding = random()?;
    let to = Return::Web {
        peer: peer.0,
        binding: binding.clone(),
    };
    let redirect = begin_oidc(&web, q.issuer.as_deref(), to).await?;
    Ok(bound(redirect, &binding))
}

/// `/auth/web/saml`: signs in to the web UI through a SAML provider.
async fn web_saml_start(
    State(web): State<Arc<Web>>,
    axum::Extension(peer): axum::Extension<super::Peer>,
    Query(q): Query<WebStartQuery>,
) -> Result<Response, ApiError> {
    let binding = random()?;
    let to = Return::Web {
        peer: peer.0,
        binding: binding.clone(),
    };
    let redirect = begin_saml(&web, q.issuer.as_deref(), to)?;
    Ok(bound(redirect, &binding))
}

/// `response` with the cookie that binds a web sign-in to this browser (empty: cleared).
fn bound(response: impl IntoResponse, binding: &str) -> Response {
    let mut response = response.into_response();
    let max_age = if binding.is_empty() {
        0
    } else {
        PENDING_TTL.as_secs()
    };
    let cookie = format!(
        "{LOGIN_COOKIE}={binding}; Path=/auth; HttpOnly; Secure; SameSite=None; Max-Age={max_age}"
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Sends the browser to the issuer's authorization endpoint (code with PKCE).
async fn begin_oidc(web: &Web, issuer: Option<&str>, to: Return) -> Result<Redirect, ApiError> {
    let issuer = web
        .oidc
        .by_name(issuer)
        .map_err(|e| bad_request("unknown_issuer", e.to_string()))?
        .clone();
    let (state, nonce, verifier) = (random()?, random()?, random()?);
    let url = issuer
        .authorization_url(
            &web.callback_url(),
            &state,
            &nonce,
            &secret::s256(&verifier),
        )
        .await
        .map_err(unavailable)?;
    let upstream = Upstream::Oidc {
        issuer,
        nonce,
        verifier,
    };
    put(&web.logins.browser, state, BrowserLogin { upstream, to })?;
    Ok(Redirect::to(&url))
}

/// Sends the browser to the SAML provider with an AuthnRequest.
fn begin_saml(web: &Web, provider: Option<&str>, to: Return) -> Result<Redirect, ApiError> {
    let provider = web
        .saml
        .by_name(provider)
        .map_err(|e| bad_request("unknown_issuer", e.to_string()))?
        .clone();
    let relay_state = random()?;
    let (request_id, url) = provider
        .login_url(&relay_state)
        .map_err(ApiError::internal)?;
    let upstream = Upstream::Saml {
        provider,
        request_id,
    };
    put(
        &web.logins.browser,
        relay_state,
        BrowserLogin { upstream, to },
    )?;
    Ok(Redirect::to(&url))
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: String,
}

/// The SAML assertion consumer service: the provider's browser POST.
async fn saml_acs(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<AcsForm>,
) -> Response {
    let Some(login) = take(&web.logins.browser, &form.relay_state) else {
        return unknown_login();
    };
    let Upstream::Saml {
        provider,
        request_id,
    } = &login.upstream
    else {
        return unknown_login();
    };
    let (provider, request_id) = (provider.clone(), request_id.clone());
    let response = form.saml_response;
    let verified =
        tokio::task::spawn_blocking(move || provider.verify(&response, &request_id)).await;
    let verified = match verified {
        Ok(Ok(v)) => Ok((v, None)),
        Ok(Err(e)) => Err(("login_failed", e.to_string())),
        Err(e) => Err(("server_error", e.to_string())),
    };
    if let Err((_, why)) = &verified {
        tracing::warn!(error = %why, "SAML login refused");
    }
    finish(&web, &login, &headers, verified).await
}

#[derive(Deserialize)]
struct MetadataQuery {
    idp: Option<String>,
}

async fn saml_metadata(
    State(web): State<Arc<Web>>,
    Query(q): Query<MetadataQuery>,
) -> Result<Response, ApiError> {
    let provider = web
        .saml
        .by_name(q.idp.as_deref())
        .map_err(|e| bad_request("unknown_issuer", e.to_string()))?;
    let xml = provider.metadata();
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response())
}

fn unknown_login() -> Response {
    let page = Html(
        "<!doctype html><title>Ward</title><p>This login is unknown or has expired. Run <code>ward login</code> again.</p>",
    );
    (StatusCode::BAD_REQUEST, page).into_response()
}

/// Finishes a login: back to `ward login` with a one-time code, or signed in to the web UI;
/// or with the error.
async fn finish(
    web: &Web,
    login: &BrowserLogin,
    headers: &HeaderMap,
    verified: Result<(Verified, Option<Refresh>), (&str, String)>,
) -> Response {
    match &login.to {
        Return::Cli {
            port,
            client_state,
            client_challenge,
        } => {
            let back = |params: &[(&str, &str)]| -> Response {
                let mut url = format!("http://127.0.0.1:{port}/callback");
                if let Ok(u) = reqwest::Url::parse_with_params(&url, params) {
                    url = u.into();
                }
                Redirect::to(&url).into_response()
            };
            let fail = |error: &str, description: &str| {
                back(&[
                    ("error", error),
                    ("error_description", description),
                    ("state", client_state),
                ])
            };
            let (verified, refresh) = match verified {
                Ok(v) => v,
                Err((error, description)) => return fail(error, &description),
            };
            let Ok(code) = random() else {
                return fail("server_error", "no randomness");
            };
            let finished = Finished {
                verified,
                refresh,
                client_challenge: client_challenge.clone(),
            };
            if let Err(e) = put(&web.logins.finished, code.clone(), finished) {
                return fail(e.code, &e.message);
            }
            back(&[("code", &code), ("state", client_state)])
        }
        Return::Web { peer, binding } => {
            let failed = |why: &str| {
                let url = reqwest::Url::parse_with_params("https://ward/", &[("login_error", why)])
                    .ok()
                    .and_then(|u| u.query().map(|q| format!("/?{q}")))
                    .unwrap_or_else(|| "/".into());
                bound(Redirect::to(&url), "")
            };
            if super::api::cookie(headers, LOGIN_COOKIE) != Some(binding.as_str()) {
                tracing::warn!(%peer, "web sign-in finished in a browser that did not start it");
                return failed("this sign-in was started in another browser; start it again here");
            }
            let v = match verified {
                Ok((v, _)) => v,
                Err((_, description)) => return failed(&description),
            };
            let method = match login.upstream {
                Upstream::Oidc { .. } => "oidc",
                Upstream::Saml { .. } => "saml",
            };
            let identity = ward_core::Identity {
                subject: v.username,
                groups: v.groups,
                method: method.into(),
                issuer: v.issuer,
                credential: Some(v.sub),
            };
            match web.sign_in(identity, *peer).await {
                Ok((cookie, _)) => {
                    let mut response = bound(Redirect::to("/"), "");
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                    response
                }
                Err(e) => failed(&e.message),
            }
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let login = q
        .state
        .as_deref()
        .and_then(|s| take(&web.logins.browser, s));
    let Some(login) = login else {
        return unknown_login();
    };
    let Upstream::Oidc {
        issuer,
        nonce,
        verifier,
    } = &login.upstream
    else {
        return unknown_login();
    };
    let verified = async {
        if let Some(error) = &q.error {
            let description = q.error_description.clone().unwrap_or_default();
            return Err((error.as_str(), description));
        }
        let code = q
            .code
            .as_deref()
            .ok_or(("invalid_request", "the issuer sent no code".to_owned()))?;
        let tokens = issuer
            .exchange_code(code, &web.callback_url(), verifier)
            .await
            .map_err(|e| ("login_failed", e.to_string()))?;
        let refresh = Refresh::of(issuer, &tokens);
        let id_token = tokens
            .id_token
            .ok_or(("login_failed", "the issuer returned no ID token".to_owned()))?;
        let verified = issuer
            .validate(&id_token, Audience::ClientId, Some(nonce))
            .await
            .map_err(|e| ("login_failed", format!("ID token rejected: {e}")))?;
        Ok((verified, refresh))
    }
    .await;
    finish(&web, &login, &headers, verified).await
}

#[derive(Deserialize)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
enum TokenRequest {
    LoginCode { code: String, verifier: String },
    Device { device_id: String },
}

/// Where Ward's tokens are issued; a `DPoP` proof for it asks for a token bound to its key.
const TOKEN_PATH: &str = "/api/v1/auth/token";
/// Where a Ward token is revoked (`ward tokens revoke`, logging out).
const REVOKE_PATH: &str = "/api/v1/auth/revoke";
/// Where a Ward token gets an SSH certificate (`ward connect ssh`).
const SSH_CERTIFICATE_PATH: &str = "/api/v1/auth/ssh-certificate";

async fn token(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(request): Json<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    // The proof is checked before the login code or device login is used up.
    let key = match headers.get("dpop") {
        None => None,
        Some(_) => {
            let proof = super::dpop_proof(&headers, "POST", TOKEN_PATH);
            let jkt = web
                .credentials
                .key_to_bind(&proof)
                .map_err(|e| bad_request("invalid_dpop_proof", e.to_string()))?;
            Some(jkt)
        }
    };
    let (verified, refresh) = match request {
        TokenRequest::LoginCode { code, verifier } => {
            let finished = take(&web.logins.finished, &code).ok_or_else(|| {
                bad_request("invalid_grant", "unknown, used or expired login code")
            })?;
            if !secret::equal(&secret::s256(&verifier), &finished.client_challenge) {
                return Err(bad_request(
                    "invalid_grant",
                    "the PKCE verifier does not match the login's challenge",
                ));
            }
            (finished.verified, finished.refresh)
        }
        TokenRequest::Device { device_id } => device_poll(&web, &device_id).await?,
    };
    issue(&web, verified, refresh, key).map(Json)
}

async fn device_poll(web: &Web, device_id: &str) -> Result<(Verified, Option<Refresh>), ApiError> {
    let login = {
        let map = web
            .logins
            .devices
            .lock()
            .map_err(|_| ApiError::internal("login table poisoned"))?;
        map.get(device_id)
            .filter(|(at, _)| at.elapsed() < PENDING_TTL)
            .map(|(_, l)| l.clone())
    };
    let login =
        login.ok_or_else(|| bad_request("expired_token", "unknown or expired device login"))?;
    let polled = login.issuer.poll_device(&login.device_code).await;
    let tokens = match polled {
        Ok(DevicePoll::Pending) => {
            return Err(bad_request(
                "authorization_pending",
                "waiting for the login to be approved",
            ));
        }
        Ok(DevicePoll::SlowDown) => {
            return Err(bad_request("slow_down", "polling too often"));
        }
        Ok(DevicePoll::Done(t)) => t,
        Err(e) => {
            take(&web.logins.devices, device_id);
            return Err(match &e {
                ward_auth::OidcError::Refused { error, .. } if error == "access_denied" => {
                    bad_request("access_denied", e.to_string())
                }
                ward_auth::OidcError::Refused { error, .. } if error == "expired_token" => {
                    bad_request("expired_token", e.to_string())
                }
                _ => unavailable(e),
            });
        }
    };
    take(&web.logins.devices, device_id);
    let refresh = Refresh::of(&login.issuer, &tokens);
    let id_token = tokens
        .id_token
        .ok_or_else(|| unavailable("the issuer returned no ID token"))?;
    let verified = login
        .issuer
        .validate(&id_token, Audience::ClientId, None)
        .await
        .map_err(|e| bad_request("login_failed", format!("ID token rejected: {e}")))?;
    Ok((verified, refresh))
}

/// Issues a Ward token for a person the issuer vouched for; with `refresh`, Ward checks with
/// the issuer again when its token expires (at most every `recheck`) that it still vouches for
/// the person, and with which groups (see `crate::recheck`). With `key`, the token is bound to
/// that key (DPoP).
fn issue(
    web: &Web,
    v: Verified,
    refresh: Option<Refresh>,
    key: Option<String>,
) -> Result<Value, ApiError> {
    web.refuse_disabled(&v.username)?;
    let ttl = i64::try_from(web.runtime().config.auth.token_ttl.0.as_nanos()).unwrap_or(i64::MAX);
    let expires_at = Timestamp(Timestamp::now().0.saturating_add(ttl));
    let new = NewCredential {
        kind: CredentialKind::Token,
        subject: v.username,
        groups: v.groups,
        issuer: v.issuer,
        method: "oidc".into(),
        expires_at: Some(expires_at),
        key,
    };
    let (credential, token) = web
        .store_blocking(|store| {
            let (credential, token) = store.issue_credential(&new)?;
            if let Some(r) = &refresh {
                let login = IdpLogin {
                    credential: credential.id.clone(),
                    issuer: r.issuer.name().to_owned(),
                    refresh_token: r.token.clone(),
                };
                let check_at = crate::recheck::next_check(r.issuer.recheck(), r.expires_in);
                store.remember_login(&login, check_at)?;
            }
            Ok((credential, token))
        })
        .map_err(ApiError::internal)?;
    tracing::info!(user = %credential.subject, id = %credential.id, issuer = %credential.issuer, bound = credential.key.is_some(), "issued a Ward token");
    Ok(json!({
        "token": token,
        "token_type": if credential.key.is_some() { "DPoP" } else { "Bearer" },
        "dpop_jkt": credential.key,
        "id": credential.id,
        "user": credential.subject,
        "groups": credential.groups,
        "issuer": credential.issuer,
        "expires_at": expires_at.to_rfc3339(),
        "postgres": web.postgres.map(|a| a.to_string()),
        "mysql": web.mysql.map(|a| a.to_string()),
        "http": web.http.map(|a| a.to_string()),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeviceRequest {
    issuer: Option<String>,
}

async fn device(
    State(web): State<Arc<Web>>,
    body: Option<Json<DeviceRequest>>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) = body.unwrap_or_default();
    let issuer = web
        .oidc
        .by_name(request.issuer.as_deref())
        .map_err(|e| bad_request("unknown_issuer", e.to_string()))?
        .clone();
    let started = issuer.start_device().await.map_err(unavailable)?;
    let device_id = random()?;
    let login = DeviceLogin {
        issuer,
        device_code: started.device_code,
    };
    put(&web.logins.devices, device_id.clone(), Arc::new(login))?;
    Ok(Json(json!({
        "device_id": device_id,
        "user_code": started.user_code,
        "verification_uri": started.verification_uri,
        "verification_uri_complete": started.verification_uri_complete,
        "interval": started.interval,
        "expires_in": started.expires_in,
    })))
}

/// What the server offers to sign in with besides a password.
#[utoipa::path(get, path = "/api/v1/info", tag = "sign-in", responses((status = 200, body = Info)))]
pub(super) async fn info(State(web): State<Arc<Web>>) -> Json<Info> {
    Json(Info {
        version: crate::VERSION.to_owned(),
        issuers: web.oidc.names(),
        saml: web.saml.names(),
        postgres: web.postgres.map(|a| a.to_string()),
        mysql: web.mysql.map(|a| a.to_string()),
        ssh: web.ssh.as_ref().map(|(a, _)| a.to_string()),
        http: web.http.map(|a| a.to_string()),
    })
}

/// The Ward token a POST to `path` carries, as `Authorization: Bearer TOKEN` or, bound to a
/// key, as `Authorization: DPoP TOKEN` with a proof for this request; checked, or why not.
async fn ward_token(
    web: &Web,
    headers: &HeaderMap,
    path: &str,
    what: &str,
) -> Result<Credential, ApiError> {
    let Some((token, proof)) = super::presented(headers, "POST", path) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            format!(
                "give the Ward token {what} as `Authorization: Bearer TOKEN` (or, bound to a key, `Authorization: DPoP TOKEN` with a proof)"
            ),
        ));
    };
    web.credentials
        .ward_token(token, proof.as_ref())
        .await
        .map_err(|e| {
            tracing::warn!(path, error = %e, "refused a Ward token");
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                format!("{e}: run `ward login`"),
            )
        })
}

#[derive(Deserialize)]
struct SshCertificateRequest {
    /// The OpenSSH public key to certify (`ssh-ed25519 AAAA…`).
    public_key: String,
}

/// Signs an SSH user certificate for the bearer's Ward token: principal the token's user, key
/// id `ward:CREDENTIAL-ID` (so revoking the token ends the certificate too), valid until the
/// token expires (at most `[auth] token_ttl` from now).
async fn ssh_certificate(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(request): Json<SshCertificateRequest>,
) -> Result<Json<Value>, ApiError> {
    let (Some(ca), Some((ssh, host_key))) = (&web.ssh_user_ca, &web.ssh) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_ssh",
            "this Ward has no SSH listener ([listen] ssh)",
        ));
    };
    let key = ward_ssh::SshPublicKey::from_openssh(request.public_key.trim())
        .map_err(|e| bad_request("bad_public_key", format!("public_key: {e}")))?;
    let credential = ward_token(&web, &headers, SSH_CERTIFICATE_PATH, "to certify").await?;
    let now = Timestamp::now();
    let from = now.unix_seconds();
    let ttl = web.runtime().config.auth.token_ttl.0.as_secs();
    let until = credential
        .expires_at
        .map_or(from + ttl, Timestamp::unix_seconds)
        .min(from + ttl);
    let key_id = format!("{}{}", ward_ssh::CERT_KEY_ID_PREFIX, credential.id);
    let certificate = ward_ssh::keys::certify(
        ca,
        &key,
        &credential.subject,
        &key_id,
        (from.saturating_sub(60), until),
    )
    .and_then(|c| c.to_openssh())
    .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "certificate": certificate,
        "principal": credential.subject,
        "valid_before": Timestamp::from_unix_seconds(until).to_rfc3339(),
        "ssh": ssh.to_string(),
        "host_key": host_key,
    })))
}

/// Revokes the Ward token given as the bearer token (logging out).
async fn revoke(State(web): State<Arc<Web>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let c = ward_token(&web, &headers, REVOKE_PATH, "to revoke").await?;
    let filter = CredentialFilter {
        id: Some(&c.id),
        ..CredentialFilter::default()
    };
    let revoked = web
        .store_blocking(|store| store.revoke_credentials(&filter, &c.subject))
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "revoked": revoked.iter().map(|c| &c.id).collect::<Vec<_>>() }),
    ))
}

impl Web {
    fn callback_url(&self) -> String {
        format!("{}/auth/callback", self.public_url)
    }
}
