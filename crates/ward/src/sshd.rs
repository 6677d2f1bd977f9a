//! A throwaway OpenSSH `sshd` on a free loopback port, with its own host key, that lets one
//! public key (or certificates of one CA) log in as the user running it: for `ward demo`'s
//! second resource, and for the tests (as root in CI).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pgcluster::free_port;
use anyhow::{Context, bail};

/// An `sshd` whose host key exists before it starts (so a gateway can pin it first).
pub struct Sshd {
    pub dir: PathBuf,
    pub port: u16,
    /// The host key's public half, as a `known_hosts` line without the host.
    pub host_key: String,
    child: Option<Child>,
}

fn sshd_binary() -> anyhow::Result<PathBuf> {
    ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context("OpenSSH's sshd is not installed (apt-get install openssh-server)")
}

impl Sshd {
    /// Makes a host key and picks a port; [`Sshd::start`] runs it.
    pub fn prepare() -> anyhow::Result<Self> {
        sshd_binary()?;
        let dir =
            std::env::temp_dir().join(format!("ward-sshd-{}-{}", std::process::id(), free_port()?));
        std::fs::create_dir_all(&dir)?;
        let key = dir.join("host_key");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .output()
            .context("ssh-keygen")?;
        if !out.status.success() {
            bail!("ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
        }
        let host_key = std::fs::read_to_string(key.with_extension("pub"))?;
        let host_key = host_key
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Self {
            dir,
            port: free_port()?,
            host_key,
            child: None,
        })
    }

    /// Starts `sshd`, letting the public key in `authorized_key` (a file) log in.
    pub fn start(&mut self, authorized_key: &Path) -> anyhow::Result<()> {
        let keys = self.dir.join("authorized_keys");
        std::fs::copy(authorized_key, &keys)?;
        self.launch(&format!("AuthorizedKeysFile {}", keys.display()))
    }

    /// Starts `sshd`, letting in certificates the CA whose public key is in `ca` (a file)
    /// signed, and no plain key.
    pub fn start_trusting(&mut self, ca: &Path) -> anyhow::Result<()> {
        let trusted = self.dir.join("trusted_user_ca_keys");
        std::fs::copy(ca, &trusted)?;
        self.launch(&format!(
            "AuthorizedKeysFile none\nTrustedUserCAKeys {}",
            trusted.display()
        ))
    }

    /// Starts `sshd` with `keys` (its authorized-keys lines of config).
    fn launch(&mut self, keys: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all("/run/sshd").ok();
        let config = self.dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {}\nListenAddress 127.0.0.1\nHostKey {}\n{}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nPidFile {}\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxStartups 100\n",
                self.port,
                self.dir.join("host_key").display(),
                keys,
                self.dir.join("sshd.pid").display(),
            ),
        )?;
        let log = std::fs::File::create(self.dir.join("sshd.log"))?;
        let child = Command::new(sshd_binary()?)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting sshd")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "sshd did not listen: {}",
            std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
        )
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "sshd log:\n{}",
                std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
