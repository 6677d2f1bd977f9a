//! The MCP endpoint (`/mcp`, Streamable HTTP): AI agents reach resources through Ward with the
//! same identity, policy, guardrails, masking and recording as people.
//!
//! An agent authenticates every request with `Authorization: Bearer KEY` (a service-account key
//! or a person's Ward token). `initialize` starts an MCP session, which is one Ward session
//! (protocol `mcp`): its `agent.note`, `db.query`, `db.result`, `db.error`, `policy.decision`
//! and `policy.denied` events interleave in one hash chain, in the order they happened.
//!
//! Requests are answered with one JSON body (`application/json`), which the transport allows;
//! notifications get `202`; `GET` (a server-to-client stream) is `405`; `DELETE` ends the
//! session. Tools: `list_resources`, `query`, `note`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use ward_auth::secret;
use ward_core::{Identity, Outcome, Protocol};
use ward_pg::catalog::Tables;
use ward_pg::upstream::{Target, Upstream};
use ward_store::SessionRecorder;

use super::Web;

mod tools;

/// Protocol versions this server speaks, newest first.
const VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// An MCP session unused this long is ended.
const IDLE: Duration = Duration::from_secs(3600);
/// Rows a `query` returns unless it asks for fewer; it may ask for up to `MAX_ROWS`.
const DEFAULT_ROWS: usize = 100;
const MAX_ROWS: usize = 1000;
/// Bytes of cell text a `query` returns at most; rows past it are cut (`truncated`).
const MAX_RESULT_BYTES: usize = 1 << 20;

pub fn routes() -> Router<Arc<Web>> {
    Router::new().route("/mcp", post(handle).get(no_stream).delete(close))
}

/// One agent's MCP session.
struct AgentSession {
    identity: Identity,
    record: SessionRecorder,
    /// Logged-in upstream connections, by resource.
    upstreams: tokio::sync::Mutex<HashMap<String, AgentUpstream>>,
    last_used: Mutex<Instant>,
    /// Dropped with the session: stops the task that ends it when it is terminated.
    _alive: tokio::sync::watch::Sender<()>,
}

/// An agent session's connection to one resource.
struct AgentUpstream {
    conn: Upstream,
    target: Arc<Target>,
    /// The tables its results came from, looked up for column rules.
    tables: Tables,
}

#[derive(Default)]
pub struct Agents {
    sessions: Mutex<HashMap<String, Arc<AgentSession>>>,
}

impl Agents {
    /// Ends every session (at shutdown).
    pub async fn end_all(&self) {
        let all: Vec<Arc<AgentSession>> = match self.sessions.lock() {
            Ok(mut m) => m.drain().map(|(_, s)| s).collect(),
            Err(_) => Vec::new(),
        };
        for s in all {
            s.record.end(Outcome::Ok, 0, 0).await;
        }
    }
}

fn rpc_error(id: &Value, code: i64, message: impl Into<String>) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message.into() } })
}

fn http_error(status: StatusCode, id: &Value, code: i64, message: &str) -> Response {
    (status, Json(rpc_error(id, code, message))).into_response()
}

/// A tool result: text for the agent to read, structured content for programs.
fn tool_result(text: String, structured: Option<Value>, is_error: bool) -> Value {
    let mut result = json!({ "content": [{ "type": "text", "text": text }], "isError": is_error });
    if let Some(s) = structured {
        result["structuredContent"] = s;
    }
    result
}

async fn no_stream() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        "Ward's MCP endpoint answers each request with JSON and offers no server stream",
    )
        .into_response()
}

impl Web {
    /// The agent a request (of `method`) comes from: a key or token as `Authorization: Bearer`,
    /// or, bound to a key, as `Authorization: DPoP` with its proof (RFC 9449).
    async fn agent_identity(&self, headers: &HeaderMap, method: &str) -> Result<Identity, String> {
        let (key, proof) = crate::presented(headers, method, "/mcp")
            .ok_or("give a service-account key or a Ward token as `Authorization: Bearer KEY` (or, bound to a key, `Authorization: DPoP KEY` with a DPoP proof)")?;
        match &proof {
            Some(proof) => self.credentials.bearer_proven(key, proof).await,
            None => self.credentials.bearer(key).await,
        }
        .map_err(|e| e.to_string())
    }

    fn agent_session(&self, headers: &HeaderMap, identity: &Identity) -> Option<Arc<AgentSession>> {
        let id = headers.get("mcp-session-id")?.to_str().ok()?;
        let sessions = self.agents.sessions.lock().ok()?;
        let session = sessions.get(id)?;
        // A session belongs to the credential that started it.
        (session.identity.credential == identity.credential).then(|| session.clone())
    }
}

