//! The JSON API under `/api/v1` that the web UI uses: signing in, the session list with filters
//! and full-text search, a session with its integrity, its events page by page, and export.
//!
//! # Access
//! Signing in starts a Ward session of protocol `web`: every session a viewer opens or exports
//! is recorded there as a `ui.view` event, in the same hash chain as everything else. People
//! sign in with a local password (or a Ward token) here, or through an identity provider at
//! `/auth/web/login` and `/auth/web/saml`. The sign-in is a random cookie (`HttpOnly`,
//! `Secure`, `SameSite=Strict`); calls that change state also need the `X-CSRF-Token` the
//! sign-in returned. Members of `[web] auditor_groups` see every session, anyone else their
//! own. Five failed sign-ins for a user name within five minutes lock it out for the rest of
//! them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use ward_auth::secret;
use ward_core::auth::{AuthError, Authenticator as _};
use ward_core::payload::{ControlTerminate, Payload, UiView};
use ward_core::{Identity, Outcome, Protocol, SessionId, Timestamp};
use ward_store::query::{SessionFilter, SessionRow};
use ward_store::{JsonBody, MaskedJson, SessionRecorder, Store};

use super::download::streamed;
use super::model::{
    ErrorBody, Event, EventPage, Integrity, LoginBody, Match, Me, Session, SessionDetail,
    SessionList, TerminateBody,
};
use super::{ApiError, Web};

const COOKIE: &str = "ward_session";

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/sessions", get(list))
        .route("/api/v1/sessions/{id}", get(detail))
        .route("/api/v1/sessions/{id}/events", get(events))
        .route("/api/v1/sessions/{id}/export", get(export))
        .route("/api/v1/sessions/{id}/terminate", post(terminate))
        .route("/readyz", get(ready))
}

/// A signed-in viewer.
pub(super) struct Viewer {
    pub(super) identity: Identity,
    pub(super) auditor: bool,
    csrf: String,
    pub(super) expires: Instant,
    /// The viewer's own recorded session.
    pub(super) record: SessionRecorder,
}

impl Viewer {
    fn me(&self) -> Me {
        Me {
            user: self.identity.subject.clone(),
            groups: self.identity.groups.clone(),
            auditor: self.auditor,
            csrf: self.csrf.clone(),
        }
    }

    /// Whether this viewer may see `session`.
    fn may_see(&self, session: &SessionRow) -> bool {
        self.auditor || session.user == self.identity.subject
    }

    pub(super) async fn viewed(&self, session: &str, what: &str) {
        let view = UiView {
            session: session.to_owned(),
            what: what.to_owned(),
        };
        self.record
            .record(JsonBody::from(Payload::UiView(view)))
            .await;
    }
}

/// Signed-in viewers and recent failed sign-ins.
#[derive(Default)]
pub struct Viewers {
    signed_in: Mutex<HashMap<String, Arc<Viewer>>>,
}

impl Viewers {
    /// Signs everyone out and ends their recorded sessions (at shutdown).
    pub async fn end_all(&self) {
        let all: Vec<Arc<Viewer>> = match self.signed_in.lock() {
            Ok(mut m) => m.drain().map(|(_, v)| v).collect(),
            Err(_) => Vec::new(),
        };
        for v in all {
            v.record.end(Outcome::Ok, 0, 0).await;
        }
    }
}

fn unauthenticated() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first")
}

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

impl Web {
    /// The viewer the request's cookie names, if still signed in.
    pub(super) fn viewer(&self, headers: &HeaderMap) -> Result<Arc<Viewer>, ApiError> {
        let token = cookie(headers, COOKIE).ok_or_else(unauthenticated)?;
        let viewers = self
            .viewers
            .signed_in
            .lock()
            .map_err(|_| ApiError::internal("viewer table poisoned"))?;
        let viewer = viewers
            .get(token)
            .filter(|v| v.expires > Instant::now())
            .cloned()
            .ok_or_else(unauthenticated)?;
        self.refuse_disabled(&viewer.identity.subject)?;
        Ok(viewer)
    }

