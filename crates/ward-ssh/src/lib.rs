//! Ward's SSH gateway: an unmodified OpenSSH client reaches a registered host through Ward
//! (`ssh -p PORT alice:web1@ward-host`), which authenticates the person, checks the grant,
//! logs in upstream with its own key, and records what runs and what comes back.
//!
//! One SSH connection is one Ward session (protocol `ssh`). Each channel's requests and data are
//! relayed to a channel of Ward's own connection to the host: `exec.command` for a command (or
//! the start of a shell), `term.output` for what the host sends (stdout and stderr), `exec.exit`
//! for the exit status, `term.resize` for the terminal's size. What the person types is not
//! recorded yet (it may be a password typed with echo off); its effect is, as output.

pub mod keys;

pub use russh::keys::PrivateKey as SshKey;

use std::net::SocketAddr;
use std::sync::Arc;

use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::server::{Auth, ChannelOpenHandle, Msg, Server as _, Session};
use russh::{Channel, ChannelId, ChannelMsg};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use ward_audit::{JsonBody, MaskedJson, Recorder, SessionRecorder, SessionStart};
use ward_core::auth::Authenticator;
use ward_core::config::{Config, GrantDecision, Resource, ResourceKind};
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId};

/// Everything an SSH connection needs, shared by all of them.
pub struct Gateway {
    config: Arc<Config>,
    authenticator: Arc<dyn Authenticator>,
    recorder: Recorder,
    /// The key Ward logs in to hosts with.
    client_key: Arc<PrivateKey>,
    server_config: Arc<russh::server::Config>,
    shutdown: watch::Receiver<bool>,
}

impl Gateway {
    pub fn new(
        config: Arc<Config>,
        authenticator: Arc<dyn Authenticator>,
        recorder: Recorder,
        host_key: PrivateKey,
        client_key: Arc<PrivateKey>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let server_config = russh::server::Config {
            keys: vec![host_key],
            auth_rejection_time: std::time::Duration::from_millis(300),
            auth_rejection_time_initial: Some(std::time::Duration::ZERO),
            inactivity_timeout: Some(std::time::Duration::from_secs(3600)),
            methods: russh::MethodSet::from(&[russh::MethodKind::Password][..]),
            ..Default::default()
        };
        Self {
            config,
            authenticator,
            recorder,
            client_key,
            server_config: Arc::new(server_config),
            shutdown,
        }
    }

    /// Accepts connections until shutdown is signalled.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let mut server = Server { gw: self.clone() };
        let running = server.run_on_socket(self.server_config.clone(), &listener);
        let handle = running.handle();
        let mut stop = self.shutdown.clone();
        tokio::select! {
            result = running => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "SSH listener stopped");
                }
            }
            _ = stop.changed() => handle.shutdown("Ward is shutting down".into()),
        }
    }

    fn resource(&self, name: &str) -> Option<&Resource> {
        self.config
            .resources
            .iter()
            .find(|r| r.name == name && r.kind == ResourceKind::Ssh)
    }
}

#[derive(Clone)]
struct Server {
    gw: Arc<Gateway>,
}

impl russh::server::Server for Server {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        Connection {
            gw: self.gw.clone(),
            peer,
            live: None,
        }
    }
}

/// One client connection.
struct Connection {
    gw: Arc<Gateway>,
    peer: Option<SocketAddr>,
    /// After a successful login: the recorded session and Ward's connection to the host.
    live: Option<Live>,
}

struct Live {
    record: SessionRecorder,
    upstream: russh::client::Handle<Upstream>,
}

/// Ward's side of its connection to a host: the host must present its pinned key.
struct Upstream {
    expected: PublicKey,
}

impl russh::client::Handler for Upstream {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                key.key_data() == self.expected.key_data()
            }
            PublicKeyOrCertificate::Certificate(_) => false,
        })
    }
}

impl Connection {
    fn client_addr(&self) -> String {
        self.peer.map(|p| p.to_string()).unwrap_or_default()
    }

    async fn start_record(&self, identity: Identity, resource: &str) -> SessionRecorder {
        self.gw
            .recorder
            .start(SessionStart {
                id: SessionId::new(),
                identity,
                resource: resource.to_owned(),
                protocol: Protocol::Ssh,
                client_addr: self.client_addr(),
            })
            .await
    }

    /// Records a refused login as a `denied` session: its authentication and, when it got that
    /// far, the policy decision.
    async fn deny(
        &self,
        identity: Identity,
        resource: &str,
        auth: serde_json::Value,
        decision: Option<serde_json::Value>,
    ) {
        let rec = self.start_record(identity, resource).await;
        rec.record(JsonBody(EventKind::Auth, auth)).await;
        if let Some(decision) = decision {
            rec.record(JsonBody(EventKind::PolicyDecision, decision))
                .await;
        }
        rec.end(Outcome::Denied, 0, 0).await;
    }

