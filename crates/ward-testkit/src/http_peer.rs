//! An internal HTTP service for tests to put behind Ward (`tools/http-peer`): it echoes what
//! reaches it, streams, serves secrets to mask, and speaks WebSocket.

use std::process::Command;

use crate::idp::{Daemon, tools};

/// A running `tools/http-peer/server.mjs`.
pub struct HttpPeer {
    _daemon: Daemon,
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// The credential it demands (`--token`), if any.
    pub token: Option<String>,
}

impl HttpPeer {
    /// Starts it over plain HTTP; with `token`, every request but `/public/…` must carry it
    /// (as a bearer token, a Basic password or `X-Api-Key`).
    pub fn start(token: Option<&str>) -> anyhow::Result<Self> {
        let dir = Daemon::dir("http-peer")?;
        let mut command = Command::new("node");
        command
            .arg(tools("http-peer").join("server.mjs"))
            .args(["--port", "0"]);
        if let Some(t) = token {
            command.args(["--token", t]);
        }
        let (daemon, address) = Daemon::spawn(command, dir)?;
        Ok(Self {
            _daemon: daemon,
            address,
            token: token.map(str::to_owned),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}
