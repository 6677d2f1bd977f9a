//! Ward's TOML configuration: the structs, loading with clear errors, and validation.
//!
//! Every table rejects unknown keys. Relative paths are resolved against the directory of the
//! config file, so a config and its data directory can move together.

mod auth;
mod grants;
mod profiles;
mod resources;
mod sections;
mod siem;
mod size;
pub mod tls;
mod webhooks;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use auth::{Auth, JWT_ALGORITHMS, OidcIssuer, SamlIdp, acceptable_url};
pub use grants::{Grant, GrantDecision, Grantee, Refusal, decide};
pub use resources::{AiApi, HttpCredential, Resource, ResourceKind, Secret, SshLogin, UpstreamTls};
pub use sections::{Durability, Evidence, Listen, Recording, Retention, Store, Tls, Web};
pub use siem::{Siem, SiemKind, SiemStart};
pub use size::ByteSize;
pub use ward_core::ConfigDuration;
pub use webhooks::{EVENTS as WEBHOOK_EVENTS, Webhook, WebhookFormat};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Parse {
        file: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{file}: {key}: {problem}")]
    Invalid {
        file: PathBuf,
        key: String,
        problem: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub listen: Listen,
    #[serde(default)]
    pub store: Store,
    #[serde(default)]
    pub tls: Tls,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub web: Web,
    #[serde(default)]
    pub recording: Recording,
    #[serde(default)]
    pub evidence: Evidence,
    #[serde(default)]
    pub retention: Retention,
    /// What is masked before anything is stored (see docs/masking.md).
    #[serde(default)]
    pub masking: ward_mask::MaskingConfig,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Statements denied before they reach a resource (see docs/config.md).
    #[serde(default)]
    pub guardrails: Vec<ward_policy::GuardrailConfig>,
    /// Where notifications go (see docs/config.md).
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// Streams of every committed event to SIEMs (see docs/operations.md).
    #[serde(default)]
    pub siem: Vec<Siem>,
    /// The file this configuration was read from (set by [`Config::load`]).
    #[serde(skip)]
    pub source: PathBuf,
}

impl Config {
    /// Reads, parses and validates a configuration file, resolving relative paths and secrets.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses `text` as if it were the file `path`.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: path.to_owned(),
            source: Box::new(e),
        })?;
        // INVARIANT: one place for every file the config implies, however the config is named
        // (relatively, absolutely, through a symlink) and wherever Ward runs: relative paths
        // resolve against the directory of the real file.
        let path = path
            .canonicalize()
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_owned());
        config.source = path.clone();
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        config.resolve_paths(&base);
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.store.path);
        self.store.ca_file.as_mut().map(fix);
        if self.evidence.signing_key.is_none() && self.evidence.signing_key_env.is_none() {
            self.evidence.signing_key = Some(self.store.path.with_file_name("signing.key"));
        }
        self.evidence.signing_key.as_mut().map(fix);
        fix(&mut self.tls.cert);
        fix(&mut self.tls.key);
        for r in &mut self.resources {
            r.password_file.as_mut().map(fix);
            r.ca_file.as_mut().map(fix);
        }
        for g in &mut self.grants {
            g.password_file.as_mut().map(fix);
        }
        self.resolve_auth_paths(&fix);
        self.resolve_webhook_paths(&fix);
        self.resolve_siem_paths(&fix);
    }

    fn invalid(&self, key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.source.clone(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// Reads a password given as `password_env` or `password_file` (at most one).
    fn read_password(
        &self,
        env: &Option<String>,
        file: &Option<PathBuf>,
        key: &dyn Fn(&str) -> String,
    ) -> Result<Option<Secret>, ConfigError> {
        self.read_secret(env, file, &key("password_env"), &key("password_file"))
    }

    /// Reads a secret given through the environment variable `env` or the file `file` (at most
    /// one); `env_key` and `file_key` name them in errors.
    fn read_secret(
        &self,
        env: &Option<String>,
        file: &Option<PathBuf>,
        env_key: &str,
        file_key: &str,
    ) -> Result<Option<Secret>, ConfigError> {
        match (env, file) {
            (Some(_), Some(_)) => Err(self.invalid(
                env_key,
                format!("give `{env_key}` or `{file_key}`, not both"),
            )),
            (Some(var), None) => match std::env::var(var) {
                Ok(v) => Ok(Some(Secret::new(v))),
                Err(_) => {
                    Err(self.invalid(env_key, format!("environment variable `{var}` is not set")))
                }
            },
            (None, Some(file)) => match std::fs::read_to_string(file) {
                Ok(v) => Ok(Some(Secret::new(
                    v.trim_end_matches(['\r', '\n']).to_owned(),
                ))),
                Err(e) => {
                    Err(self.invalid(file_key, format!("cannot read {}: {e}", file.display())))
                }
            },
            (None, None) => Ok(None),
        }
    }

    /// The keys of an HTTP resource (`url`, `credential`), which no other kind has; fills in
    /// its `address`, `base_path` and TLS from `url`.
    fn check_http_resource(&mut self, i: usize) -> Result<(), ConfigError> {
        let key = |field: &str| format!("resources[{i}].{field}");
        let r = &self.resources[i];
        if r.kind != ResourceKind::Http {
            for (set, field) in [
                (r.url.is_some(), "url"),
                (r.credential.is_some(), "credential"),
                (r.credential_header.is_some(), "credential_header"),
                (r.api.is_some(), "api"),
            ] {
                if set {
                    return Err(self.invalid(key(field), "only an HTTP resource has it"));
                }
            }
            return Ok(());
        }
        let Some(url) = &r.url else {
            return Err(self.invalid(
                key("url"),
                "an HTTP resource needs the service's base URL, like `https://billing.internal/`",
            ));
        };
        if !r.address.is_empty() {
            return Err(self.invalid(key("address"), "an HTTP resource takes it from `url`"));
        }
        let (address, base_path) =
            resources::split_url(url).map_err(|e| self.invalid(key("url"), e))?;
        let https = r.https();
        let tls = match (https, r.tls) {
            (true, UpstreamTls::Disable) => UpstreamTls::VerifyFull,
            (true, tls) => tls,
            (false, UpstreamTls::Disable) => UpstreamTls::Disable,
            (false, _) => {
                return Err(self.invalid(key("tls"), "an http:// URL is plain HTTP; use https://"));
            }
        };
        let secret = r.password_env.is_some() || r.password_file.is_some();
        match (r.credential, secret) {
            (Some(_), false) => {
                return Err(self.invalid(
                    key("credential"),
                    "give the secret Ward presents with `password_file` or `password_env`",
                ));
            }
            (None, true) => {
                return Err(self.invalid(
                    key("credential"),
                    "say how Ward presents the secret: \"bearer\", \"basic\" or \"header\"",
                ));
            }
            (Some(HttpCredential::Basic), _) if r.user.is_empty() => {
                return Err(
                    self.invalid(key("user"), "`credential = \"basic\"` needs the user name")
                );
            }
            _ => {}
        }
        match (&r.credential, &r.credential_header) {
            (Some(HttpCredential::Header), None) => {
                return Err(self.invalid(
                    key("credential_header"),
                    "`credential = \"header\"` needs the header's name, like `X-Api-Key`",
                ));
            }
            (Some(HttpCredential::Header), Some(name))
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) =>
            {
                return Err(self.invalid(
                    key("credential_header"),
                    format!("`{name}` is not a header name"),
                ));
            }
            (Some(HttpCredential::Header), Some(_)) => {}
            (_, Some(_)) => {
                return Err(self.invalid(
                    key("credential_header"),
                    "has no effect without `credential = \"header\"`",
                ));
            }
            _ => {}
        }
        if let Some(slot) = self.resources.get_mut(i) {
            slot.address = address;
            slot.base_path = base_path;
            slot.tls = tls;
        }
        Ok(())
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        if self.store.url.is_some() && self.store.url_env.is_some() {
            return Err(self.invalid("store.url_env", "give `url` or `url_env`, not both"));
        }
        let postgres = self.store.url.is_some() || self.store.url_env.is_some();
        if !postgres
            && (self.store.tls != UpstreamTls::Disable
                || self.store.ca_file.is_some()
                || self.store.server_name.is_some())
        {
            return Err(self.invalid(
                "store.tls",
                "TLS settings apply to a PostgreSQL store: set `url` or `url_env` too",
            ));
        }
        if self.evidence.signing_key.is_some() && self.evidence.signing_key_env.is_some() {
            return Err(self.invalid(
                "evidence.signing_key_env",
                "give the signing key as a file or through the environment, not both",
            ));
        }
        if self.retention.days == Some(0) {
            return Err(self.invalid("retention.days", "must be at least 1"));
        }
        if self.evidence.checkpoint_interval.0 < std::time::Duration::from_millis(100) {
            return Err(self.invalid("evidence.checkpoint_interval", "must be at least 100ms"));
        }
        if self.recording.queue_events == 0 {
            return Err(self.invalid("recording.queue_events", "must be at least 1"));
        }
        if self.recording.max_message_bytes.0 < 1024 {
            return Err(self.invalid("recording.max_message_bytes", "must be at least 1 KiB"));
        }
        let mut names = HashSet::new();
        for i in 0..self.resources.len() {
            let key = |field: &str| format!("resources[{i}].{field}");
            let r = &self.resources[i];
            if r.name.is_empty() {
                return Err(self.invalid(key("name"), "must not be empty"));
            }
            if !names.insert(r.name.clone()) {
                return Err(self.invalid(
                    key("name"),
                    format!("resource `{}` is defined twice", r.name),
                ));
            }
            match r.kind {
                ResourceKind::Postgres if r.database.is_empty() => {
                    return Err(self.invalid(key("database"), "a PostgreSQL resource needs it"));
                }
                ResourceKind::Ssh if r.host_key.is_none() && !r.trust_on_first_use => {
                    return Err(self.invalid(
                        key("host_key"),
                        "an SSH resource needs the server's host key (a known_hosts line such as `ssh-ed25519 AAAA…`), or trust_on_first_use = true",
                    ));
                }
                ResourceKind::Postgres | ResourceKind::Mysql | ResourceKind::Ssh
                    if r.user.is_empty() =>
                {
                    return Err(self.invalid(
                        key("user"),
                        "the role or account Ward logs in as upstream is needed",
                    ));
                }
                _ => {}
            }
            self.check_http_resource(i)?;
            let r = &self.resources[i];
            if r.address
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err(
                    self.invalid(key("address"), format!("`{}` is not host:port", r.address))
                );
            }
            let password = self.read_password(&r.password_env, &r.password_file, &key)?;
            if let Some(slot) = self.resources.get_mut(i) {
                slot.password = password;
            }
        }
        for i in 0..self.grants.len() {
            let key = |field: &str| format!("grants[{i}].{field}");
            let g = &self.grants[i];
            match (&g.group, &g.user) {
                (Some(_), Some(_)) => {
                    return Err(self.invalid(key("user"), "give `group` or `user`, not both"));
                }
                (None, None) => {
                    return Err(self.invalid(
                        key("group"),
                        "a grant needs `group = \"...\"` or `user = \"...\"`",
                    ));
                }
                (Some(name), None) | (None, Some(name)) if name.is_empty() => {
                    let field = if g.group.is_some() { "group" } else { "user" };
                    return Err(self.invalid(key(field), "must not be empty"));
                }
                _ => {}
            }
            if g.resources.is_empty() {
                return Err(self.invalid(key("resources"), "must name at least one resource"));
            }
            if let Some(unknown) = g.resources.iter().find(|r| !names.contains(*r)) {
                return Err(
                    self.invalid(key("resources"), format!("no resource named `{unknown}`"))
                );
            }
            if g.client_profile.is_some() && !g.mask_client {
                return Err(self.invalid(
                    key("client_profile"),
                    "has no effect without `mask_client = true`",
                ));
            }
            if g.mask_upstream
                && let Some(other) = g
                    .resources
                    .iter()
                    .find(|r| self.resource(r).is_none_or(|r| r.api.is_none()))
            {
                return Err(self.invalid(
                    key("mask_upstream"),
                    format!(
                        "masks prompts to AI model APIs; resource `{other}` is not one (an HTTP resource with `api`): give it a grant of its own"
                    ),
                ));
            }
            // What an SSH client receives is a terminal's stream, which Ward records masked but
            // relays as the host sent it: a grant must not promise otherwise.
            if g.mask_client
                && let Some(ssh) = g.resources.iter().find(|r| {
                    self.resource(r)
                        .is_some_and(|r| r.kind == ResourceKind::Ssh)
                })
            {
                return Err(self.invalid(
                    key("mask_client"),
                    format!(
                        "masks what PostgreSQL and HTTP clients receive; SSH resource `{ssh}` would show its clients unmasked output: give it a grant of its own without `mask_client`"
                    ),
                ));
            }
            self.validate_approval(g, &key)?;
            if g.upstream_user.as_deref() == Some("") {
                return Err(self.invalid(key("upstream_user"), "must not be empty"));
            }
            if g.upstream_user.is_none() && (g.password_env.is_some() || g.password_file.is_some())
            {
                let field = if g.password_env.is_some() {
                    "password_env"
                } else {
                    "password_file"
                };
                return Err(self.invalid(
                    key(field),
                    "has no effect without `upstream_user` (the resource's password is used)",
                ));
            }
            let password = self.read_password(&g.password_env, &g.password_file, &key)?;
            let mut grant = g.clone();
            grant
                .parse_validity()
                .map_err(|(field, problem)| self.invalid(key(field), problem))?;
            grant.password = password;
            if let Some(slot) = self.grants.get_mut(i) {
                *slot = grant;
            }
        }
        self.validate_guardrails(&names)?;
        self.validate_auth()?;
        self.validate_webhooks()?;
        self.validate_siem()?;
        self.validate_profile_names()
    }

    fn validate_guardrails(&self, resources: &HashSet<String>) -> Result<(), ConfigError> {
        for (i, g) in self.guardrails.iter().enumerate() {
            if let Some(unknown) = g.resources.iter().find(|r| !resources.contains(*r)) {
                return Err(self.invalid(
                    format!("guardrails[{i}].resources"),
                    format!("no resource named `{unknown}`"),
                ));
            }
        }
        match ward_policy::Guardrails::compile(&self.guardrails) {
            Ok(_) => Ok(()),
            Err(ward_policy::GuardrailError::Invalid {
                index,
                key,
                problem,
            }) => Err(self.invalid(format!("guardrails[{index}].{key}"), problem)),
        }
    }

    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }

    /// The grant that would let `subject` (member of `groups`) reach `resource`, whatever the
    /// time: grants to the user first, then grants to a group, each in config order.
    pub fn grant_for(&self, subject: &str, groups: &[String], resource: &str) -> Option<&Grant> {
        grants::candidates(&self.grants, subject, groups, resource)
            .next()
            .map(|(_, g)| g)
    }

    /// The grant an access request of `subject` (member of `groups`) for `resource` asks to
    /// open: the first, in the order of choice, that `requires_approval`.
    pub fn approval_grant(
        &self,
        subject: &str,
        groups: &[String],
        resource: &str,
    ) -> Option<(usize, &Grant)> {
        grants::candidates(&self.grants, subject, groups, resource)
            .find(|(_, g)| g.requires_approval)
    }

    /// Chooses the grant for a connection at `now` (see [`decide`]).
    pub fn decide_grant(
        &self,
        subject: &str,
        groups: &[String],
        resource: &str,
        now: time::OffsetDateTime,
        approved: bool,
    ) -> GrantDecision<'_> {
        decide(&self.grants, subject, groups, resource, now, approved)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The commented example in the repository loads, so the docs cannot drift from the code.
    #[test]
    fn repository_example_loads() {
        let dir = std::env::temp_dir().join(format!("ward-example-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("secrets")).expect("dir");
        std::fs::write(dir.join("secrets/shop.pw"), "pw\n").expect("pw");
        let text = include_str!("../../../examples/ward.toml").replace(
            "password_env = \"WARD_ANALYTICS_PASSWORD\"",
            "password_file = \"secrets/shop.pw\"",
        );
        let config = Config::from_toml(&text, &dir.join("ward.toml")).expect("example loads");
        assert_eq!(config.resources.len(), 2);
        assert_eq!(
            config
                .resource("shop")
                .and_then(|r| r.password.as_ref())
                .map(Secret::expose),
            Some("pw")
        );
        assert_eq!(
            config.resource("shop").map(|r| r.tls),
            Some(UpstreamTls::VerifyFull)
        );
        let analytics = config.resource("analytics").expect("analytics");
        let analysts = config
            .grant_for("someone", &["analysts".into()], "analytics")
            .expect("analysts' grant");
        assert_eq!(analysts.client_profile_for(analytics), "warehouse");
        let shop = config.resource("shop").expect("shop");
        assert_eq!(shop.record_profile(), "default");
        let support = config
            .grant_for("someone", &["support".into()], "shop")
            .expect("support's grant");
        assert_eq!(support.client_profile_for(shop), "support");
        // alice's own grant comes before the analysts' grant, as her own upstream role.
        let alice = config
            .grant_for("alice", &["analysts".into()], "analytics")
            .expect("alice's grant");
        assert_eq!(alice.upstream_user(analytics), "alice_ro");
        assert_eq!(
            alice.upstream_password(analytics).map(Secret::expose),
            Some("pw")
        );
        assert_eq!(config.guardrails.len(), 3);
        let contractors = config
            .approval_grant("carol", &["contractors".into()], "shop")
            .map(|(_, g)| g.max_duration());
        assert_eq!(contractors, Some(std::time::Duration::from_secs(4 * 3600)));
        // The profiles compile and every resource's record masks at least the default.
        let masking = config.masking.compile(None).expect("masking compiles");
        config
            .check_record_profiles(&masking)
            .expect("record profiles cover the default");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