    /// Refuses a user who is disabled (`ward users disable`).
    pub(super) fn refuse_disabled(&self, subject: &str) -> Result<(), ApiError> {
        if self.runtime().control.is_disabled(subject) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "user_disabled",
                format!("user \"{subject}\" is disabled; ask an administrator"),
            ));
        }
        Ok(())
    }

    /// The viewer, for a call that changes state: the CSRF token must match too.
    pub(super) fn viewer_changing(&self, headers: &HeaderMap) -> Result<Arc<Viewer>, ApiError> {
        let viewer = self.viewer(headers)?;
        let given = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !secret::equal(given, &viewer.csrf) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong X-CSRF-Token",
            ));
        }
        Ok(viewer)
    }

    pub(super) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ward_store::StoreError>,
    ) -> Result<T, ApiError> {
        self.store_blocking(f).map_err(|e| match e {
            ward_store::StoreError::NoSuchSession(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no session {id}"),
            ),
            e @ (ward_store::StoreError::AmbiguousSession(_)
            | ward_store::StoreError::NoSuchRequest(_)) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            ward_store::StoreError::Conflict(why) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", why)
            }
            e => ApiError::internal(e),
        })
    }

    /// A session the viewer may see, and its id.
    fn visible(&self, viewer: &Viewer, id: &str) -> Result<(SessionRow, SessionId), ApiError> {
        let session = self.with_store(|s| s.session(id))?;
        if !viewer.may_see(&session) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "you may not view this session: only auditors see other people's sessions",
            ));
        }
        let sid = session
            .id
            .parse()
            .map_err(|_| ApiError::internal("stored session id"))?;
        Ok((session, sid))
    }
}

/// Signs in with a local password (or a Ward token): the viewer, and the session cookie.
#[utoipa::path(post, path = "/api/v1/login", tag = "sign-in", request_body = LoginBody,
    responses((status = 200, body = Me, description = "signed in; sets the `ward_session` cookie"),
              (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn login(
    State(web): State<Arc<Web>>,
    axum::Extension(peer): axum::Extension<super::Peer>,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> Result<Response, ApiError> {
    // A Ward token bound to a key (DPoP) comes with a proof made for this request.
    let signed_in = match headers.get("dpop") {
        None => {
            web.credentials
                .authenticate(&body.username, &body.password, peer.0.ip())
                .await
        }
        Some(_) => {
            let proof = super::dpop_proof(&headers, "POST", "/api/v1/login");
            web.credentials
                .bearer_proven(&body.password, &proof)
                .await
                .and_then(|identity| match identity.subject == body.username {
                    true => Ok(identity),
                    false => Err(AuthError::Rejected {
                        method: "DPoP token",
                        reason: format!("it was issued to another user than `{}`", body.username),
                    }),
                })
        }
    };
    let identity = match signed_in {
        Ok(identity) => identity,
        Err(AuthError::LockedOut(locked)) => {
            tracing::info!(user = %body.username, %locked, "web sign-in refused");
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("{locked}; try again later"),
            ));
        }
        Err(e) => {
            tracing::info!(user = %body.username, error = %e, "web sign-in refused");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                e.to_string(),
            ));
        }
    };
    let (cookie, body) = web.sign_in(identity, peer.0).await?;
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

impl Web {
    /// Signs `identity` in to the UI: a recorded session of protocol `web` and a cookie. The
    /// `Set-Cookie` value and what `/api/v1/me` answers.
    pub(super) async fn sign_in(
        &self,
        mut identity: Identity,
        peer: std::net::SocketAddr,
    ) -> Result<(HeaderValue, Me), ApiError> {
        self.refuse_disabled(&identity.subject)?;
        self.runtime().control.current_groups(&mut identity);
        let auditor = identity
            .groups
            .iter()
            .any(|g| self.runtime().config.web.auditor_groups.contains(g));
        let auth = ward_core::payload::Auth::ok(&identity).with("auditor", auditor);
        let start = ward_admit::Start {
            protocol: Protocol::Web,
            client_addr: peer.to_string(),
            parameters: Default::default(),
            reason: None,
            auth,
        };
        let record = self
            .runtime()
            .open(identity.clone(), "ward-ui", start)
            .await;
        let token = secret::random(32).map_err(ApiError::internal)?;
        let ttl = self.runtime().config.web.session_ttl.0;
        let viewer = Arc::new(Viewer {
            identity,
            auditor,
            csrf: secret::random(32).map_err(ApiError::internal)?,
            expires: Instant::now() + ttl,
            record,
        });
        let body = viewer.me();
        let expired: Vec<Arc<Viewer>> = {
            let mut signed_in = self
                .viewers
                .signed_in
                .lock()
                .map_err(|_| ApiError::internal("viewer table poisoned"))?;
            let now = Instant::now();
            let expired = signed_in
                .iter()
                .filter(|(_, v)| v.expires <= now)
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>();
            let gone = expired.iter().filter_map(|k| signed_in.remove(k)).collect();
            signed_in.insert(token.clone(), viewer);
            gone
        };
        for v in expired {
            v.record.end(Outcome::Ok, 0, 0).await;
        }
        let cookie = format!(
            "{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
            ttl.as_secs()
        );
        Ok((
            HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
            body,
        ))
    }
}

