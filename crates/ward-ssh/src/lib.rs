//! Ward's SSH gateway: an unmodified OpenSSH client reaches a registered host through Ward
//! (`ssh -p PORT alice:web1@ward-host`), which authenticates the person, checks the grant,
//! logs in upstream with its own key (or a certificate for it), and records what runs, what is
//! typed, what comes back and which files move.
//!
//! One SSH connection is one Ward session (protocol `ssh`). A person logs in with a password
//! (or a Ward token), a public key registered for them, or a certificate Ward's user CA signed
//! after `ward login`. A login that fails is recorded as one `denied` session per connection,
//! with every attempt. A person who authenticated but may not reach the resource (or whose host
//! is down) is let in and then disconnected with the reason, so OpenSSH shows it.

pub mod keys;
mod relay;
mod stdin;
pub mod transfer;
pub mod typing;
mod upstream;

pub use russh::keys::{PrivateKey as SshKey, PublicKey as SshPublicKey};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use russh::keys::{Certificate, HashAlg, PrivateKey, PublicKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, ChannelOpenFailure, MethodKind, MethodSet};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use ward_admit::Runtime;
use ward_config::ResourceKind;
use ward_core::auth::{Authenticator, KeyLogin};
use ward_core::payload::{Auth as AuthEvent, NetForward, Payload, PolicyDenied, SessionError};
use ward_core::{Identity, Outcome, Protocol};
use ward_store::{JsonBody, MaskedJson};

use relay::Shared;
pub use upstream::{CommandOutput, HostLogin, run_command};
use upstream::{Upstream, connect};

/// Ward's SSH keys.
pub struct Keys {
    /// What clients see and pin.
    pub host: PrivateKey,
    /// What Ward logs in to hosts with.
    pub login: HostLogin,
    /// Signs the certificates people get after `ward login`; the gateway accepts those.
    pub user_ca: PublicKey,
}

/// Everything an SSH connection needs, shared by all of them.
pub struct Gateway {
    /// Resources, grants, guardrails, masking and the recorder: what admission decides with.
    runtime: Arc<ward_admit::Live<Runtime>>,
    authenticator: Arc<dyn Authenticator>,
    login: HostLogin,
    user_ca: russh::keys::ssh_key::Fingerprint,
    server_config: Arc<russh::server::Config>,
    shutdown: watch::Receiver<bool>,
    /// Connections not yet authenticated ([`MAX_HANDSHAKES`]).
    handshakes: Arc<Semaphore>,
}

/// How many SSH connections may be in their handshake (key exchange and authentication) at
/// once. Each holds a slot for at most [`LOGIN_GRACE`]; past this, new connections are closed
/// at once, so clients that never log in cannot exhaust memory or tasks.
pub const MAX_HANDSHAKES: usize = 256;

/// How long a client has to authenticate, as OpenSSH's `LoginGraceTime`.
const LOGIN_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

