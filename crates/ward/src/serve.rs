//! `ward serve`: open the store, start the recorder and the listeners, reload the
//! configuration on SIGHUP, stop cleanly on SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use ward_admit::{Control, Live, Runtime, Termination};
use ward_config::Config;
use ward_mask::{Masking, TokenKey};
use ward_pg::upstream::Compiled;
use ward_store::{KeySource, Location, Recorder, RecorderOptions, Store, StoreTls};

use ward_auth::credentials::Credentials;

/// A running gateway: its bound addresses and the handle that stops it.
pub struct Running {
    pub postgres: Option<std::net::SocketAddr>,
    pub mysql: Option<std::net::SocketAddr>,
    pub ssh: Option<std::net::SocketAddr>,
    /// The SSH host key's fingerprint, and where Ward's SSH client key's public half is.
    pub ssh_keys: Option<(String, std::path::PathBuf)>,
    pub web: Option<std::net::SocketAddr>,
    /// The listener of HTTP resources.
    pub http: Option<std::net::SocketAddr>,
    /// The metrics listener (plain HTTP).
    pub metrics: Option<std::net::SocketAddr>,
    pub fingerprint: String,
    stop: watch::Sender<bool>,
    recorder: Recorder,
    recorder_thread: std::thread::JoinHandle<()>,
    gateways: Vec<Arc<ward_pg::Gateway>>,
    mysql_gateway: Option<Arc<ward_mysql::Gateway>>,
    http_gateway: Option<Arc<ward_http::Gateway>>,
    web_state: Option<Arc<ward_web::Web>>,
    /// The configuration in force, and where each gateway reads what it was compiled into.
    config: Arc<Config>,
    compiled: Arc<Live<Compiled>>,
    mysql_compiled: Arc<Live<ward_mysql::upstream::Compiled>>,
    runtime: Arc<Live<Runtime>>,
    control: Arc<Control>,
    /// Ward holds SSH keys to log in to hosts (there is an SSH listener or SSH resource).
    ssh_login: bool,
}

/// Compiles `config` into what the gateways work from.
fn compile(
    config: &Arc<Config>,
    recorder: &Recorder,
    control: &Arc<Control>,
) -> anyhow::Result<(Arc<Runtime>, Compiled, ward_mysql::upstream::Compiled)> {
    let source = config.source.display().to_string();
    let masking = masking(config)?;
    config.check_record_profiles(&masking)?;
    let runtime = Runtime::new(config.clone(), masking, recorder.clone(), control.clone())
        .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    let runtime = Arc::new(runtime);
    let compiled = Compiled::new(runtime.clone()).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    let mysql = ward_mysql::upstream::Compiled::new(runtime.clone())
        .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    Ok((runtime, compiled, mysql))
}

