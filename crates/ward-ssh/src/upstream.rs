//! Ward's side of its connections to hosts: the host's key checked against the pinned one (or
//! the one trusted on first use), and Ward's login with its key or a certificate for it.

use std::sync::Arc;

use russh::ChannelMsg;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use ward_config::{Resource, SshLogin};
use ward_core::SessionId;

use crate::{WINDOW, fast_ciphers, keys};

/// Ward's side of its connection to a host: the host must present its pinned key (or, trusted
/// on first use, any key, which is checked against the learned one before logging in).
pub(crate) struct Upstream {
    expected: Option<PublicKey>,
    presented: Arc<std::sync::Mutex<Option<PublicKey>>>,
}

impl russh::client::Handler for Upstream {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        if let Ok(mut presented) = self.presented.lock() {
            *presented = Some(key.clone());
        }
        Ok(self
            .expected
            .as_ref()
            .is_none_or(|e| key.key_data() == e.key_data()))
    }
}

/// How Ward logs in to hosts: with its client key, or (for `login = "certificate"`) with a
/// certificate for that key that its upstream CA signs for one session.
#[derive(Clone)]
pub struct HostLogin {
    pub key: Arc<PrivateKey>,
    pub ca: Arc<PrivateKey>,
    /// Where host keys trusted on first use are kept.
    pub store: Arc<std::sync::Mutex<ward_store::Store>>,
}

/// Logs in to the host of `target` as `user` for session `session`, checking the host's
/// pinned key.
pub(crate) async fn connect(
    target: &Resource,
    user: &str,
    login: &HostLogin,
    session: SessionId,
) -> Result<russh::client::Handle<Upstream>, String> {
    ward_core::metrics::connecting("ssh", log_in(target, user, login, session)).await
}

async fn log_in(
    target: &Resource,
    user: &str,
    login: &HostLogin,
    session: SessionId,
) -> Result<russh::client::Handle<Upstream>, String> {
    let expected = match &target.host_key {
        Some(pinned) => Some(
            PublicKey::from_openssh(pinned)
                .map_err(|e| format!("its configured host_key does not parse: {e}"))?,
        ),
        None => None,
    };
    let config = Arc::new(russh::client::Config {
        preferred: fast_ciphers(),
        window_size: WINDOW,
        ..Default::default()
    });
    let presented = Arc::new(std::sync::Mutex::new(None));
    let handler = Upstream {
        expected: expected.clone(),
        presented: presented.clone(),
    };
    let mut handle = russh::client::connect(config, target.address.as_str(), handler)
        .await
        .map_err(|e| match e {
            russh::Error::UnknownKey => {
                "the host presented a key other than its configured host_key".to_owned()
            }
            e => format!("{}: {e}", target.address),
        })?;
    if expected.is_none() {
        // Trusted on first use: the key learned first (now, or before) must be this one.
        let key = presented
            .lock()
            .ok()
            .and_then(|k| k.clone())
            .ok_or("the host presented no key")?;
        let line = key.to_openssh().map_err(|e| e.to_string())?;
        let (store, name, seen) = (login.store.clone(), target.name.clone(), line.clone());
        let learned = tokio::task::spawn_blocking(move || {
            store
                .lock()
                .map_err(|_| "store lock poisoned".to_owned())?
                .learn_host_key(&name, &seen)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        if learned != line {
            let fingerprint = |k: &str| {
                PublicKey::from_openssh(k).map_or_else(|_| k.to_owned(), |k| keys::fingerprint(&k))
            };
            return Err(format!(
                "the host presented key {} but Ward trusted {} on first use; if the host's key really changed, set the resource's host_key",
                fingerprint(&line),
                fingerprint(&learned)
            ));
        }
    }
    let result = match target.login {
        SshLogin::Key => {
            let key = PrivateKeyWithHashAlg::new(login.key.clone(), None);
            handle.authenticate_publickey(user, key).await
        }
        SshLogin::Certificate => {
            let now = ward_core::Timestamp::now().unix_seconds();
            let cert = keys::certify(
                &login.ca,
                login.key.public_key(),
                user,
                &format!("ward-session:{session}"),
                (now.saturating_sub(60), now + 60),
            )
            .map_err(|e| format!("signing Ward's certificate: {e}"))?;
            handle
                .authenticate_openssh_cert(user, login.key.clone(), cert)
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    if !result.success() {
        return Err(match target.login {
            SshLogin::Key => format!(
                "the host refused Ward's key for user {user} (add Ward's public key, ssh_client_key.pub, to its authorized_keys)"
            ),
            SshLogin::Certificate => format!(
                "the host refused Ward's certificate for user {user} (its TrustedUserCAKeys must list Ward's ssh_upstream_ca.pub)"
            ),
        });
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
    login: &HostLogin,
    session: SessionId,
    command: &str,
    max_bytes: usize,
) -> Result<CommandOutput, String> {
    let handle = connect(target, user, login, session).await?;
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
