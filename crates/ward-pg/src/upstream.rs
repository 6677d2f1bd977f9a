//! Opening the upstream connection with Ward's own credentials: TCP, optional TLS, startup,
//! authentication (trust, cleartext, md5, SCRAM-SHA-256), up to the first ReadyForQuery.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use ward_admit::Runtime;
use ward_config::{Resource, ResourceKind, Secret};

use crate::catalog::Catalog;
use crate::codec::backend::{self, Authentication};
use crate::codec::{ProtocolError, encode, frame};
use crate::scram::{ScramClient, ScramError, md5_password};
use crate::wire::{MessageReader, WireError, send};
use ward_net::Stream;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    #[error("the server refused the login: {message} (SQLSTATE {code})")]
    Refused { code: String, message: String },
    #[error("the server asks for an authentication method Ward does not support ({0})")]
    UnsupportedAuth(String),
    #[error("the server asks for a password and the resource has none configured")]
    NoPassword,
    #[error("{0}")]
    Scram(#[from] ScramError),
    #[error("{0}")]
    Wire(#[from] WireError),
}

impl From<ProtocolError> for UpstreamError {
    fn from(e: ProtocolError) -> Self {
        Self::Wire(WireError::Protocol(e))
    }
}

/// The upstream target of every PostgreSQL resource, by name.
pub type Targets = HashMap<String, Arc<Target>>;

/// What PostgreSQL sessions (and agents' queries) work from, replaced whole when `ward serve`
/// reloads: the runtime, and the upstream target of each PostgreSQL resource it names.
pub struct Compiled {
    pub runtime: Arc<Runtime>,
    pub targets: Targets,
}

impl Compiled {
    /// Prepares the upstream target (with its TLS settings) of every PostgreSQL resource.
    pub fn new(runtime: Arc<Runtime>) -> Result<Self, String> {
        let mut targets = HashMap::new();
        for r in runtime
            .config
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::Postgres)
        {
            let tls = tls_connector(r).map_err(|e| format!("resource `{}`: {e}", r.name))?;
            targets.insert(
                r.name.clone(),
                Arc::new(Target {
                    resource: r.clone(),
                    tls,
                    catalog: Arc::default(),
                }),
            );
        }
        Ok(Self { runtime, targets })
    }
}

/// How to reach one resource: its config and, when TLS is on, the connector and server name.
pub struct Target {
    pub resource: Resource,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    /// Where sessions of this resource look up the tables of their results (shared by the
    /// target's copies for other roles).
    pub catalog: Arc<Catalog>,
}

/// A logged-in upstream connection, ready for queries.
pub struct Upstream {
    pub stream: Stream,
    pub reader: MessageReader,
    /// The ParameterStatus (and any NoticeResponse) messages of the login, to pass to the client.
    pub greeting: Vec<u8>,
    /// The upstream's BackendKeyData, for cancel requests.
    pub key: (i32, i32),
    pub address: String,
}

impl Target {
    /// The same target, logging in as `user` with `password` (a grant's `upstream_user`).
    pub fn as_user(&self, user: &str, password: Option<&Secret>) -> Self {
        let mut resource = self.resource.clone();
        resource.user = user.to_owned();
        resource.password = password.cloned();
        Self {
            resource,
            tls: self.tls.clone(),
            catalog: self.catalog.clone(),
        }
    }

    /// This target as the role admission chose: the grant's `upstream_user` with its password,
    /// else the resource's own user.
    pub fn admitted_as(self: &Arc<Self>, admitted: &ward_admit::Admitted) -> Arc<Self> {
        if admitted.grant.upstream_user.is_some() {
            Arc::new(self.as_user(&admitted.upstream_user, admitted.upstream_password.as_ref()))
        } else {
            self.clone()
        }
    }

    /// Connects and logs in as the resource's user to its database, sending `client_params`
    /// too: the startup parameters [`crate::startup_params::check`] let through.
    pub async fn connect(
        &self,
        client_params: &[(&str, &str)],
        max_message: usize,
    ) -> Result<Upstream, UpstreamError> {
        let r = &self.resource;
        let timeout = |_| UpstreamError::Timeout {
            address: r.address.clone(),
        };
        let login = async {
            tokio::time::timeout(CONNECT_TIMEOUT, self.login(client_params, max_message))
                .await
                .map_err(timeout)?
        };
        ward_core::metrics::connecting("postgres", login).await
    }

    /// Opens a raw connection (TLS if configured) without logging in: for cancel requests.
    pub async fn open(&self) -> Result<TcpStream, UpstreamError> {
        let address = self.resource.address.clone();
        let tcp = TcpStream::connect(&address)
            .await
            .map_err(|source| UpstreamError::Connect { address, source })?;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }

