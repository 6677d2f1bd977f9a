//! `[auth]`: how clients prove who they are. Local users, Ward's own tokens, service accounts
//! and OpenID Connect issuers (`[[auth.oidc]]`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Config, ConfigDuration, ConfigError, Secret};

/// The JWT signature algorithms Ward can accept; HMAC and `none` are never among them.
pub const JWT_ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Accept passwords over an unencrypted connection when the client is on a loopback address.
    /// Off by default; the demo turns it on.
    #[serde(default)]
    pub allow_plaintext_loopback: bool,
    /// How long a Ward token from `ward login` stays valid.
    #[serde(default = "Auth::default_token_ttl")]
    pub token_ttl: ConfigDuration,
    /// The address browsers and identity providers reach Ward's web listener at, for the login
    /// callback (`{public_url}/auth/callback`). Default: `https://` and `[listen] web`.
    pub public_url: Option<String>,
    /// OpenID Connect issuers whose users may log in, and whose tokens Ward accepts.
    #[serde(default)]
    pub oidc: Vec<OidcIssuer>,
    /// SAML 2.0 identity providers whose users may log in (`ward login --saml`).
    #[serde(default)]
    pub saml: Vec<SamlIdp>,
    /// Name of an environment variable holding the bearer token an identity provider's SCIM
    /// client presents at `/scim/v2` (provisioning and deprovisioning users and groups).
    pub scim_token_env: Option<String>,
    /// File holding that token. Without either, `/scim/v2` is off.
    pub scim_token_file: Option<PathBuf>,
    /// The SCIM token, resolved at load time.
    #[serde(skip)]
    pub scim_token: Option<Secret>,
}

impl Auth {
    fn default_token_ttl() -> ConfigDuration {
        ConfigDuration(Duration::from_secs(8 * 3600))
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            allow_plaintext_loopback: false,
            token_ttl: Self::default_token_ttl(),
            public_url: None,
            oidc: Vec::new(),
            saml: Vec::new(),
            scim_token_env: None,
            scim_token_file: None,
            scim_token: None,
        }
    }
}

/// One OpenID Connect issuer (`[[auth.oidc]]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcIssuer {
    /// What `ward login --issuer NAME` calls it; default `oidc`.
    #[serde(default = "OidcIssuer::default_name")]
    pub name: String,
    /// The issuer URL exactly as its tokens carry it in `iss`; discovery is read from
    /// `{issuer}/.well-known/openid-configuration`. `https`, or `http` on a loopback address.
    pub issuer: String,
    pub client_id: String,
    /// The client secret, from an environment variable or a file (at most one); none for a
    /// public client.
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    /// `aud` values accepted in a token given directly as a password. Default: the client id.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Claim holding the user's groups (a string array, or one string).
    #[serde(default = "OidcIssuer::default_groups_claim")]
    pub groups_claim: String,
    /// Claim holding the Ward user name (what clients give as their user).
    #[serde(default = "OidcIssuer::default_username_claim")]
    pub username_claim: String,
    /// Scopes asked for at login.
    #[serde(default = "OidcIssuer::default_scopes")]
    pub scopes: Vec<String>,
    /// Signature algorithms accepted, a subset of RS256, PS256, ES256 and EdDSA.
    #[serde(default = "OidcIssuer::default_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew allowed when checking `exp`, `nbf` and `iat`.
    #[serde(default = "OidcIssuer::default_leeway")]
    pub leeway: ConfigDuration,
    /// CA bundle for the issuer's TLS certificate; the system roots when absent.
    pub ca_file: Option<PathBuf>,
    /// The longest time between two checks, with the refresh token of a login, that the issuer
    /// still vouches for the person and with which groups (each check also happens when the
    /// issuer's token expires, if sooner).
    #[serde(default = "OidcIssuer::default_recheck")]
    pub recheck: ConfigDuration,
    /// Resolved at load time from `client_secret_env` or `client_secret_file`.
    #[serde(skip)]
    pub client_secret: Option<Secret>,
}

impl OidcIssuer {
    fn default_recheck() -> ConfigDuration {
        ConfigDuration(Duration::from_secs(15 * 60))
    }
    fn default_name() -> String {
        "oidc".into()
    }
    fn default_groups_claim() -> String {
        "groups".into()
    }
    fn default_username_claim() -> String {
        "preferred_username".into()
    }
    fn default_scopes() -> Vec<String> {
        ["openid", "profile", "email"].map(String::from).to_vec()
    }
    fn default_algorithms() -> Vec<String> {
        JWT_ALGORITHMS.map(String::from).to_vec()
    }
    fn default_leeway() -> ConfigDuration {
        ConfigDuration(Duration::from_secs(30))
    }

