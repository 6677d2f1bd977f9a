//! `ward demo`: a throwaway PostgreSQL with a small `shop` database (and, where they are
//! installed, the same data in a throwaway MariaDB, an sshd and a stand-in AI model), Ward in
//! front of them with a SQLite store in `./ward-data`, local users, and the exact commands to
//! connect.

use std::path::Path;

use anyhow::Context;
use ward_config::Config;

use ward_core::fs::write_private;
use ward_local::pgcluster::{ClusterOptions, PgCluster, free_port};

pub mod lifecycle;
mod mariadb;

const SEED: &str = r#"
CREATE TABLE customers (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    card_number text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id          serial PRIMARY KEY,
    customer_id int NOT NULL REFERENCES customers (id),
    amount      numeric(10, 2) NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (name, email, card_number) VALUES
    ('Ada Lovelace',      'ada@example.com',      '4111 1111 1111 1111'),
    ('Alan Turing',       'alan@example.com',     '5555 5555 5555 4444'),
    ('Grace Hopper',      'grace@example.com',    '3782 822463 10005'),
    ('Edsger Dijkstra',   'edsger@example.com',   '6011 1111 1111 1117'),
    ('Barbara Liskov',    'barbara@example.com',  '4012 8888 8888 1881'),
    ('Donald Knuth',      'don@example.com',      '5105 1051 0510 5100'),
    ('Margaret Hamilton', 'margaret@example.com', '4222 2222 2222 2'),
    ('Ken Thompson',      'ken@example.com',      '3714 496353 98431');
INSERT INTO orders (customer_id, amount, status)
SELECT 1 + (i % 8), round((random() * 200)::numeric, 2), (ARRAY['paid', 'shipped', 'refunded'])[1 + i % 3]
FROM generate_series(1, 40) AS i;
"#;

/// Random letters and digits, safe in a URL.
pub fn random_token(bytes: usize) -> anyhow::Result<String> {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(raw))
}

/// The listeners' ports; each left out is its usual port when free, else any free one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ports {
    pub postgres: Option<u16>,
    pub mysql: Option<u16>,
    pub web: Option<u16>,
    pub ssh: Option<u16>,
    pub http: Option<u16>,
}

fn port_or_free(usual: u16) -> anyhow::Result<u16> {
    match std::net::TcpListener::bind(("127.0.0.1", usual)) {
        Ok(_) => Ok(usual),
        Err(_) => free_port(),
    }
}

