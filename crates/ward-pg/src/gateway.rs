//! The PostgreSQL listener: accepts clients and runs one session task per connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use ward_admit::Live;
use ward_core::auth::Authenticator;
use ward_core::payload::{DbCancel, Payload};
use ward_store::{JsonBody, SessionRecorder};

use crate::codec::encode;
use crate::relay::Limits;
use crate::upstream::{Compiled, Target};

/// Maps the BackendKeyData Ward gave a client to the upstream session it stands for.
struct CancelEntry {
    target: Arc<Target>,
    upstream_key: (i32, i32),
    recorder: SessionRecorder,
}

/// Everything a PostgreSQL session needs, shared by all of them.
pub struct Gateway {
    /// Resources, grants, guardrails, masking and the recorder (what admission decides with),
    /// and the upstream targets.
    pub(crate) live: Arc<Live<Compiled>>,
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) limits: Limits,
    cancels: Mutex<HashMap<(i32, i32), CancelEntry>>,
    pub(crate) shutdown: watch::Receiver<bool>,
    active: AtomicUsize,
    /// Connections not yet authenticated ([`MAX_UNAUTHENTICATED`]).
    unauthenticated: Arc<tokio::sync::Semaphore>,
}

/// How many connections may be in their handshake (TLS, startup, password) at once. Each holds
/// a slot for at most the startup and password timeouts; past this, new connections are
/// refused with 53300 at once, so unauthenticated clients cannot exhaust memory or tasks.
pub const MAX_UNAUTHENTICATED: usize = 256;

impl Gateway {
    /// The recording limits are the configuration's at start: a reload does not change them.
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
            cancels: Mutex::new(HashMap::new()),
            shutdown,
            live,
            active: AtomicUsize::new(0),
            unauthenticated: Arc::new(tokio::sync::Semaphore::new(MAX_UNAUTHENTICATED)),
        }
    }

    /// Accepts connections until shutdown is signalled.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let mut shutdown = self.shutdown.clone();
        while let Some((tcp, peer)) = ward_net::accept(&listener, &mut shutdown, "PostgreSQL").await
        {
            tokio::spawn(self.clone().handle(tcp, peer));
        }
    }

    async fn handle(self: Arc<Self>, mut tcp: TcpStream, peer: SocketAddr) {
        let Ok(slot) = self.unauthenticated.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "refused: {MAX_UNAUTHENTICATED} connections are logging in already");
            let msg = "Ward has too many connections logging in right now; try again shortly";
            crate::session::fatal(
                &mut tcp,
                crate::session::sqlstate::TOO_MANY_CONNECTIONS,
                msg,
            )
            .await;
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

    /// A fresh BackendKeyData for a client, registered so a CancelRequest can find the upstream.
    pub(crate) fn register_cancel(
        &self,
        target: Arc<Target>,
        upstream_key: (i32, i32),
        recorder: SessionRecorder,
    ) -> (i32, i32) {
        let mut map = self.cancels.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let mut raw = [0u8; 8];
            let _ = getrandom::fill(&mut raw);
            let pid = i32::from_be_bytes([raw[0] & 0x7f, raw[1], raw[2], raw[3]]).max(1);
            let secret = i32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
            if let std::collections::hash_map::Entry::Vacant(slot) = map.entry((pid, secret)) {
                slot.insert(CancelEntry {
                    target,
                    upstream_key,
                    recorder,
                });
                return (pid, secret);
            }
        }
    }

    pub(crate) fn unregister_cancel(&self, key: (i32, i32)) {
        self.cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    }

    /// Forwards a client's CancelRequest to the upstream session behind `key`, if any.
    pub(crate) async fn cancel(&self, key: (i32, i32), peer: SocketAddr) {
        let entry = {
            let map = self.cancels.lock().unwrap_or_else(|p| p.into_inner());
            map.get(&key)
                .map(|e| (e.target.clone(), e.upstream_key, e.recorder.clone()))
        };
        let Some((target, (pid, secret), recorder)) = entry else {
            tracing::info!(%peer, "cancel request with an unknown key ignored");
            return;
        };
        let cancel = DbCancel {
            from: peer.to_string(),
        };
        recorder
            .record(JsonBody::from(Payload::DbCancel(cancel)))
            .await;
        match target.open().await {
            Ok(mut tcp) => {
                let mut msg = Vec::new();
                encode::cancel_request(&mut msg, pid, secret);
                let _ = crate::wire::send(&mut tcp, &msg).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, resource = %target.resource.name, "cannot forward cancel request")
            }
        }
    }
}