/// Starts every configured listener.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let config = Arc::new(config);
    let masking = masking(&config)?;
    let location = store_location(&config)?;
    let options = RecorderOptions {
        queue_events: config.recording.queue_events,
        masker: masking.default_profile().clone(),
        durability: config.store.durability,
        signing_key: key_source(&config),
        checkpoint_interval: config.evidence.checkpoint_interval.0,
        node: node_name(&config),
        notify: crate::webhooks::start(&config, &location)?,
    };
    let (recorder, recorder_thread) = tokio::task::block_in_place(|| {
        Recorder::spawn(&location, options).context("opening the audit store")
    })?;
    let source = config.source.display().to_string();
    let control = Arc::new(Control::default());
    // Disabled users are refused from the first connection on.
    let mut control_store = crate::control::ControlStore::new(location.clone());
    tokio::task::block_in_place(|| control_store.read(&control, None))?;
    let (runtime, compiled, mysql_compiled) = compile(&config, &recorder, &control)?;
    let compiled = Arc::new(Live::new(Arc::new(compiled)));
    let mysql_compiled = Arc::new(Live::new(Arc::new(mysql_compiled)));
    let runtime = Arc::new(Live::new(runtime));
    let (tls, fingerprint) = crate::tls::server_config(&config.tls)?;
    let oidc = Arc::new(
        ward_auth::Oidc::new(&config.auth.oidc)
            .map_err(|e| anyhow::anyhow!("{}: auth.oidc: {e}", config.source.display()))?,
    );
    let authenticator = Arc::new(tokio::task::block_in_place(|| {
        Credentials::open(&location, oidc.clone())
    })?);
    let (stop, stopped) = watch::channel(false);
    crate::siem::start(&config, &location, &node_name(&config), &stopped)?;
    tokio::spawn(control_store.watch(control.clone(), runtime.clone(), stopped.clone()));
    let mut gateways = Vec::new();
    let mut postgres = None;
    if let Some(addr) = config.listen.postgres {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for PostgreSQL on {addr}"))?;
        let gw = Arc::new(ward_pg::Gateway::new(
            compiled.clone(),
            tls.clone(),
            authenticator.clone(),
            stopped.clone(),
        ));
        postgres = Some(listener.local_addr()?);
        tokio::spawn(gw.clone().serve(listener));
        gateways.push(gw);
    }
    let (mut mysql, mut mysql_gateway) = (None, None);
    if let Some(addr) = config.listen.mysql {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for MySQL on {addr}"))?;
        let gw = Arc::new(ward_mysql::Gateway::new(
            mysql_compiled.clone(),
            tls.clone(),
            authenticator.clone(),
            stopped.clone(),
        ));
        mysql = Some(listener.local_addr()?);
        tokio::spawn(gw.clone().serve(listener));
        mysql_gateway = Some(gw);
    }
    // How Ward logs in to hosts: for the SSH listener, and for agents' `exec` on SSH resources.
    let has_ssh_resources = config
        .resources
        .iter()
        .any(|r| r.kind == ward_config::ResourceKind::Ssh);
    let ssh_login = if config.listen.ssh.is_some() || has_ssh_resources {
        Some(ward_ssh::HostLogin {
            key: Arc::new(SshKey::Client.load(&config)?),
            ca: Arc::new(SshKey::UpstreamCa.load(&config)?),
            store: authenticator.store(),
        })
    } else {
        None
    };
    let ssh_user_ca = if config.listen.ssh.is_some() {
        Some(Arc::new(SshKey::UserCa.load(&config)?))
    } else {
        None
    };
    let (mut ssh, mut ssh_keys, mut ssh_host_key) = (None, None, None);
    if let (Some(addr), Some(login), Some(user_ca)) =
        (config.listen.ssh, ssh_login.clone(), ssh_user_ca.clone())
    {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for SSH on {addr}"))?;
        let host_key = SshKey::Host.load(&config)?;
        ssh_host_key = Some(host_key.public_key().to_openssh()?);
        ssh_keys = Some((
            ward_ssh::keys::fingerprint(host_key.public_key()),
            SshKey::Client.path(&config).with_extension("pub"),
        ));
        let keys = ward_ssh::Keys {
            host: host_key,
            login,
            user_ca: user_ca.public_key().clone(),
        };
        let gw = ward_ssh::Gateway::new(
            runtime.clone(),
            authenticator.clone(),
            keys,
            stopped.clone(),
        )
        .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        ssh = Some(listener.local_addr()?);
        tokio::spawn(Arc::new(gw).serve(listener));
    }
    let (mut http, mut http_gateway) = (None, None);
    if let Some(addr) = config.listen.http {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for HTTP resources on {addr}"))?;
        let gw = Arc::new(ward_http::Gateway::new(
            runtime.clone(),
            authenticator.clone(),
            tls.clone(),
            stopped.clone(),
        ));
        http = Some(listener.local_addr()?);
        tokio::spawn(gw.clone().serve(listener));
        http_gateway = Some(gw);
    }
    let mut metrics = None;
    if let Some(addr) = config.listen.metrics {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for metrics on {addr}"))?;
        metrics = Some(listener.local_addr()?);
        tokio::spawn(ward_web::metrics::serve(
            listener,
            (&recorder, location.clone()),
            stopped.clone(),
        ));
    }
    let mut web = None;
    let mut web_state = None;
    if let Some(addr) = config.listen.web {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for HTTPS on {addr}"))?;
        let bound = listener.local_addr()?;
        let store = tokio::task::block_in_place(|| Store::open(&location))?;
        let parts = ward_web::Parts {
            live: compiled.clone(),
            credentials: authenticator.clone(),
            oidc: oidc.clone(),
            store,
            location: location.clone(),
            postgres,
            mysql,
            ssh_login: ssh_login.clone(),
            ssh_user_ca: ssh_user_ca.clone(),
            ssh: ssh.zip(ssh_host_key),
            http,
        };
        let state = Arc::new(ward_web::Web::new(parts, bound)?);
        web_state = Some(state.clone());
        tokio::spawn(ward_web::serve(
            state,
            listener,
            tls.clone(),
            stopped.clone(),
        ));
        web = Some(bound);
    }
    Ok(Running {
        postgres,
        mysql,
        ssh,
        ssh_keys,
        web,
        http,
        metrics,
        fingerprint,
        stop,
        recorder,
        recorder_thread,
        gateways,
        mysql_gateway,
        http_gateway,
        web_state,
        ssh_login: ssh_login.is_some(),
        config,
        compiled,
        mysql_compiled,
        runtime,
        control,
    })
}

