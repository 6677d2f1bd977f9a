//! One client connection: its requests, the sessions they belong to, and their relay.
//!
//! A session is one identity on one resource over one client connection: the first request
//! with a credential admits it, and the next requests with the same credential join it. Each
//! request is recorded (`http.request`), checked against the guardrails, sent upstream with
//! Ward's credential for the resource, and its answer recorded (`http.response`, then the
//! bodies as `http.body` chunks as they pass). A WebSocket upgrade is relayed and recorded
//! message by message (`http.websocket`).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use ward_admit::{Admitted, Reason, Record, Termination};
use ward_config::{ResourceKind, Secret};
use ward_core::auth::Authenticator as _;
use ward_core::payload::{
    Auth, HttpRequest, HttpResponse, HttpWebsocket, Payload, PolicyDenied, SessionError, Terminal,
};
use ward_core::{Identity, Outcome, Protocol};
use ward_mask::{MaskReport, Masker, StreamMasker};
use ward_store::stream::StreamRecord;
use ward_store::{JsonBody, MaskedJson, PremaskedJson, SessionRecorder};

use crate::Gateway;
use crate::ai;
use crate::body::{Aborted, Feed, Piped};
use crate::headers;
use crate::ws::{Frames, Message, Opcode};

mod session;
use session::Session;

/// The path on a resource where a browser posts the token Ward's web UI gave it
/// (`/api/v1/resources/NAME/open`); never sent upstream.
const LAUNCH: &str = "/.ward/launch";
/// The cookie that carries that token, for the resource's path only.
const APP_COOKIE: &str = "ward_app";

/// How long a client may take to send a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the credential of an open session is checked again (a revoked token, a disabled
/// user, an expired password stop being let in).
const RECHECK: Duration = Duration::from_secs(60);
/// How long open connections get to finish when Ward stops.
const DRAIN: Duration = Duration::from_secs(2);

/// Serves one connection until it closes (or Ward stops), then ends its sessions.
pub(crate) async fn serve<S>(gw: Arc<Gateway>, stream: S, peer: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = Arc::new(Conn {
        gw: gw.clone(),
        peer,
        sessions: Mutex::new(HashMap::new()),
        relays: std::sync::Mutex::new(Vec::new()),
    });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req| {
            let conn = conn.clone();
            async move { Ok::<_, Infallible>(conn.handle(req).await) }
        })
    };
    let serving = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(serving);
    let mut stop = gw.shutdown.clone();
    tokio::select! {
        served = serving.as_mut() => {
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "HTTP: connection ended with an error");
            }
        }
        _ = stop.changed() => {
            serving.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, serving).await;
        }
    }
    conn.end().await;
}

/// A resource's name and a credential's digest.
type SessionKey = (String, [u8; 32]);

/// A client connection's state.
struct Conn {
    gw: Arc<Gateway>,
    peer: SocketAddr,
    /// Its sessions, by resource and credential.
    sessions: Mutex<HashMap<SessionKey, Arc<Session>>>,
    /// WebSocket relays of this connection, which its sessions outlive.
    relays: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

/// How a client proved who it is.
struct Credential {
    how: &'static str,
    /// The user name of Basic authentication.
    user: Option<String>,
    secret: String,
    /// With `Authorization: DPoP`: the `DPoP` header's proof (RFC 9449).
    proof: Option<String>,
}

impl Credential {
    /// The credential a request carries for Ward, if any.
    fn of(headers: &hyper::HeaderMap) -> Option<Self> {
        use base64::Engine as _;
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some((scheme, value)) = auth.and_then(|a| a.trim().split_once(' ')) {
            let value = value.trim();
            if scheme.eq_ignore_ascii_case("bearer") {
                return Some(Self {
                    how: "bearer",
                    user: None,
                    secret: value.to_owned(),
                    proof: None,
                });
            }
            if scheme.eq_ignore_ascii_case("dpop") {
                let proof = headers.get("dpop").and_then(|v| v.to_str().ok());
                return Some(Self {
                    how: "dpop",
                    user: None,
                    secret: value.to_owned(),
                    proof: Some(proof.unwrap_or_default().to_owned()),
                });
            }
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .ok()?;
                let (user, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
                return Some(Self {
                    how: "basic",
                    user: Some(user.to_owned()),
                    secret: secret.to_owned(),
                    proof: None,
                });
            }
        }
        if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            return Some(Self {
                how: "x-api-key",
                user: None,
                secret: key.trim().to_owned(),
                proof: None,
            });
        }
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(APP_COOKIE)?.strip_prefix('='))?;
        Some(Self {
            how: "cookie",
            user: None,
            secret: cookie.to_owned(),
            proof: None,
        })
    }

    /// What the connection's sessions are kept by: the secret, and how it was given (a token
    /// proven with DPoP never shares a session with the same token given without a proof).
    fn digest(&self) -> [u8; 32] {
        let mut sha = Sha256::new();
        sha.update(self.how);
        sha.update([0]);
        sha.update(self.user.as_deref().unwrap_or_default());
        sha.update([0]);
        sha.update(&self.secret);
        sha.finalize().into()
    }
}