impl Gateway {
    pub fn new(
        runtime: Arc<ward_admit::Live<Runtime>>,
        authenticator: Arc<dyn Authenticator>,
        keys: Keys,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, String> {
        let server_config = russh::server::Config {
            keys: vec![keys.host],
            auth_rejection_time: std::time::Duration::from_millis(300),
            auth_rejection_time_initial: Some(std::time::Duration::ZERO),
            inactivity_timeout: Some(std::time::Duration::from_secs(3600)),
            methods: MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..]),
            preferred: fast_ciphers(),
            window_size: WINDOW,
            ..Default::default()
        };
        Ok(Self {
            runtime,
            authenticator,
            login: keys.login,
            user_ca: keys.user_ca.fingerprint(HashAlg::Sha256),
            server_config: Arc::new(server_config),
            shutdown,
            handshakes: Arc::new(Semaphore::new(MAX_HANDSHAKES)),
        })
    }

    /// Accepts connections until shutdown is signalled.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let mut stop = self.shutdown.clone();
        while let Some((mut tcp, peer)) = ward_net::accept(&listener, &mut stop, "SSH").await {
            let Ok(slot) = self.handshakes.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "refused: {MAX_HANDSHAKES} SSH connections are logging in already");
                // A line before the version string is allowed (RFC 4253, 4.2).
                let line =
                    b"Ward: too many connections are logging in right now; try again shortly\r\n";
                let _ = tokio::io::AsyncWriteExt::write_all(&mut tcp, line).await;
                continue;
            };
            tokio::spawn(self.clone().connection(tcp, peer, slot));
        }
    }

    /// Serves one connection. It holds a handshake slot until it is authenticated, and is
    /// disconnected if that takes longer than [`LOGIN_GRACE`].
    async fn connection(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        slot: OwnedSemaphorePermit,
    ) {
        let (authenticated, in_time) = oneshot::channel();
        let (on_admit, admitted) = oneshot::channel();
        let handler = Connection {
            gw: self.clone(),
            peer: Some(peer),
            handshake: Some((slot, authenticated)),
            on_admit: Some(on_admit),
            failures: Vec::new(),
            refused: None,
            live: None,
        };
        let config = self.server_config.clone();
        let session = match tokio::time::timeout(
            LOGIN_GRACE,
            russh::server::run_stream(config, tcp, handler),
        )
        .await
        {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "SSH connection setup failed");
                return;
            }
            Err(_) => {
                tracing::info!(%peer, "SSH client did not finish its handshake in time");
                return;
            }
        };
        let handle = session.handle();
        let mut stop = self.shutdown.clone();
        // Resolves only when the login grace time passes without an authentication.
        let late = async {
            if let Ok(Ok(())) = tokio::time::timeout(LOGIN_GRACE, in_time).await {
                std::future::pending::<()>().await;
            }
        };
        // Resolves when an admitted session is ended from outside it.
        let terminated = async {
            match admitted.await {
                Ok((mut terminable, shared)) => (terminable.terminated().await, shared),
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            result = session => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "SSH connection ended with an error");
                }
            }
            () = late => {
                tracing::info!(%peer, "SSH client did not log in within the login grace time");
                let why = format!("Ward: not logged in within {} seconds", LOGIN_GRACE.as_secs());
                let _ = handle.disconnect(russh::Disconnect::ByApplication, why, "en".into()).await;
            }
            _ = stop.changed() => {
                let _ = handle.disconnect(russh::Disconnect::ByApplication, "Ward is shutting down".into(), "en".into()).await;
            }
            (why, shared) = terminated => {
                if let Some(shared) = shared.upgrade() {
                    shared.terminated.store(true, Ordering::Relaxed);
                    shared.rec.record(why.event()).await;
                }
                let message = format!("Ward ended this session: {why}");
                let _ = handle.disconnect(russh::Disconnect::ByApplication, message, "en".into()).await;
            }
        }
    }
}

/// AES-256-GCM only (hardware-accelerated where it matters, and no separate MAC), so that
/// OpenSSH, which prefers ChaCha20-Poly1305 and then AES-CTR with an HMAC, picks it: Ward
/// decrypts and re-encrypts every byte, and with AES-NI that costs a fraction of the others.
fn fast_ciphers() -> russh::Preferred {
    russh::Preferred {
        cipher: std::borrow::Cow::Borrowed(&[russh::cipher::AES_256_GCM]),
        ..russh::Preferred::default()
    }
}

/// The channel window Ward offers on both legs: room for a host to keep sending while the
/// client's side drains (OpenSSH's own is 2 MiB).
const WINDOW: u32 = 8 << 20;

/// One client connection.
struct Connection {
    gw: Arc<Gateway>,
    peer: Option<SocketAddr>,
    /// Until the client is authenticated: its handshake slot ([`MAX_HANDSHAKES`]), and who
    /// to tell when it is.
    handshake: Option<(OwnedSemaphorePermit, oneshot::Sender<()>)>,
    /// Failed login attempts (user name, what happened), recorded as one `denied` session if
    /// the client never gets in.
    failures: Vec<(String, AuthEvent)>,
    /// Authenticated but refused (no such resource, no grant, host down): why, told when the
    /// client opens a channel.
    refused: Option<String>,
    /// After a successful login: the recorded session and Ward's connection to the host.
    live: Option<Live>,
    /// Who to give, once admitted, what says when the session is terminated.
    on_admit: Option<oneshot::Sender<(ward_admit::Terminable, Weak<Shared>)>>,
}

struct Live {
    shared: Arc<Shared>,
    upstream: russh::client::Handle<Upstream>,
}