/// Starts everything, prints how to connect, and runs until Ctrl-C, SIGTERM or SIGHUP.
///
/// Nothing it starts outlives it: PostgreSQL, MariaDB, sshd and the model stand-in are its
/// children and end with it however it ends ([`ward_local::child`]); a second demo on the same
/// directory is refused while one runs, and a demo finds and stops what an earlier one left
/// behind ([`lifecycle`]).
pub async fn run(dir: &Path, ports: Ports) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let _lock = lifecycle::DemoLock::take(&dir)?;
    lifecycle::stop_leftovers(&dir);
    show("Starting throwaway PostgreSQL and MariaDB servers…\n")?;
    // On this (the main) thread, not a pooled one: the cluster ends when this thread does.
    let cluster = PgCluster::start(&ClusterOptions::default())?;
    let app_password = random_token(12)?;
    cluster.psql("postgres", "CREATE DATABASE shop")?;
    cluster.psql("shop", SEED)?;
    cluster.psql(
        "shop",
        &format!(
            "CREATE ROLE ward_app LOGIN PASSWORD '{app_password}';
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ward_app;
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ward_app;"
        ),
    )?;

    write_private(&dir.join("shop.pw"), app_password.as_bytes())?;
    let port = ports.postgres.map_or_else(|| port_or_free(6432), Ok)?;
    let web_port = ports.web.map_or_else(|| port_or_free(8443), Ok)?;
    // With MariaDB installed, the same shop in a throwaway one is the second resource, for MySQL
    // clients. Started on this thread too, for the same reason.
    let (mariadbd, no_mariadb) = match mariadb::start(&dir) {
        Ok(server) => (Some(server), String::new()),
        Err(e) => (None, format!("(no MySQL resource: {e:#})\n")),
    };
    // With OpenSSH's sshd installed, a throwaway one is the next resource: it lets Ward's
    // client key (made now, before Ward starts) log in as whoever runs the demo.
    let (sshd, no_sshd) = match demo_sshd(&dir) {
        Ok(sshd) => (Some(sshd), String::new()),
        Err(e) => (None, format!("(no SSH resource: {e:#})\n")),
    };
    // With Node.js, a stand-in AI model provider is the last: an assistant whose
    // conversations Ward records.
    let model_key = random_token(16)?;
    let (model, no_model) = match ward_local::model::ModelPeer::start(&model_key) {
        Ok(model) => (Some(model), String::new()),
        Err(e) => (None, format!("(no assistant resource: {e:#})\n")),
    };
    lifecycle::record_children(
        &dir,
        &cluster,
        mariadbd.as_ref(),
        sshd.as_ref(),
        model.as_ref(),
    )?;
    let mysql_port = ports.mysql.map_or_else(|| port_or_free(3307), Ok)?;
    let ssh_port = ports.ssh.map_or_else(|| port_or_free(2222), Ok)?;
    let ssh_listen = match &sshd {
        Some(_) => format!("ssh = \"127.0.0.1:{ssh_port}\"        # OpenSSH clients"),
        None => String::new(),
    };
    let http_port = ports.http.map_or_else(|| port_or_free(8444), Ok)?;
    let mut listen = ssh_listen;
    if mariadbd.is_some() {
        listen.push_str(&format!(
            "\nmysql = \"127.0.0.1:{mysql_port}\"      # MySQL and MariaDB clients (TLS)"
        ));
    }
    if model.is_some() {
        listen.push_str(&format!(
            "\nhttp = \"127.0.0.1:{http_port}\"       # HTTP resources (HTTPS): the assistant"
        ));
    }
    let mut text = demo_config(port, web_port, &listen, &cluster.address());
    if let Some(server) = &mariadbd {
        text.push_str(&mariadb::config(&server.address()));
    }
    if let Some(sshd) = &sshd {
        text.push_str(&demo_ssh_config(ssh_port, sshd)?);
    }
    if let Some(model) = &model {
        write_private(&dir.join("assistant.key"), model_key.as_bytes())?;
        text.push_str(&demo_assistant_config(&model.address));
    }
    let config_path = dir.join("ward.toml");
    std::fs::write(&config_path, text)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let config = Config::load(&config_path)?;

    let password = random_token(9)?;
    let support_password = random_token(9)?;
    let auditor_password = random_token(9)?;
    let agent_key = {
        let mut store = crate::serve::open_store(&config)?;
        for (user, group, password) in [
            ("demo", "dev", &password),
            ("support", "support", &support_password),
            ("auditor", "auditors", &auditor_password),
        ] {
            store.put_user(
                user,
                &[group.to_owned()],
                &ward_auth::users::hash_password(password)?,
            )?;
        }
        let new = ward_store::credentials::NewCredential {
            kind: ward_store::credentials::CredentialKind::ServiceAccount,
            subject: "demo-agent".into(),
            groups: vec!["dev".into()],
            issuer: "local".into(),
            method: "admin".into(),
            expires_at: None,
            key: None,
        };
        let agent_key = store.issue_credential(&new)?.1;
        // The demo user's Ward token, as `ward login` would give it: the assistant's API key.
        let token = ward_store::credentials::NewCredential {
            kind: ward_store::credentials::CredentialKind::Token,
            subject: "demo".into(),
            groups: vec!["dev".into()],
            issuer: "local".into(),
            method: "admin".into(),
            expires_at: Some(ward_core::Timestamp(
                ward_core::Timestamp::now().0 + 8 * 3_600_000_000_000,
            )),
            key: None,
        };
        (agent_key, store.issue_credential(&token)?.1)
    };
    let (agent_key, demo_token) = agent_key;
    let mut signals = crate::serve::Signals::catch();
    let running = crate::serve::start(config).await?;
    let cfg = config_path.display();
    let ward = program();
    let ca = dir.join("tls/cert.pem");
    let mut banner = no_mariadb + &no_sshd + &no_model;
    let mut line = |text: String| {
        banner.push_str(&text);
        banner.push('\n');
    };
    line(String::new());
    line(format!(
        "Ward is running (demo). TLS fingerprint {}",
        running.fingerprint
    ));
    line(format!(
        "  PostgreSQL upstream: {} (database shop, throwaway)",
        cluster.address()
    ));
    if let Some(server) = &mariadbd {
        line(format!(
            "  MariaDB upstream: {} (database shop, throwaway)",
            server.address()
        ));
    }
    line(format!("  Ward store, config and log: {}", dir.display()));
    line(String::new());
    line("Connect through Ward (user demo, resource shop):".into());
    line(format!(
        "  psql \"postgresql://demo:{password}@127.0.0.1:{port}/shop?sslmode=require\""
    ));
    line(String::new());
    let mysql = mariadbd.as_ref().and(running.mysql);
    if let Some(mysql) = mysql {
        line(format!(
            "The same shop in a throwaway MariaDB (resource {}):",
            mariadb::RESOURCE
        ));
        line(format!(
            "  {}",
            mariadb::client_line("demo", &password, mysql.port(), &ca)
        ));
        line(String::new());
    }
    line("The same data as user support, whose grant masks what the client sees:".into());
    line(format!(
        "  psql \"postgresql://support:{support_password}@127.0.0.1:{port}/shop?sslmode=require\""
    ));
    if let Some(mysql) = mysql {
        line(format!(
            "  {}",
            mariadb::client_line("support", &support_password, mysql.port(), &ca)
        ));
    }
    line(String::new());
    if let (Some(sshd), Some(ssh)) = (&sshd, running.ssh) {
        line(format!(
            "SSH through Ward to a throwaway sshd (resource box, {}; password {password}):",
            sshd.address()
        ));
        line(format!("  ssh -p {} demo:box@127.0.0.1", ssh.port()));
        if let Some((fingerprint, _)) = &running.ssh_keys {
            line(format!("  (Ward's host key: {fingerprint})"));
        }
        line(String::new());
    }
    if let (Some(_), Some(http)) = (&model, running.http) {
        line(
            "An AI assistant through Ward (resource assistant, a stand-in model; OpenAI's API):"
                .into(),
        );
        line(format!(
            "  curl --cacert {} -H 'Authorization: Bearer {demo_token}' https://127.0.0.1:{}/assistant/v1/chat/completions -d '{{\"model\":\"demo\",\"messages\":[{{\"role\":\"user\",\"content\":\"propose sql for the open orders\"}}]}}'",
            ca.display(),
            http.port()
        ));
        line(format!(
            "  (OpenAI SDKs: base_url https://127.0.0.1:{}/assistant/v1, api_key the token above)",
            http.port()
        ));
        line(format!(
            "  then: {ward} activity demo --config {cfg}   (the conversation next to what ran)"
        ));
        line(String::new());
    }
    line("Find and read every session in the web UI (self-signed certificate):".into());
    line(format!(
        "  https://127.0.0.1:{web_port}   user auditor, password {auditor_password}"
    ));
    line("  (demo and support sign in there too, and see only their own sessions)".into());
    line(String::new());
    line("AI agents (MCP, Streamable HTTP) as service account demo-agent:".into());
    line(format!(
        "  endpoint https://127.0.0.1:{web_port}/mcp   key {agent_key}"
    ));
    line("  stdio, for local agents:".into());
    line(format!(
        "  WARD_MCP_KEY={agent_key} {ward} mcp --server https://127.0.0.1:{web_port} --ca-cert {}",
        ca.display()
    ));
    line(String::new());
    line("Then, in another terminal:".into());
    line(format!("  {ward} sessions list --config {cfg}"));
    line(format!("  {ward} replay <SESSION-ID> --config {cfg}"));
    line(format!("  {ward} verify --config {cfg}"));
    line(String::new());
    line(format!(
        "Ctrl-C stops Ward and the servers it started; the recordings stay in {}.",
        dir.display()
    ));
    let shown = show(&banner);
    if shown.is_ok() {
        lifecycle::failpoint();
        // Any of them stops the demo: SIGHUP means its terminal closed.
        signals.next().await;
        // Whoever reads stdout may be gone already (Ctrl-C reaches a `| tee` too).
        let _ = show("stopping…\n");
    }
    running.shutdown().await;
    drop(cluster);
    drop(mariadbd);
    drop(sshd);
    drop(model);
    lifecycle::forget_children(&dir);
    shown.context("stdout was closed before the demo could say how to connect; stopped")
}

