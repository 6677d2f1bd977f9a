//! Opening the upstream connection with Ward's own credentials: TCP, TLS when the resource
//! says so, and the login, with whichever plugin the server asks for (`mysql_native_password`,
//! `caching_sha2_password`, MariaDB's `client_ed25519`, or `mysql_clear_password` over TLS).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use ward_admit::Runtime;
use ward_config::{Resource, ResourceKind, Secret};
use ward_net::Stream;

use crate::codec::handshake::{self, AuthReply, Greeting, Login};
use crate::codec::{ProtocolError, caps, packet, response};
use crate::scramble;
use crate::wire::{Packet, PacketReader, WireError, send};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Plugin exchanges a login may take before Ward gives up (a switch and a full
/// authentication need three).
const MAX_AUTH_ROUNDS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("no answer from {address} within {CONNECT_TIMEOUT:?}")]
    Timeout { address: String },
    #[error("the server does not accept TLS connections")]
    TlsRefused,
    #[error("TLS with the server failed: {0}")]
    Tls(std::io::Error),
    #[error("the server refused the login: {message} (error {code}, SQLSTATE {sqlstate})")]
    Refused {
        code: u16,
        sqlstate: String,
        message: String,
    },
    #[error("the server asks for authentication plugin `{0}`, which Ward does not support")]
    UnsupportedAuth(String),
    #[error(
        "the server wants the password itself ({0}), which Ward sends only over TLS: set `tls = \"verify-full\"` on the resource"
    )]
    NeedsTls(&'static str),
    #[error("the client negotiated {0}, which the server does not support")]
    Capability(&'static str),
    #[error("the login did not finish within {MAX_AUTH_ROUNDS} exchanges")]
    TooManyRounds,
    #[error("{0}")]
    Wire(#[from] WireError),
}

impl From<ProtocolError> for UpstreamError {
    fn from(e: ProtocolError) -> Self {
        Self::Wire(WireError::Protocol(e))
    }
}

impl From<std::io::Error> for UpstreamError {
    fn from(e: std::io::Error) -> Self {
        Self::Wire(WireError::Io(e))
    }
}

/// What MySQL sessions work from, replaced whole when `ward serve` reloads: the runtime, and
/// the TLS settings of each MySQL resource.
pub struct Compiled {
    pub runtime: Arc<Runtime>,
    pub targets: HashMap<String, Arc<Target>>,
}

impl Compiled {
    pub fn new(runtime: Arc<Runtime>) -> Result<Self, String> {
        let mut targets = HashMap::new();
        for r in runtime
            .config
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::Mysql)
        {
            let tls = ward_config::tls::for_resource(r)
                .map_err(|e| format!("resource `{}`: {e}", r.name))?
                .map(|(config, name)| (TlsConnector::from(Arc::new(config)), name));
            targets.insert(
                r.name.clone(),
                Arc::new(Target {
                    resource: r.clone(),
                    tls,
                }),
            );
        }
        Ok(Self { runtime, targets })
    }
}

/// How to reach one resource.
pub struct Target {
    pub resource: Resource,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// What the client negotiated, which the upstream login carries on.
pub struct ClientTerms<'a> {
    pub capabilities: u32,
    pub max_packet: u32,
    pub charset: u8,
    pub attributes: &'a [(Vec<u8>, Vec<u8>)],
    /// The grant allows `LOAD DATA LOCAL INFILE`.
    pub local_infile: bool,
}

/// A logged-in upstream connection, ready for commands.
pub struct Upstream {
    pub stream: Stream,
    pub reader: PacketReader,
    pub greeting: Greeting,
    /// The server's OK that ended the login (payload), for the client.
    pub ok: Vec<u8>,
}

impl Target {
    /// Connects and logs in as `user` to the resource's schema.
    pub async fn connect(
        &self,
        user: &str,
        password: Option<&Secret>,
        terms: &ClientTerms<'_>,
        max_packet: usize,
    ) -> Result<Upstream, UpstreamError> {
        let connect = async {
            let address = self.resource.address.clone();
            let tcp =
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&address)).await {
                    Ok(Ok(tcp)) => tcp,
                    Ok(Err(source)) => return Err(UpstreamError::Connect { address, source }),
                    Err(_) => return Err(UpstreamError::Timeout { address }),
                };
            let _ = tcp.set_nodelay(true);
            let login = self.login(tcp, user, password, terms, max_packet);
            match tokio::time::timeout(CONNECT_TIMEOUT, login).await {
                Ok(result) => result,
                Err(_) => Err(UpstreamError::Timeout { address }),
            }
        };
        ward_core::metrics::connecting("mysql", connect).await
    }

    async fn login(
        &self,
        tcp: TcpStream,
        user: &str,
        password: Option<&Secret>,
        terms: &ClientTerms<'_>,
        max_packet: usize,
    ) -> Result<Upstream, UpstreamError> {
        let mut stream = Stream::Plain(tcp);
        let mut reader = PacketReader::new(max_packet);
        let first = reader.next(&mut stream).await?;
        let payload = first.payload();
        if response::is_err(&payload) {
            return Err(refused(&payload));
        }
        let greeting = handshake::greeting(&payload)?;
        drop(payload);
        let missing = terms.capabilities & caps::FORMAT & !greeting.capabilities;
        if missing != 0 {
            return Err(UpstreamError::Capability(flag_name(missing)));
        }
        // The client's choices that shape the command phase, and what Ward's own login needs.
        let handshake_flags = caps::PROTOCOL_41
            | caps::SECURE_CONNECTION
            | caps::PLUGIN_AUTH
            | caps::PLUGIN_AUTH_LENENC_CLIENT_DATA
            | caps::CONNECT_ATTRS
            | caps::LONG_PASSWORD;
        let mut flags = (terms.capabilities & caps::WARD | handshake_flags)
            & !(caps::SSL | caps::COMPRESS | caps::LOCAL_FILES | caps::CONNECT_WITH_DB)
            & (greeting.capabilities | caps::LONG_PASSWORD);
        if terms.local_infile {
            flags |= terms.capabilities & caps::LOCAL_FILES;
        }
        let schema = &self.resource.database;
        if !schema.is_empty() {
            flags |= caps::CONNECT_WITH_DB;
        }
        let mut seq = first.next_seq();
        if let Some((connector, name)) = &self.tls {
            if greeting.capabilities & caps::SSL == 0 {
                return Err(UpstreamError::TlsRefused);
            }
            flags |= caps::SSL;
            let mut out = Vec::new();
            let mut request = Vec::new();
            handshake::ssl_request(&mut request, flags, terms.max_packet, terms.charset);
            seq = packet::write(&mut out, seq, &request);
            send(&mut stream, &out).await?;
            let Stream::Plain(tcp) = std::mem::replace(&mut stream, Stream::Taken) else {
                return Err(UpstreamError::TlsRefused);
            };
            let tls = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(UpstreamError::Tls)?;
            stream = Stream::Client(Box::new(tls));
        }
        let secret = password.map_or(&b""[..], |p| p.expose().as_bytes());
        let tls = stream.is_tls();
        // A plugin Ward cannot answer gets a native proof: the server then switches to the
        // user's own plugin.
        let (plugin, first) = match proof(&greeting.auth_plugin, secret, &greeting.scramble, tls) {
            Ok(p) => (greeting.auth_plugin.clone(), p),
            Err(_) => (
                scramble::NATIVE.to_vec(),
                scramble::native(secret, &greeting.scramble),
            ),
        };
        let mut attributes = terms.attributes.to_vec();
        attributes.push((
            b"_ward".to_vec(),
            env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
        ));
        let login = Login {
            capabilities: flags,
            max_packet: terms.max_packet,
            charset: terms.charset,
            user: user.as_bytes().to_vec(),
            auth_response: first,
            database: (!schema.is_empty()).then(|| schema.as_bytes().to_vec()),
            auth_plugin: Some(plugin.clone()),
            attributes,
        };
        let mut payload = Vec::new();
        login.encode(&mut payload);
        let mut out = Vec::new();
        packet::write(&mut out, seq, &payload);
        send(&mut stream, &out).await?;
        let mut plugin = plugin;
        for _ in 0..MAX_AUTH_ROUNDS {
            let reply = reader.next(&mut stream).await?;
            let payload = reply.payload();
            let answer = match handshake::auth_reply(&payload)? {
                AuthReply::Ok => {
                    let ok = payload.into_owned();
                    return Ok(Upstream {
                        stream,
                        reader,
                        greeting,
                        ok,
                    });
                }
                AuthReply::Err => return Err(refused(&payload)),
                AuthReply::Switch { plugin: p, data } => {
                    plugin = p.to_vec();
                    proof(p, secret, data, tls)?
                }
                AuthReply::More(data) => match (plugin.as_slice(), data) {
                    (scramble::CACHING_SHA2, [scramble::FAST_AUTH_OK]) => continue,
                    (scramble::CACHING_SHA2, [scramble::PERFORM_FULL_AUTH]) if tls => {
                        nul_terminated(secret)
                    }
                    (scramble::CACHING_SHA2, [scramble::PERFORM_FULL_AUTH]) => {
                        return Err(UpstreamError::NeedsTls("caching_sha2_password"));
                    }
                    _ => return Err(UpstreamError::UnsupportedAuth(text(&plugin))),
                },
            };
            answer_packet(&mut stream, &reply, &answer).await?;
        }
        Err(UpstreamError::TooManyRounds)
    }
}