/// The sections of the configuration a reload cannot change: what the listeners, the store,
/// the recorder and the sign-in flows were built with at start.
fn fixed_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    let changed = [
        ("[listen]", old.listen != new.listen),
        ("[store]", old.store != new.store),
        ("[tls]", old.tls != new.tls),
        ("[auth]", old.auth != new.auth),
        ("[web]", old.web != new.web),
        ("[recording]", old.recording != new.recording),
        ("[retention]", old.retention != new.retention),
        ("[evidence]", old.evidence != new.evidence),
        ("[[webhooks]]", old.webhooks != new.webhooks),
        ("[[siem]]", old.siem != new.siem),
    ];
    changed
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
}

impl Running {
    /// Reads the configuration file again and puts its resources, grants, guardrails and
    /// masking in force for every session that starts from now on; sessions already open keep
    /// what they were admitted with. Nothing changes unless the whole file is valid and changes
    /// only those: other sections need a restart. Returns what is in force.
    pub fn reload(&mut self) -> anyhow::Result<String> {
        let source = self.config.source.clone();
        let config = Config::load(&source)?;
        let mut fixed = fixed_sections(&self.config, &config);
        let has_ssh = config
            .resources
            .iter()
            .any(|r| r.kind == ward_config::ResourceKind::Ssh);
        if has_ssh && !self.ssh_login {
            fixed.push("the first SSH resource");
        }
        if !fixed.is_empty() {
            anyhow::bail!(
                "{}: {} changed, which only a restart applies",
                source.display(),
                fixed.join(", ")
            );
        }
        let config = Arc::new(config);
        let (runtime, compiled, mysql) = compile(&config, &self.recorder, &self.control)?;
        self.compiled.replace(Arc::new(compiled));
        self.mysql_compiled.replace(Arc::new(mysql));
        self.runtime.replace(runtime);
        // Open sessions keep their admission, unless the new file no longer grants it.
        let ended = self.control.terminate(|open| {
            let (identity, resource) = (&open.identity, &open.resource);
            (!crate::control::still_granted(&config, open, &identity.groups)).then(|| Termination {
                by: "a configuration reload".into(),
                reason: format!(
                    "no grant lets {} reach resource \"{resource}\" any more",
                    identity.subject
                ),
            })
        });
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let summary = format!(
            "{}, {}, {}; {} ended",
            count(config.resources.len(), "resource"),
            count(config.grants.len(), "grant"),
            count(config.guardrails.len(), "guardrail"),
            count(ended, "open session")
        );
        self.config = config;
        Ok(summary)
    }

    /// Stops accepting, ends open sessions (recorded), and waits until every event is written.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for _ in 0..100 {
            if self.gateways.iter().all(|g| g.active_sessions() == 0)
                && self
                    .mysql_gateway
                    .as_ref()
                    .is_none_or(|g| g.active_sessions() == 0)
                && self
                    .http_gateway
                    .as_ref()
                    .is_none_or(|g| g.active_connections() == 0)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(web) = &self.web_state {
            web.shutdown().await;
        }
        // Everything written, and live heads signed (sessions that did not end in time too).
        self.recorder.checkpoint().await;
        drop(self.recorder);
        drop(self.gateways);
        let _ = self.recorder_thread;
    }
}

/// Ward's SSH keys, kept next to the store and made on first use.
#[derive(Debug, Clone, Copy)]
pub enum SshKey {
    /// Ward logs in to hosts with it (its public half goes in their `authorized_keys`).
    Client,
    /// Signs the per-session certificates Ward logs in to hosts with (`login = "certificate"`).
    UpstreamCa,
    /// Signs people's certificates (`ward connect ssh`).
    UserCa,
    /// The SSH listener's host key.
    Host,
}

impl SshKey {
    pub const ALL: [SshKey; 4] = [Self::Client, Self::UpstreamCa, Self::UserCa, Self::Host];

    /// Its file, and the comment a new key gets.
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Self::Client => ("ssh_client_key", "ward"),
            Self::UpstreamCa => ("ssh_upstream_ca", "ward upstream CA"),
            Self::UserCa => ("ssh_user_ca", "ward user CA"),
            Self::Host => ("ssh_host_key", "ward host key"),
        }
    }

    pub fn path(self, config: &Config) -> std::path::PathBuf {
        config.store.path.with_file_name(self.file().0)
    }

    /// The key, made (with its `.pub` file) when missing.
    pub fn load(self, config: &Config) -> anyhow::Result<ward_ssh::SshKey> {
        Ok(ward_ssh::keys::load_or_create(
            &self.path(config),
            self.file().1,
        )?)
    }
}

