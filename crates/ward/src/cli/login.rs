//! The client side of logging in: `ward login` (browser or device flow), the saved Ward token,
//! `ward connect psql`, `ward login --print-env` and `ward tokens revoke` for one's own token.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use ward_auth::dpop::Key;
use ward_auth::secret;
use ward_core::Timestamp;

/// Where the server issues tokens.
const TOKEN_PATH: &str = "/api/v1/auth/token";

/// How long `ward login` waits for the browser to come back.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// What `ward login` saves (mode 0600) under the user's config directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub server: String,
    pub ca_cert: Option<PathBuf>,
    pub token: String,
    pub id: String,
    pub user: String,
    pub groups: Vec<String>,
    pub issuer: String,
    pub expires_at: String,
    /// Ward's PostgreSQL listener, `host:port`.
    pub postgres: Option<String>,
    /// Ward's listener for HTTP resources, `host:port`.
    #[serde(default)]
    pub http: Option<String>,
    /// Ward's MySQL listener, `host:port`.
    #[serde(default)]
    pub mysql: Option<String>,
    /// The key the token is bound to (`ward login --dpop`), in base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<String>,
}

impl Saved {
    /// `$WARD_HOME/credentials.json`, else under `$XDG_CONFIG_HOME/ward` or `~/.config/ward`.
    pub fn path() -> anyhow::Result<PathBuf> {
        if let Some(home) = std::env::var_os("WARD_HOME") {
            return Ok(PathBuf::from(home).join("credentials.json"));
        }
        let base = match std::env::var_os("XDG_CONFIG_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(
                std::env::var_os("HOME").context("HOME is not set: set WARD_HOME instead")?,
            )
            .join(".config"),
        };
        Ok(base.join("ward").join("credentials.json"))
    }

    pub fn load() -> anyhow::Result<Self> {
        let path = Self::path()?;
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "not logged in ({} cannot be read): run `ward login --server URL`",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
    }

    fn save(&self) -> anyhow::Result<PathBuf> {
        let path = Self::path()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        ward_core::fs::write_private(&path, serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(path)
    }

    /// Whether the token is still good for at least a minute.
    fn fresh(&self) -> bool {
        Timestamp::parse_rfc3339(&self.expires_at)
            .is_ok_and(|t| t.0 > Timestamp::now().0 + 60_000_000_000)
    }

    /// The saved token, if it has not expired.
    pub fn usable() -> anyhow::Result<Self> {
        let saved = Self::load()?;
        if !saved.fresh() {
            bail!(
                "your Ward token expired at {}: run `ward login`",
                saved.expires_at
            );
        }
        Ok(saved)
    }

    /// The key the token is bound to (DPoP), if it is.
    pub fn key(&self) -> anyhow::Result<Option<Key>> {
        self.dpop_key
            .as_deref()
            .map(Key::from_secret)
            .transpose()
            .map_err(|e| anyhow::anyhow!("{}: {e}", Saved::path().unwrap_or_default().display()))
    }

    /// `request` (of `method` to `url`) with the token: `Authorization: Bearer`, or, bound to a
    /// key, `Authorization: DPoP` with a proof made for this request.
    pub fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        url: &str,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        Ok(match self.key()? {
            None => request.bearer_auth(&self.token),
            Some(key) => {
                let proof = key
                    .proof(method, url, Some(&self.token))
                    .map_err(|e| anyhow::anyhow!("making a DPoP proof: {e}"))?;
                request
                    .header(
                        reqwest::header::AUTHORIZATION,
                        format!("DPoP {}", self.token),
                    )
                    .header("dpop", proof)
            }
        })
    }

    /// The host name (or address) of the saved server.
    pub fn server_host(&self) -> anyhow::Result<String> {
        reqwest::Url::parse(&self.server)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
            .context("the saved server address has no host")
    }

    /// The libpq environment that connects a PostgreSQL client through Ward with this token.
    pub fn pg_env(&self) -> anyhow::Result<Vec<(&'static str, String)>> {
        if self.dpop_key.is_some() {
            bail!(
                "your Ward token is bound to a key (ward login --dpop), and a PostgreSQL client cannot prove it holds the key: run `ward login` without --dpop for psql"
            );
        }
        let Some(addr) = &self.postgres else {
            bail!("the Ward server at {} serves no PostgreSQL", self.server);
        };
        let port = addr
            .rsplit_once(':')
            .map(|(_, p)| p.to_owned())
            .context("the server gave no PostgreSQL port")?;
        let host = self.server_host()?;
        let mut env = vec![
            ("PGHOST", host),
            ("PGPORT", port),
            ("PGUSER", self.user.clone()),
            ("PGPASSWORD", self.token.clone()),
        ];
        match &self.ca_cert {
            Some(ca) => {
                env.push(("PGSSLMODE", "verify-full".into()));
                env.push(("PGSSLROOTCERT", ca.display().to_string()));
            }
            None => env.push(("PGSSLMODE", "require".into())),
        }
        Ok(env)
    }
}

