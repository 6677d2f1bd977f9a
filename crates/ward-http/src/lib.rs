//! The HTTP gateway: clients of `kind = "http"` resources (curl, SDKs, browsers) reach them
//! through Ward's HTTP listener as `https://WARD/RESOURCE/path`, and every request, response
//! and WebSocket message is recorded.
//!
//! A client proves who it is on each request: a Ward token or service-account key as
//! `Authorization: Bearer` (or `X-Api-Key`, as some SDKs send their key), or a Ward user's
//! password or token as `Authorization: Basic`. Ward takes that credential off the request,
//! admits the identity to the resource once per connection and credential (one recorded
//! session), checks each request against the guardrails, and sends it upstream with the
//! resource's own credential, which the client never sees (docs/http.md).

pub mod ai;
mod body;
mod conn;
mod headers;
pub mod local;
mod upstream;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use ward_admit::{Live, Runtime};
use ward_auth::credentials::Credentials;

/// How long a client has for its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the HTTP listener's connections share.
pub struct Gateway {
    runtime: Arc<Live<Runtime>>,
    credentials: Arc<Credentials>,
    tls: tokio_rustls::TlsAcceptor,
    shutdown: watch::Receiver<bool>,
    /// Connections open now.
    active: AtomicUsize,
}

impl Gateway {
    pub fn new(
        runtime: Arc<Live<Runtime>>,
        credentials: Arc<Credentials>,
        tls: Arc<rustls::ServerConfig>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            runtime,
            credentials,
            tls: tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
            shutdown,
            active: AtomicUsize::new(0),
        }
    }

    /// Connections open now.
    pub fn active_connections(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Accepts connections until shutdown is signalled.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let mut stop = self.shutdown.clone();
        while let Some((tcp, peer)) = ward_net::accept(&listener, &mut stop, "HTTP").await {
            tokio::spawn(self.clone().connection(tcp, peer));
        }
    }

    async fn connection(self: Arc<Self>, tcp: tokio::net::TcpStream, peer: SocketAddr) {
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.tls.accept(tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "HTTP: TLS handshake failed");
                return;
            }
            Err(_) => return,
        };
        self.active.fetch_add(1, Ordering::Relaxed);
        conn::serve(self.clone(), stream, peer).await;
        self.active.fetch_sub(1, Ordering::Relaxed);
    }
}