/// How a client proved who it is.
enum Proof<'a> {
    Password(&'a str),
    Key(KeyLogin<'a>),
}

impl Connection {
    /// The client's address (unspecified when russh gives none).
    fn peer_ip(&self) -> std::net::IpAddr {
        self.peer
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |p| p.ip())
    }

    fn client_addr(&self) -> String {
        self.peer.map(|p| p.to_string()).unwrap_or_default()
    }

    /// The beginning of this connection's record, with its `auth` event.
    fn start(&self, auth: AuthEvent) -> ward_admit::Start {
        ward_admit::Start {
            protocol: Protocol::Ssh,
            client_addr: self.client_addr(),
            parameters: Default::default(),
            reason: None,
            auth,
        }
    }

    /// Authenticates `user` (`ward-user:resource`); then checks the grant and logs in upstream.
    /// False only when the credentials are refused: a person who proved who they are gets in
    /// and is told what else went wrong.
    async fn login(&mut self, user: &str, proof: Proof<'_>, detail: serde_json::Value) -> bool {
        if self.live.is_some() || self.refused.is_some() {
            return true;
        }
        let method = match &proof {
            Proof::Password(_) => "password",
            Proof::Key(KeyLogin::Registered { .. }) => "publickey",
            Proof::Key(KeyLogin::Certificate { .. }) => "ssh-certificate",
        };
        let from = self.peer_ip();
        let mut fail = |reason: String| {
            let auth = AuthEvent::not_ok(method, user, "failed", reason);
            self.failures
                .push((user.to_owned(), with_detail(auth, &detail)));
            false
        };
        let Some((ward_user, resource)) = user.split_once(':') else {
            return fail("the user name must be WARD-USER:RESOURCE[:REASON]".into());
        };
        // What follows a second colon is the reason for this access.
        let (resource, reason) = match resource.split_once(':') {
            Some((resource, reason)) => (resource, Some(reason)),
            None => (resource, None),
        };
        let result = match proof {
            Proof::Password(password) => {
                self.gw
                    .authenticator
                    .authenticate(ward_user, password, from)
                    .await
            }
            Proof::Key(key) => self.gw.authenticator.authenticate_key(ward_user, key).await,
        };
        let identity = match result {
            Ok(i) => i,
            Err(e) => return fail(e.to_string()),
        };
        // Authenticated: the handshake slot is given back and the login grace time stops.
        if let Some((_slot, authenticated)) = self.handshake.take() {
            let _ = authenticated.send(());
        }
        let auth = AuthEvent::ok(&identity);
        self.admit(identity, (resource, reason), with_detail(auth, &detail))
            .await;
        true
    }

    /// Checks the grant of an authenticated person and logs in to the host, or records why not.
    /// `to` is the resource and the reason given for reaching it.
    async fn admit(&mut self, identity: Identity, to: (&str, Option<&str>), auth: AuthEvent) {
        let (resource, reason) = to;
        let mut start = self.start(auth);
        start.reason = reason.map(str::to_owned);
        let request = ward_admit::Request {
            identity,
            resource,
            kind: ResourceKind::Ssh,
            record: ward_admit::Record::Start(Box::new(start)),
            check: None,
            reason,
            reason_how: "log in as WARD-USER:RESOURCE:REASON, e.g. ssh alice:web1:TICKET-123@ward (ward connect ssh RESOURCE --reason TICKET-123 does it)",
        };
        let runtime = self.gw.runtime.current();
        let admitted = match runtime.admit(request).await {
            Ok(admitted) => admitted,
            Err(refused) => {
                self.refused = Some(format!(
                    "Ward: access to resource \"{resource}\" denied: {}",
                    refused.message
                ));
                return;
            }
        };
        let rec = admitted.recorder;
        let target = &admitted.resource;
        match connect(target, &admitted.upstream_user, &self.gw.login, rec.id()).await {
            Ok(upstream) => {
                self.live = Some(Live {
                    shared: Arc::new(Shared {
                        rec,
                        masker: admitted.record_masker,
                        guardrails: admitted.guardrails,
                        reviewer: admitted.reviewer,
                        grant: admitted.grant,
                        bytes_up: AtomicU64::new(0),
                        bytes_down: AtomicU64::new(0),
                        max_output: runtime.config.recording.max_result_bytes.0,
                        terminated: AtomicBool::new(false),
                    }),
                    upstream,
                });
                if let (Some(live), Some(tell)) = (&self.live, self.on_admit.take()) {
                    let _ = tell.send((admitted.terminable, Arc::downgrade(&live.shared)));
                }
            }
            Err(why) => {
                let message = format!("Ward could not open resource \"{resource}\": {why}");
                let error = SessionError {
                    severity: "FATAL".into(),
                    message: message.clone(),
                    resource: None,
                };
                rec.record(MaskedJson::from(Payload::SessionError(error)))
                    .await;
                rec.end(Outcome::Error, 0, 0).await;
                self.refused = Some(message);
            }
        }
    }

    /// Tells a refused client why and disconnects it; false if the client is not refused.
    fn tell_refused(&self, session: &mut Session) -> bool {
        let Some(why) = &self.refused else {
            return false;
        };
        let _ = session.disconnect(russh::Disconnect::ByApplication, why, "en");
        true
    }
}

