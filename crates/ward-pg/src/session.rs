//! One client connection: TLS negotiation, startup, password check, policy, upstream login,
//! then the relay; every outcome recorded.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use ward_admit::Reason;
use ward_config::ResourceKind;
use ward_core::auth::AuthError;
use ward_core::payload::Auth;
use ward_core::{EventKind, Identity, Outcome, Protocol};
use ward_mask::Masker;
use ward_store::SessionRecorder;

use crate::codec::startup::{self, Startup};
use crate::codec::{ProtocolError, encode, frame, frontend};
use crate::gateway::Gateway;
use crate::relay::{self, RelayEnd};
use crate::startup_params;
use crate::wire::{MessageReader, WireError, send};
use ward_net::Stream;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest password message Ward reads before a client is authenticated: room for any
/// token an identity provider issues, and far below the relay's message limit.
const MAX_PASSWORD_MESSAGE: usize = 64 * 1024;
const PASSWORD_TIMEOUT: Duration = Duration::from_secs(60);

/// SQLSTATEs Ward answers with.
pub(crate) mod sqlstate {
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const CONNECTION_FAILURE: &str = "08006";
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const INVALID_AUTHORIZATION: &str = "28000";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const INVALID_CATALOG: &str = "3D000";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const DISK_FULL: &str = "53100";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
}

/// Runs one connection. `unauthenticated` is its handshake slot, given back once the client
/// is authenticated or refused.
pub(crate) async fn run(
    gw: &Gateway,
    tcp: TcpStream,
    peer: SocketAddr,
    unauthenticated: OwnedSemaphorePermit,
) {
    let mut reader = MessageReader::new(gw.limits.max_message);
    let mut stream = Stream::Plain(tcp);
    let (minor, params) = match tokio::time::timeout(
        STARTUP_TIMEOUT,
        negotiate(gw, &mut stream, &mut reader, peer),
    )
    .await
    {
        Ok(Ok(Some(startup))) => startup,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "connection refused before startup");
            let code = match e {
                WireError::Protocol(ProtocolError::UnsupportedVersion { .. }) => {
                    sqlstate::FEATURE_NOT_SUPPORTED
                }
                _ => sqlstate::PROTOCOL_VIOLATION,
            };
            if !matches!(e, WireError::Closed | WireError::Io(_)) {
                fatal(&mut stream, code, &format!("invalid startup packet: {e}")).await;
                // The client may still be sending what was refused: it reads the error first.
                // That is no longer logging in: the slot goes back.
                drop(unauthenticated);
                let (mut r, mut w) = tokio::io::split(&mut stream);
                ward_net::close_gently(&mut r, &mut w).await;
            }
            return;
        }
        Err(_) => return,
    };
    let mut out = Vec::new();
    if minor > 0 {
        let unknown: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k.starts_with("_pq_."))
            .map(|(k, _)| k.as_str())
            .collect();
        encode::negotiate_protocol_version(&mut out, &unknown);
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(user) = param("user").map(str::to_owned) else {
        fatal(
            &mut stream,
            sqlstate::INVALID_AUTHORIZATION,
            "no user name in the startup packet: connect with user=YOUR_WARD_USER",
        )
        .await;
        return;
    };
    let database = param("database").unwrap_or(&user).to_owned();
    let mut s = Session {
        gw,
        stream,
        reader,
        peer,
        user,
        database,
        out,
        startup: params,
        unauthenticated: Some(unauthenticated),
    };
    s.authenticate_and_relay().await;
}

/// Handles SSLRequest / GSSENCRequest / CancelRequest until a StartupMessage arrives.
async fn negotiate(
    gw: &Gateway,
    stream: &mut Stream,
    reader: &mut MessageReader,
    peer: SocketAddr,
) -> Result<Option<(u16, Vec<(String, String)>)>, WireError> {
    loop {
        match reader.fill_until(stream, startup::parse).await? {
            Startup::SslRequest => {
                // Bytes sent before the TLS handshake would be trusted as if encrypted: refuse.
                if stream.is_tls() || !reader.buf.is_empty() {
                    return Err(WireError::Protocol(ProtocolError::Malformed {
                        what: "SSLRequest",
                    }));
                }
                let Stream::Plain(mut tcp) = std::mem::replace(stream, Stream::Taken) else {
                    return Err(WireError::Protocol(ProtocolError::Malformed {
                        what: "SSLRequest",
                    }));
                };
                send(&mut tcp, b"S").await?;
                *stream = Stream::Server(Box::new(gw.acceptor.accept(tcp).await?));
            }
            Startup::GssEncRequest => send(stream, b"N").await?,
            Startup::Cancel { pid, secret } => {
                gw.cancel((pid, secret), peer).await;
                return Ok(None);
            }
            Startup::Startup { minor, params } => return Ok(Some((minor, params))),
        }
    }
}

