//! The MySQL listener: accepts clients and runs one session task per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use ward_admit::Live;
use ward_core::auth::Authenticator;

use crate::upstream::Compiled;

/// The recording limits, fixed when the gateway starts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest packet Ward reads from either side.
    pub max_message: usize,
    /// How much of a result is kept in the record.
    pub max_result: usize,
}

/// Everything a MySQL session needs, shared by all of them.
pub struct Gateway {
    pub(crate) live: Arc<Live<Compiled>>,
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) limits: Limits,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Ward's connection ids, for `KILL`.
    pub(crate) kills: Arc<crate::kill::Registry>,
    active: AtomicUsize,
    /// Connections not yet authenticated ([`MAX_UNAUTHENTICATED`]).
    unauthenticated: Arc<tokio::sync::Semaphore>,
}

/// How many connections may be logging in at once; past this, new ones are refused at once
/// (ER_CON_COUNT_ERROR), so unauthenticated clients cannot exhaust memory or tasks.
pub const MAX_UNAUTHENTICATED: usize = 256;

impl Gateway {
    pub fn new(
        live: Arc<Live<Compiled>>,
        tls: Arc<rustls::ServerConfig>,
        authenticator: Arc<dyn Authenticator>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let config = &live.current().runtime.config;
        let limits = Limits {
            max_message: config.recording.max_message_bytes.as_usize(),
            max_result: config.recording.max_result_bytes.as_usize(),
        };
        Self {
            acceptor: TlsAcceptor::from(tls),
            authenticator,
            limits,
            shutdown,
            kills: Arc::default(),
            live,
            active: AtomicUsize::new(0),
            unauthenticated: Arc::new(tokio::sync::Semaphore::new(MAX_UNAUTHENTICATED)),
        }
    }

    /// Accepts connections until shutdown is signalled.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let mut shutdown = self.shutdown.clone();
        while let Some((tcp, peer)) = ward_net::accept(&listener, &mut shutdown, "MySQL").await {
            tokio::spawn(self.clone().handle(tcp, peer));
        }
    }

    async fn handle(self: Arc<Self>, mut tcp: TcpStream, peer: SocketAddr) {
        let Ok(slot) = self.unauthenticated.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "refused: {MAX_UNAUTHENTICATED} connections are logging in already");
            let msg = "Ward has too many connections logging in right now; try again shortly";
            crate::session::refuse(&mut tcp, 0, crate::session::errors::CON_COUNT, msg).await;
            return;
        };
        self.active.fetch_add(1, Ordering::Relaxed);
        crate::session::run(&self, tcp, peer, slot).await;
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Connections being served right now.
    pub fn active_sessions(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}