    async fn login(
        &self,
        client_params: &[(&str, &str)],
        max_message: usize,
    ) -> Result<Upstream, UpstreamError> {
        let r = &self.resource;
        let tcp = self.open().await?;
        let mut stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some((connector, name)) => {
                let mut tcp = tcp;
                let mut req = Vec::new();
                encode::ssl_request(&mut req);
                send(&mut tcp, &req).await.map_err(WireError::Io)?;
                let answer = tcp.read_u8().await.map_err(WireError::Io)?;
                if answer != b'S' {
                    return Err(UpstreamError::TlsRefused);
                }
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(UpstreamError::Tls)?;
                Stream::Client(Box::new(tls))
            }
        };
        let mut params: Vec<(&str, &str)> = vec![("user", &r.user), ("database", &r.database)];
        params.extend_from_slice(client_params);
        let mut out = Vec::new();
        encode::startup(&mut out, &params);
        send(&mut stream, &out).await.map_err(WireError::Io)?;

        let mut reader = MessageReader::new(max_message);
        let mut scram: Option<ScramClient> = None;
        let mut greeting = Vec::new();
        let mut key = (0, 0);
        loop {
            let (tag, body) = reader.next(&mut stream).await?;
            match tag {
                backend::AUTHENTICATION => {
                    out.clear();
                    match backend::authentication(&body)? {
                        Authentication::Ok => continue,
                        Authentication::CleartextPassword => {
                            encode::password(&mut out, self.password()?.as_bytes())
                        }
                        Authentication::Md5Password { salt } => {
                            encode::password(
                                &mut out,
                                &md5_password(&r.user, self.password()?, salt),
                            );
                        }
                        Authentication::Sasl { mechanisms } => {
                            if !mechanisms.contains(&"SCRAM-SHA-256") {
                                return Err(UpstreamError::UnsupportedAuth(mechanisms.join(", ")));
                            }
                            let client = ScramClient::new(self.password()?);
                            encode::sasl_initial_response(
                                &mut out,
                                "SCRAM-SHA-256",
                                &client.client_first(),
                            );
                            scram = Some(client);
                        }
                        Authentication::SaslContinue(data) => {
                            let client = scram.as_mut().ok_or(ScramError::Malformed)?;
                            encode::sasl_response(&mut out, &client.client_final(data)?);
                        }
                        Authentication::SaslFinal(data) => {
                            scram
                                .as_ref()
                                .ok_or(ScramError::Malformed)?
                                .verify_final(data)?;
                            continue;
                        }
                        Authentication::Other(code) => {
                            return Err(UpstreamError::UnsupportedAuth(format!("code {code}")));
                        }
                    }
                    send(&mut stream, &out).await.map_err(WireError::Io)?;
                }
                backend::ERROR_RESPONSE => {
                    let fields = backend::error_fields(&body)?;
                    let field = |c: u8| {
                        fields
                            .iter()
                            .find(|(k, _)| *k == c)
                            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    };
                    return Err(UpstreamError::Refused {
                        code: field(b'C').unwrap_or_default(),
                        message: field(b'M').unwrap_or_default(),
                    });
                }
                backend::BACKEND_KEY_DATA => key = backend::backend_key_data(&body)?,
                backend::PARAMETER_STATUS | backend::NOTICE_RESPONSE => {
                    reframe(&mut greeting, tag, &body)
                }
                backend::READY_FOR_QUERY => {
                    return Ok(Upstream {
                        stream,
                        reader,
                        greeting,
                        key,
                        address: r.address.clone(),
                    });
                }
                _ => {} // NegotiateProtocolVersion and the like: nothing to pass on.
            }
        }
    }

    fn password(&self) -> Result<&str, UpstreamError> {
        self.resource
            .password
            .as_ref()
            .map(|s| s.expose())
            .ok_or(UpstreamError::NoPassword)
    }
}

fn reframe(out: &mut Vec<u8>, tag: u8, body: &BytesMut) {
    encode::message(out, tag, |b| b.extend_from_slice(body));
    debug_assert!(out.len() >= frame::HEADER);
}

/// Builds the TLS client configuration for an upstream.
pub fn tls_connector(
    resource: &Resource,
) -> Result<Option<(TlsConnector, ServerName<'static>)>, String> {
    Ok(ward_config::tls::for_resource(resource)?
        .map(|(config, name)| (TlsConnector::from(Arc::new(config)), name)))
}