async fn handle(
    State(web): State<Arc<Web>>,
    axum::Extension(peer): axum::Extension<super::Peer>,
    headers: HeaderMap,
    Json(message): Json<Value>,
) -> Response {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let identity = match web.agent_identity(&headers, "POST").await {
        Ok(i) => i,
        Err(why) => {
            tracing::info!(%why, "MCP request refused");
            // Recorded like any refused login: a session of its own, ended `denied`.
            let how = if headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.starts_with("DPoP "))
            {
                "dpop"
            } else {
                "bearer"
            };
            let start = ward_admit::Start {
                protocol: Protocol::Mcp,
                client_addr: peer.0.to_string(),
                parameters: Default::default(),
                reason: None,
                auth: ward_core::payload::Auth::not_ok(how, how, "failed", why.clone()),
            };
            web.runtime()
                .login_failed(Identity::unauthenticated(how), "mcp", start)
                .await;
            return http_error(StatusCode::UNAUTHORIZED, &id, -32001, &why);
        }
    };
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return http_error(
            StatusCode::BAD_REQUEST,
            &id,
            -32600,
            "expected one JSON-RPC request or notification",
        );
    };
    if method == "initialize" {
        return initialize(&web, peer, &headers, identity, &id, &message).await;
    }
    let Some(session) = web.agent_session(&headers, &identity) else {
        return http_error(
            StatusCode::NOT_FOUND,
            &id,
            -32001,
            "unknown or ended MCP session: initialize again",
        );
    };
    if let Ok(mut t) = session.last_used.lock() {
        *t = Instant::now();
    }
    if message.get("id").is_none() {
        return StatusCode::ACCEPTED.into_response(); // a notification
    }
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "ping" => json!({}),
        "tools/list" => json!({ "tools": tools::list() }),
        "tools/call" => tools::call(&web, &session, &params).await,
        other => {
            return Json(rpc_error(&id, -32601, format!("method {other} not found")))
                .into_response();
        }
    };
    Json(json!({ "jsonrpc": "2.0", "id": id, "result": result })).into_response()
}

async fn initialize(
    web: &Arc<Web>,
    peer: super::Peer,
    headers: &HeaderMap,
    identity: Identity,
    id: &Value,
    message: &Value,
) -> Response {
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let asked = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or(VERSIONS[0]);
    let version = VERSIONS
        .iter()
        .find(|v| **v == asked)
        .copied()
        .unwrap_or(VERSIONS[0]);
    let agent = params.get("clientInfo").cloned().unwrap_or(Value::Null);
    // A person's token: the agent acts for that person. A service account may say for whom.
    let on_behalf_of = match identity.method.as_str() {
        "ward-token" => Some(identity.subject.clone()),
        _ => headers
            .get("x-ward-on-behalf-of")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let auth = ward_core::payload::Auth::ok(&identity)
        .with("agent", agent)
        .with("on_behalf_of", on_behalf_of)
        .with("protocol_version", version);
    let start = ward_admit::Start {
        protocol: Protocol::Mcp,
        client_addr: peer.0.to_string(),
        parameters: Default::default(),
        reason: None,
        auth,
    };
    let record = web.runtime().open(identity.clone(), "mcp", start).await;
    let Ok(session_id) = secret::random(32) else {
        return http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            id,
            -32603,
            "no randomness",
        );
    };
    let (alive, gone) = tokio::sync::watch::channel(());
    let terminable = web.runtime().terminable(record.id(), &identity, "mcp");
    tokio::spawn(end_when_terminated(
        web.clone(),
        session_id.clone(),
        terminable,
        gone,
    ));
    let session = Arc::new(AgentSession {
        identity,
        record,
        upstreams: tokio::sync::Mutex::new(HashMap::new()),
        last_used: Mutex::new(Instant::now()),
        _alive: alive,
    });
    let idle: Vec<Arc<AgentSession>> = match web.agents.sessions.lock() {
        Ok(mut sessions) => {
            let stale: Vec<String> = sessions
                .iter()
                .filter(|(_, s)| s.last_used.lock().is_ok_and(|t| t.elapsed() > IDLE))
                .map(|(k, _)| k.clone())
                .collect();
            let idle = stale.iter().filter_map(|k| sessions.remove(k)).collect();
            sessions.insert(session_id.clone(), session);
            idle
        }
        Err(_) => Vec::new(),
    };
    for s in idle {
        s.record.end(Outcome::Ok, 0, 0).await;
    }
    let result = json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": { "name": "ward", "version": crate::VERSION },
        "instructions": "Ward records everything this session does, in a tamper-evident log: say what you are about to do and why with the `note` tool before each step. Results come back with secrets masked. Statements a guardrail denies are not run.",
    });
    let mut response =
        Json(json!({ "jsonrpc": "2.0", "id": id, "result": result })).into_response();
    if let Ok(v) = HeaderValue::from_str(&session_id) {
        response.headers_mut().insert("mcp-session-id", v);
    }
    response
}

/// Ends the agent's session `id` if it is terminated (its user disabled, `ward sessions
/// terminate`) while it is open: its next call finds no session. Returns when the session is
/// gone either way.
async fn end_when_terminated(
    web: Arc<Web>,
    id: String,
    mut terminable: ward_admit::Terminable,
    mut gone: tokio::sync::watch::Receiver<()>,
) {
    let why = tokio::select! {
        why = terminable.terminated() => why,
        _ = gone.changed() => return,
    };
    let session = web
        .agents
        .sessions
        .lock()
        .ok()
        .and_then(|mut s| s.remove(&id));
    if let Some(session) = session {
        session.record.record(why.event()).await;
        session.record.end(Outcome::Terminated, 0, 0).await;
    }
}

async fn close(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let Ok(identity) = web.agent_identity(&headers, "DELETE").await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(session) = web.agent_session(&headers, &identity) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let (Some(id), Ok(mut sessions)) = (
        headers.get("mcp-session-id").and_then(|v| v.to_str().ok()),
        web.agents.sessions.lock(),
    ) {
        sessions.remove(id);
    }
    session.record.end(Outcome::Ok, 0, 0).await;
    StatusCode::NO_CONTENT.into_response()
}