pub(crate) async fn fatal<S: AsyncWrite + Unpin>(stream: &mut S, code: &str, message: &str) {
    fatal_recorded(stream, code, message, None).await;
}

/// Sends a FATAL ErrorResponse and closes; with `rec`, the error is recorded as a `db.error` first.
async fn fatal_recorded<S: AsyncWrite + Unpin>(
    stream: &mut S,
    code: &str,
    message: &str,
    rec: Option<&SessionRecorder>,
) {
    let mut out = Vec::new();
    encode::error_response(&mut out, "FATAL", code, message);
    if let Some(rec) = rec {
        let body = out.get(frame::HEADER..).unwrap_or_default().to_vec().into();
        rec.record(crate::record::ServerMessage {
            kind: EventKind::DbError,
            body,
        })
        .await;
    }
    let _ = send(stream, &out).await;
    let _ = stream.shutdown().await;
}

/// How a PostgreSQL client gives the reason a grant requires.
const REASON_HOW: &str = "give one in the connection's options, e.g. PGOPTIONS='-c ward.reason=TICKET-123' (ward connect psql RESOURCE --reason TICKET-123 does it for psql)";

/// Why the relay stopped.
enum Stop {
    Relay(RelayEnd),
    /// Ward is shutting down.
    Shutdown,
    /// Ended from outside the session ([`ward_admit::Control`]).
    Terminated(std::sync::Arc<ward_admit::Termination>),
}

struct Session<'g> {
    gw: &'g Gateway,
    stream: Stream,
    reader: MessageReader,
    peer: SocketAddr,
    user: String,
    database: String,
    out: Vec<u8>,
    /// The startup packet's parameters, as the client sent them.
    startup: Vec<(String, String)>,
    /// The handshake slot, held until the client is authenticated or refused.
    unauthenticated: Option<OwnedSemaphorePermit>,
}

