//! A real OpenID Connect provider on loopback (npm `oidc-provider`, driven by
//! `tools/oidc-idp`), the scripted browser that logs in through its pages, and a minter of
//! deliberately bad tokens signed with its keys.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use ward_local::pgcluster::free_port;

/// The client id and secret Ward is registered with at the provider.
pub const CLIENT_ID: &str = "ward";
pub const CLIENT_SECRET: &str = "ward-client-secret";

/// `tools/NAME` in the source tree.
pub(crate) fn tools(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools")
        .join(name)
}

fn tools_dir() -> PathBuf {
    tools("oidc-idp")
}

/// Runs the scripted browser (`tools/oidc-idp/browser.mjs MODE ARGS`), trusting Ward's
/// certificate: its JSON line and exit status. It logs in at the OpenID Connect provider's and
/// the SAML provider's pages alike.
pub fn browser(mode: &str, args: &[&str], ward_ca: &Path) -> Output {
    Command::new("node")
        .arg(tools_dir().join("browser.mjs"))
        .arg(mode)
        .args(args)
        .env("NODE_EXTRA_CA_CERTS", ward_ca)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running browser.mjs: {e}"))
}

/// A user of the provider.
pub struct IdpUser<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub groups: &'a [&'a str],
}

/// A test peer process that prints `ready ADDRESS` when it serves; stopped (SIGTERM) and its
/// directory removed on drop, its log printed when a test failed.
pub(crate) struct Daemon {
    child: Child,
    pub dir: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// A fresh directory for a peer called `name`.
    pub(crate) fn dir(name: &str) -> anyhow::Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!(
            "ward-{name}-{}-{}",
            std::process::id(),
            free_port()?
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Spawns `command` (stderr to `dir/peer.log`) and waits for its `ready ADDRESS` line.
    pub(crate) fn spawn(mut command: Command, dir: PathBuf) -> anyhow::Result<(Self, String)> {
        let log = dir.join("peer.log");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("ready ") {
                    let _ = tx.send(address.to_owned());
                }
            }
        });
        let daemon = Self { child, dir, log };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => Ok((daemon, address)),
            Err(_) => bail!(
                "{command:?} did not start: {}",
                std::fs::read_to_string(&daemon.log).unwrap_or_default()
            ),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "test peer log ({}):\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// A running provider.
pub struct Idp {
    daemon: Daemon,
    pub issuer: String,
    /// The provider's private JWKS.
    pub keys: PathBuf,
}

impl Idp {
    /// Starts the provider with Ward (`CLIENT_ID`) as a confidential client whose redirect URI
    /// is `redirect_uri`, and `users`.
    pub fn start(redirect_uri: &str, users: &[IdpUser<'_>]) -> anyhow::Result<Self> {
        let tools = tools_dir();
        if !tools.join("node_modules/oidc-provider").exists() {
            bail!(
                "the OIDC provider is not installed: run `npm ci` in {}",
                tools.display()
            );
        }
        let dir = Daemon::dir("idp")?;
        let keys = dir.join("private-jwks.json");
        let users: Vec<Value> = users
            .iter()
            .map(|u| {
                json!({ "username": u.username, "password": u.password, "sub": format!("sub-{}", u.username),
                        "email": format!("{}@example.test", u.username), "groups": u.groups })
            })
            .collect();
        let config = json!({
            "port": 0,
            "issuer_host": "127.0.0.1",
            "keys_out": keys,
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "client_credentials"],
                "token_endpoint_auth_method": "client_secret_basic",
            }],
            "users": users,
            "audience": "ward",
        });
        let config_path = dir.join("idp.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
        let mut command = Command::new("node");
        command.arg(tools.join("idp.mjs")).arg(&config_path);
        let (daemon, issuer) = Daemon::spawn(command, dir)?;
        Ok(Self {
            daemon,
            issuer,
            keys,
        })
    }

    /// Changes `username`'s groups at the provider (`None`: removes the user), as an
    /// administrator would: later logins and refreshes see the change.
    pub fn set_groups(&self, username: &str, groups: Option<&[&str]>) {
        let path = self.daemon.dir.join("idp.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading idp.json: {e}"));
        let mut config: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("idp.json: {e}"));
        if let Some(users) = config["users"].as_array_mut() {
            match groups {
                Some(groups) => {
                    for u in users.iter_mut().filter(|u| u["username"] == username) {
                        u["groups"] = json!(groups);
                    }
                }
                None => users.retain(|u| u["username"] != username),
            }
        }
        let tmp = path.with_extension("json.new");
        std::fs::write(&tmp, config.to_string())
            .unwrap_or_else(|e| panic!("writing idp.json: {e}"));
        std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("replacing idp.json: {e}"));
    }

    /// A token from `mint.mjs`: `key` is `RS256`, `ES256`, `EdDSA`, `foreign`, `none` or
    /// `hs256-with-public-key`.
    pub fn mint(&self, key: &str, header: Value, claims: Value) -> String {
        let spec = self
            .daemon
            .dir
            .join(format!("mint-{}.json", free_port().unwrap_or(0)));
        let body = json!({ "key": key, "header": header, "claims": claims });
        std::fs::write(&spec, body.to_string()).unwrap_or_else(|e| panic!("writing spec: {e}"));
        let out = Command::new("node")
            .arg(tools_dir().join("mint.mjs"))
            .arg(&self.keys)
            .arg(&spec)
            .output()
            .unwrap_or_else(|e| panic!("running mint.mjs: {e}"));
        assert!(
            out.status.success(),
            "mint.mjs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Claims of a good token for `username`, valid from a minute ago for an hour.
    pub fn claims(&self, username: &str, groups: &[&str], aud: &str) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        json!({
            "iss": self.issuer, "sub": format!("sub-{username}"), "aud": aud,
            "preferred_username": username, "groups": groups,
            "iat": now - 60, "nbf": now - 60, "exp": now + 3600,
        })
    }

    /// A JWT access token for the `ward` client from the client-credentials grant.
    pub fn client_credentials_token(&self) -> anyhow::Result<String> {
        let out = Command::new("node")
            .arg("-e")
            .arg(format!(
                "const r = await fetch('{}/token', {{method: 'POST', headers: {{authorization: 'Basic ' + Buffer.from('{CLIENT_ID}:{CLIENT_SECRET}').toString('base64'), 'content-type': 'application/x-www-form-urlencoded'}}, body: 'grant_type=client_credentials&scope=api'}}); const j = await r.json(); if (!j.access_token) {{ console.error(JSON.stringify(j)); process.exit(1); }} console.log(j.access_token);",
                self.issuer
            ))
            .arg("--input-type=module")
            .output()?;
        if !out.status.success() {
            bail!(
                "client credentials grant failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}
