//! A stand-in AI model provider for `ward demo`: `tools/model-peer` (OpenAI's and Anthropic's
//! APIs, deterministic and offline), embedded in the binary and run with Node.js, so the demo's
//! `assistant` resource answers without anything outside the machine.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::child::{OnParentDeath, die_with_parent};
use crate::pgcluster::{free_port, which};

const SERVER: &str = include_str!("../../../tools/model-peer/server.mjs");

/// The running provider.
pub struct ModelPeer {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub address: String,
    pub dir: PathBuf,
}

impl ModelPeer {
    /// Starts it, demanding `key` of every request. Start it from a thread that lives as long
    /// as it should ([`crate::child`]).
    pub fn start(key: &str) -> anyhow::Result<Self> {
        let node = which("node").context("Node.js (node) is not installed")?;
        let dir = std::env::temp_dir().join(format!(
            "ward-model-{}-{}",
            std::process::id(),
            free_port()?
        ));
        std::fs::create_dir_all(&dir)?;
        let script = dir.join("server.mjs");
        std::fs::write(&script, SERVER)?;
        let mut command = Command::new(node);
        command
            .arg(&script)
            .args(["--port", "0", "--key", key])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("model.log"))?);
        let mut child = die_with_parent(&mut command, OnParentDeath::Terminate)
            .spawn()
            .context("starting the model stand-in")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut peer = Self {
            child: Some(child),
            address: String::new(),
            dir,
        };
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(line) if line.starts_with("ready ") => {
                peer.address = line.trim_start_matches("ready ").trim().to_owned();
                Ok(peer)
            }
            _ => bail!(
                "the model stand-in did not start: {}",
                std::fs::read_to_string(peer.dir.join("model.log")).unwrap_or_default()
            ),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for ModelPeer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