impl Session<'_> {
    /// The beginning of this connection's record, with its `auth` event.
    fn start(&self, auth: Auth) -> ward_admit::Start {
        ward_admit::Start {
            protocol: Protocol::Postgres,
            client_addr: self.peer.to_string(),
            parameters: self.startup.iter().cloned().collect(),
            reason: startup_params::reason(&self.startup),
            auth,
        }
    }

    /// Records a client whose identity was not proven, and tells it why.
    async fn deny(&mut self, auth: Auth, code: &str, message: &str) {
        let identity = Identity::unauthenticated(&self.user);
        let start = self.start(auth);
        let runtime = self.gw.live.current().runtime.clone();
        runtime.login_failed(identity, &self.database, start).await;
        fatal(&mut self.stream, code, message).await;
    }

    async fn read_password(&mut self) -> Result<String, WireError> {
        // `out` may already hold a NegotiateProtocolVersion, which goes first.
        encode::auth_cleartext(&mut self.out);
        send(&mut self.stream, &self.out).await?;
        self.out.clear();
        let read = tokio::time::timeout(
            PASSWORD_TIMEOUT,
            self.reader
                .next_within(&mut self.stream, MAX_PASSWORD_MESSAGE),
        );
        let (tag, body) = read.await.map_err(|_| WireError::Closed)??;
        if tag != frontend::PASSWORD {
            return Err(WireError::Protocol(ProtocolError::Malformed {
                what: "PasswordMessage",
            }));
        }
        let pw = frontend::password(&body)?;
        String::from_utf8(pw.to_vec()).map_err(|_| {
            WireError::Protocol(ProtocolError::Malformed {
                what: "PasswordMessage",
            })
        })
    }

    async fn authenticate_and_relay(&mut self) {
        let gw = self.gw;
        let loopback = self.peer.ip().is_loopback();
        let tls = self.stream.is_tls();
        // What this session is admitted with and reaches, whatever a reload does meanwhile.
        let compiled = gw.live.current();
        if !(tls || loopback && compiled.runtime.config.auth.allow_plaintext_loopback) {
            let auth = Auth::not_ok("password", &self.user, "refused", "TLS required".into());
            let msg = "Ward accepts passwords only over TLS: connect with sslmode=require";
            self.deny(auth, sqlstate::INVALID_AUTHORIZATION, msg).await;
            return;
        }
        let password = match self.read_password().await {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(peer = %self.peer, error = %e, "client gave no password");
                if let WireError::Protocol(e) = e {
                    let msg = format!("invalid password message: {e}");
                    fatal(&mut self.stream, sqlstate::PROTOCOL_VIOLATION, &msg).await;
                    self.unauthenticated = None;
                    let (mut r, mut w) = tokio::io::split(&mut self.stream);
                    ward_net::close_gently(&mut r, &mut w).await;
                }
                return;
            }
        };
        let authenticated = gw
            .authenticator
            .authenticate(&self.user, &password, self.peer.ip())
            .await;
        self.unauthenticated = None;
        let identity = match authenticated {
            Ok(identity) => identity,
            Err(e) => {
                let auth = Auth::not_ok(e.method(), &self.user, "failed", e.to_string());
                let msg = match &e {
                    AuthError::BadCredentials => {
                        format!("password authentication failed for user \"{}\"", self.user)
                    }
                    e => format!("authentication failed for user \"{}\": {e}", self.user),
                };
                self.deny(auth, sqlstate::INVALID_PASSWORD, &msg).await;
                return;
            }
        };
        let auth = Auth::ok(&identity).with("tls", tls);
        // The startup parameters the grant lets reach the server.
        let startup = self.startup.clone();
        let passed = std::sync::OnceLock::new();
        let check = |grant: &ward_config::Grant| {
            let allowed =
                startup_params::check(&startup, &grant.startup_parameters).map_err(|refused| {
                    ward_admit::Denied {
                        reason: "startup parameter",
                        detail: refused.to_string(),
                    }
                })?;
            let _ = passed.set(allowed);
            Ok(())
        };
        let reason = startup_params::reason(&self.startup);
        let request = ward_admit::Request {
            identity,
            resource: &self.database,
            kind: ResourceKind::Postgres,
            record: ward_admit::Record::Start(Box::new(self.start(auth))),
            check: Some(&check),
            reason: reason.as_deref(),
            reason_how: REASON_HOW,
        };
        let admitted = match compiled.runtime.admit(request).await {
            Ok(admitted) => admitted,
            Err(refused) => {
                let (code, message) = match refused.reason {
                    Reason::NoSuchResource => (
                        sqlstate::INVALID_CATALOG,
                        format!(
                            "{}: use a resource name as the database name",
                            refused.message
                        ),
                    ),
                    Reason::NotGranted => (sqlstate::INSUFFICIENT_PRIVILEGE, refused.message),
                    Reason::StoreUnavailable => (sqlstate::DISK_FULL, refused.message),
                    Reason::Disabled => (sqlstate::INVALID_AUTHORIZATION, refused.message),
                };
                fatal(&mut self.stream, code, &message).await;
                return;
            }
        };
        let passed = passed.into_inner().unwrap_or_default();
        let upstream_params: Vec<(&str, &str)> = passed.iter().map(|(k, v)| (*k, &**v)).collect();
        let rec = admitted.recorder.clone();
        // Every PostgreSQL resource has a target (`Compiled::new`); were one missing, the
        // session would still end on the record, not stay open in it.
        let Some(target) = compiled.targets.get(&self.database) else {
            let msg = format!("Ward has no upstream for resource \"{}\"", self.database);
            let code = sqlstate::CONNECTION_FAILURE;
            fatal_recorded(&mut self.stream, code, &msg, Some(&rec)).await;
            rec.end(Outcome::Error, 0, 0).await;
            return;
        };
        let target = target.admitted_as(&admitted);
        let upstream = match target
            .connect(&upstream_params, gw.limits.max_message)
            .await
        {
            Ok(u) => u,
            Err(e) => {
                let msg = format!("Ward could not open resource \"{}\": {e}", self.database);
                let code = sqlstate::CONNECTION_FAILURE;
                fatal_recorded(&mut self.stream, code, &msg, Some(&rec)).await;
                rec.end(Outcome::Error, 0, 0).await;
                return;
            }
        };
        let key = gw.register_cancel(target.clone(), upstream.key, rec.clone());
        encode::auth_ok(&mut self.out);
        self.out.extend_from_slice(&upstream.greeting);
        encode::backend_key_data(&mut self.out, key.0, key.1);
        encode::ready_for_query(&mut self.out, b'I');
        let (outcome, up, down) = if let Err(e) = send(&mut self.stream, &self.out).await {
            tracing::info!(peer = %self.peer, error = %e, "client left during login");
            (Outcome::Ok, 0, 0)
        } else {
            let mask_client = admitted.client_masker.is_some();
            let fast_path = match (admitted.grant.fast_path, mask_client) {
                (false, _) => relay::FastPath::Refused {
                    reason: "fast_path",
                    why: "the grant does not allow fast-path function calls (fast_path = false)"
                        .into(),
                },
                (true, true) => relay::FastPath::Refused {
                    reason: "mask_client",
                    why: "the grant masks what this client receives (mask_client), and what a fast-path call returns cannot be masked for it".into(),
                },
                (true, false) => relay::FastPath::Allowed,
            };
            // Column rules need to know which table column each result column is.
            let ruled = |m: &Masker| m.column_names().next().is_some();
            let columns = ruled(&admitted.record_masker)
                || admitted.client_masker.as_ref().is_some_and(ruled);
            let lookup = Some(relay::Lookup {
                target: target.clone(),
                max_message: gw.limits.max_message,
            });
            let mut sides = relay::state(
                admitted.client_masker,
                admitted.guardrails,
                fast_path,
                lookup,
                columns,
            );
            sides.0.set_reviewer(admitted.reviewer);
            self.relay(upstream, &rec, sides, admitted.terminable).await
        };
        gw.unregister_cancel(key);
        rec.end(outcome, up, down).await;
    }

    async fn relay(
        &mut self,
        upstream: crate::upstream::Upstream,
        rec: &SessionRecorder,
        (mut client_side, mut server_side): (relay::ClientSide, relay::ServerSide),
        mut terminable: ward_admit::Terminable,
    ) -> (Outcome, u64, u64) {
        let gw = self.gw;
        let limits = gw.limits;
        let (mut cr, mut cw) = tokio::io::split(std::mem::replace(&mut self.stream, Stream::Taken));
        let (mut ur, mut uw) = tokio::io::split(upstream.stream);
        let mut cbuf = std::mem::take(&mut self.reader.buf);
        let mut ubuf = upstream.reader.buf;
        let mut shutdown = gw.shutdown.clone();
        let end = tokio::select! {
            end = relay::pump(&mut client_side, &mut cr, &mut uw, &mut cbuf, limits, rec) => Stop::Relay(end),
            end = relay::pump(&mut server_side, &mut ur, &mut cw, &mut ubuf, limits, rec) => Stop::Relay(end),
            _ = shutdown.changed() => Stop::Shutdown,
            why = terminable.terminated() => Stop::Terminated(why),
        };
        // A result cut short by the end of the session is still recorded.
        server_side.finish_result(rec).await;
        // Closing the upstream connection rolls back a transaction left open.
        let _ = uw.shutdown().await;
        let end = match end {
            Stop::Relay(end) => Some(end),
            Stop::Shutdown => None,
            Stop::Terminated(why) => {
                rec.record(why.event()).await;
                let message = format!("Ward ended this session: {why}");
                fatal(&mut cw, sqlstate::ADMIN_SHUTDOWN, &message).await;
                return (Outcome::Terminated, client_side.bytes, server_side.bytes);
            }
        };
        let (outcome, tell_client) = match &end {
            Some(RelayEnd::Terminated | RelayEnd::ClientClosed) => (Outcome::Ok, None),
            Some(RelayEnd::ClientIo(e)) => {
                tracing::info!(peer = %self.peer, error = %e, "client connection lost");
                (Outcome::Error, None)
            }
            Some(RelayEnd::UpstreamClosed) => (
                Outcome::Error,
                Some((
                    sqlstate::CONNECTION_FAILURE,
                    format!(
                        "the server of resource \"{}\" closed the connection",
                        self.database
                    ),
                )),
            ),
            Some(RelayEnd::UpstreamIo(e)) => (
                Outcome::Error,
                Some((
                    sqlstate::CONNECTION_FAILURE,
                    format!(
                        "connection to the server of resource \"{}\" failed: {e}",
                        self.database
                    ),
                )),
            ),
            Some(RelayEnd::ClientProtocol(e)) => (
                Outcome::Error,
                Some((
                    sqlstate::PROTOCOL_VIOLATION,
                    format!("invalid message from the client: {e}"),
                )),
            ),
            Some(RelayEnd::UpstreamProtocol(e)) => (
                Outcome::Error,
                Some((
                    sqlstate::PROTOCOL_VIOLATION,
                    format!(
                        "invalid message from the server of resource \"{}\": {e}",
                        self.database
                    ),
                )),
            ),
            Some(RelayEnd::StoreUnavailable) => (
                Outcome::Error,
                Some((
                    sqlstate::DISK_FULL,
                    "Ward cannot write its audit record, so this session is ended: nothing unrecorded may pass".to_owned(),
                )),
            ),
            // Cut short by Ward stopping (a rolling upgrade, a pod going away): the record
            // says so, and the client was told.
            None => (
                Outcome::Incomplete,
                Some((sqlstate::ADMIN_SHUTDOWN, "Ward is shutting down".to_owned())),
            ),
        };
        match tell_client {
            Some((code, message)) => {
                fatal_recorded(&mut cw, code, &message, Some(rec)).await;
                if let Some(RelayEnd::ClientProtocol(_)) = end {
                    // The client may still be sending what was refused: it reads the error.
                    ward_net::close_gently(&mut cr, &mut cw).await;
                }
            }
            None => {
                let _ = cw.shutdown().await;
            }
        }
        (outcome, client_side.bytes, server_side.bytes)
    }
}
