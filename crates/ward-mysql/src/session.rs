//! One client connection: Ward's greeting, TLS, the login (the Ward password or token, taken
//! through `caching_sha2_password`'s full authentication, so only over TLS), admission, the
//! upstream login, then the relay; every outcome recorded.
//!
//! The client names its Ward user as the user name and the resource as the database
//! (`mysql -u alice -D shop`), like the PostgreSQL gateway's `user` and `dbname`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use ward_admit::Reason;
use ward_config::ResourceKind;
use ward_core::auth::AuthError;
use ward_core::payload::Auth;
use ward_core::{Identity, Outcome, Protocol};
use ward_net::Stream;

use crate::codec::handshake::{self, ClientHello, Greeting, Login};
use bytes::Bytes;
use ward_store::SessionRecorder;

use crate::codec::{ProtocolError, caps, command, packet, response, status};
use crate::gateway::Gateway;
use crate::record::Query;
use crate::relay::{self, RelayEnd};
use crate::scramble;
use crate::upstream::ClientTerms;
use crate::wire::{PacketReader, WireError, send};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest packet Ward reads before a client is authenticated: room for any token an
/// identity provider issues, and far below the relay's packet limit.
const MAX_LOGIN_PACKET: usize = 64 * 1024;
/// The version Ward's greeting gives, before it knows which server the client reaches. Drivers
/// choose features by it: a MySQL 8 version makes some (Connector/Python) ask for MySQL 8's
/// `utf8mb4_0900_ai_ci` collation, which MariaDB lacks; what they do for 5.7 every server Ward
/// relays to (MySQL 5.7 and 8, MariaDB 10.2 and later) understands.
const SERVER_VERSION: &[u8] = b"5.7.99-Ward";

/// Error numbers and SQLSTATEs Ward answers with (MySQL's own, so clients explain them).
pub(crate) mod errors {
    pub type Code = (u16, &'static str);
    pub const CON_COUNT: Code = (1040, "08004");
    pub const HANDSHAKE: Code = (1043, "08S01");
    pub const DB_ACCESS_DENIED: Code = (1044, "42000");
    pub const ACCESS_DENIED: Code = (1045, "28000");
    pub const BAD_DB: Code = (1049, "42000");
    pub const SERVER_SHUTDOWN: Code = (1053, "08S01");
    pub const UNKNOWN_COM: Code = (1047, "08S01");
    pub const NET_PACKET_TOO_LARGE: Code = (1153, "08S01");
    pub const SPECIFIC_ACCESS_DENIED: Code = (1227, "42000");
    pub const NOT_SUPPORTED_YET: Code = (1235, "42000");
    pub const NOT_ALLOWED_COMMAND: Code = (1148, "42000");
    pub const NO_SUCH_THREAD: Code = (1094, "HY000");
    pub const NO_DB: Code = (1046, "3D000");
    pub const CONNECTION_KILLED: Code = (1927, "70100");
    pub const DISK_FULL: Code = (1021, "HY000");
    /// Ward could not open the resource (MySQL's "unable to connect to foreign data source";
    /// never a client-side 2xxx number, which clients take for a broken packet).
    pub const UPSTREAM_UNREACHABLE: Code = (1429, "HY000");
    /// The resource's connection failed mid-session (a communication error, 08S01).
    pub const UPSTREAM_LOST: Code = (1158, "08S01");
    pub const MALFORMED: Code = (1835, "HY000");
}

/// Appends an ERR packet.
pub(crate) fn err_packet(out: &mut Vec<u8>, seq: u8, (code, state): errors::Code, message: &str) {
    packet::build(out, seq, |p| response::encode_err(p, code, state, message));
}

/// Sends an ERR packet and closes, reading what the client still sends so that it gets to
/// read the ERR ([`ward_net::close_gently`]).
pub(crate) async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    seq: u8,
    code: errors::Code,
    message: &str,
) {
    let mut out = Vec::new();
    err_packet(&mut out, seq, code, message);
    let _ = send(stream, &out).await;
    let (mut r, mut w) = tokio::io::split(stream);
    ward_net::close_gently(&mut r, &mut w).await;
}

/// 20 printable bytes: a scramble has no NUL (the greeting ends it with one).
fn nonce() -> Vec<u8> {
    let mut raw = [0u8; 20];
    let _ = getrandom::fill(&mut raw);
    raw.iter().map(|b| 0x21 + b % 0x5e).collect()
}

/// How a MySQL client gives the reason a grant requires.
const REASON_HOW: &str = "give one after your user name (-u 'alice:TICKET-123'), or as the connection attribute ward_reason (ward connect mysql RESOURCE --reason TICKET-123 does it for the mysql client)";

