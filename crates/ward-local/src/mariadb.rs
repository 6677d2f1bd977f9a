//! A throwaway MariaDB server on loopback: `mariadb-install-db`, then `mariadbd` as a child,
//! driven as root over its Unix socket with the `mariadb` client, stopped and removed on drop.
//! Used by `ward demo` and by the test harness.
//!
//! The server runs as a child of this process (like [`crate::pgcluster`]), so it gets SIGTERM,
//! its normal shutdown, when the thread that started it ends ([`crate::child`]).
//!
//! Every setting lives in the directory's own `my.cnf`, read with `--defaults-file`: like
//! `--no-defaults` that keeps `/etc/mysql` out, and it lets [`MariaDbOptions::settings`] be
//! ordinary `[mysqld]` lines (quotes and all) that install and server both read.
//!
//! Unlike PostgreSQL, `mariadbd` may run as root when told `user = root`, so as root it does,
//! and CI containers need no `mysql` OS user. The directory is mode 0700 and the account
//! `root@localhost` has no password: with `skip-name-resolve`, `localhost` matches only the
//! Unix socket in that directory, and the root accounts `mariadb-install-db` makes for TCP
//! (`127.0.0.1`, `::1`, the host name) are deleted while it bootstraps, before anything listens.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::pgcluster::{free_port, is_root, which};

/// How long `mariadbd` gets to accept connections after it is spawned.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it gets to shut down after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Options for a new server.
#[derive(Debug, Clone, Default)]
pub struct MariaDbOptions {
    /// PEM certificate and key: TLS on (`ssl_cert`, `ssl_key`). Clients may still connect
    /// without it unless their account says `REQUIRE SSL`.
    pub tls: Option<(String, String)>,
    /// Extra `[mysqld]` lines, after (so overriding) the defaults. Leave `port`, `socket`
    /// and `datadir` alone: [`MariaDb`] reports and uses the ones it chose.
    pub settings: Vec<String>,
}

/// A running server on `127.0.0.1:port` whose `root@localhost` logs in through `socket`.
pub struct MariaDb {
    pub root: PathBuf,
    pub port: u16,
    pub socket: PathBuf,
    /// Whether TLS is on, so [`MariaDb::seed_app`] knows to make the TLS-only account.
    pub tls: bool,
    client: PathBuf,
    /// `mariadbd`, while it runs.
    server: Option<Child>,
}

/// Where the `mariadb` command-line client is: PATH, else `/usr/bin`.
pub fn client() -> anyhow::Result<PathBuf> {
    program("mariadb", "mariadb-client")
}

/// `name` on PATH, else in the directories Debian and others install MariaDB to (`mariadbd`
/// lives in `/usr/sbin`, which a normal user's PATH often lacks).
fn program(name: &str, package: &str) -> anyhow::Result<PathBuf> {
    if let Some(found) = which(name) {
        return Ok(found);
    }
    [
        "/usr/sbin",
        "/usr/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/libexec",
    ]
    .iter()
    .map(|dir| Path::new(dir).join(name))
    .find(|p| p.exists())
    .with_context(|| {
        format!("MariaDB's `{name}` is not on PATH nor in /usr/sbin: install {package}")
    })
}

