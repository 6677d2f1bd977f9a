//! What a SIEM stream is tested against: rsyslog (Debian's, receiving RFC 5424 over TCP and
//! writing what it parsed to a file), and `tools/siem-peer`, whose OTLP endpoint reads Ward's
//! logs with OpenTelemetry's own protobuf definitions and whose webhook takes batches.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::idp::{Daemon, tools};
use crate::{HttpPeer, free_port};

/// `tools/siem-peer/receiver.py`.
pub struct SiemPeer(HttpPeer);

impl SiemPeer {
    /// The receiver, answering its first `fail_first` posts with 503.
    pub fn start(fail_first: u32) -> anyhow::Result<Self> {
        let tool = tools("siem-peer");
        let mut command = Command::new(tool.join(".venv/bin/python"));
        command
            .arg(tool.join("receiver.py"))
            .args(["--fail-first", &fail_first.to_string()]);
        HttpPeer::run("siem-peer", command).map(Self)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// What it accepted at `otlp` (`/v1/logs`) or `hook` (`/hook`), in order.
    pub fn received(&self, door: &str) -> Vec<serde_json::Value> {
        let out = Command::new("curl")
            .args(["-sS", &format!("{}/_peer/{door}", self.url())])
            .output()
            .expect("curl");
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }
}

/// rsyslogd listening for syslog over TCP on loopback.
pub struct Rsyslog {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Rsyslog {
    /// Starts rsyslogd (`-n`, its own configuration and work directory); each message it
    /// receives becomes one line `VERSION|APP|MSGID|MSG` of [`Rsyslog::lines`], from rsyslog's
    /// own parse of RFC 5424.
    pub fn start() -> anyhow::Result<Self> {
        Self::spawn(None)
    }

    /// Like [`Rsyslog::start`], over TLS (RFC 5425) with the PEM certificate and key `tls`.
    pub fn start_tls(tls: (&str, &str)) -> anyhow::Result<Self> {
        Self::spawn(Some(tls))
    }

    fn spawn(tls: Option<(&str, &str)>) -> anyhow::Result<Self> {
        let dir = Daemon::dir("rsyslog")?;
        let port = free_port()?;
        let conf = dir.join("rsyslog.conf");
        let (global, driver) = match tls {
            None => (String::new(), String::new()),
            Some((cert, key)) => {
                std::fs::write(dir.join("cert.pem"), cert)?;
                std::fs::write(dir.join("key.pem"), key)?;
                (
                    format!(
                        " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{d}/cert.pem\" defaultNetstreamDriverCertFile=\"{d}/cert.pem\" defaultNetstreamDriverKeyFile=\"{d}/key.pem\"",
                        d = dir.display()
                    ),
                    " streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\"".to_owned(),
                )
            }
        };
        std::fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{dir}\" maxMessageSize=\"4m\"{global})\n\
                 module(load=\"imtcp\"{driver})\n\
                 template(name=\"parsed\" type=\"string\" string=\"%protocol-version%|%app-name%|%msgid%|%msg%\\n\")\n\
                 ruleset(name=\"ward\") {{ action(type=\"omfile\" file=\"{dir}/received.log\" template=\"parsed\") }}\n\
                 input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"ward\")\n",
                dir = dir.display()
            ),
        )?;
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("rsyslogd.log"))?)
            .spawn()
            .context("starting rsyslogd (./x setup installs rsyslog)")?;
        let mut me = Self { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = me.child.try_wait() {
                bail!("rsyslogd exited with {status}: {}", me.log());
            }
            if Instant::now() > deadline {
                bail!("rsyslogd did not listen: {}", me.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(me)
    }

    fn log(&mut self) -> String {
        std::fs::read_to_string(self.dir.join("rsyslogd.log")).unwrap_or_default()
    }

    /// The messages received so far, as rsyslog parsed them: whole lines only, not one it is
    /// still writing.
    pub fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join("received.log")).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        whole.lines().map(str::to_owned).collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