/// `ward login`'s options.
#[derive(Debug, clap::Args)]
pub struct LoginOptions {
    /// The Ward server's web address (default: the one logged in to last).
    #[arg(long)]
    pub server: Option<String>,
    /// Which identity provider (OpenID Connect issuer, or SAML provider with --saml), when
    /// the server has several.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Use the device flow: enter a code on another device's browser.
    #[arg(long, conflicts_with = "saml")]
    pub device: bool,
    /// Log in through the server's SAML identity provider.
    #[arg(long)]
    pub saml: bool,
    /// The CA certificate (or Ward's self-signed certificate) to trust for the server.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
    /// Print the login address without trying to open a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Print PGHOST, PGPORT, PGUSER, PGPASSWORD, … for any libpq tool (logging in only if
    /// the saved token has expired).
    #[arg(long)]
    pub print_env: bool,
    /// Bind the token to a key kept next to it (DPoP, RFC 9449): Ward then accepts it only
    /// with a proof made with that key, so a copy of the token alone is refused. For the API,
    /// `ward mcp`, `ward connect ssh` and `ward connect http`; not a PostgreSQL password.
    #[arg(long, conflicts_with = "print_env")]
    pub dpop: bool,
}

/// `ward login`: logs in through the server's identity provider and saves a Ward token.
pub async fn login(options: LoginOptions, out: &mut impl Write) -> anyhow::Result<()> {
    let previous = Saved::load().ok();
    let server = match (&options.server, &previous) {
        (Some(s), _) => s.trim_end_matches('/').to_owned(),
        (None, Some(p)) => p.server.clone(),
        (None, None) => bail!("give the Ward server: `ward login --server https://HOST:PORT`"),
    };
    let ca_cert = match (&options.ca_cert, &previous) {
        (Some(ca), _) => Some(std::path::absolute(ca)?),
        (None, Some(p)) if p.server == server => p.ca_cert.clone(),
        _ => None,
    };
    if options.print_env
        && let Some(p) = previous.filter(|p| p.server == server && p.fresh())
    {
        return print_env(&p, out);
    }
    let http = ward_auth::oidc::http_client(ca_cert.as_deref())?;
    let key = if options.dpop {
        Some(Key::generate().map_err(|e| anyhow::anyhow!("making a DPoP key: {e}"))?)
    } else {
        None
    };
    let client = Client {
        http,
        server: server.clone(),
        key,
    };
    let issued = if options.device {
        client.device_login(options.issuer.as_deref()).await?
    } else {
        let start = if options.saml {
            "/auth/saml/login"
        } else {
            "/auth/login"
        };
        client
            .browser_login(start, options.issuer.as_deref(), options.no_browser)
            .await?
    };
    let text = |k: &str| issued.get(k).and_then(Value::as_str).map(str::to_owned);
    let saved = Saved {
        server,
        ca_cert,
        token: text("token").context("the server sent no token")?,
        id: text("id").unwrap_or_default(),
        user: text("user").unwrap_or_default(),
        groups: serde_json::from_value(issued["groups"].clone()).unwrap_or_default(),
        issuer: text("issuer").unwrap_or_default(),
        expires_at: text("expires_at").unwrap_or_default(),
        postgres: text("postgres"),
        http: text("http"),
        mysql: text("mysql"),
        dpop_key: client.key.as_ref().map(Key::secret),
    };
    if let Some(key) = &client.key
        && text("dpop_jkt") != Some(key.thumbprint())
    {
        bail!("the server did not bind the token to this client's key (DPoP)");
    }
    let path = saved.save()?;
    eprintln!(
        "Logged in as {} (groups: {}) until {}.\nToken {}{} saved in {}.",
        saved.user,
        if saved.groups.is_empty() {
            "none".to_owned()
        } else {
            saved.groups.join(", ")
        },
        saved.expires_at,
        saved.id,
        client
            .key
            .as_ref()
            .map(|k| format!(", bound to key {} (DPoP),", k.thumbprint()))
            .unwrap_or_default(),
        path.display()
    );
    if options.print_env {
        print_env(&saved, out)?;
    }
    Ok(())
}

