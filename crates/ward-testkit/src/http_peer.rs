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
        let dir = Daemon::dir(tool)?;
        let mut command = Command::new("node");
        command
            .arg(tools(tool).join("server.mjs"))
            .args(["--port", "0"])
            .args(args.into_iter().flatten());
        let (daemon, address) = Daemon::spawn(command, dir)?;
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