    /// The `aud` values a token given as a password may carry.
    pub fn accepted_audiences(&self) -> Vec<String> {
        if self.audiences.is_empty() {
            vec![self.client_id.clone()]
        } else {
            self.audiences.clone()
        }
    }
}

/// One SAML 2.0 identity provider (`[[auth.saml]]`), for which Ward is the service provider.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SamlIdp {
    /// What `ward login --saml --issuer NAME` calls it; default `saml`.
    #[serde(default = "SamlIdp::default_name")]
    pub name: String,
    /// The identity provider's metadata (its entity id, single sign-on address and signing
    /// certificate), as downloaded from it.
    pub idp_metadata_file: PathBuf,
    /// Ward's entity id at this provider, the audience its assertions must name. Default:
    /// `{public_url}/auth/saml/metadata?idp=NAME`, where Ward serves its metadata.
    pub entity_id: Option<String>,
    /// The attribute holding the Ward user name; the assertion's NameID when absent.
    pub username_attribute: Option<String>,
    /// The attribute holding the user's groups (one value per group).
    #[serde(default = "SamlIdp::default_groups_attribute")]
    pub groups_attribute: String,
    /// Clock skew allowed when checking `NotBefore` and `NotOnOrAfter`.
    #[serde(default = "SamlIdp::default_leeway")]
    pub leeway: ConfigDuration,
}

impl SamlIdp {
    fn default_name() -> String {
        "saml".into()
    }
    fn default_groups_attribute() -> String {
        "groups".into()
    }
    fn default_leeway() -> ConfigDuration {
        ConfigDuration(Duration::from_secs(60))
    }
}

