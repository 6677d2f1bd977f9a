//! A throwaway OpenSSH `sshd` on a free loopback port, with its own host key, that lets one
//! public key (or certificates of one CA) log in as the user running it: for `ward demo`'s
//! second resource, and for the tests (as root in CI). It ends with the thread that started it
//! ([`crate::child`]).

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
    /// The authorized-keys lines of its config, for a restart.
    keys: String,
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
        // Left by a dead process that had our pid, if it exists (see `PgCluster::start`).
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let host_key = host_key(&dir.join("host_key"))?;
        Ok(Self {
            dir,
            port: free_port()?,
            host_key,
            child: None,
            keys: String::new(),
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

    /// Stops `sshd`, gives it a new host key, and starts it again on the same port (a host that
    /// was reinstalled, or a machine in the middle).
    pub fn replace_host_key(&mut self) -> anyhow::Result<()> {
        self.stop();
        let key = self.dir.join("host_key");
        std::fs::remove_file(&key)?;
        std::fs::remove_file(key.with_extension("pub"))?;
        self.host_key = host_key(&key)?;
        let keys = self.keys.clone();
        self.launch(&keys)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts `sshd` with `keys` (its authorized-keys lines of config).
    fn launch(&mut self, keys: &str) -> anyhow::Result<()> {
        self.keys = keys.to_owned();
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
        let mut command = Command::new(sshd_binary()?);
        command
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        crate::child::die_with_parent(&mut command, crate::child::OnParentDeath::Terminate);
        let child = command.spawn().context("starting sshd")?;
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

    /// The listening sshd's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Makes an Ed25519 host key at `path`; returns its public half as a `known_hosts` key.
fn host_key(path: &Path) -> anyhow::Result<String> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .context("ssh-keygen")?;
    if !out.status.success() {
        bail!("ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
    }
    let public = std::fs::read_to_string(path.with_extension("pub"))?;
    Ok(public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" "))
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
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