/// The maskers every recorded payload goes through: the `[masking]` rules, with keyed tokens
/// derived from a secret kept next to the store (`mask.key`, created on first start, mode 0600).
pub fn masking(config: &Config) -> anyhow::Result<Masking> {
    let key_path = config.store.path.with_file_name("mask.key");
    if !key_path.exists() {
        ward_core::fs::write_private(&key_path, crate::demo::random_token(32)?.as_bytes())?;
    }
    let key =
        std::fs::read(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
    config
        .masking
        .compile(Some(&TokenKey::new(&key)))
        .map_err(|e| anyhow::anyhow!("{}: masking: {e}", config.source.display()))
}

/// Where the audit store is (`[store]`): the PostgreSQL URL when one is configured, else the
/// SQLite file.
pub fn store_location(config: &Config) -> anyhow::Result<Location> {
    let url = match (&config.store.url, &config.store.url_env) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(var)) => Some(std::env::var(var).with_context(|| {
            format!(
                "{}: store.url_env: environment variable {var} is not set",
                config.source.display()
            )
        })?),
        (None, None) => None,
    };
    Ok(match url {
        Some(url) => Location::Postgres(url, store_tls(config)?),
        None => Location::Sqlite(config.store.path.clone()),
    })
}

/// TLS to the PostgreSQL store (`[store] tls`, `ca_file`, `server_name`), when it is on.
pub fn store_tls(config: &Config) -> anyhow::Result<Option<StoreTls>> {
    let store = &config.store;
    let client = ward_config::tls::client_config(store.tls, store.ca_file.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: store.ca_file: {e}", config.source.display()))?;
    Ok(client.map(|c| StoreTls {
        config: Arc::new(c),
        server_name: store.server_name.clone(),
    }))
}

/// This process's name in a shared store (`[store] node`, else host name and listen address).
pub fn node_name(config: &Config) -> String {
    if let Some(n) = &config.store.node {
        return n.clone();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    match config.listen.postgres {
        Some(addr) => format!("{host}/{addr}"),
        None => host,
    }
}

/// Opens the store for a command.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open(&store_location(config)?)?)
}

/// Where the checkpoint signing key comes from (`[evidence]`).
pub fn key_source(config: &Config) -> KeySource {
    match (
        &config.evidence.signing_key_env,
        &config.evidence.signing_key,
    ) {
        (Some(var), _) => KeySource::Env(var.clone()),
        (None, Some(path)) => KeySource::File(path.clone()),
        (None, None) => KeySource::File(config.store.path.with_file_name("signing.key")),
    }
}

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP, caught from the moment this is made, where their
/// default action would end Ward without its last events. Make it before saying that Ward is
/// ready, so that no signal sent on that word finds Ward without its handlers.
pub struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

/// A signal caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caught {
    /// SIGINT or SIGTERM.
    Stop,
    /// SIGHUP: `ward serve` reloads its configuration; `ward demo` (whose terminal closed) stops.
    Hangup,
}

impl Signals {
    pub fn catch() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            hangup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Waits for the next signal.
    pub async fn next(&mut self) -> Caught {
        async fn next(stream: &mut Option<tokio::signal::unix::Signal>) {
            match stream {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.interrupt) => Caught::Stop,
            _ = next(&mut self.terminate) => Caught::Stop,
            _ = next(&mut self.hangup) => Caught::Hangup,
        }
    }
}

/// `ward serve --config FILE`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let source = config.source.clone();
    let mut signals = Signals::catch();
    let mut running = start(config).await?;
    println!("ward {} serving with {}", crate::VERSION, source.display());
    println!("TLS certificate fingerprint: {}", running.fingerprint);
    if let Some(addr) = running.postgres {
        println!("PostgreSQL listener on {addr}");
    }
    if let Some(addr) = running.ssh {
        println!("SSH listener on {addr}");
    }
    if let Some((fingerprint, client)) = &running.ssh_keys {
        println!("SSH host key fingerprint: {fingerprint}");
        println!(
            "Ward logs in to SSH hosts with the key in {} (add it to their authorized_keys)",
            client.display()
        );
    }
    if let Some(addr) = running.web {
        println!("HTTPS listener on {addr}");
    }
    if let Some(addr) = running.http {
        println!("HTTP resources listener on {addr} (https://{addr}/RESOURCE/)");
    }
    if let Some(addr) = running.metrics {
        println!("metrics listener on {addr} (http://{addr}/metrics)");
    }
    let files = crate::reload::Files::of(&running.config);
    if let Err(e) = files.claim() {
        tracing::warn!(error = %format!("{e:#}"), "`ward reload` cannot reach this process (SIGHUP still reloads); set WARD_RUN_DIR to a writable directory");
    }
    let mut generation = 0;
    while signals.next().await == Caught::Hangup {
        let reloaded = tokio::task::block_in_place(|| running.reload());
        match &reloaded {
            Ok(summary) => println!("reloaded {}: {summary}", source.display()),
            Err(e) => println!("reload failed, the configuration in force is unchanged: {e:#}"),
        }
        generation += 1;
        files.report(generation, &reloaded);
    }
    println!("shutting down");
    running.shutdown().await;
    files.release();
    Ok(())
}
