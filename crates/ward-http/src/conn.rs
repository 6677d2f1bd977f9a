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
fn ward_error(status: StatusCode, code: &str, message: &str) -> Response<Piped> {
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
        let proof = credential.proof.as_ref().map(|jwt| ward_auth::dpop::Proof {
            jwt: jwt.clone(),
            method: req.method().as_str().to_owned(),
            url: format!(
                "https://{}{path}",
                req.headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default()
            ),
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

/// One identity's session on one resource.
struct Session {
    rec: SessionRecorder,
    resource: ward_config::Resource,
    upstream_user: String,
    upstream_password: Option<Secret>,
    guardrails: Option<ward_policy::SessionGuardrails>,
    reviewer: ward_admit::Reviewer,
    record_masker: Masker,
    client_masker: Option<Masker>,
    /// Prompts to an AI model are masked before the provider sees them.
    mask_upstream: bool,
    /// Bytes of each body stored at most (`[recording] max_result_bytes`).
    cap: u64,
    /// Bytes of a prompt or an answer read whole at most (`[recording] max_message_bytes`).
    max_message: u64,
    /// Stream maskers of bodies recorded to their end, for the next bodies (making one costs
    /// its automata's caches).
    maskers: std::sync::Mutex<Vec<StreamMasker>>,
    /// The connection to the resource, opened at the first request.
    upstream: Mutex<Option<SendRequest<Piped>>>,
    /// Set when the session is terminated from outside it.
    terminated: watch::Receiver<Option<Arc<Termination>>>,
    /// Waits for the termination (and holds the session's place among the open ones).
    watcher: JoinHandle<()>,
    checked: std::sync::Mutex<Instant>,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

/// Resolves once the session is terminated.
async fn terminated(ended: &mut watch::Receiver<Option<Arc<Termination>>>) {
    let _ = ended.wait_for(Option::is_some).await;
}

fn request_chunk(mut chunk: Terminal) -> Payload {
    chunk.stream = Some("request".into());
    Payload::HttpBody(chunk)
}

fn response_chunk(mut chunk: Terminal) -> Payload {
    chunk.stream = Some("response".into());
    Payload::HttpBody(chunk)
}

impl Session {
    /// `limits`: bytes of each body stored, and of a prompt or answer read whole, at most.
    fn new(admitted: Admitted, limits: (u64, u64)) -> Self {
        let (cap, max_message) = limits;
        let Admitted {
            grant,
            resource,
            upstream_user,
            upstream_password,
            guardrails,
            record_masker,
            client_masker,
            recorder: rec,
            mut terminable,
            reviewer,
            ..
        } = admitted;
        let (tx, terminated) = watch::channel(None);
        // Admission's link to the session, moved into the task that waits on it: dropped
        // (the session no longer open) when the task is aborted at the session's end.
        let watcher = {
            let rec = rec.clone();
            tokio::spawn(async move {
                let termination = terminable.terminated().await;
                rec.record(termination.event()).await;
                let _ = tx.send(Some(termination));
                std::future::pending::<()>().await;
            })
        };
        Self {
            rec,
            resource,
            upstream_user,
            upstream_password,
            guardrails,
            reviewer,
            record_masker,
            client_masker,
            mask_upstream: grant.mask_upstream,
            cap,
            max_message,
            maskers: std::sync::Mutex::new(Vec::new()),
            upstream: Mutex::new(None),
            terminated,
            watcher,
            checked: std::sync::Mutex::new(Instant::now()),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
        }
    }

    /// A stream recorder for a body, with a masker of an earlier body when there is one.
    fn body_record(&self, payload: fn(Terminal) -> Payload) -> StreamRecord {
        let reused = self.maskers.lock().ok().and_then(|mut m| m.pop());
        match reused {
            Some(masker) => StreamRecord::with(masker, payload),
            None => StreamRecord::new(&self.record_masker, payload),
        }
    }

    /// A body recorded to its end gives its masker back.
    fn body_done(&self, stream: StreamRecord) {
        if let Ok(mut m) = self.maskers.lock() {
            m.push(stream.into_masker());
        }
    }

    fn termination(&self) -> Option<Arc<Termination>> {
        self.terminated.borrow().clone()
    }

    async fn end(&self) {
        self.watcher.abort();
        let outcome = if self.termination().is_some() {
            Outcome::Terminated
        } else {
            Outcome::Ok
        };
        self.rec
            .end(
                outcome,
                self.bytes_up.load(Ordering::Relaxed),
                self.bytes_down.load(Ordering::Relaxed),
            )
            .await;
    }

    async fn deny(&self, status: StatusCode, code: &str, denied: PolicyDenied) -> Response<Piped> {
        let message = denied.message.clone().unwrap_or_default();
        self.rec
            .record(JsonBody::from(Payload::PolicyDenied(denied)))
            .await;
        ward_error(status, code, &message)
    }

    /// Records `req`, checks it, sends it upstream, and relays the answer.
    async fn forward(
        self: Arc<Self>,
        conn: &Arc<Conn>,
        mut req: Request<Incoming>,
        rest: String,
    ) -> Response<Piped> {
        if let Some(t) = self.termination() {
            let mut response = ward_error(StatusCode::FORBIDDEN, "terminated", &t.to_string());
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        let method = req.method().as_str().to_owned();
        let query = req.uri().query().map(str::to_owned);
        let (recorded, removed) = headers::recorded(req.headers());
        self.rec
            .record(MaskedJson::from(Payload::HttpRequest(HttpRequest {
                method: method.clone(),
                path: rest.clone(),
                query: query.clone(),
                headers: recorded,
                removed,
            })))
            .await;
        let line = match &query {
            Some(q) => format!("{method} {rest}?{q}"),
            None => format!("{method} {rest}"),
        };
        // Checked as sent, and fully decoded: a service may decode `%2F` too.
        let denial = self.guardrails.as_ref().and_then(|g| {
            g.check_http(&method, &rest, query.as_deref())
                .or_else(|| g.check_http(&method, &headers::fully_decoded(&rest), query.as_deref()))
        });
        if let Some(denial) = denial {
            let refused = denial.request_message();
            let decided = self
                .reviewer
                .decide(&denial, (&line, "the request"), refused, &self.rec)
                .await;
            if let Err(message) = decided {
                let denied = PolicyDenied {
                    rule: Some(denial.rule.clone()),
                    reason: Some(denial.code().to_owned()),
                    protocol: Some("http".into()),
                    message: Some(message),
                    command: Some(line),
                    ..PolicyDenied::default()
                };
                return self.deny(StatusCode::FORBIDDEN, "denied", denied).await;
            }
        }
        let websocket = is_websocket(req.headers());
        if websocket && self.client_masker.is_some() {
            let denied = PolicyDenied {
                protocol: Some("http".into()),
                refused: Some("websocket".into()),
                message: Some("this grant masks what its clients receive (mask_client), which Ward does not do for WebSocket messages: the upgrade is refused".into()),
                command: Some(line),
                ..PolicyDenied::default()
            };
            return self.deny(StatusCode::FORBIDDEN, "denied", denied).await;
        }
        let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
        let (parts, incoming) = req.into_parts();
        let ai = self
            .resource
            .api
            .and_then(|api| ai::Endpoint::of(api, &parts.method, &rest));
        // A prompt is read whole (to record it, check it and maybe mask it); any other body
        // streams upstream as it comes.
        let (prompt, streamed) = match ai {
            Some(endpoint) => match self.read_prompt(endpoint, incoming, &line).await {
                Ok(body) => (Some(body), None),
                Err(refused) => return refused,
            },
            None => (None, Some(incoming)),
        };
        let (mut upstream_req, feed) =
            match self.upstream_request(parts, &rest, query.as_deref(), conn) {
                Ok(r) => r,
                Err(e) => return ward_error(StatusCode::BAD_REQUEST, "bad_request", &e),
            };
        match (prompt, streamed) {
            (Some(body), _) => {
                upstream_req
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                if !body.is_empty() {
                    let _ = feed.try_send(Ok(Frame::data(body)));
                }
                // The body ends here.
                drop(feed);
            }
            (None, Some(incoming)) => {
                tokio::spawn(self.clone().pump_request(incoming, feed));
            }
            (None, None) => {}
        }
        let started = Instant::now();
        let mut response = match self.send(upstream_req).await {
            Ok(r) => r,
            Err(e) => return self.unreachable(e, started).await,
        };
        let (recorded, removed) = headers::recorded(response.headers());
        let status = response.status();
        let content_encoding = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.eq_ignore_ascii_case("identity"))
            .map(str::to_owned);
        self.rec
            .record(MaskedJson::from(Payload::HttpResponse(HttpResponse {
                status: status.as_u16(),
                headers: recorded,
                removed,
                duration_ms: started.elapsed().as_millis() as u64,
                error: None,
            })))
            .await;
        if let (Some(encoding), Some(_)) = (&content_encoding, &self.client_masker) {
            let message = format!(
                "resource \"{}\" answered with an encoded ({encoding}) body, which Ward cannot mask for this grant (mask_client)",
                self.resource.name
            );
            return ward_error(StatusCode::BAD_GATEWAY, "unmaskable", &message);
        }
        let mut headers = std::mem::take(response.headers_mut());
        headers::strip_hop_by_hop(&mut headers);
        if self.client_masker.is_some() {
            headers.remove(header::CONTENT_LENGTH);
        }
        if let Some(location) = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| headers::location_through_ward(l, &self.resource))
            .and_then(|l| HeaderValue::from_str(&l).ok())
        {
            headers.insert(header::LOCATION, location);
        }
        if let Some(client_upgrade) = client_upgrade
            && status == StatusCode::SWITCHING_PROTOCOLS
        {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            let stop = conn.gw.shutdown.clone();
            let relay = tokio::spawn(self.clone().relay_websocket(
                client_upgrade,
                upstream_upgrade,
                stop,
            ));
            if let Ok(mut relays) = conn.relays.lock() {
                relays.push(relay);
            }
            let mut answer = Response::new(Piped::empty());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            return answer;
        }
        let sse = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        // An encoded answer cannot be read: its body is hashed, not stored, and no completion.
        let answer = ai.filter(|_| content_encoding.is_none()).map(|endpoint| {
            let limit = usize::try_from(self.max_message).unwrap_or(usize::MAX);
            (ai::Answer::new(endpoint, sse, limit), status.is_success())
        });
        let (feed, body) = Piped::channel();
        tokio::spawn(self.clone().pump_response(
            response.into_body(),
            feed,
            content_encoding.is_some(),
            answer,
        ));
        let mut answer = Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        answer
    }

    /// The request as it goes upstream: Ward's credentials in place of the client's, the
    /// hop's own headers dropped, bodies unencoded (so Ward can mask them).
    fn upstream_request(
        &self,
        parts: hyper::http::request::Parts,
        rest: &str,
        query: Option<&str>,
        conn: &Conn,
    ) -> Result<(Request<Piped>, Feed), String> {
        let resource = &self.resource;
        let websocket = is_websocket(&parts.headers);
        let mut headers = parts.headers;
        headers::strip_hop_by_hop(&mut headers);
        headers::strip_ward_cookies(&mut headers);
        for name in [
            header::AUTHORIZATION.as_str(),
            "x-api-key",
            "dpop",
            headers::REASON,
            "sec-websocket-extensions",
            "forwarded",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "x-forwarded-prefix",
        ] {
            headers.remove(name);
        }
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        if let Some(host) = headers::upstream_host(resource) {
            headers.insert(header::HOST, host);
        }
        if websocket {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        }
        if let Ok(v) = HeaderValue::from_str(&conn.peer.ip().to_string()) {
            headers.insert("x-forwarded-for", v);
        }
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        if let Ok(v) = HeaderValue::from_str(&format!("/{}", resource.name)) {
            headers.insert("x-forwarded-prefix", v);
        }
        let secret = self.upstream_password.as_ref();
        headers::inject_credential(&mut headers, resource, &self.upstream_user, secret);
        let mut path = format!("{}{rest}", resource.base_path);
        if path.is_empty() {
            path.push('/');
        }
        if let Some(q) = query {
            path.push('?');
            path.push_str(q);
        }
        let uri = path
            .parse()
            .map_err(|e| format!("the path `{path}` cannot go upstream: {e}"))?;
        let (feed, body) = Piped::channel();
        let mut request = Request::new(body);
        *request.method_mut() = parts.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok((request, feed))
    }

    /// Sends `req` on the session's connection to the resource, opening it if needed.
    async fn send(&self, req: Request<Piped>) -> Result<Response<Incoming>, String> {
        let mut upstream = self.upstream.lock().await;
        let usable = match upstream.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            *upstream = Some(crate::upstream::connect(&self.resource).await?);
        }
        let Some(sender) = upstream.as_mut() else {
            return Err("no connection".into());
        };
        sender.ready().await.map_err(|e| e.to_string())?;
        let sent = sender.send_request(req);
        drop(upstream);
        sent.await.map_err(|e| e.to_string())
    }

    /// The resource could not answer: recorded, and a 502 for the client.
    async fn unreachable(&self, error: String, started: Instant) -> Response<Piped> {
        let name = &self.resource.name;
        let message = format!("Ward could not reach resource \"{name}\": {error}");
        self.rec
            .record(JsonBody::from(Payload::HttpResponse(HttpResponse {
                status: StatusCode::BAD_GATEWAY.as_u16(),
                duration_ms: started.elapsed().as_millis() as u64,
                error: Some(message.clone()),
                ..HttpResponse::default()
            })))
            .await;
        ward_error(StatusCode::BAD_GATEWAY, "upstream", &message)
    }

    /// Reads a prompt to an AI model whole: records its body and its conversation
    /// (`ai.prompt`), refuses it when it carries a secret a guardrail names, and masks it for
    /// the provider when the grant says `mask_upstream`. The body to send upstream.
    async fn read_prompt(
        &self,
        endpoint: ai::Endpoint,
        incoming: Incoming,
        line: &str,
    ) -> Result<Bytes, Response<Piped>> {
        let limit = usize::try_from(self.max_message).unwrap_or(usize::MAX);
        let bytes = match http_body_util::Limited::new(incoming, limit)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let message = format!(
                    "the prompt could not be read whole (at most [recording] max_message_bytes = {limit} bytes): {e}"
                );
                return Err(ward_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    &message,
                ));
            }
        };
        self.bytes_up
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let mut stream = self.body_record(request_chunk);
        stream.record(&self.rec, &bytes, true, Some(self.cap)).await;
        self.body_done(stream);
        let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            // Not JSON: the provider answers it; the body is recorded.
            return Ok(bytes);
        };
        let mut prompt = ai::prompt(endpoint, &body);
        let mut found = MaskReport::new();
        for m in &prompt.messages {
            self.record_masker.mask_str(&m.text, &mut found);
            for call in &m.tool_calls {
                self.record_masker.mask_str(&call.arguments, &mut found);
            }
        }
        let denial = self
            .guardrails
            .as_ref()
            .and_then(|g| g.check_prompt(|rule| found.count(rule)));
        if let Some(denial) = denial {
            self.rec
                .record(MaskedJson::from(Payload::AiPrompt(prompt)))
                .await;
            let denied = PolicyDenied {
                rule: Some(denial.rule.clone()),
                reason: Some(denial.code().to_owned()),
                protocol: Some("http".into()),
                message: Some(denial.request_message()),
                command: Some(line.to_owned()),
                ..PolicyDenied::default()
            };
            return Err(self.deny(StatusCode::FORBIDDEN, "denied", denied).await);
        }
        let sent = if self.mask_upstream {
            ai::mask_request(&mut body, &self.record_masker, &mut MaskReport::new());
            prompt.masked_upstream = true;
            Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
        } else {
            bytes
        };
        self.rec
            .record(MaskedJson::from(Payload::AiPrompt(prompt)))
            .await;
        Ok(sent)
    }

    /// Relays the client's body upstream, recording it as it passes.
    async fn pump_request(self: Arc<Self>, mut incoming: Incoming, feed: Feed) {
        // Made at the first byte: most requests have no body.
        let mut stream: Option<StreamRecord> = None;
        while let Some(frame) = incoming.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    let _ = feed.send(Err(Aborted(e.to_string()))).await;
                    break;
                }
            };
            if let Some(data) = frame.data_ref().filter(|d| !d.is_empty()) {
                self.bytes_up
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                let stream = stream.get_or_insert_with(|| self.body_record(request_chunk));
                stream.record(&self.rec, data, false, Some(self.cap)).await;
            }
            if feed.send(Ok(frame)).await.is_err() {
                break;
            }
        }
        if let Some(mut stream) = stream {
            stream.record(&self.rec, &[], true, None).await;
            self.body_done(stream);
        }
    }

    /// Relays the resource's body to the client, recording it first (an encoded body, which
    /// cannot be masked, is counted and hashed, not stored) and masking it for the client
    /// when the grant says `mask_client`.
    async fn pump_response(
        self: Arc<Self>,
        mut incoming: Incoming,
        feed: Feed,
        encoded: bool,
        mut answer: Option<(ai::Answer, bool)>,
    ) {
        let mut stream = self.body_record(response_chunk);
        let cap = if encoded { 0 } else { self.cap };
        let mut client = self.client_masker.as_ref().map(Masker::stream);
        let mut ended = self.terminated.clone();
        loop {
            let frame = tokio::select! {
                frame = incoming.frame() => frame,
                _ = terminated(&mut ended) => {
                    let _ = feed.send(Err(Aborted("the session was terminated".into()))).await;
                    break;
                }
            };
            let Some(frame) = frame else {
                if let Some(m) = client.as_mut() {
                    let rest = m.finish();
                    if !rest.is_empty() {
                        let _ = feed.send(Ok(Frame::data(Bytes::from(rest)))).await;
                    }
                }
                break;
            };
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    let _ = feed.send(Err(Aborted(e.to_string()))).await;
                    break;
                }
            };
            let frame = match frame.into_data() {
                Ok(data) => {
                    self.bytes_down
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    stream.record(&self.rec, &data, false, Some(cap)).await;
                    if let Some((a, _)) = answer.as_mut() {
                        a.push(&data);
                    }
                    if !self.rec.may_release().await {
                        let _ = feed
                            .send(Err(Aborted("the audit store cannot be written".into())))
                            .await;
                        break;
                    }
                    match client.as_mut() {
                        Some(m) => Frame::data(Bytes::from(m.push(&data))),
                        None => Frame::data(data),
                    }
                }
                Err(trailers) => trailers,
            };
            if feed.send(Ok(frame)).await.is_err() {
                break;
            }
        }
        stream.record(&self.rec, &[], true, None).await;
        self.body_done(stream);
        if let Some(completion) = answer.and_then(|(a, ok)| a.finish(ok)) {
            self.rec
                .record(MaskedJson::from(Payload::AiCompletion(completion)))
                .await;
        }
    }

    /// Relays an upgraded WebSocket connection, recording each message as it passes.
    async fn relay_websocket(
        self: Arc<Self>,
        client: hyper::upgrade::OnUpgrade,
        upstream: hyper::upgrade::OnUpgrade,
        mut stop: watch::Receiver<bool>,
    ) {
        let (client, upstream) = match tokio::join!(client, upstream) {
            (Ok(c), Ok(u)) => (TokioIo::new(c), TokioIo::new(u)),
            _ => return,
        };
        let (mut client_rx, mut client_tx) = tokio::io::split(client);
        let (mut up_rx, mut up_tx) = tokio::io::split(upstream);
        let cap = usize::try_from(self.cap).unwrap_or(usize::MAX);
        let (mut from_client, mut from_server) = (Frames::new(true, cap), Frames::new(false, cap));
        let (mut client_buf, mut up_buf) = (vec![0u8; 16 << 10], vec![0u8; 16 << 10]);
        let mut ended = self.terminated.clone();
        let mut messages = Vec::new();
        loop {
            let (read, from) = tokio::select! {
                n = client_rx.read(&mut client_buf) => (n, true),
                n = up_rx.read(&mut up_buf) => (n, false),
                _ = terminated(&mut ended) => break,
                // Ward stops: the connection ends, and its session with it.
                _ = stop.changed() => break,
            };
            let n = match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (bytes, frames) = if from {
                self.bytes_up.fetch_add(n as u64, Ordering::Relaxed);
                (&client_buf[..n], &mut from_client)
            } else {
                self.bytes_down.fetch_add(n as u64, Ordering::Relaxed);
                (&up_buf[..n], &mut from_server)
            };
            if let Err(e) = frames.push(bytes, &mut messages) {
                let side = if from { "client" } else { "resource" };
                let error = SessionError {
                    severity: "ERROR".into(),
                    message: format!(
                        "the {side} sent a WebSocket frame Ward cannot read ({e}): the connection is closed"
                    ),
                    resource: None,
                };
                self.rec
                    .record(JsonBody::from(Payload::SessionError(error)))
                    .await;
                break;
            }
            for m in messages.drain(..) {
                self.record_message(m, from).await;
            }
            let written = if from {
                up_tx.write_all(bytes).await
            } else {
                client_tx.write_all(bytes).await
            };
            if written.is_err() {
                break;
            }
        }
        let _ = client_tx.shutdown().await;
        let _ = up_tx.shutdown().await;
    }

    async fn record_message(&self, m: Message, from_client: bool) {
        let mut report = MaskReport::new();
        let (code, data) = match m.opcode {
            Opcode::Close if m.data.len() >= 2 => (
                Some(u16::from_be_bytes([m.data[0], m.data[1]])),
                &m.data[2..],
            ),
            _ => (None, &m.data[..]),
        };
        let masked = self.record_masker.mask(data, &mut report);
        let chunk = ward_store::stream::terminal_data(&masked);
        let message = HttpWebsocket {
            from: if from_client { "client" } else { "server" }.into(),
            opcode: m.opcode.as_str().into(),
            data: chunk.data,
            data_b64: chunk.data_b64,
            bytes: m.bytes,
            truncated: m.truncated.then_some(true),
            code,
        };
        let (kind, value) = Payload::HttpWebsocket(message).into_parts();
        self.rec
            .record_sized(PremaskedJson(kind, value, report), masked.len())
            .await;
    }
}