/// Ward's own answer: JSON an SDK shows (`error.message`, as OpenAI's and Anthropic's APIs
/// shape errors) and curl prints.
pub(crate) fn ward_error(status: StatusCode, code: &str, message: &str) -> Response<Piped> {
    let body = json!({
        "type": "error",
        "error": { "type": code, "code": code, "message": message },
    });
    let mut response = Response::new(Piped::full(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        headers.insert("x-ward-error", v);
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ward\""),
        );
    }
    response
}

/// `/RESOURCE/rest` split: the resource's name and the path on it.
fn split_path(path: &str) -> Option<(&str, &str)> {
    let path = path.strip_prefix('/')?;
    let (name, rest) = match path.find('/') {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, ""),
    };
    (!name.is_empty()).then_some((name, rest))
}

fn is_websocket(headers: &hyper::HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

impl Conn {
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Piped> {
        let path = req.uri().path().to_owned();
        let Some((name, rest)) = split_path(&path) else {
            return ward_error(
                StatusCode::NOT_FOUND,
                "no_resource",
                "Ward's HTTP listener serves each HTTP resource under /RESOURCE/: name one",
            );
        };
        if rest == LAUNCH {
            return self.launch(name, req).await;
        }
        let Some(credential) = Credential::of(req.headers()) else {
            return ward_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "give Ward a credential: a Ward token (ward login) or a service-account key as `Authorization: Bearer KEY`, or a Ward user's password as Basic authentication",
            );
        };
        // A DPoP proof is made for this request: its method and its URL as the client used it.
        let proof = credential.proof.as_deref().map(|jwt| {
            ward_auth::dpop::Proof::of_request(
                Some(jwt),
                req.method().as_str(),
                req.headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default(),
                &path,
            )
        });
        let session = match self
            .session(name, &credential, proof.as_ref(), req.headers())
            .await
        {
            Ok(s) => s,
            Err(response) => return response,
        };
        // What the guardrails check, the record says and the service gets: one path.
        let rest = if rest.is_empty() {
            String::new()
        } else {
            headers::normalise_path(rest)
        };
        session.forward(&self, req, rest).await
    }

    /// A browser posts the token the web UI issued (form field `token`): with a cookie for
    /// the resource's path it goes on to the resource, through Ward.
    async fn launch(&self, name: &str, req: Request<Incoming>) -> Response<Piped> {
        if req.method() != hyper::Method::POST {
            return ward_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "launch",
                "open the resource from Ward's web UI",
            );
        }
        // The cookie's path is the resource's name: only a name the configuration gives.
        let known = self
            .gw
            .runtime
            .current()
            .config
            .resource(name)
            .is_some_and(|r| r.kind == ResourceKind::Http);
        if !known {
            return ward_error(
                StatusCode::NOT_FOUND,
                "no_resource",
                "Ward serves no HTTP resource of that name",
            );
        }
        let form = match http_body_util::Limited::new(req.into_body(), 8 << 10)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return ward_error(StatusCode::BAD_REQUEST, "launch", "the form is too large");
            }
        };
        let token = form
            .split(|b| *b == b'&')
            .find_map(|pair| pair.strip_prefix(b"token="))
            .and_then(|t| std::str::from_utf8(t).ok())
            .unwrap_or_default()
            .to_owned();
        if let Err(e) = self.gw.credentials.bearer(&token).await {
            let runtime = self.gw.runtime.current();
            let auth = Auth::not_ok("cookie", "web launch", "failed", e.to_string());
            let claimed = Identity::unauthenticated("web launch");
            runtime
                .login_failed(claimed, name, self.start(auth, None))
                .await;
            return ward_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                &format!(
                    "Ward refused the credential: {e}; open the resource from Ward's web UI again"
                ),
            );
        }
        let mut response = Response::new(Piped::empty());
        *response.status_mut() = StatusCode::SEE_OTHER;
        let cookie = format!("{APP_COOKIE}={token}; Path=/{name}/; HttpOnly; Secure; SameSite=Lax");
        let headers = response.headers_mut();
        if let (Ok(cookie), Ok(location)) = (
            HeaderValue::from_str(&cookie),
            HeaderValue::from_str(&format!("/{name}/")),
        ) {
            headers.insert(header::SET_COOKIE, cookie);
            headers.insert(header::LOCATION, location);
        }
        response
    }

    /// The session of this credential on resource `name`: the open one, or a new one if the
    /// identity is admitted.
    async fn session(
        &self,
        name: &str,
        credential: &Credential,
        proof: Option<&ward_auth::dpop::Proof>,
        headers: &hyper::HeaderMap,
    ) -> Result<Arc<Session>, Response<Piped>> {
        let key = (name.to_owned(), credential.digest());
        let mut sessions = self.sessions.lock().await;
        // A session ended from outside ends here; the credential may open a new one.
        if let Some(ended) = sessions
            .get(&key)
            .filter(|s| s.termination().is_some())
            .cloned()
        {
            sessions.remove(&key);
            ended.end().await;
        }
        let open = sessions.get(&key).cloned();
        // A bound credential proves itself on every request; others at most every RECHECK.
        if let Some(s) = &open
            && proof.is_none()
            && s.checked
                .lock()
                .map(|c| c.elapsed() < RECHECK)
                .unwrap_or(false)
        {
            return Ok(s.clone());
        }
        let runtime = self.gw.runtime.current();
        let proven = match (credential.how, &credential.user) {
            (_, _) if let Some(proof) = proof => {
                self.gw
                    .credentials
                    .bearer_proven(&credential.secret, proof)
                    .await
            }
            ("basic", Some(user)) => {
                self.gw
                    .credentials
                    .authenticate(user, &credential.secret, self.peer.ip())
                    .await
            }
            _ => self.gw.credentials.bearer(&credential.secret).await,
        };
        let identity = match proven {
            Ok(identity) => identity,
            Err(e) => {
                let claimed = credential.user.as_deref().unwrap_or(credential.how);
                // The cookie's path is the resource's name: only a name the configuration gives.
                let cookie = credential.how == "cookie" && runtime.config.resource(name).is_some();
                // A session whose credential stopped working ends; a request whose DPoP proof
                // failed is refused on its own and leaves the session to its good proofs.
                let open = if proof.is_some() {
                    None
                } else {
                    sessions.remove(&key)
                };
                if let Some(s) = open {
                    s.end().await;
                } else {
                    let auth = Auth::not_ok(credential.how, claimed, "failed", e.to_string());
                    runtime
                        .login_failed(
                            Identity::unauthenticated(claimed),
                            name,
                            self.start(auth, None),
                        )
                        .await;
                }
                let mut response = ward_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    &format!("Ward refused the credential: {e}"),
                );
                if cookie {
                    // A browser's sign-in ended: forget it.
                    let gone = format!("{APP_COOKIE}=; Path=/{name}/; Max-Age=0; HttpOnly; Secure");
                    if let Ok(v) = HeaderValue::from_str(&gone) {
                        response.headers_mut().insert(header::SET_COOKIE, v);
                    }
                }
                return Err(response);
            }
        };
        if let Some(s) = open {
            if let Ok(mut checked) = s.checked.lock() {
                *checked = Instant::now();
            }
            return Ok(s);
        }
        let reason = headers
            .get(headers::REASON)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let auth = Auth::ok(&identity).with("credential_in", credential.how);
        let request = ward_admit::Request {
            identity,
            resource: name,
            kind: ResourceKind::Http,
            record: Record::Start(Box::new(self.start(auth, reason.clone()))),
            check: None,
            reason: reason.as_deref(),
            reason_how: "send the header `X-Ward-Reason: TICKET-123`",
        };
        let admitted = match runtime.admit(request).await {
            Ok(a) => a,
            Err(refused) => {
                let (status, code) = match refused.reason {
                    Reason::NoSuchResource => (StatusCode::NOT_FOUND, "no_resource"),
                    Reason::NotGranted => (StatusCode::FORBIDDEN, "not_granted"),
                    Reason::Disabled => (StatusCode::FORBIDDEN, "user_disabled"),
                    Reason::StoreUnavailable => {
                        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
                    }
                };
                return Err(ward_error(status, code, &refused.message));
            }
        };
        let recording = &runtime.config.recording;
        let limits = (recording.max_result_bytes.0, recording.max_message_bytes.0);
        let session = Arc::new(Session::new(admitted, limits));
        sessions.insert(key, session.clone());
        Ok(session)
    }

    fn start(&self, auth: Auth, reason: Option<String>) -> ward_admit::Start {
        ward_admit::Start {
            protocol: Protocol::Http,
            client_addr: self.peer.to_string(),
            parameters: BTreeMap::new(),
            reason,
            auth,
        }
    }

    /// The connection closed: its WebSocket relays finish, then its sessions end.
    async fn end(&self) {
        let relays: Vec<JoinHandle<()>> = self
            .relays
            .lock()
            .map(|mut r| r.drain(..).collect())
            .unwrap_or_default();
        for relay in relays {
            let _ = relay.await;
        }
        let sessions: Vec<Arc<Session>> =
            self.sessions.lock().await.drain().map(|(_, s)| s).collect();
        for s in sessions {
            s.end().await;
        }
    }
}