/// Whether `url` is `https`, or `http` to a loopback host.
pub fn acceptable_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Config {
    pub(super) fn resolve_auth_paths(&mut self, fix: &dyn Fn(&mut PathBuf)) {
        for o in &mut self.auth.oidc {
            o.client_secret_file.as_mut().map(fix);
            o.ca_file.as_mut().map(fix);
        }
        for s in &mut self.auth.saml {
            fix(&mut s.idp_metadata_file);
        }
        self.auth.scim_token_file.as_mut().map(fix);
    }

    pub(super) fn validate_auth(&mut self) -> Result<(), ConfigError> {
        if self.auth.token_ttl.0 < Duration::from_secs(60) {
            return Err(self.invalid("auth.token_ttl", "must be at least 1m"));
        }
        self.auth.scim_token = self.read_secret(
            &self.auth.scim_token_env,
            &self.auth.scim_token_file,
            "auth.scim_token_env",
            "auth.scim_token_file",
        )?;
        if self.auth.scim_token.is_some() && self.listen.web.is_none() {
            return Err(self.invalid(
                "auth.scim_token_file",
                "SCIM is served on the web listener: set [listen] web",
            ));
        }
        if self
            .auth
            .scim_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            return Err(self.invalid(
                "auth.scim_token_file",
                "the SCIM token must be at least 16 characters",
            ));
        }
        if let Some(url) = &self.auth.public_url
            && !url.starts_with("https://")
            && !url.starts_with("http://")
        {
            return Err(self.invalid("auth.public_url", "must be an http(s) URL"));
        }
        for (key, used) in [
            ("auth.oidc", !self.auth.oidc.is_empty()),
            ("auth.saml", !self.auth.saml.is_empty()),
        ] {
            if used && self.listen.web.is_none() {
                return Err(self.invalid(
                    key,
                    "logging in through an identity provider needs the web listener: set [listen] web",
                ));
            }
        }
        let mut saml_names = std::collections::HashSet::new();
        for (i, s) in self.auth.saml.iter().enumerate() {
            if !saml_names.insert(s.name.clone()) {
                return Err(self.invalid(
                    format!("auth.saml[{i}].name"),
                    format!(
                        "provider name `{}` is used twice: give each a `name`",
                        s.name
                    ),
                ));
            }
            if let Err(e) = std::fs::metadata(&s.idp_metadata_file) {
                return Err(self.invalid(
                    format!("auth.saml[{i}].idp_metadata_file"),
                    format!("cannot read {}: {e}", s.idp_metadata_file.display()),
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for i in 0..self.auth.oidc.len() {
            let key = |field: &str| format!("auth.oidc[{i}].{field}");
            let o = &self.auth.oidc[i];
            if !names.insert(o.name.clone()) {
                return Err(self.invalid(
                    key("name"),
                    format!("issuer name `{}` is used twice: give each a `name`", o.name),
                ));
            }
            if !acceptable_url(&o.issuer) {
                return Err(self.invalid(
                    key("issuer"),
                    "must be an https URL (http only on a loopback address)",
                ));
            }
            if o.client_id.is_empty() {
                return Err(self.invalid(key("client_id"), "must not be empty"));
            }
            if let Some(bad) = o
                .algorithms
                .iter()
                .find(|a| !JWT_ALGORITHMS.contains(&a.as_str()))
            {
                return Err(self.invalid(
                    key("algorithms"),
                    format!(
                        "`{bad}` is not allowed: choose from {}",
                        JWT_ALGORITHMS.join(", ")
                    ),
                ));
            }
            if o.algorithms.is_empty() {
                return Err(self.invalid(key("algorithms"), "must name at least one algorithm"));
            }
            if !o.scopes.iter().any(|s| s == "openid") {
                return Err(self.invalid(key("scopes"), "must include `openid`"));
            }
            let secret = self.read_secret(
                &o.client_secret_env,
                &o.client_secret_file,
                &key("client_secret_env"),
                &key("client_secret_file"),
            )?;
            if let Some(slot) = self.auth.oidc.get_mut(i) {
                slot.client_secret = secret;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::acceptable_url;
    use crate::{Config, ConfigError};

    fn load(auth: &str) -> Result<Config, ConfigError> {
        let text = format!("[listen]\nweb = \"127.0.0.1:8443\"\n\n[auth]\n{auth}");
        Config::from_toml(&text, std::path::Path::new("/etc/ward/ward.toml"))
    }

    fn problem(auth: &str) -> String {
        match load(auth) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted: {auth}"),
        }
    }

    const ISSUER: &str =
        "[[auth.oidc]]\nissuer = \"https://idp.example.com\"\nclient_id = \"ward\"\n";

    #[test]
    fn an_issuer_loads_with_defaults() {
        let c = load(ISSUER).expect("loads");
        let o = &c.auth.oidc[0];
        assert_eq!(o.name, "oidc");
        assert_eq!(o.accepted_audiences(), ["ward"]);
        assert_eq!(o.algorithms, ["RS256", "PS256", "ES256", "EdDSA"]);
        assert!(o.client_secret.is_none());
    }

    #[test]
    fn unsafe_or_inconsistent_issuers_are_refused_with_the_key() {
        let p = problem(&format!("{ISSUER}algorithms = [\"RS256\", \"HS256\"]\n"));
        assert!(
            p.contains("auth.oidc[0].algorithms: `HS256` is not allowed"),
            "{p}"
        );
        let p = problem(&format!("{ISSUER}algorithms = [\"none\"]\n"));
        assert!(p.contains("`none` is not allowed"), "{p}");
        let p = problem("[[auth.oidc]]\nissuer = \"http://idp.example.com\"\nclient_id = \"w\"\n");
        assert!(
            p.contains("auth.oidc[0].issuer: must be an https URL"),
            "{p}"
        );
        let p = problem(&format!("{ISSUER}{ISSUER}"));
        assert!(
            p.contains("auth.oidc[1].name: issuer name `oidc` is used twice"),
            "{p}"
        );
        let p = problem(&format!("{ISSUER}scopes = [\"profile\"]\n"));
        assert!(p.contains("must include `openid`"), "{p}");
        let p = problem(&format!(
            "{ISSUER}client_secret_file = \"/nonexistent/secret\"\n"
        ));
        assert!(
            p.contains("auth.oidc[0].client_secret_file: cannot read"),
            "{p}"
        );
        let p = problem("token_ttl = \"10s\"\n");
        assert!(p.contains("auth.token_ttl: must be at least 1m"), "{p}");
        let no_web = Config::from_toml(
            &format!("[auth]\n{ISSUER}"),
            std::path::Path::new("/etc/ward/ward.toml"),
        );
        assert!(
            no_web
                .err()
                .is_some_and(|e| e.to_string().contains("set [listen] web")),
        );
    }

    #[test]
    fn issuer_urls_are_https_or_loopback_http() {
        assert!(acceptable_url("https://idp.example.com"));
        assert!(acceptable_url("http://127.0.0.1:9000"));
        assert!(acceptable_url("http://localhost/realms/x"));
        assert!(acceptable_url("http://[::1]:80"));
        assert!(!acceptable_url("http://idp.example.com"));
        assert!(!acceptable_url("http://127.0.0.1.evil.com"));
        assert!(!acceptable_url("ftp://127.0.0.1"));
    }
}