/// Runs one connection. `unauthenticated` is its handshake slot, given back once the client
/// is authenticated or refused.
pub(crate) async fn run(
    gw: &Gateway,
    tcp: TcpStream,
    peer: SocketAddr,
    unauthenticated: OwnedSemaphorePermit,
) {
    let mut s = Session {
        gw,
        stream: Stream::Plain(tcp),
        reader: PacketReader::new(gw.limits.max_message),
        peer,
        scramble: nonce(),
        seq: 0,
        login: Login::default(),
        unauthenticated: Some(unauthenticated),
        id: gw.kills.allocate(),
    };
    let login = tokio::time::timeout(LOGIN_TIMEOUT, s.handshake()).await;
    if !matches!(login, Ok(Ok(_))) {
        // Whatever follows is no longer logging in: the slot goes back.
        s.unauthenticated = None;
    }
    let password = match login {
        Ok(Ok(password)) => password,
        Ok(Err(Failed::Told)) => return,
        Ok(Err(Failed::Wire(e))) => {
            tracing::info!(%peer, error = %e, "connection refused during login");
            if let WireError::Protocol(e) = e {
                let code = match e {
                    ProtocolError::TooLong { .. } => errors::NET_PACKET_TOO_LARGE,
                    _ => errors::HANDSHAKE,
                };
                let msg = format!("invalid login packet: {e}");
                refuse(&mut s.stream, s.seq, code, &msg).await;
            }
            return;
        }
        Err(_) => {
            let msg = "the login took too long";
            refuse(&mut s.stream, s.seq, errors::HANDSHAKE, msg).await;
            return;
        }
    };
    s.authenticate_and_relay(password).await;
}

/// Why the login ended early.
enum Failed {
    /// The client was told (and the attempt recorded) already.
    Told,
    Wire(WireError),
}

impl From<WireError> for Failed {
    fn from(e: WireError) -> Self {
        Self::Wire(e)
    }
}

impl From<ProtocolError> for Failed {
    fn from(e: ProtocolError) -> Self {
        Self::Wire(WireError::Protocol(e))
    }
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Self::Wire(WireError::Io(e))
    }
}

struct Session<'g> {
    gw: &'g Gateway,
    stream: Stream,
    reader: PacketReader,
    peer: SocketAddr,
    scramble: Vec<u8>,
    /// The sequence number of the next packet Ward sends.
    seq: u8,
    login: Login,
    unauthenticated: Option<OwnedSemaphorePermit>,
    /// This connection's id, which `KILL` names.
    id: crate::kill::Id,
}

