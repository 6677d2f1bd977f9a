//! HTTP services for tests to put behind Ward, from `tools/`: an internal service
//! (`http-peer`: it echoes what reaches it, streams, serves secrets to mask, and speaks
//! WebSocket) and a stand-in AI model provider (`model-peer`: OpenAI's and Anthropic's APIs,
//! streaming and tool calls, deterministic and offline).

use std::process::Command;

use crate::idp::{Daemon, tools};

/// A running service of `tools/`.
pub struct HttpPeer {
    _daemon: Daemon,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl HttpPeer {
    /// The internal service over plain HTTP; with `token`, every request but `/public/…` must
    /// carry it (as a bearer token, a Basic password or `X-Api-Key`).
    pub fn start(token: Option<&str>) -> anyhow::Result<Self> {
        Self::spawn("http-peer", token.map(|t| ["--token", t]))
    }

    /// The model provider; every request must carry `key` (`Authorization: Bearer` or
    /// `x-api-key`). `GET /_peer/requests` lists what it received.
    pub fn model(key: &str) -> anyhow::Result<Self> {
        Self::spawn("model-peer", Some(["--key", key]))
    }

    fn spawn(tool: &str, args: Option<[&str; 2]>) -> anyhow::Result<Self> {
        let mut command = Command::new("node");
        command
            .arg(tools(tool).join("server.mjs"))
            .args(["--port", "0"])
            .args(args.into_iter().flatten());
        Self::run(tool, command)
    }

    /// Runs `command`, a peer of `tools/TOOL` that prints `ready ADDRESS` once it serves.
    pub(crate) fn run(tool: &str, command: Command) -> anyhow::Result<Self> {
        let (daemon, address) = Daemon::spawn(command, Daemon::dir(tool)?)?;
        Ok(Self {
            _daemon: daemon,
            address,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Runs `tools/http-client/client.py MODE URL TOKEN CA` against `ward`'s resource `resource`
/// (Python requests, websockets, the OpenAI and Anthropic SDKs; `./x setup` makes its venv):
/// the JSON line it prints.
pub fn python_client(
    ward: &crate::Ward,
    mode: &str,
    resource: &str,
    token: &str,
) -> serde_json::Value {
    python_client_at(mode, &ward.http_url(resource), token, &ward.ca_cert())
}

/// `tools/http-client/client.py MODE URL TOKEN CA` for any URL: the JSON line it prints.
pub fn python_client_at(
    mode: &str,
    url: &str,
    token: &str,
    ca: &std::path::Path,
) -> serde_json::Value {
    let tools = tools("http-client");
    let out = Command::new(tools.join(".venv/bin/python"))
        .arg(tools.join("client.py"))
        .args([mode, url, token])
        .arg(ca)
        .output()
        .expect("the http client's venv (./x setup makes it)");
    serde_json::from_str(crate::success(&out).trim()).expect("client.py prints JSON")
}

/// The Chromium end-to-end script `web/e2e/NAME`, when Chromium, the script and the built UI
/// are there (`.ci/run` installs and builds them, and there their absence fails the test);
/// `None`, said on stderr, when they are not.
pub fn chromium_e2e(name: &str) -> Option<std::path::PathBuf> {
    let web = web_dir();
    let chromium = std::path::Path::new("/usr/bin/chromium");
    let runner = web.join("e2e").join(name);
    let built = web.join("dist/index.html");
    if std::env::var_os("CI").is_some() {
        assert!(chromium.exists(), "CI must install chromium");
        assert!(built.exists(), "CI must build the UI (web/dist)");
    }
    if !chromium.exists() || !runner.exists() || !built.exists() {
        eprintln!("skipped: chromium, web/e2e/{name} or web/dist missing");
        return None;
    }
    Some(runner)
}

/// `web/` in the source tree (the web UI, its build and its end-to-end scripts).
pub fn web_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}
