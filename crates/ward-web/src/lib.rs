//! Ward's HTTPS listener (`[listen] web`): the login endpoints `ward login` uses, the web
//! sign-in flows, the JSON API with the web UI, and the MCP endpoint for agents, served with
//! Ward's TLS certificate.

mod activity;
mod api;
pub mod asciicast;
mod download;
mod login;
mod mcp;
pub mod metrics;
mod model;
mod openapi;
mod recheck;
mod requests;
mod resources;
mod scim;
mod ui;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use ward_admit::{Live, Runtime};
use ward_auth::Oidc;
use ward_auth::saml::Saml;
use ward_pg::upstream::Compiled;
use ward_store::{Location, Store};

use ward_auth::credentials::Credentials;

pub use openapi::json as openapi_json;

/// Ward's version, as the API and MCP report it.
const VERSION: &str = env!("CARGO_PKG_VERSION");

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client address of a request's connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The DPoP proof a request of `method` to `path` carries, for the URL the client addressed.
fn dpop_proof(headers: &axum::http::HeaderMap, method: &str, path: &str) -> ward_auth::dpop::Proof {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    ward_auth::dpop::Proof::of_request(
        text("dpop"),
        method,
        text(axum::http::header::HOST.as_str()).unwrap_or_default(),
        path,
    )
}

/// The credential a request of `method` to `path` carries: `Authorization: Bearer KEY`, or
/// `Authorization: DPoP KEY` with the proof of its `DPoP` header.
fn presented<'a>(
    headers: &'a axum::http::HeaderMap,
    method: &str,
    path: &str,
) -> Option<(&'a str, Option<ward_auth::dpop::Proof>)> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    match (auth.strip_prefix("Bearer "), auth.strip_prefix("DPoP ")) {
        (Some(key), _) => Some((key.trim(), None)),
        (_, Some(key)) => Some((key.trim(), Some(dpop_proof(headers, method, path)))),
        _ => None,
    }
}

/// Where the web listener's handlers get what they share from.
pub struct Parts {
    /// The runtime and the PostgreSQL targets (for agents' queries), shared with the
    /// PostgreSQL gateway.
    pub live: Arc<Live<Compiled>>,
    pub credentials: Arc<Credentials>,
    pub oidc: Arc<Oidc>,
    pub store: Store,
    /// Where the store is, for exports, which read it on connections of their own.
    pub location: Location,
    pub postgres: Option<SocketAddr>,
    pub mysql: Option<SocketAddr>,
    /// How Ward logs in to SSH hosts, for agents' commands on SSH resources.
    pub ssh_login: Option<ward_ssh::HostLogin>,
    /// Signs people's SSH certificates (`POST /api/v1/auth/ssh-certificate`).
    pub ssh_user_ca: Option<Arc<ward_ssh::SshKey>>,
    /// The SSH listener and Ward's host key (a `known_hosts` key), as `ward connect ssh`
    /// learns them.
    pub ssh: Option<(SocketAddr, String)>,
    /// The listener for HTTP resources, as `ward login` tells clients.
    pub http: Option<SocketAddr>,
}

/// What the handlers share.
pub struct Web {
    /// Resources, grants, guardrails, masking and the recorder (what admission decides with),
    /// and the PostgreSQL resources, for agents' queries.
    pub live: Arc<Live<Compiled>>,
    pub credentials: Arc<Credentials>,
    viewers: api::Viewers,
    agents: mcp::Agents,
    pub ssh_login: Option<ward_ssh::HostLogin>,
    pub ssh_user_ca: Option<Arc<ward_ssh::SshKey>>,
    pub ssh: Option<(SocketAddr, String)>,
    pub oidc: Arc<Oidc>,
    pub saml: Saml,
    pub store: Mutex<Store>,
    /// Where the store is, for exports, which read it on connections of their own.
    pub location: Location,
    /// The PostgreSQL listener, as `ward login` tells clients.
    pub postgres: Option<SocketAddr>,
    /// The MySQL listener, as `ward login` tells clients.
    pub mysql: Option<SocketAddr>,
    /// The listener for HTTP resources, as `ward login` tells clients.
    pub http: Option<SocketAddr>,
    /// `{public_url}/auth/callback` is where issuers send browsers back.
    pub public_url: String,
    logins: login::Pending,
}

impl Web {
    pub fn new(parts: Parts, bound: SocketAddr) -> anyhow::Result<Self> {
        let Parts {
            live,
            credentials,
            oidc,
            store,
            location,
            postgres,
            mysql,
            ssh_login,
            ssh_user_ca,
            ssh,
            http,
        } = parts;
        let runtime = live.current().runtime.clone();
        let config = &runtime.config;
        let public_url = config
            .auth
            .public_url
            .clone()
            .unwrap_or_else(|| format!("https://{bound}"))
            .trim_end_matches('/')
            .to_owned();
        let source = config.source.display().to_string();
        let saml = Saml::new(&config.auth.saml, &public_url)
            .map_err(|e| anyhow::anyhow!("{source}: auth.saml: {e}"))?;
        Ok(Self {
            live,
            credentials,
            viewers: api::Viewers::default(),
            agents: mcp::Agents::default(),
            ssh_login,
            ssh_user_ca,
            ssh,
            oidc,
            saml,
            store: Mutex::new(store),
            location,
            postgres,
            mysql,
            http,
            public_url,
            logins: login::Pending::default(),
        })
    }

    /// Runs `f` on the store, off the async workers (it blocks). Every handler reaches the
    /// store through this, and maps the error to its own protocol's.
    pub(crate) fn store_blocking<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ward_store::StoreError>,
    ) -> Result<T, ward_store::StoreError> {
        tokio::task::block_in_place(|| {
            let mut store = self
                .store
                .lock()
                .map_err(|_| ward_store::StoreError::Unavailable("store lock poisoned".into()))?;
            f(&mut store)
        })
    }

    /// The runtime in force now: a reload replaces it.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.live.current().runtime.clone()
    }

    /// Signs every viewer out and ends every agent's session, recording their ends.
    pub async fn shutdown(&self) {
        self.viewers.end_all().await;
        self.agents.end_all().await;
    }

    fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/api/openapi.json", get(openapi::document))
            .merge(login::routes())
            .merge(api::routes())
            .merge(requests::routes())
            .merge(activity::routes())
            .merge(resources::routes())
            .merge(scim::routes())
            .merge(mcp::routes())
            .fallback(ui::serve)
            .with_state(self)
    }
}

/// An error as the API returns it: a stable code and a message a person can act on.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %message, "web request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            message.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

/// Serves HTTPS on `listener` until `stop` turns true.
pub async fn serve(
    web: Arc<Web>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    tokio::spawn(recheck::run(web.clone(), stop.clone()));
    let router = web.router();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "web listener: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone().layer(axum::Extension(Peer(peer))));
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "web: TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "web: connection ended with an error");
            }
        });
    }
}
