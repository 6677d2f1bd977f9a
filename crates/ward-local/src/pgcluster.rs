//! A throwaway PostgreSQL cluster on loopback: `initdb`, `pg_ctl start`, seed with `psql`,
//! stop and remove on drop. Used by `ward demo` and by the test harness.
//!
//! The server runs as a child of this process (`postgres -D`, not `pg_ctl start`, which would
//! detach it), so it gets a fast-shutdown signal when the thread that started it ends, even by
//! `kill -9` ([`crate::child`]).
//!
//! PostgreSQL refuses to run as root; when Ward runs as root, the cluster's commands run as the
//! unprivileged `postgres` OS user (`runuser -u postgres --`) in a directory that user owns.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How clients authenticate over TCP (`pg_hba.conf` method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAuth {
    ScramSha256,
    Md5,
    Trust,
}

impl HostAuth {
    fn as_str(self) -> &'static str {
        match self {
            HostAuth::ScramSha256 => "scram-sha-256",
            HostAuth::Md5 => "md5",
            HostAuth::Trust => "trust",
        }
    }
}

/// Options for a new cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub host_auth: HostAuth,
    /// PEM certificate and key: TLS on, and TCP clients must use it (`hostssl` only).
    pub tls: Option<(String, String)>,
    /// Extra `postgresql.conf` lines.
    pub settings: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            host_auth: HostAuth::ScramSha256,
            tls: None,
            settings: Vec::new(),
        }
    }
}

pub struct PgCluster {
    pub root: PathBuf,
    pub data: PathBuf,
    pub socket_dir: PathBuf,
    pub port: u16,
    bindir: PathBuf,
    as_postgres: bool,
    /// The postmaster, while it runs.
    server: Option<Child>,
}

/// A port nobody listens on right now, picked at random below the kernel's ephemeral range
/// (32768 and up): a port from that range, once released, can be handed to any outgoing
/// connection as its local port before the caller binds it.
pub fn free_port() -> anyhow::Result<u16> {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..200 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = 10_000 + u16::try_from(h.finish() % 22_700).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The directory holding `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin`, else wherever `initdb` is on PATH.
pub fn bindir() -> anyhow::Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    if let Some(dir) = found.pop() {
        return Ok(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() {
                return Ok(dir);
            }
        }
    }
    bail!(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the PostgreSQL server package"
    )
}

/// True when this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// `(uid, gid)` of the `postgres` OS user.
fn postgres_ids() -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if let [name, _, uid, gid, ..] = f.as_slice()
            && *name == "postgres"
        {
            return Ok((uid.parse()?, gid.parse()?));
        }
    }
    bail!(
        "running as root, and there is no `postgres` OS user to run PostgreSQL as (PostgreSQL refuses to run as root)"
    )
}

impl PgCluster {
    /// Creates and starts a cluster in a new temporary directory on a free port, superuser
    /// `postgres`. Call it from a thread that lives as long as the cluster should.
    pub fn start(opts: &ClusterOptions) -> anyhow::Result<Self> {
        let bindir = bindir()?;
        let as_postgres = is_root();
        let root =
            std::env::temp_dir().join(format!("ward-pg-{}-{}", std::process::id(), unique()));
        // A directory of this name is a dead process's that had our pid (pids are reused) and
        // ended without its clean-up: nothing of ours uses it.
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        if as_postgres {
            let (uid, gid) = postgres_ids()?;
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))
                .context("giving the cluster directory to postgres")?;
        }
        let data = root.join("data");
        let socket_dir = root.clone();
        let mut cluster = Self {
            root: root.clone(),
            data: data.clone(),
            socket_dir,
            port: free_port()?,
            bindir,
            as_postgres,
            server: None,
        };
        let out = cluster.run_pg(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=reject",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        )?;
        check(&out, "initdb")?;

        let mut conf = vec![
            format!("port = {}", cluster.port),
            "listen_addresses = '127.0.0.1'".to_owned(),
            format!(
                "unix_socket_directories = '{}'",
                cluster.socket_dir.display()
            ),
            "fsync = off".to_owned(),
            "synchronous_commit = off".to_owned(),
            "full_page_writes = off".to_owned(),
            "max_connections = 60".to_owned(),
            "password_encryption = 'scram-sha-256'".to_owned(),
        ];
        let method = opts.host_auth.as_str();
        let mut hba = vec!["local all all trust".to_owned()];
        if let Some((cert, key)) = &opts.tls {
            cluster.write_owned(&data.join("server.crt"), cert.as_bytes(), 0o644)?;
            cluster.write_owned(&data.join("server.key"), key.as_bytes(), 0o600)?;
            conf.push("ssl = on".to_owned());
            hba.push(format!("hostssl all all 127.0.0.1/32 {method}"));
        } else {
            hba.push(format!("host all all 127.0.0.1/32 {method}"));
        }
        conf.extend(opts.settings.iter().cloned());
        append(&data.join("postgresql.conf"), &conf.join("\n"))?;
        std::fs::write(data.join("pg_hba.conf"), hba.join("\n") + "\n")
            .context("writing pg_hba.conf")?;

        let log = root.join("postgres.log");
        let log_file = std::fs::File::create(&log).context("creating postgres.log")?;
        let mut server = Command::new(cluster.bindir.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        if as_postgres {
            use std::os::unix::process::CommandExt;
            let (uid, gid) = postgres_ids()?;
            server.uid(uid).gid(gid);
        }
        crate::child::die_with_parent(&mut server, crate::child::OnParentDeath::Interrupt);
        cluster.server = Some(server.spawn().context("starting postgres")?);
        cluster.wait_ready(&log)?;
        Ok(cluster)
    }

    /// Waits until the postmaster says it accepts connections (the status line of
    /// `postmaster.pid`, as `pg_ctl -w` reads it), or fails with its log.
    fn wait_ready(&mut self, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let pid_file = self.data.join("postmaster.pid");
        loop {
            let exited = match self.server.as_mut() {
                Some(child) => child.try_wait()?,
                None => bail!("postgres is not running"),
            };
            if let Some(status) = exited {
                self.server = None;
                bail!(
                    "postgres exited ({status}):\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            let status = std::fs::read_to_string(&pid_file).unwrap_or_default();
            if status.lines().nth(7).map(str::trim) == Some("ready") {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "postgres did not get ready in 60 s:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run_pg(&self, tool: &str, args: &[&str]) -> anyhow::Result<Output> {
        let program = self.bindir.join(tool);
        self.command(&program)
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", program.display()))
    }

    fn write_owned(&self, p: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))?;
        if self.as_postgres {
            let (uid, gid) = postgres_ids()?;
            std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// Runs SQL as the superuser over the Unix socket; fails on the first error.
    pub fn psql(&self, database: &str, sql: &str) -> anyhow::Result<String> {
        let psql = which("psql").unwrap_or_else(|| self.bindir.join("psql"));
        let mut cmd = self.command(&psql);
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.socket_dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ])
            .current_dir(&self.root)
            .stdin(Stdio::null());
        let out = cmd.output().context("running psql")?;
        check(&out, "psql")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Stops the server (fast shutdown). Safe to call twice.
    pub fn stop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        let _ = self.run_pg(
            "pg_ctl",
            &["-D", path(&self.data), "-m", "fast", "-w", "stop"],
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(server.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.kill();
        let _ = server.wait();
    }

    /// The postmaster's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn append(p: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(p)
        .with_context(|| format!("opening {}", p.display()))?;
    writeln!(f, "\n{text}")?;
    Ok(())
}

fn check(out: &Output, what: &str) -> anyhow::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The full path of a program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.exists())
}