/// How to run this `ward` from the demo's terminal: `ward` when that is what PATH finds, else
/// the binary's path (`./x demo` runs it from cargo's target directory).
fn program() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "ward".into();
    };
    let on_path = ward_local::pgcluster::which("ward")
        .and_then(|p| p.canonicalize().ok())
        .is_some_and(|p| p == exe);
    if on_path {
        return "ward".into();
    }
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            exe.strip_prefix(cwd)
                .ok()
                .map(|rel| Path::new(".").join(rel))
        })
        .unwrap_or_else(|| exe.clone());
    shown.display().to_string()
}

/// Writes to stdout, with an error (not a panic, as `print!` would) when nobody reads it.
fn show(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// A throwaway `sshd` that lets Ward's client key in.
fn demo_sshd(dir: &Path) -> anyhow::Result<ward_local::sshd::Sshd> {
    let mut sshd = ward_local::sshd::Sshd::prepare()?;
    let key = dir.join("ssh_client_key");
    ward_ssh::keys::load_or_create(&key, "ward")?;
    sshd.start(&key.with_extension("pub"))?;
    Ok(sshd)
}

/// The SSH listener, the `box` resource (the demo's sshd, logging in as whoever runs the
/// demo), and its grant.
fn demo_ssh_config(ssh_port: u16, sshd: &ward_local::sshd::Sshd) -> anyhow::Result<String> {
    let user = std::process::Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .context("who runs the demo (id -un)")?;
    Ok(format!(
        r#"
# The demo's SSH resource: a throwaway OpenSSH sshd (ssh -p {ssh_port} demo:box@127.0.0.1).
[[resources]]
name = "box"
kind = "ssh"
address = "{address}"
user = "{user}"
host_key = "{host_key}"

[[grants]]
group = "dev"
resources = ["box"]
ssh_env = ["LANG", "LC_*"]
"#,
        address = sshd.address(),
        host_key = sshd.host_key,
    ))
}

/// The `assistant` resource (the demo's model stand-in, speaking OpenAI's API) and its grant.
fn demo_assistant_config(address: &str) -> String {
    format!(
        r#"
# The demo's AI assistant: a stand-in model provider behind Ward's HTTP listener.
[[resources]]
name = "assistant"
kind = "http"
url = "http://{address}"
api = "openai"
credential = "bearer"
password_file = "assistant.key"   # the provider's key: users never see it

[[grants]]
group = "dev"
resources = ["assistant"]
"#
    )
}

fn demo_config(port: u16, web_port: u16, ssh_listen: &str, upstream: &str) -> String {
    format!(
        r#"# Written by `ward demo`. Every ward command reads it: --config {{this file}}.

[listen]
postgres = "127.0.0.1:{port}"
web = "127.0.0.1:{web_port}"   # the web UI and API (HTTPS)
{ssh_listen}

[store]
path = "ward.db"            # relative to this file

[tls]
cert = "tls/cert.pem"       # generated, self-signed, on first start
key = "tls/key.pem"

[auth]
allow_plaintext_loopback = true   # demo only: psql on this machine may skip TLS

[[resources]]
name = "shop"
kind = "postgres"
address = "{upstream}"
database = "shop"
user = "ward_app"
password_file = "shop.pw"

[[grants]]
group = "dev"
resources = ["shop"]

# Members of support see card numbers and e-mail addresses masked, not only in the record.
[[grants]]
group = "support"
resources = ["shop"]
mask_client = true

[masking]
replacements = {{ card = "partial" }}   # **** **** **** 1111
"#
    )
}
