//! A `ward serve` process for a test, configured through a builder, and the clients to drive it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ward_local::pgcluster::free_port;

use crate::{PASSWORD, Postgres};

pub struct WardBuilder {
    bin: PathBuf,
    pub(crate) resources: String,
    grants: String,
    users: Vec<(String, Vec<String>)>,
    extra: String,
    pub(crate) extra_files: Vec<(String, String)>,
    recording: String,
    store: String,
    plaintext_loopback: bool,
    auth: String,
    web: Option<u16>,
    ssh: Option<u16>,
    http: bool,
    metrics: bool,
    mysql: bool,
}

impl WardBuilder {
    /// A PostgreSQL resource `name` for database `app` of `pg`, logging in as role `app`.
    pub fn postgres_resource(self, name: &str, pg: &Postgres) -> Self {
        let tls = if pg.cert_pem.is_some() {
            "verify-full"
        } else {
            "disable"
        };
        self.resource_toml(name, &pg.address(), tls, pg.cert_pem.as_deref())
    }

    /// Like [`WardBuilder::postgres_resource`], with more keys in the resource's table, for
    /// example `masking_profile = "hr"`.
    pub fn postgres_resource_with(self, name: &str, pg: &Postgres, keys: &str) -> Self {
        let mut builder = self.postgres_resource(name, pg);
        builder.resources.push_str(keys);
        builder.resources.push('\n');
        builder
    }

    /// A resource at any address (for example one where nothing listens).
    pub fn resource_toml(
        mut self,
        name: &str,
        address: &str,
        tls: &str,
        ca_pem: Option<&str>,
    ) -> Self {
        let _ = write!(
            self.resources,
            "\n[[resources]]\nname = \"{name}\"\nkind = \"postgres\"\naddress = \"{address}\"\ndatabase = \"app\"\nuser = \"app\"\npassword_file = \"app.pw\"\ntls = \"{tls}\"\n"
        );
        if let Some(ca) = ca_pem {
            let _ = writeln!(self.resources, "ca_file = \"{name}-ca.pem\"");
            self.extra_files
                .push((format!("{name}-ca.pem"), ca.to_owned()));
        }
        self
    }

    /// An SSH resource `name` for `sshd` (its host key pinned), logging in as the user the
    /// harness runs as (root in CI).
    pub fn ssh_resource(self, name: &str, sshd: &crate::Sshd) -> Self {
        self.ssh_resource_with(name, sshd, "")
    }