/// Sends `answer` as the packet after `reply`.
async fn answer_packet(
    stream: &mut Stream,
    reply: &Packet,
    answer: &[u8],
) -> Result<(), UpstreamError> {
    let mut out = Vec::new();
    packet::write(&mut out, reply.next_seq(), answer);
    send(stream, &out).await?;
    Ok(())
}

fn nul_terminated(secret: &[u8]) -> Vec<u8> {
    let mut v = secret.to_vec();
    v.push(0);
    v
}

/// The answer to `plugin`'s challenge `data`.
fn proof(plugin: &[u8], secret: &[u8], data: &[u8], tls: bool) -> Result<Vec<u8>, UpstreamError> {
    match plugin {
        scramble::NATIVE => Ok(scramble::native(secret, data)),
        scramble::CACHING_SHA2 => Ok(scramble::caching_sha2(secret, data)),
        scramble::ED25519 => Ok(scramble::ed25519(secret, data)),
        scramble::CLEAR if tls => Ok(nul_terminated(secret)),
        scramble::CLEAR => Err(UpstreamError::NeedsTls("mysql_clear_password")),
        other => Err(UpstreamError::UnsupportedAuth(text(other))),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn refused(payload: &[u8]) -> UpstreamError {
    match response::err(payload) {
        Ok(e) => UpstreamError::Refused {
            code: e.code,
            sqlstate: text(e.sqlstate),
            message: text(e.message),
        },
        Err(e) => e.into(),
    }
}

/// The name of the first flag set in `flags` among those that shape packets.
fn flag_name(flags: u32) -> &'static str {
    [
        (caps::DEPRECATE_EOF, "CLIENT_DEPRECATE_EOF"),
        (caps::SESSION_TRACK, "CLIENT_SESSION_TRACK"),
        (caps::MULTI_RESULTS, "CLIENT_MULTI_RESULTS"),
        (caps::PS_MULTI_RESULTS, "CLIENT_PS_MULTI_RESULTS"),
        (caps::PROTOCOL_41, "CLIENT_PROTOCOL_41"),
    ]
    .into_iter()
    .find(|(f, _)| flags & f != 0)
    .map_or("a capability", |(_, n)| n)
}