/// Signs out; the viewer's recorded session ends.
#[utoipa::path(post, path = "/api/v1/logout", tag = "sign-in",
    params(("X-CSRF-Token" = String, Header, description = "the `csrf` of the sign-in")),
    responses((status = 204, description = "signed out"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn logout(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let viewer = web.viewer_changing(&headers)?;
    if let Some(token) = cookie(&headers, COOKIE)
        && let Ok(mut signed_in) = web.viewers.signed_in.lock()
    {
        signed_in.remove(token);
    }
    viewer.record.end(Outcome::Ok, 0, 0).await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "ward_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(response)
}

/// The signed-in viewer.
#[utoipa::path(get, path = "/api/v1/me", tag = "sign-in",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub(super) async fn me(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
) -> Result<Json<Me>, ApiError> {
    Ok(Json(web.viewer(&headers)?.me()))
}

/// Whether this Ward can serve: the store answers and the recorder is writing to it.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "ready"), (status = 500, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(super) async fn ready(State(web): State<Arc<Web>>) -> Result<&'static str, ApiError> {
    web.with_store(|s| s.version().map(|_| ()))?;
    if !web.runtime().recorder.is_healthy() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unwritable",
            "the recorder cannot write to the audit store; new sessions are refused",
        ));
    }
    Ok("ready")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ListQuery {
    user: Option<String>,
    resource: Option<String>,
    protocol: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn time(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            Timestamp::parse_rfc3339(v).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("{name} `{v}` is not an RFC 3339 time"),
                )
            })
        })
        .transpose()
}

/// A page's cursor: the last session's start and id.
fn cursor(session: &SessionRow) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", session.started_at, session.id))
}