impl MariaDb {
    /// Creates and starts a server in a new temporary directory on a free port. Call it from a
    /// thread that lives as long as the server should. Nothing is seeded: see
    /// [`MariaDb::seed_app`].
    pub fn start(opts: &MariaDbOptions) -> anyhow::Result<Self> {
        let mariadbd = program("mariadbd", "mariadb-server")?;
        let install_db = program("mariadb-install-db", "mariadb-server")?;
        let client = client()?;
        let root =
            std::env::temp_dir().join(format!("ward-mariadb-{}-{}", std::process::id(), unique()));
        // Left by a dead process that had our pid, if it exists (see `PgCluster::start`).
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        set_mode(&root, 0o700)?;

        let mut server = Self {
            socket: root.join("mysqld.sock"),
            port: free_port()?,
            tls: opts.tls.is_some(),
            root,
            client,
            server: None,
        };
        let config = server.root.join("my.cnf");
        write(&config, &server.config(opts)?, 0o600)?;
        let bootstrap = server.root.join("bootstrap.sql");
        write(&bootstrap, BOOTSTRAP_SQL, 0o600)?;

        let out = Command::new(&install_db)
            .arg(format!("--defaults-file={}", config.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--extra-file={}", bootstrap.display()))
            .current_dir(&server.root)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", install_db.display()))?;
        check(&out, "mariadb-install-db")?;

        let log = server.root.join("mariadbd.log");
        let log_file = std::fs::File::create(&log).context("creating mariadbd.log")?;
        let mut command = Command::new(&mariadbd);
        command
            .arg(format!("--defaults-file={}", config.display()))
            .current_dir(&server.root)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        crate::child::die_with_parent(&mut command, crate::child::OnParentDeath::Terminate);
        server.server = Some(
            command
                .spawn()
                .with_context(|| format!("starting {}", mariadbd.display()))?,
        );
        server.wait_ready(&log)?;
        Ok(server)
    }

    /// The `[mysqld]` section: loopback only, files in the directory, and settings that make
    /// it start in a fraction of a second (small buffer pool and redo log, no binary log, no
    /// durability a throwaway server does not need).
    fn config(&self, opts: &MariaDbOptions) -> anyhow::Result<String> {
        let dir = &self.root;
        let mut lines = vec![
            "[mysqld]".to_owned(),
            format!("datadir = {}", dir.join("data").display()),
            format!("socket = {}", self.socket.display()),
            format!("pid-file = {}", dir.join("mysqld.pid").display()),
            format!("tmpdir = {}", dir.display()),
            "bind-address = 127.0.0.1".to_owned(),
            format!("port = {}", self.port),
            "skip-name-resolve".to_owned(),
            "skip-log-bin".to_owned(),
            "innodb_buffer_pool_size = 16M".to_owned(),
            "innodb_log_file_size = 8M".to_owned(),
            "innodb_flush_log_at_trx_commit = 0".to_owned(),
            "innodb_doublewrite = 0".to_owned(),
            // What Debian's own configuration sets; the compiled-in default is latin1.
            "character_set_server = utf8mb4".to_owned(),
            "collation_server = utf8mb4_general_ci".to_owned(),
        ];
        if is_root() {
            lines.push("user = root".to_owned());
        }
        if let Some((cert, key)) = &opts.tls {
            let (cert_file, key_file) = (dir.join("server-cert.pem"), dir.join("server-key.pem"));
            write(&cert_file, cert, 0o644)?;
            write(&key_file, key, 0o600)?;
            lines.push(format!("ssl_cert = {}", cert_file.display()));
            lines.push(format!("ssl_key = {}", key_file.display()));
        }
        lines.extend(opts.settings.iter().cloned());
        Ok(lines.join("\n") + "\n")
    }

    /// Waits until the server greets a client on its socket, or fails with its log's tail.
    fn wait_ready(&mut self, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let exited = match self.server.as_mut() {
                Some(child) => child.try_wait()?,
                None => bail!("mariadbd is not running"),
            };
            if let Some(status) = exited {
                self.server = None;
                bail!("mariadbd exited ({status}); its log ends:\n{}", tail(log));
            }
            if greets(&self.socket) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "mariadbd did not accept connections in {} s; its log ends:\n{}",
                    START_TIMEOUT.as_secs(),
                    tail(log)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs SQL as `root` over the Unix socket (`--batch --skip-column-names`, so rows come
    /// tab-separated, one a line); fails on the first error, with the client's message.
    pub fn sql(&self, sql: &str) -> anyhow::Result<String> {
        let out = Command::new(&self.client)
            .arg("--no-defaults")
            .args(["--batch", "--skip-column-names", "--user=root"])
            .arg(format!("--socket={}", self.socket.display()))
            .arg(format!("--execute={sql}"))
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.client.display()))?;
        check(&out, "mariadb")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A database `app` and the accounts Ward logs in as, all with `password` and all
    /// privileges on `app.*`, and all reachable only over TCP from `127.0.0.1` (with
    /// `skip-name-resolve`, a `localhost` account would match the Unix socket instead):
    ///
    /// - `app`, `mysql_native_password`;
    /// - `app_ed`, `ed25519` (the plugin is installed first);
    /// - `app_tls`, `mysql_native_password` and `REQUIRE SSL`, only when TLS is on.
    ///
    /// Safe to call twice: the accounts are replaced.
    pub fn seed_app(&self, password: &str) -> anyhow::Result<()> {
        if let Err(e) = self.sql("INSTALL SONAME 'auth_ed25519'")
            && !e.to_string().contains("already installed")
        {
            return Err(e);
        }
        let pw = literal(password);
        let mut accounts = vec![
            (
                "app",
                format!("mysql_native_password USING PASSWORD({pw})"),
                "",
            ),
            ("app_ed", format!("ed25519 USING PASSWORD({pw})"), ""),
        ];
        if self.tls {
            accounts.push((
                "app_tls",
                format!("mysql_native_password USING PASSWORD({pw})"),
                " REQUIRE SSL",
            ));
        }
        let mut sql = vec!["CREATE DATABASE IF NOT EXISTS app".to_owned()];
        for (user, via, require) in accounts {
            sql.push(format!(
                "CREATE OR REPLACE USER '{user}'@'127.0.0.1' IDENTIFIED VIA {via}{require}"
            ));
            sql.push(format!("GRANT ALL ON app.* TO '{user}'@'127.0.0.1'"));
        }
        self.sql(&sql.join(";\n"))?;
        Ok(())
    }

    /// Stops the server (SIGTERM, its normal shutdown; SIGKILL if that takes too long). Safe to
    /// call twice.
    pub fn stop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        // The child is ours and not yet reaped, so its pid cannot have been reused.
        crate::child::stop_leftover(server.id(), "mariadbd", STOP_TIMEOUT);
        let _ = server.kill();
        let _ = server.wait();
    }

    /// `mariadbd`'s process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(Child::id)
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Run by `mariadb-install-db` at bootstrap: drops the password-less root accounts it makes for
/// TCP, keeping `root@localhost` (the socket).
const BOOTSTRAP_SQL: &str = "\
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';
DELETE FROM mysql.proxies_priv WHERE User = 'root' AND Host <> 'localhost';
";

/// True when a MariaDB server on `socket` sends its greeting (protocol version 10 in the first
/// packet). Connecting alone is not enough: the socket queues connections before the server
/// has finished starting. (The server logs the probe as an aborted connection; harmless.)
fn greets(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && matches!(head, [_, _, _, _, 10])
}

/// A SQL string literal of `s`, for MariaDB's default `sql_mode` (backslash escapes on).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// The last lines of the server's log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let skip = text.lines().count().saturating_sub(30);
    text.lines().skip(skip).collect::<Vec<_>>().join("\n")
}

fn write(p: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    set_mode(p, mode)
}

fn set_mode(p: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", p.display()))
}

/// Fails with the program's error output (or its standard output, when that is empty: the
/// errors of `mariadb-install-db`'s bootstrap server are on stderr, its advice on stdout).
fn check(out: &Output, what: &str) -> anyhow::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = if stderr.trim().is_empty() {
        String::from_utf8_lossy(&out.stdout)
    } else {
        stderr
    };
    bail!("{what} failed ({}): {}", out.status, message.trim())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_escapes_quotes_and_backslashes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal(r"a\'b"), r"'a\\''b'");
    }
}