impl Session<'_> {
    /// The Ward user: the user name up to a `:`, after which a reason may follow.
    fn user(&self) -> String {
        let name = String::from_utf8_lossy(&self.login.user);
        name.split_once(':').map_or(&*name, |(u, _)| u).to_owned()
    }

    /// Why the person connects: after the user name's `:` (`alice:TICKET-123`), or the
    /// connection attribute `ward_reason`.
    fn reason(&self) -> Option<String> {
        let name = String::from_utf8_lossy(&self.login.user);
        name.split_once(':')
            .map(|(_, r)| r.to_owned())
            .or_else(|| self.attribute("ward_reason"))
    }

    fn resource(&self) -> String {
        String::from_utf8_lossy(self.login.database.as_deref().unwrap_or_default()).into_owned()
    }

    /// The connection attribute `name`, as text.
    fn attribute(&self, name: &str) -> Option<String> {
        self.login
            .attributes
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// Sends one packet of Ward's in the login exchange.
    async fn say(&mut self, payload: &[u8]) -> Result<(), Failed> {
        let mut out = Vec::new();
        self.seq = packet::write(&mut out, self.seq, payload);
        send(&mut self.stream, &out).await?;
        Ok(())
    }

    /// Reads the client's next login packet. On a refused packet, the sequence number moves
    /// past it, for the ERR that answers it.
    async fn hear(&mut self) -> Result<Vec<u8>, Failed> {
        let p = match self
            .reader
            .next_within(&mut self.stream, MAX_LOGIN_PACKET)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                self.seq = self.seq.wrapping_add(1);
                return Err(e.into());
            }
        };
        if p.seq != self.seq {
            let expected = self.seq;
            self.seq = p.seq.wrapping_add(1);
            return Err(ProtocolError::Sequence {
                expected,
                got: p.seq,
            }
            .into());
        }
        self.seq = p.next_seq();
        Ok(p.payload().into_owned())
    }

    /// Reads the client's first packet without reading past it: after an SSLRequest the
    /// client's TLS handshake follows at once, and belongs to TLS.
    async fn hear_exactly(&mut self) -> Result<Vec<u8>, Failed> {
        use tokio::io::AsyncReadExt;
        let mut header = [0u8; packet::HEADER];
        self.stream.read_exact(&mut header).await?;
        let [a, b, c, seq] = header;
        let len = u32::from_le_bytes([a, b, c, 0]) as usize;
        let expected = self.seq;
        self.seq = seq.wrapping_add(1);
        if len > MAX_LOGIN_PACKET {
            return Err(ProtocolError::TooLong {
                len,
                max: MAX_LOGIN_PACKET,
            }
            .into());
        }
        if seq != expected {
            return Err(ProtocolError::Sequence { expected, got: seq }.into());
        }
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).await?;
        Ok(payload)
    }

    /// Greets, negotiates TLS, reads the login and obtains the password.
    async fn handshake(&mut self) -> Result<String, Failed> {
        let greeting = Greeting {
            server_version: SERVER_VERSION.to_vec(),
            connection_id: self.id.id,
            scramble: self.scramble.clone(),
            capabilities: caps::WARD,
            charset: crate::codec::UTF8MB4_GENERAL_CI,
            status: status::AUTOCOMMIT,
            auth_plugin: scramble::CACHING_SHA2.to_vec(),
        };
        let mut payload = Vec::new();
        greeting.encode(&mut payload);
        self.say(&payload).await?;
        let mut hello = handshake::client_hello(&self.hear_exactly().await?)?;
        if let ClientHello::Ssl { .. } = hello {
            // The client starts TLS at once, without an answer: nothing after the SSLRequest
            // was read, so the TLS handshake gets every byte of it.
            let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Taken) else {
                return Err(crate::codec::malformed("SSLRequest").into());
            };
            self.stream = Stream::Server(Box::new(self.gw.acceptor.accept(tcp).await?));
            hello = handshake::client_hello(&self.hear().await?)?;
        }
        let ClientHello::Login(login) = hello else {
            return Err(crate::codec::malformed("handshake response").into());
        };
        self.login = *login;
        let tls = self.stream.is_tls();
        let loopback = self.peer.ip().is_loopback();
        let compiled = self.gw.live.current();
        if tls {
            // The password itself, which `caching_sha2_password` sends once the server says it
            // has no cached hash: the client's plugin is switched to it first if needed.
            if self.login.auth_plugin.as_deref() != Some(scramble::CACHING_SHA2) {
                let mut switch = Vec::new();
                handshake::auth_switch(&mut switch, scramble::CACHING_SHA2, &self.scramble);
                self.say(&switch).await?;
                self.hear().await?;
            }
            self.say(&[0x01, scramble::PERFORM_FULL_AUTH]).await?;
        } else if loopback && compiled.runtime.config.auth.allow_plaintext_loopback {
            let mut switch = Vec::new();
            handshake::auth_switch(&mut switch, scramble::CLEAR, b"");
            self.say(&switch).await?;
        } else {
            let auth = Auth::not_ok("password", &self.user(), "refused", "TLS required".into());
            let msg = "Ward accepts passwords only over TLS: connect with --ssl (mysql --ssl-mode=REQUIRED)";
            self.deny(auth, errors::ACCESS_DENIED, msg).await;
            return Err(Failed::Told);
        }
        let answer = self.hear().await?;
        if answer.first() == Some(&scramble::REQUEST_PUBLIC_KEY) && answer.len() == 1 {
            let msg = "Ward takes the password only over TLS, not RSA-encrypted";
            let auth = Auth::not_ok("password", &self.user(), "refused", msg.into());
            self.deny(auth, errors::ACCESS_DENIED, msg).await;
            return Err(Failed::Told);
        }
        let password = answer.strip_suffix(&[0]).unwrap_or(&answer);
        String::from_utf8(password.to_vec()).map_err(|_| crate::codec::malformed("password").into())
    }

    /// The beginning of this connection's record, with its `auth` event.
    fn start(&self, auth: Auth) -> ward_admit::Start {
        let mut parameters = BTreeMap::from([
            ("user".to_owned(), self.user()),
            ("database".to_owned(), self.resource()),
            // The id a `KILL` from the client's other connections names.
            ("connection_id".to_owned(), self.id.id.to_string()),
        ]);
        for (k, v) in self.login.attributes.iter().take(32) {
            let k = String::from_utf8_lossy(k).chars().take(64).collect();
            let v = String::from_utf8_lossy(v).chars().take(256).collect();
            parameters.entry(k).or_insert(v);
        }
        ward_admit::Start {
            protocol: Protocol::Mysql,
            client_addr: self.peer.to_string(),
            parameters,
            reason: self.reason(),
            auth,
        }
    }

    /// Records a client whose identity was not proven, and tells it why.
    async fn deny(&mut self, auth: Auth, code: errors::Code, message: &str) {
        let identity = Identity::unauthenticated(&self.user());
        let start = self.start(auth);
        let runtime = self.gw.live.current().runtime.clone();
        runtime
            .login_failed(identity, &self.resource(), start)
            .await;
        self.unauthenticated = None;
        refuse(&mut self.stream, self.seq, code, message).await;
    }

    async fn authenticate_and_relay(&mut self, password: String) {
        let gw = self.gw;
        let user = self.user();
        let compiled = gw.live.current();
        let authenticated = gw
            .authenticator
            .authenticate(&user, &password, self.peer.ip())
            .await;
        self.unauthenticated = None;
        let identity = match authenticated {
            Ok(identity) => identity,
            Err(e) => {
                let auth = Auth::not_ok(e.method(), &user, "failed", e.to_string());
                let msg = match &e {
                    AuthError::BadCredentials => {
                        format!("Access denied for user '{user}' (Ward password or token)")
                    }
                    e => format!("Access denied for user '{user}': {e}"),
                };
                self.deny(auth, errors::ACCESS_DENIED, &msg).await;
                return;
            }
        };
        let subject = identity.subject.clone();
        let auth = Auth::ok(&identity).with("tls", self.stream.is_tls());
        let resource = self.resource();
        if resource.is_empty() {
            // The mysql client's second connection for Ctrl-C names no database: it may only
            // stop queries.
            let names: Vec<String> = compiled
                .runtime
                .reachable(&identity, ResourceKind::Mysql)
                .map(|r| r.name.clone())
                .collect();
            let rec = compiled.runtime.open(identity, "", self.start(auth)).await;
            self.unchosen(&rec, subject, &names).await;
            return;
        }
        let reason = self.reason();
        let request = ward_admit::Request {
            identity,
            resource: &resource,
            kind: ResourceKind::Mysql,
            record: ward_admit::Record::Start(Box::new(self.start(auth))),
            check: None,
            reason: reason.as_deref(),
            reason_how: REASON_HOW,
        };
        let admitted = match compiled.runtime.admit(request).await {
            Ok(admitted) => admitted,
            Err(refused) => {
                let (code, message) = match refused.reason {
                    Reason::NoSuchResource => (
                        errors::BAD_DB,
                        format!(
                            "{}: give the resource's name as the database (mysql -D RESOURCE)",
                            refused.message
                        ),
                    ),
                    Reason::NotGranted => (errors::DB_ACCESS_DENIED, refused.message),
                    Reason::StoreUnavailable => (errors::DISK_FULL, refused.message),
                    Reason::Disabled => (errors::ACCESS_DENIED, refused.message),
                };
                refuse(&mut self.stream, self.seq, code, &message).await;
                return;
            }
        };
        let rec = admitted.recorder.clone();
        let Some(target) = compiled.targets.get(&resource) else {
            let msg = format!("Ward has no upstream for resource \"{resource}\"");
            self.fail_recorded(&rec, errors::UPSTREAM_UNREACHABLE, &msg)
                .await;
            rec.end(Outcome::Error, 0, 0).await;
            return;
        };
        let terms = ClientTerms {
            capabilities: self.login.capabilities,
            max_packet: self.login.max_packet,
            charset: self.login.charset,
            attributes: &self.login.attributes,
            local_infile: admitted.grant.local_infile,
        };
        let upstream = match target
            .connect(
                &admitted.upstream_user,
                admitted.upstream_password.as_ref(),
                &terms,
                gw.limits.max_message,
            )
            .await
        {
            Ok(u) => u,
            Err(e) => {
                let msg = format!("Ward could not open resource \"{resource}\": {e}");
                self.fail_recorded(&rec, errors::UPSTREAM_UNREACHABLE, &msg)
                    .await;
                rec.end(Outcome::Error, 0, 0).await;
                return;
            }
        };
        let mut out = Vec::new();
        packet::write(&mut out, self.seq, &upstream.ok);
        let (outcome, up, down) = if let Err(e) = send(&mut self.stream, &out).await {
            tracing::info!(peer = %self.peer, error = %e, "client left during login");
            (Outcome::Ok, 0, 0)
        } else {
            let client = std::mem::replace(&mut self.stream, Stream::Taken);
            let client_buf = std::mem::take(&mut self.reader.buf);
            let capabilities = self.login.capabilities;
            let killer = self.killer(subject.clone());
            gw.kills.register(
                &self.id,
                crate::kill::Entry {
                    subject,
                    resource: resource.clone(),
                    target: target.clone(),
                    user: admitted.upstream_user.clone(),
                    password: admitted.upstream_password.clone(),
                    upstream_id: upstream.greeting.connection_id,
                    recorder: rec.clone(),
                },
            );
            let sides = relay::Sides {
                client,
                client_buf,
                upstream,
                capabilities,
            };
            let limits = gw.limits;
            let end = relay::run(sides, killer, &rec, admitted, limits, gw.shutdown.clone()).await;
            let outcome = match &end.why {
                RelayEnd::ClientClosed => Outcome::Ok,
                RelayEnd::ClientIo(e) => {
                    tracing::info!(peer = %self.peer, error = %e, "client connection lost");
                    Outcome::Error
                }
                RelayEnd::Terminated => Outcome::Terminated,
                RelayEnd::Shutdown => Outcome::Incomplete,
                _ => Outcome::Error,
            };
            (outcome, end.up, end.down)
        };
        rec.end(outcome, up, down).await;
    }

    /// Who this connection's `KILL`s come from.
    fn killer(&self, subject: String) -> crate::kill::Killer {
        crate::kill::Killer {
            registry: self.gw.kills.clone(),
            subject,
            from: self.peer.to_string(),
            capabilities: self.login.capabilities,
            max_packet: self.login.max_packet,
            charset: self.login.charset,
            max_message: self.gw.limits.max_message,
        }
    }

    /// Serves a login that named no resource: it may stop its user's queries elsewhere
    /// (`KILL QUERY id`), and everything else is refused with the resources it could name.
    async fn unchosen(&mut self, rec: &SessionRecorder, subject: String, names: &[String]) {
        let mut out = Vec::new();
        packet::build(&mut out, self.seq, |p| {
            response::encode_ok(p, 0, status::AUTOCOMMIT, 0)
        });
        let mut outcome = Outcome::Ok;
        if send(&mut self.stream, &out).await.is_err() {
            rec.end(outcome, 0, 0).await;
            return;
        }
        let listed = if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        };
        let no_resource = format!(
            "No resource chosen: connect with a resource's name as the database (mysql -D RESOURCE; resources you may reach: {listed}); this connection can only stop your queries (KILL QUERY id)"
        );
        let killer = self.killer(subject);
        loop {
            let cmd = match self.reader.next(&mut self.stream).await {
                Ok(cmd) if cmd.seq == 0 => cmd,
                Ok(_) | Err(WireError::Protocol(_)) => {
                    outcome = Outcome::Error;
                    break;
                }
                Err(_) => break,
            };
            let payload = cmd.payload();
            let answer = match payload.split_first() {
                Some((&command::QUIT, _)) => break,
                Some((&command::PING, _)) => Ok(None),
                Some((&command::QUERY, text)) => match crate::kill::classify(text) {
                    Some(kill) => {
                        rec.record(Query::text(Bytes::copy_from_slice(text))).await;
                        killer
                            .kill(kill)
                            .await
                            .map(Some)
                            .map_err(|r| (r.code, r.message))
                    }
                    None => Err((errors::NO_DB, no_resource.clone())),
                },
                _ => Err((errors::NO_DB, no_resource.clone())),
            };
            let seq = cmd.next_seq();
            let mut out = Vec::new();
            match answer {
                Ok(Some(payload)) => {
                    packet::write(&mut out, seq, &payload);
                }
                Ok(None) => packet::build(&mut out, seq, |p| {
                    response::encode_ok(p, 0, status::AUTOCOMMIT, 0)
                }),
                Err((code, message)) => {
                    let mut payload = Vec::new();
                    response::encode_err(&mut payload, code.0, code.1, &message);
                    rec.record(crate::record::ServerError(payload.clone().into()))
                        .await;
                    packet::write(&mut out, seq, &payload);
                }
            }
            if send(&mut self.stream, &out).await.is_err() {
                break;
            }
        }
        rec.end(outcome, 0, 0).await;
    }

    /// Tells the client of a failure after admission, and records it as a `db.error`.
    async fn fail_recorded(
        &mut self,
        rec: &ward_store::SessionRecorder,
        code: errors::Code,
        message: &str,
    ) {
        let mut payload = Vec::new();
        response::encode_err(&mut payload, code.0, code.1, message);
        rec.record(crate::record::ServerError(payload.into())).await;
        refuse(&mut self.stream, self.seq, code, message).await;
    }
}