    /// [`WardBuilder::ssh_resource`] with more keys for its table (`login = "certificate"`).
    pub fn ssh_resource_with(mut self, name: &str, sshd: &crate::Sshd, keys: &str) -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let _ = write!(
            self.resources,
            "\n[[resources]]\nname = \"{name}\"\nkind = \"ssh\"\naddress = \"{}\"\nuser = \"{user}\"\nhost_key = \"{}\"\n",
            sshd.address(),
            sshd.host_key
        );
        self.resources.push_str(keys);
        self.resources.push('\n');
        self
    }

    pub fn grant(mut self, group: &str, resource: &str) -> Self {
        let _ = write!(
            self.grants,
            "\n[[grants]]\ngroup = \"{group}\"\nresources = [\"{resource}\"]\n"
        );
        self
    }

    /// A local user with password [`PASSWORD`].
    pub fn user(mut self, name: &str, groups: &[&str]) -> Self {
        self.users.push((
            name.to_owned(),
            groups.iter().map(|g| (*g).to_owned()).collect(),
        ));
        self
    }

    /// Accept passwords without TLS from loopback (for drivers tested without TLS).
    pub fn plaintext_loopback(mut self) -> Self {
        self.plaintext_loopback = true;
        self
    }

    /// Lines for the `[recording]` table.
    pub fn recording(mut self, toml: &str) -> Self {
        self.recording = format!("[recording]\n{toml}\n");
        self
    }

    /// Lines for the `[store]` table (default `path = "ward.db"`).
    pub fn store(mut self, toml: &str) -> Self {
        self.store = toml.to_owned();
        self
    }

    /// Serve HTTPS (`[listen] web`) on `port` (from [`free_port`], chosen before start so an
    /// identity provider can know the callback address).
    pub fn web(mut self, port: u16) -> Self {
        self.web = Some(port);
        self
    }

    /// Serve HTTP resources (`[listen] http`) on a free port.
    pub fn http(mut self) -> Self {
        self.http = true;
        self
    }

    /// Serve MySQL clients (`[listen] mysql`) on a free port.
    pub fn mysql(mut self) -> Self {
        self.mysql = true;
        self
    }

    /// Serve metrics (`[listen] metrics`) on a free port.
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// An HTTP resource `name` for `url`, with more keys for its table (`credential = …`).
    pub fn http_resource(mut self, name: &str, url: &str, keys: &str) -> Self {
        let _ = write!(
            self.resources,
            "\n[[resources]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"{url}\"\n{keys}\n"
        );
        self
    }

    /// Serve SSH (`[listen] ssh`) on `port`.
    pub fn ssh(mut self, port: u16) -> Self {
        self.ssh = Some(port);
        self
    }

    /// A file in Ward's directory (for example a secret a `*_file` key names).
    pub fn file(mut self, name: &str, text: &str) -> Self {
        self.extra_files.push((name.to_owned(), text.to_owned()));
        self
    }

    /// More lines for the `[auth]` table.
    pub fn auth(mut self, toml: &str) -> Self {
        self.auth.push_str(toml);
        self.auth.push('\n');
        self
    }

    /// Extra TOML appended to the config.
    pub fn config(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    pub fn start(self) -> anyhow::Result<Ward> {
        let dir =
            std::env::temp_dir().join(format!("ward-test-{}-{}", std::process::id(), free_port()?));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let web_port = self.web;
        std::fs::write(dir.join("app.pw"), PASSWORD)?;
        for (file, text) in &self.extra_files {
            std::fs::write(dir.join(file), text)?;
        }
        let mut web = web_port
            .map(|p| format!("web = \"127.0.0.1:{p}\"\n"))
            .unwrap_or_default();
        if let Some(p) = self.ssh {
            web.push_str(&format!("ssh = \"127.0.0.1:{p}\"\n"));
        }
        let http_port = if self.http { Some(free_port()?) } else { None };
        if let Some(p) = http_port {
            web.push_str(&format!("http = \"127.0.0.1:{p}\"\n"));
        }
        let metrics_port = if self.metrics {
            Some(free_port()?)
        } else {
            None
        };
        if let Some(p) = metrics_port {
            web.push_str(&format!("metrics = \"127.0.0.1:{p}\"\n"));
        }
        let mysql_port = if self.mysql { Some(free_port()?) } else { None };
        if let Some(p) = mysql_port {
            web.push_str(&format!("mysql = \"127.0.0.1:{p}\"\n"));
        }
        let config = format!(
            "[listen]\npostgres = \"127.0.0.1:{port}\"\n{web}\n[store]\n{}\n\n[auth]\nallow_plaintext_loopback = {}\n{}\n{}\n{}\n{}\n{}",
            self.store,
            self.plaintext_loopback,
            self.auth,
            self.recording,
            self.resources,
            self.grants,
            self.extra
        );
        let config_path = dir.join("ward.toml");
        std::fs::write(&config_path, config)?;
        let mut ward = Ward {
            bin: self.bin,
            dir,
            config: config_path,
            port,
            web_port,
            ssh_port: self.ssh,
            http_port,
            metrics_port,
            mysql_port,
            child: None,
        };
        for (name, groups) in &self.users {
            let out = ward.cli_with_input(
                &[
                    "users",
                    "add",
                    name,
                    "--groups",
                    &groups.join(","),
                    "--password-stdin",
                ],
                PASSWORD,
            )?;
            if !out.status.success() {
                bail!(
                    "ward users add failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        ward.spawn()?;
        Ok(ward)
    }
}

/// A running `ward serve`.
pub struct Ward {
    bin: PathBuf,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub port: u16,
    /// The HTTPS port, when [`WardBuilder::web`] asked for one.
    pub web_port: Option<u16>,
    /// The SSH port, when [`WardBuilder::ssh`] asked for one.
    pub ssh_port: Option<u16>,
    /// The port of HTTP resources, when [`WardBuilder::http`] asked for it.
    pub http_port: Option<u16>,
    /// The metrics port, when [`WardBuilder::metrics`] asked for one.
    pub metrics_port: Option<u16>,
    /// The MySQL port, when [`WardBuilder::mysql`] asked for one.
    pub mysql_port: Option<u16>,
    child: Option<Child>,
}

impl Ward {
    pub fn builder(bin: impl AsRef<Path>) -> WardBuilder {
        WardBuilder {
            bin: bin.as_ref().to_owned(),
            resources: String::new(),
            grants: String::new(),
            users: Vec::new(),
            extra: String::new(),
            extra_files: Vec::new(),
            recording: String::new(),
            store: "path = \"ward.db\"".to_owned(),
            plaintext_loopback: false,
            auth: String::new(),
            web: None,
            ssh: None,
            http: false,
            metrics: false,
            mysql: false,
        }
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.join("ward.log"))?;
        let child = Command::new(&self.bin)
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("WARD_LOG", "info")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting ward serve")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let up = |port| TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.port)
                && self.web_port.is_none_or(up)
                && self.ssh_port.is_none_or(up)
                && self.http_port.is_none_or(up)
                && self.metrics_port.is_none_or(up)
                && self.mysql_port.is_none_or(up)
            {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                bail!("ward serve exited with {status}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "ward serve did not listen on port {} within 30 s: {}",
            self.port,
            self.log()
        )
    }

    /// `https://127.0.0.1:PORT` of the web listener.
    pub fn web_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.web_port.unwrap_or_default())
    }

    /// A Ward token for `user`, valid an hour (`ward tokens issue`).
    pub fn token(&self, user: &str) -> String {
        let issued = success(&self.cli(&["tokens", "issue", user, "--ttl", "1h"]));
        issued
            .split_whitespace()
            .find(|w| w.starts_with("ward_t_"))
            .expect("ward tokens issue prints a token")
            .to_owned()
    }

    /// `https://127.0.0.1:PORT/RESOURCE` on the listener of HTTP resources.
    pub fn http_url(&self, resource: &str) -> String {
        format!(
            "https://127.0.0.1:{}/{resource}",
            self.http_port.unwrap_or_default()
        )
    }

    /// `http://127.0.0.1:PORT/metrics` on the metrics listener.
    pub fn metrics_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/metrics",
            self.metrics_port.unwrap_or_default()
        )
    }

    /// Ward's TLS certificate (self-signed on first start), for clients to trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("tls/cert.pem")
    }

    /// A `ward` command with no `--config` (the client commands: login, connect, tokens).
    pub fn command(&self) -> Command {
        Command::new(&self.bin)
    }

    /// What `ward serve` printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ward.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Ward's peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid().expect("pid")))
            .expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .expect("VmHWM")
    }

    /// `postgresql://USER:PASSWORD@127.0.0.1:PORT/RESOURCE?sslmode=require`.
    pub fn url(&self, user: &str, resource: &str) -> String {
        self.url_with(user, PASSWORD, resource, "require")
    }

    pub fn url_with(&self, user: &str, password: &str, resource: &str, sslmode: &str) -> String {
        let pw: String = password
            .chars()
            .map(|c| {
                if c == ' ' {
                    "%20".to_owned()
                } else {
                    c.to_string()
                }
            })
            .collect();
        format!(
            "postgresql://{user}:{pw}@127.0.0.1:{}/{resource}?sslmode={sslmode}",
            self.port
        )
    }

    /// Runs `ward ARGS --config CONFIG`.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_input(args, "")
            .unwrap_or_else(|e| panic!("running ward {args:?}: {e}"))
    }

    pub fn cli_with_input(&self, args: &[&str], input: &str) -> anyhow::Result<Output> {
        let mut child = Command::new(&self.bin)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{input}");
        }
        Ok(child.wait_with_output()?)
    }

    /// `ward sessions list --json`, oldest first.
    pub fn sessions(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["sessions", "list", "--json"]);
        assert!(
            out.status.success(),
            "sessions list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.reverse();
        v
    }

    /// `ward sessions list --live --json` with `args` added, once it lists a session `keep`
    /// accepts. A session's start is committed by the recorder shortly after its client is
    /// served, so a test that has just run a query waits for it here (10 s at most).
    pub fn live_sessions(
        &self,
        args: &[&str],
        keep: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let args: Vec<&str> = ["sessions", "list", "--live", "--json"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.cli(&args);
            assert!(
                out.status.success(),
                "sessions list --live: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let listed: Vec<serde_json::Value> =
                serde_json::from_slice(&out.stdout).unwrap_or_default();
            if listed.iter().any(&keep) {
                return listed.into_iter().filter(keep).collect();
            }
            assert!(
                Instant::now() < deadline,
                "no live session came: {listed:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The events of a session (`ward sessions show ID --json`).
    pub fn events(&self, id: &str) -> Vec<serde_json::Value> {
        let out = self.cli(&["sessions", "show", id, "--json"]);
        assert!(
            out.status.success(),
            "sessions show: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let events = v["events"].as_array().cloned().unwrap_or_default();
        // Every writer keeps to its kind's payload type (`ward_core::payload`), which the API
        // and the web UI read events with.
        for e in &events {
            let kind = e["kind"].as_str().unwrap_or_default();
            assert!(
                ward_core::payload::Payload::read(kind, &e["payload"]).is_some(),
                "event {} ({kind}) does not read as its kind's payload: {}",
                e["seq"],
                e["payload"]
            );
        }
        events
    }

    /// Waits until the session list has `n` ended sessions (the recorder commits asynchronously).
    pub fn wait_sessions(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.sessions();
            let ended = s.iter().filter(|s| !s["ended_at"].is_null()).count();
            if ended >= n || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a session matching `pred` is recorded (ended or not); the sessions then.
    pub fn wait_for_session(
        &self,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.sessions();
            if s.iter().any(&pred) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process without letting it clean up (a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops with SIGTERM and waits.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGHUP and waits for `ward serve` to say how the reload went: returns that line
    /// (`reloaded …` or `reload failed …`).
    pub fn reload(&self) -> String {
        let said = |log: &str| log.lines().filter(|l| l.starts_with("reload")).count();
        let before = said(&self.log());
        let pid = self.pid().expect("ward serve is running");
        let sent = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -HUP {pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let log = self.log();
            if said(&log) > before {
                let line = log.lines().filter(|l| l.starts_with("reload")).nth(before);
                return line.unwrap_or_default().to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("ward serve said nothing about the reload: {}", self.log())
    }

    /// Starts the process again on the same config and store.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn()
    }
}

impl Drop for Ward {
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "ward test directory kept for inspection: {}\n{}",
                self.dir.display(),
                self.log()
            );
        }
    }
}

/// The standard output of a command that must have succeeded (panics with both outputs if not).
/// The events of `kind` among `events` (as [`Ward::events`] returns them).
pub fn of_kind<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

pub fn success(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a program to completion.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

/// Runs `psql URL ARGS` with `-X -v ON_ERROR_STOP=1`.
pub fn psql(url: &str, args: &[&str]) -> Output {
    let mut all = vec![url, "-X", "-v", "ON_ERROR_STOP=1"];
    all.extend_from_slice(args);
    run("psql", &all)
}

/// A psql session kept open on `url`, reading statements from [`Psql::ask`] (unaligned, tuples
/// only), as a person at a terminal would.
pub struct Psql(Child);

impl Psql {
    pub fn open(url: &str) -> Self {
        let child = Command::new("psql")
            .arg(url)
            .args(["-X", "-q", "-A", "-t"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql");
        Self(child)
    }

    /// Sends `sql` (one statement that prints one line) and returns the line printed.
    pub fn ask(&mut self, sql: &str) -> String {
        use std::io::BufRead as _;
        let stdin = self.0.stdin.as_mut().expect("psql's stdin");
        writeln!(stdin, "{sql}").expect("typed into psql");
        let stdout = self.0.stdout.as_mut().expect("psql's stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("psql answers");
        line.trim().to_owned()
    }

    /// Sends `sql` and closes psql's input; returns what psql printed on standard error.
    pub fn finish(mut self, sql: &str) -> String {
        if let Some(stdin) = self.0.stdin.as_mut() {
            let _ = writeln!(stdin, "{sql}");
        }
        drop(self.0.stdin.take());
        let out = self.0.wait_with_output().expect("psql ends");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}