/// `auth` with the fields of `detail` (what the key or certificate was) added.
fn with_detail(mut auth: AuthEvent, detail: &serde_json::Value) -> AuthEvent {
    if let Some(d) = detail.as_object() {
        auth.other
            .extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    auth
}

/// The key id of a certificate Ward's user CA signs: `ward:CREDENTIAL-ID`.
pub const CERT_KEY_ID_PREFIX: &str = "ward:";

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let ok = self.login(user, Proof::Password(password), json!({})).await;
        Ok(if ok { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let fingerprint = keys::fingerprint(key.public_key);
        let proof = Proof::Key(KeyLogin::Registered {
            fingerprint: &fingerprint,
        });
        let detail = json!({ "fingerprint": fingerprint });
        let ok = self.login(user, proof, detail).await;
        Ok(if ok { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_openssh_certificate(
        &mut self,
        user: &str,
        certificate: &Certificate,
    ) -> Result<Auth, Self::Error> {
        let ward_user = user.split_once(':').map_or(user, |(u, _)| u);
        let detail = json!({
            "key_id": certificate.key_id(),
            "serial": certificate.serial(),
            "fingerprint": keys::fingerprint(&PublicKey::from(certificate.public_key().clone())),
        });
        let problem = if certificate.cert_type()
            != russh::keys::ssh_key::certificate::CertType::User
        {
            Some("it is not a user certificate".to_owned())
        } else if certificate.validate([&self.gw.user_ca]).is_err() {
            Some(
                if certificate.signature_key().fingerprint(HashAlg::Sha256) != self.gw.user_ca {
                    "it was not signed by Ward's user CA".to_owned()
                } else {
                    "it has expired or is not valid yet: run `ward login` and `ward connect ssh` again".to_owned()
                },
            )
        } else if !certificate
            .valid_principals()
            .iter()
            .any(|p| p == ward_user)
        {
            Some(format!("it is not valid for Ward user `{ward_user}`"))
        } else if !certificate.critical_options().is_empty() {
            Some("it carries critical options Ward does not enforce".to_owned())
        } else {
            None
        };
        let credential = certificate.key_id().strip_prefix(CERT_KEY_ID_PREFIX);
        let ok = match (problem, credential) {
            (None, Some(credential)) => {
                let proof = Proof::Key(KeyLogin::Certificate { credential });
                self.login(user, proof, detail).await
            }
            (problem, _) => {
                let reason =
                    problem.unwrap_or_else(|| "its key id names no Ward credential".into());
                let reason = format!("SSH certificate rejected: {reason}");
                let auth = AuthEvent::not_ok("ssh-certificate", user, "failed", reason)
                    .with("key_id", certificate.key_id());
                self.failures.push((user.to_owned(), auth));
                false
            }
        };
        Ok(if ok { Auth::Accept } else { Auth::reject() })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.tell_refused(session) {
            return Ok(());
        }
        let Some(live) = &self.live else {
            return Ok(()); // dropping `reply` refuses the channel
        };
        match live.upstream.channel_open_session().await {
            Ok(up) => {
                reply.accept().await;
                let handle = session.handle();
                tokio::spawn(relay::session(channel, up, live.shared.clone(), handle));
            }
            Err(e) => {
                let error = SessionError {
                    severity: "ERROR".into(),
                    message: format!("the host refused a session channel: {e}"),
                    resource: None,
                };
                live.shared
                    .rec
                    .record(MaskedJson::from(Payload::SessionError(error)))
                    .await;
            }
        }
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        originator_address: &str,
        originator_port: u32,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.tell_refused(session) {
            return Ok(());
        }
        let Some(live) = &self.live else {
            return Ok(());
        };
        let mut target = NetForward {
            direction: "local".into(),
            host: host_to_connect.to_owned(),
            port: port_to_connect,
            originator: Some(format!("{originator_address}:{originator_port}")),
            ..NetForward::default()
        };
        if !live.shared.grant.ssh_forwarding {
            target.refused = Some("the grant does not allow port forwarding".into());
            live.shared
                .rec
                .record(JsonBody::from(Payload::NetForward(target)))
                .await;
            let reason = "Ward: port forwarding is not allowed by your grant".to_owned();
            reply
                .reject(ChannelOpenFailure::Other { code: 1, reason })
                .await;
            return Ok(());
        }
        match live
            .upstream
            .channel_open_direct_tcpip(
                host_to_connect,
                port_to_connect,
                originator_address,
                originator_port,
            )
            .await
        {
            Ok(up) => {
                reply.accept().await;
                tokio::spawn(relay::forward(channel, up, live.shared.clone(), target));
            }
            Err(e) => {
                target.refused = Some(format!("the host refused: {e}"));
                live.shared
                    .rec
                    .record(JsonBody::from(Payload::NetForward(target)))
                    .await;
                reply.reject(ChannelOpenFailure::ConnectFailed).await;
            }
        }
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name == "sftp" {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Allowed variables are passed on (and recorded) by the relay.
        match &self.live {
            Some(live) if live.shared.grant.allows_env(name) => session.channel_success(channel),
            _ => session.channel_failure(channel),
        }
    }

    async fn agent_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        self.refuse_feature(channel, session, "agent forwarding")
            .await;
        Ok(false)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.refuse_feature(channel, session, "X11 forwarding")
            .await;
        session.channel_failure(channel)
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        if let Some(live) = &self.live {
            let refused = NetForward {
                direction: "remote".into(),
                host: address.to_owned(),
                port: *port,
                refused: Some("Ward does not forward remote ports".into()),
                ..NetForward::default()
            };
            live.shared
                .rec
                .record(JsonBody::from(Payload::NetForward(refused)))
                .await;
        }
        Ok(false)
    }
}

impl Connection {
    /// Refuses a feature Ward does not relay: recorded, and the client's terminal says so.
    async fn refuse_feature(&self, channel: ChannelId, session: &mut Session, what: &str) {
        let Some(live) = &self.live else {
            return;
        };
        let refused = PolicyDenied {
            refused: Some(what.to_owned()),
            reason: Some("Ward does not relay it".into()),
            ..PolicyDenied::default()
        };
        live.shared
            .rec
            .record(JsonBody::from(Payload::PolicyDenied(refused)))
            .await;
        let message = format!("Ward: {what} is not allowed through Ward\r\n");
        let _ = session.extended_data(channel, 1, message.into_bytes());
    }
}

/// How long a closed connection waits for its channels' relays to record their last events.
const RELAYS_FINISH: std::time::Duration = std::time::Duration::from_secs(10);

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            let stopping = self.gw.shutdown.clone();
            tokio::spawn(async move {
                // Closing the host's side ends every relay; each records what it still holds
                // (the last output, an unfinished transfer) before the session's end.
                let _ = live
                    .upstream
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
                let deadline = tokio::time::Instant::now() + RELAYS_FINISH;
                while Arc::strong_count(&live.shared) > 1 && tokio::time::Instant::now() < deadline
                {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                let up = live.shared.bytes_up.load(Ordering::Relaxed);
                let down = live.shared.bytes_down.load(Ordering::Relaxed);
                let outcome = if live.shared.terminated.load(Ordering::Relaxed) {
                    Outcome::Terminated
                } else if *stopping.borrow() {
                    // Cut short by Ward stopping.
                    Outcome::Incomplete
                } else {
                    Outcome::Ok
                };
                live.shared.rec.end(outcome, up, down).await;
            });
        } else if let Some((user, _)) = self.failures.last().cloned() {
            // Every failed attempt of this connection, as one denied session.
            let failures = std::mem::take(&mut self.failures);
            let (ward_user, resource) = user.split_once(':').unwrap_or((&user, ""));
            let resource = resource.split_once(':').map_or(resource, |(r, _)| r);
            let (identity, resource) = (Identity::unauthenticated(ward_user), resource.to_owned());
            // The first attempt says most (a client falls back from a refused certificate to
            // the bare key, from keys to a password); all of them are listed.
            let mut auth = failures.first().map(|(_, a)| a.clone()).unwrap_or_default();
            let attempts = failures
                .into_iter()
                .map(|(_, a)| serde_json::to_value(a).unwrap_or_default())
                .collect();
            auth.other.insert("attempts".into(), attempts);
            let start = self.start(auth);
            let gw = self.gw.clone();
            tokio::spawn(async move {
                let runtime = gw.runtime.current();
                runtime.login_failed(identity, &resource, start).await;
            });
        }
    }
}