    /// Authenticates `user` (`ward-user:resource`), checks the grant, and logs in upstream.
    async fn login(&mut self, user: &str, password: &str) -> bool {
        let Some((ward_user, resource)) = user.split_once(':') else {
            let auth = json!({ "method": "password", "user": user, "result": "refused", "reason": "the user name must be WARD-USER:RESOURCE" });
            self.deny(Identity::unauthenticated(user), "", auth, None)
                .await;
            return false;
        };
        let identity = match self
            .gw
            .authenticator
            .authenticate(ward_user, password)
            .await
        {
            Ok(i) => i,
            Err(e) => {
                let auth = json!({ "method": e.method(), "user": ward_user, "result": "failed", "reason": e.to_string() });
                self.deny(Identity::unauthenticated(ward_user), resource, auth, None)
                    .await;
                return false;
            }
        };
        let auth = json!({ "method": identity.method, "user": identity.subject, "issuer": identity.issuer, "credential": identity.credential, "result": "ok" });
        let Some(target) = self.gw.resource(resource).cloned() else {
            let decision =
                json!({ "allowed": false, "resource": resource, "reason": "no such resource" });
            self.deny(identity, resource, auth, Some(decision)).await;
            return false;
        };
        let now = time::OffsetDateTime::now_utc();
        let decided =
            self.gw
                .config
                .decide_grant(&identity.subject, &identity.groups, resource, now);
        let GrantDecision::Allowed { grant, .. } = decided else {
            let reason = match decided {
                GrantDecision::Refused { reason, .. } => reason.code(),
                _ => "no grant",
            };
            let decision = json!({ "allowed": false, "resource": resource, "reason": reason });
            self.deny(identity, resource, auth, Some(decision)).await;
            return false;
        };
        let upstream_user = grant.upstream_user(&target).to_owned();
        let rec = self.start_record(identity, resource).await;
        rec.record(JsonBody(EventKind::Auth, auth)).await;
        let decision =
            json!({ "allowed": true, "resource": resource, "upstream_user": upstream_user });
        rec.record(JsonBody(EventKind::PolicyDecision, decision))
            .await;
        match connect(&target, &upstream_user, self.gw.client_key.clone()).await {
            Ok(upstream) => {
                self.live = Some(Live {
                    record: rec,
                    upstream,
                });
                true
            }
            Err(why) => {
                let error = json!({ "severity": "FATAL", "message": format!("Ward could not open resource \"{resource}\": {why}") });
                rec.record(MaskedJson(EventKind::DbError, error)).await;
                rec.end(Outcome::Error, 0, 0).await;
                false
            }
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        Ok(if self.login(user, password).await {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(live) = &self.live else {
            return Ok(()); // dropping `reply` refuses the channel
        };
        match live.upstream.channel_open_session().await {
            Ok(up) => {
                reply.accept().await;
                tokio::spawn(relay(channel, up, live.record.clone()));
            }
            Err(e) => {
                let error = json!({ "severity": "ERROR", "message": format!("the host refused a session channel: {e}") });
                live.record
                    .record(MaskedJson(EventKind::DbError, error))
                    .await;
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
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Environment passing is not allowed (yet): the client is told, nothing is forwarded.
        session.channel_failure(channel)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            tokio::spawn(async move {
                live.record.end(Outcome::Ok, 0, 0).await;
                let _ = live
                    .upstream
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
            });
        }
    }
}

/// Logs in to the host of `target` as `user` with Ward's key, checking the host's pinned key.
async fn connect(
    target: &Resource,
    user: &str,
    client_key: Arc<PrivateKey>,
) -> Result<russh::client::Handle<Upstream>, String> {
    let pinned = target.host_key.as_deref().unwrap_or_default();
    let expected = PublicKey::from_openssh(pinned)
        .map_err(|e| format!("its configured host_key does not parse: {e}"))?;
    let config = Arc::new(russh::client::Config::default());
    let mut handle = russh::client::connect(config, target.address.as_str(), Upstream { expected })
        .await
        .map_err(|e| match e {
            russh::Error::UnknownKey => {
                "the host presented a key other than its configured host_key".to_owned()
            }
            e => format!("{}: {e}", target.address),
        })?;
    let key = PrivateKeyWithHashAlg::new(client_key, None);
    let result = handle
        .authenticate_publickey(user, key)
        .await
        .map_err(|e| e.to_string())?;
    if !result.success() {
        return Err(format!(
            "the host refused Ward's key for user {user} (add Ward's public key to its authorized_keys)"
        ));
    }
    Ok(handle)
}

/// What a command printed and how it ended.
#[derive(Debug, Default)]
pub struct CommandOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// None when the host sent no exit status (killed by a signal).
    pub status: Option<u32>,
    /// More output came than `max_bytes`; the rest was dropped.
    pub truncated: bool,
}

/// Runs one command on the host of `target` as `user` with Ward's key, keeping at most
/// `max_bytes` of output: for callers that are not SSH clients (the MCP `exec` tool).
pub async fn run_command(
    target: &Resource,
    user: &str,
    client_key: Arc<PrivateKey>,
    command: &str,
    max_bytes: usize,
) -> Result<CommandOutput, String> {
    let handle = connect(target, user, client_key).await?;
    let mut channel = handle
        .channel_open_session()
        .await
        .map_err(|e| format!("the host refused a session: {e}"))?;
    channel
        .exec(true, command)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = CommandOutput::default();
    while let Some(msg) = channel.wait().await {
        let room = max_bytes.saturating_sub(out.stdout.len() + out.stderr.len());
        let (sink, data) = match msg {
            ChannelMsg::Data { data } => (&mut out.stdout, data),
            ChannelMsg::ExtendedData { data, .. } => (&mut out.stderr, data),
            ChannelMsg::ExitStatus { exit_status } => {
                out.status = Some(exit_status);
                continue;
            }
            ChannelMsg::Close => break,
            _ => continue,
        };
        if data.len() > room {
            out.truncated = true;
        }
        sink.extend_from_slice(&data[..data.len().min(room)]);
    }
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    Ok(out)
}

/// Relays one session channel between the client and the host, recording as it goes.
async fn relay(client: Channel<Msg>, upstream: Channel<russh::client::Msg>, rec: SessionRecorder) {
    let (mut from_client, to_client) = client.split();
    let (mut from_host, to_host) = upstream.split();
    let up = async {
        while let Some(msg) = from_client.wait().await {
            let sent = match msg {
                ChannelMsg::Data { data } => to_host.data(&data[..]).await,
                ChannelMsg::RequestPty {
                    term,
                    col_width,
                    row_height,
                    pix_width,
                    pix_height,
                    terminal_modes,
                    ..
                } => {
                    let size = json!({ "cols": col_width, "rows": row_height, "term": term });
                    rec.record(JsonBody(EventKind::TermResize, size)).await;
                    to_host
                        .request_pty(
                            false,
                            &term,
                            col_width,
                            row_height,
                            pix_width,
                            pix_height,
                            &terminal_modes,
                        )
                        .await
                }
                ChannelMsg::WindowChange {
                    col_width,
                    row_height,
                    pix_width,
                    pix_height,
                } => {
                    let size = json!({ "cols": col_width, "rows": row_height });
                    rec.record(JsonBody(EventKind::TermResize, size)).await;
                    to_host
                        .window_change(col_width, row_height, pix_width, pix_height)
                        .await
                }
                ChannelMsg::Exec { command, .. } => {
                    let text = String::from_utf8_lossy(&command).into_owned();
                    rec.record(MaskedJson(
                        EventKind::ExecCommand,
                        json!({ "command": text }),
                    ))
                    .await;
                    to_host.exec(false, command).await
                }
                ChannelMsg::RequestShell { .. } => {
                    rec.record(MaskedJson(EventKind::ExecCommand, json!({ "shell": true })))
                        .await;
                    to_host.request_shell(false).await
                }
                ChannelMsg::RequestSubsystem { name, .. } => {
                    let subsystem = json!({ "subsystem": name });
                    rec.record(MaskedJson(EventKind::ExecCommand, subsystem))
                        .await;
                    to_host.request_subsystem(false, name).await
                }
                ChannelMsg::Eof => to_host.eof().await,
                ChannelMsg::Close => break,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = to_host.close().await;
    };
    let down = async {
        while let Some(msg) = from_host.wait().await {
            let sent = match msg {
                ChannelMsg::Data { data } => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    rec.record(MaskedJson(EventKind::TermOutput, json!({ "data": text })))
                        .await;
                    to_client.data(&data[..]).await
                }
                ChannelMsg::ExtendedData { data, ext } => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    let out = json!({ "data": text, "stream": "stderr" });
                    rec.record(MaskedJson(EventKind::TermOutput, out)).await;
                    to_client.extended_data(ext, &data[..]).await
                }
                ChannelMsg::ExitStatus { exit_status } => {
                    rec.record(JsonBody(
                        EventKind::ExecExit,
                        json!({ "status": exit_status }),
                    ))
                    .await;
                    to_client.exit_status(exit_status).await
                }
                ChannelMsg::Eof => to_client.eof().await,
                ChannelMsg::Close => break,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = to_client.close().await;
    };
    tokio::join!(up, down);
}