fn parse_cursor(text: &str) -> Result<(Timestamp, SessionId), ApiError> {
    let bad = || ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", "bad cursor");
    let decoded = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (at, id) = decoded.split_once('|').ok_or_else(bad)?;
    Ok((
        Timestamp::parse_rfc3339(at).map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// Sessions, newest first, with filters and full-text search; auditors see all, others
/// their own.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions",
    params(
        ("user" = Option<String>, Query, description = "a user (ignored for non-auditors: always themselves)"),
        ("resource" = Option<String>, Query), ("protocol" = Option<String>, Query),
        ("outcome" = Option<String>, Query, description = "`ok`, `denied`, `error`, `incomplete`, `terminated`, or `live`"),
        ("since" = Option<String>, Query, description = "RFC 3339"), ("until" = Option<String>, Query, description = "RFC 3339"),
        ("q" = Option<String>, Query, description = "words that must all occur in a statement, command or note"),
        ("limit" = Option<u32>, Query, description = "default 50, at most 500"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before")),
    responses((status = 200, body = SessionList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn list(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<SessionList>, ApiError> {
    let viewer = web.viewer(&headers)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let mut filter = SessionFilter {
        user: nonempty(q.user),
        resource: nonempty(q.resource),
        protocol: nonempty(q.protocol),
        outcome: nonempty(q.outcome),
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        text: nonempty(q.q),
        before: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: Some(limit + 1),
    };
    if !viewer.auditor {
        filter.user = Some(viewer.identity.subject.clone());
    }
    let text = filter.text.clone();
    let (sessions, matches) = web.with_store(|store| {
        let mut sessions = store.sessions(&filter)?;
        let more = sessions.len() > limit as usize;
        sessions.truncate(limit as usize);
        let mut matches = HashMap::new();
        if let Some(text) = &text {
            for s in &sessions {
                if let Ok(id) = s.id.parse::<SessionId>() {
                    matches.insert(s.id.clone(), store.text_matches(id, text, 3)?);
                }
            }
        }
        Ok(((sessions, more), matches))
    })?;
    let (sessions, more) = sessions;
    // Snippets show recorded content: each session whose snippets are returned is a view.
    for (id, found) in &matches {
        if !found.is_empty() {
            viewer.viewed(id, "search snippets").await;
        }
    }
    let next = if more {
        sessions.last().map(cursor)
    } else {
        None
    };
    let sessions = sessions
        .iter()
        .map(|s| {
            let mut v = Session::from(s);
            v.matches = matches
                .get(&s.id)
                .map(|found| found.iter().map(Match::from).collect());
            v
        })
        .collect();
    Ok(Json(SessionList {
        sessions,
        next_cursor: next,
    }))
}

/// A session, with whether its record is intact (its chain and the signed checkpoints that
/// cover it). Recorded as a `ui.view` in the viewer's session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a unique prefix of 8+ hex digits")),
    responses((status = 200, body = SessionDetail), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn detail(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    let viewer = web.viewer(&headers)?;
    let (session, sid) = web.visible(&viewer, &id)?;
    let verdict = web.with_store(|s| s.verify_session_alone(sid, &[]))?;
    let integrity = Integrity {
        status: verdict.status.name().to_owned(),
        ok: !verdict.status.is_failure(),
        detail: verdict.status.describe(verdict.events),
    };
    viewer.viewed(&session.id, "detail").await;
    Ok(Json(SessionDetail {
        session: Session::from(&session),
        integrity,
        bytes_up: session.bytes_up,
        bytes_down: session.bytes_down,
    }))
}

/// Ends a live session (auditors only): the Ward serving it, on any replica, ends it within a
/// second and tells its client why. Recorded in the auditor's session (`control.terminate`)
/// and in the session ended (`session.terminated`).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/terminate", tag = "sessions",
    params(("id" = String, Path), ("X-CSRF-Token" = String, Header, description = "the `csrf` of the sign-in")),
    request_body = TerminateBody,
    responses((status = 202, description = "the Ward serving the session ends it"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the session has ended")))]
pub(super) async fn terminate(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<TerminateBody>,
) -> Result<StatusCode, ApiError> {
    let viewer = web.viewer_changing(&headers)?;
    if !viewer.auditor {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only auditors end sessions",
        ));
    }
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "reason_required",
            "say why the session is ended: its client is told",
        ));
    }
    let (session, _) = web.visible(&viewer, &id)?;
    if session.ended_at.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "ended",
            format!("session {} has ended already", session.id),
        ));
    }
    let asked = ControlTerminate {
        session: session.id.clone(),
        reason: reason.to_owned(),
    };
    viewer
        .record
        .record(MaskedJson::from(Payload::ControlTerminate(asked)))
        .await;
    let by = format!("auditor {}", viewer.identity.subject);
    web.with_store(|s| s.request_termination(&session.id, &by, reason))?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct EventsQuery {
    after_seq: Option<i64>,
    limit: Option<u32>,
}

/// A session's events in order, a page at a time.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/events", tag = "sessions",
    params(("id" = String, Path), ("after_seq" = Option<i64>, Query, description = "the last seq already read"),
           ("limit" = Option<u32>, Query, description = "default 200, at most 1000")),
    responses((status = 200, body = EventPage), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn events(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let viewer = web.viewer(&headers)?;
    let (session, sid) = web.visible(&viewer, &id)?;
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let (events, more) = web.with_store(|s| s.events_page(sid, q.after_seq, limit))?;
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        let what = format!("events {}..{}", first.seq, last.seq);
        viewer.viewed(&session.id, &what).await;
    }
    let next = more.then(|| events.last().map(|e| e.seq)).flatten();
    let events = events
        .into_iter()
        .map(Event::try_from)
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    Ok(Json(EventPage {
        events,
        next_after_seq: next,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ExportQuery {
    format: Option<String>,
}

/// The session's export bundle (`ward.bundle.v1`), verifiable offline with
/// `ward verify --bundle`; or, with `format=asciicast`, a terminal session as asciicast v2.
/// Recorded as a `ui.view` in the viewer's session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/export", tag = "sessions",
    params(("id" = String, Path), ("format" = Option<String>, Query, description = "`bundle` (default) or `asciicast`")),
    responses((status = 200, content_type = "application/json", description = "the bundle (or asciicast), as a download"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn export(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let viewer = web.viewer(&headers)?;
    let (session, sid) = web.visible(&viewer, &id)?;
    let filename = |ext: &str| format!("ward-session-{}.{ext}", session.id);
    match q.format.as_deref() {
        None | Some("bundle") => {
            viewer.viewed(&session.id, "export").await;
            let location = web.location.clone();
            Ok(streamed("application/json", filename("json"), move |out| {
                Store::open(&location)?.write_bundle(sid, out)?;
                Ok(())
            }))
        }
        Some("asciicast") => {
            viewer.viewed(&session.id, "asciicast").await;
            let web = web.clone();
            let name = filename("cast");
            Ok(streamed("application/x-asciicast", name, move |out| {
                let page = |after| {
                    let mut store = web.store.lock().map_err(|_| {
                        ward_store::StoreError::Unavailable("store lock poisoned".into())
                    })?;
                    store.events_page(sid, after, 200)
                };
                crate::asciicast::write_asciicast(&session, page, out)?;
                Ok(())
            }))
        }
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("no export format `{other}`: use `bundle` or `asciicast`"),
        )),
    }
}