fn print_env(saved: &Saved, out: &mut impl Write) -> anyhow::Result<()> {
    for (k, v) in saved.pg_env()? {
        writeln!(out, "{k}={v}")?;
    }
    Ok(())
}

/// `ward connect psql RESOURCE [--reason TEXT] [-- ARGS]`: runs psql through Ward with the
/// saved token (and the reason in its options).
pub fn connect_psql(resource: &str, reason: Option<&str>, args: &[String]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let saved = Saved::usable()?;
    let mut command = std::process::Command::new("psql");
    command
        .envs(saved.pg_env()?)
        .env("PGDATABASE", resource)
        .args(args);
    if let Some(reason) = reason {
        let given = ward_pg::startup_params::reason_option(reason);
        let options = match std::env::var("PGOPTIONS") {
            Ok(theirs) if !theirs.trim().is_empty() => format!("{theirs} {given}"),
            _ => given,
        };
        command.env("PGOPTIONS", options);
    }
    let error = command.exec();
    Err(anyhow::anyhow!("running psql: {error}"))
}

/// `ward connect mysql RESOURCE [-- ARGS]`: runs the mariadb (or mysql) client through Ward
/// with the saved token, over TLS checked against Ward's CA when one was saved.
pub fn connect_mysql(resource: &str, reason: Option<&str>, args: &[String]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let saved = Saved::usable()?;
    if saved.dpop_key.is_some() {
        bail!(
            "your Ward token is bound to a key (ward login --dpop), and a MySQL client cannot prove it holds the key: run `ward login` without --dpop for mysql"
        );
    }
    let Some(addr) = &saved.mysql else {
        bail!("the Ward server at {} serves no MySQL", saved.server);
    };
    let port = addr
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned())
        .context("the server gave no MySQL port")?;
    let user = match reason {
        Some(reason) => format!("{}:{reason}", saved.user),
        None => saved.user.clone(),
    };
    let client = ["mariadb", "mysql"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .context("neither the mariadb nor the mysql client is installed")?;
    let mut command = std::process::Command::new(client);
    command.env("MYSQL_PWD", &saved.token).args([
        "-h",
        &saved.server_host()?,
        "-P",
        &port,
        "-u",
        &user,
        "-D",
        resource,
    ]);
    match &saved.ca_cert {
        Some(ca) => command
            .arg(format!("--ssl-ca={}", ca.display()))
            .arg(if client == "mariadb" {
                "--ssl-verify-server-cert"
            } else {
                "--ssl-mode=VERIFY_IDENTITY"
            }),
        None => command.arg(if client == "mariadb" {
            "--ssl"
        } else {
            "--ssl-mode=REQUIRED"
        }),
    };
    let error = command.args(args).exec();
    Err(anyhow::anyhow!("running {client}: {error}"))
}

