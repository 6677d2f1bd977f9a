//! `[[resources]]`: the upstream hosts Ward opens connections to, and how it logs in and
//! protects those connections.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Postgres,
    /// A MySQL or MariaDB server (`mysql`, `mariadb` and drivers through Ward's MySQL listener).
    Mysql,
    /// An SSH server (`ssh`, `scp`, `sftp` through Ward).
    Ssh,
    /// An HTTP service (`curl`, SDKs and browsers through Ward's HTTP listener).
    Http,
}

/// The AI model API an HTTP resource speaks, which Ward reads: prompts and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AiApi {
    /// OpenAI-compatible: `…/chat/completions` and `…/responses`.
    Openai,
    /// Anthropic: `…/messages`.
    Anthropic,
}

/// How Ward presents its credential to an HTTP resource (from `password_env`/`password_file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpCredential {
    /// `Authorization: Bearer SECRET`.
    Bearer,
    /// `Authorization: Basic` with `user` and the secret.
    Basic,
    /// The secret as the value of the header `credential_header` (`X-Api-Key`).
    Header,
}

/// How Ward protects its connection to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamTls {
    /// Plain TCP.
    #[default]
    Disable,
    /// TLS, certificate not checked (encryption only).
    Require,
    /// TLS, certificate chain and host name checked.
    VerifyFull,
}

/// How Ward logs in to an SSH host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SshLogin {
    /// With Ward's client key, which the account's `authorized_keys` lists.
    #[default]
    Key,
    /// With a certificate for that key, valid for a minute, signed by Ward's upstream CA,
    /// which the host's `TrustedUserCAKeys` lists.
    Certificate,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub name: String,
    pub kind: ResourceKind,
    /// `host:port` of the upstream server (for an HTTP resource, taken from `url`).
    #[serde(default)]
    pub address: String,
    /// HTTP: the service's base URL (`https://billing.internal:8443/api`); a request for
    /// `/RESOURCE/x` reaches its path followed by `/x`.
    pub url: Option<String>,
    /// HTTP: how Ward presents its credential upstream; none when absent.
    pub credential: Option<HttpCredential>,
    /// HTTP, with `credential = "header"`: the header's name.
    pub credential_header: Option<String>,
    /// HTTP: the AI model API the service speaks; Ward then records prompts and answers.
    pub api: Option<AiApi>,
    /// Database to open upstream (PostgreSQL); MySQL: the schema to select at login (none
    /// when empty).
    #[serde(default)]
    pub database: String,
    /// Role (PostgreSQL) or account (SSH) Ward logs in as upstream; HTTP: the user name of
    /// `credential = "basic"`.
    #[serde(default)]
    pub user: String,
    /// SSH: the upstream's host public key as `known_hosts` holds it (`ssh-ed25519 AAAA…`);
    /// Ward refuses a server that presents another.
    pub host_key: Option<String>,
    /// SSH: how Ward logs in to the host.
    #[serde(default)]
    pub login: SshLogin,
    /// SSH, without `host_key`: trust the key the host presents the first time and keep it in
    /// the store; every later connection must see the same key.
    #[serde(default)]
    pub trust_on_first_use: bool,
    /// Name of an environment variable holding the upstream password.
    pub password_env: Option<String>,
    /// File holding the upstream password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub tls: UpstreamTls,
    /// CA bundle for `verify-full`; the system roots when absent.
    pub ca_file: Option<PathBuf>,
    /// Name expected in the upstream certificate; the host part of `address` when absent.
    pub server_name: Option<String>,
    /// The masking profile for what is recorded of this resource's sessions (and, unless a grant
    /// names another, for `mask_client` clients); the default profile when absent. It must mask
    /// with every rule of the default profile (checked at startup).
    pub masking_profile: Option<String>,
    /// Resolved at load time from `password_env` or `password_file`.
    #[serde(skip)]
    pub password: Option<Secret>,
    /// HTTP: the path of `url` (without a trailing `/`), resolved at load time.
    #[serde(skip)]
    pub base_path: String,
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("address", &self.address)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("tls", &self.tls)
            .field("masking_profile", &self.masking_profile)
            .finish_non_exhaustive()
    }
}

impl Resource {
    /// The name of the masking profile for the record of this resource's sessions.
    pub fn record_profile(&self) -> &str {
        self.masking_profile.as_deref().unwrap_or("default")
    }

    /// Whether `url` names an HTTPS service.
    pub fn https(&self) -> bool {
        self.url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// The host part of `address`, for TLS server names.
    pub fn host(&self) -> &str {
        match self.address.rsplit_once(':') {
            Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']'),
            None => &self.address,
        }
    }
}

/// A credential that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// An HTTP resource's `url` split: the `host:port` to connect to (the port from the scheme
/// when absent) and the base path, without a trailing `/`.
pub(crate) fn split_url(url: &str) -> Result<(String, String), String> {
    let (rest, port) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, 443)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, 80)
    } else {
        return Err(format!("`{url}` is not an http:// or https:// URL"));
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    if path.contains(['?', '#']) {
        return Err(format!(
            "`{url}` has a query or fragment; give the base URL only"
        ));
    }
    if authority.is_empty() || authority.contains('@') {
        return Err(format!(
            "`{url}` needs a host, and no user or password (give those as the credential)"
        ));
    }
    let has_port = match authority.rsplit_once(':') {
        Some((host, p)) if !host.ends_with(':') && !p.contains(']') => {
            p.parse::<u16>()
                .map_err(|_| format!("`{url}` has a bad port `{p}`"))?;
            true
        }
        _ => false,
    };
    let address = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{port}")
    };
    Ok((address, path.trim_end_matches('/').to_owned()))
}