/// `ward connect ssh RESOURCE [-- ARGS]`: gets a short-lived SSH certificate for the saved
/// token (for a key Ward keeps next to it), writes an OpenSSH config snippet that reaches
/// `RESOURCE` through Ward as host `ward-RESOURCE` (for `ssh`, `scp` and `sftp`), and runs
/// `ssh` with it; with `print_config`, prints the snippet instead.
pub async fn connect_ssh(
    (resource, reason): (&str, Option<&str>),
    args: &[String],
    print_config: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let saved = Saved::usable()?;
    let dir = Saved::path()?
        .parent()
        .context("no directory for Ward's SSH files")?
        .join("ssh");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let key_path = dir.join("id_ed25519");
    let key = ward_ssh::keys::load_or_create(&key_path, &format!("ward {}", saved.user))?;
    let http = ward_auth::oidc::http_client(saved.ca_cert.as_deref())?;
    let url = format!("{}/api/v1/auth/ssh-certificate", saved.server);
    let response = saved
        .authorize(http.post(&url), "POST", &url)?
        .json(&json!({ "public_key": key.public_key().to_openssh()? }))
        .send()
        .await
        .with_context(|| format!("reaching {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("the server refused a certificate: {}", api_message(&body));
    }
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("the server's answer has no {name}"))
    };
    let cert_path = dir.join("id_ed25519-cert.pub");
    std::fs::write(&cert_path, format!("{}\n", field("certificate")?))?;
    let ssh = field("ssh")?;
    let port = ssh
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned())
        .context("the server gave no SSH port")?;
    let host = saved.server_host()?;
    let known_hosts = dir.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("[{host}]:{port} {}\n", field("host_key")?),
    )?;
    let alias = format!("ward-{resource}");
    let snippet = format!(
        "Host {alias}\n    HostName {host}\n    Port {port}\n    User {user}:{resource}\n    IdentityFile {key}\n    CertificateFile {cert}\n    IdentitiesOnly yes\n    UserKnownHostsFile {known}\n    StrictHostKeyChecking yes\n",
        user = saved.user,
        key = key_path.display(),
        cert = cert_path.display(),
        known = known_hosts.display(),
    );
    let config = dir.join("config");
    // The snippet replaces this resource's earlier one and keeps the others.
    let mut kept = String::new();
    let mut skip = false;
    for line in std::fs::read_to_string(&config).unwrap_or_default().lines() {
        if let Some(name) = line.strip_prefix("Host ") {
            skip = name.trim() == alias;
        }
        if !skip {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept.push_str(&snippet);
    std::fs::write(&config, kept)?;
    if print_config {
        write!(out, "{snippet}")?;
        writeln!(
            out,
            "# written to {}; add `Include {}` to ~/.ssh/config to use `ssh {alias}`, `scp` and `sftp`",
            config.display(),
            config.display()
        )?;
        return Ok(());
    }
    let mut ssh = std::process::Command::new("ssh");
    ssh.arg("-F").arg(&config);
    if let Some(reason) = reason {
        // The reason rides in the user name: WARD-USER:RESOURCE:REASON.
        ssh.arg("-l")
            .arg(format!("{}:{resource}:{reason}", saved.user));
    }
    let error = ssh.arg(&alias).args(args).exec();
    Err(anyhow::anyhow!("running ssh: {error}"))
}

/// `ward tokens revoke` without a selector: revokes the saved token at the server and forgets
/// it.
pub async fn revoke_own(out: &mut impl Write) -> anyhow::Result<()> {
    let saved = Saved::load()?;
    let http = ward_auth::oidc::http_client(saved.ca_cert.as_deref())?;
    let url = format!("{}/api/v1/auth/revoke", saved.server);
    let response = saved
        .authorize(http.post(&url), "POST", &url)?
        .send()
        .await
        .with_context(|| format!("reaching {}", saved.server))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if !status.is_success() && status != reqwest::StatusCode::UNAUTHORIZED {
        bail!("the server refused: {}", api_message(&body));
    }
    let path = Saved::path()?;
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    writeln!(out, "token {} revoked and removed", saved.id)?;
    Ok(())
}

pub(crate) fn api_message(body: &Value) -> String {
    match (
        body.get("error").and_then(Value::as_str),
        body.get("message").and_then(Value::as_str),
    ) {
        (Some(code), Some(message)) => format!("{message} ({code})"),
        _ => body.to_string(),
    }
}

struct Client {
    http: reqwest::Client,
    server: String,
    /// The key to bind the new token to (DPoP).
    key: Option<Key>,
}

impl Client {
    /// POSTs JSON to the API: the answer, or the API's error code and message.
    async fn post(
        &self,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<Result<Value, (String, String)>> {
        let url = format!("{}{path}", self.server);
        let mut request = self.http.post(&url).json(body);
        if let Some(key) = &self.key
            && path == TOKEN_PATH
        {
            let proof = key
                .proof("POST", &url, None)
                .map_err(|e| anyhow::anyhow!("making a DPoP proof: {e}"))?;
            request = request.header("dpop", proof);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("reaching {url}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("{url}: HTTP {status} without a JSON answer"))?;
        if status.is_success() {
            return Ok(Ok(body));
        }
        let code = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_owned();
        Ok(Err((code, api_message(&body))))
    }

    async fn browser_login(
        &self,
        start: &str,
        issuer: Option<&str>,
        no_browser: bool,
    ) -> anyhow::Result<Value> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("listening on a loopback port for the login callback")?;
        let port = listener.local_addr()?.port().to_string();
        let verifier = secret::random(32)?;
        let state = secret::random(16)?;
        let challenge = secret::s256(&verifier);
        let mut params = vec![
            ("port", port.as_str()),
            ("state", state.as_str()),
            ("challenge", challenge.as_str()),
        ];
        if let Some(i) = issuer {
            params.push(("issuer", i));
        }
        let url = reqwest::Url::parse_with_params(&format!("{}{start}", self.server), &params)
            .context("the server address is not a URL")?;
        eprintln!("Open this address in a browser to log in:\n\n{url}\n");
        if !no_browser {
            open_browser(url.as_str());
        }
        let callback = tokio::time::timeout(BROWSER_TIMEOUT, wait_for_callback(&listener, &state))
            .await
            .context("no login within 5 minutes")??;
        if let Some(error) = callback.get("error") {
            let description = callback
                .get("error_description")
                .map(String::as_str)
                .unwrap_or_default();
            bail!("login failed: {error}: {description}");
        }
        let code = callback.get("code").context("the callback has no code")?;
        let body = json!({ "grant_type": "login_code", "code": code, "verifier": verifier });
        self.post(TOKEN_PATH, &body)
            .await?
            .map_err(|(_, message)| anyhow::anyhow!("login failed: {message}"))
    }

    async fn device_login(&self, issuer: Option<&str>) -> anyhow::Result<Value> {
        let started = self
            .post("/api/v1/auth/device", &json!({ "issuer": issuer }))
            .await?
            .map_err(|(_, message)| anyhow::anyhow!("cannot start a device login: {message}"))?;
        let text = |k: &str| started.get(k).and_then(Value::as_str).unwrap_or_default();
        eprintln!(
            "To log in, open {} and enter the code {}",
            text("verification_uri"),
            text("user_code")
        );
        if !text("verification_uri_complete").is_empty() {
            eprintln!("(or open {})", text("verification_uri_complete"));
        }
        let mut interval = started
            .get("interval")
            .and_then(Value::as_u64)
            .unwrap_or(5)
            .max(1);
        let expires_in = started
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(600);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(expires_in);
        let poll = json!({ "grant_type": "device", "device_id": text("device_id") });
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            match self.post(TOKEN_PATH, &poll).await? {
                Ok(issued) => return Ok(issued),
                Err((code, _)) if code == "authorization_pending" => {}
                Err((code, _)) if code == "slow_down" => interval += 5,
                Err((_, message)) => bail!("login failed: {message}"),
            }
        }
        bail!("the device code expired before the login was approved")
    }
}

/// Opens `url` in the desktop's browser, if there is one; the address is printed anyway.
fn open_browser(url: &str) {
    for opener in ["xdg-open", "open"] {
        let spawned = std::process::Command::new(opener)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if spawned.is_ok() {
            return;
        }
    }
}

/// Serves the loopback callback until a request carries `state`; returns its query.
async fn wait_for_callback(
    listener: &TcpListener,
    state: &str,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&head);
        let target = head.split_whitespace().nth(1).unwrap_or_default();
        let query = reqwest::Url::parse(&format!("http://127.0.0.1{target}"))
            .ok()
            .filter(|u| u.path() == "/callback")
            .map(|u| {
                u.query_pairs()
                    .into_owned()
                    .collect::<std::collections::HashMap<_, _>>()
            });
        let matches = query
            .as_ref()
            .and_then(|q| q.get("state"))
            .is_some_and(|s| secret::equal(s, state));
        let (status, message) = match (&query, matches) {
            (Some(q), true) if q.contains_key("error") => {
                ("200 OK", "Ward login failed; see the terminal for why.")
            }
            (Some(_), true) => (
                "200 OK",
                "You are logged in to Ward. You can close this tab and go back to the terminal.",
            ),
            _ => (
                "400 Bad Request",
                "This is not the login Ward is waiting for.",
            ),
        };
        let page = format!("<!doctype html><title>Ward</title><p>{message}</p>\n");
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        if matches && let Some(q) = query {
            return Ok(q);
        }
    }
}
