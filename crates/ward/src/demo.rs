//! `ward demo`: a throwaway PostgreSQL with a small `shop` database, Ward in front of it with a
//! SQLite store in `./ward-data`, a local user, and the exact command to connect.

use std::path::Path;

use anyhow::Context;
use ward_core::config::Config;

use crate::pgcluster::{ClusterOptions, PgCluster, free_port};
use ward_core::fs::write_private;

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

/// Starts everything, prints how to connect, and runs until Ctrl-C or SIGTERM.
pub async fn run(dir: &Path, port: Option<u16>) -> anyhow::Result<()> {
    println!("Starting a throwaway PostgreSQL cluster…");
    let cluster =
        tokio::task::spawn_blocking(|| PgCluster::start(&ClusterOptions::default())).await??;
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

    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    write_private(&dir.join("shop.pw"), app_password.as_bytes())?;
    let port = match port {
        Some(p) => p,
        None if std::net::TcpListener::bind("127.0.0.1:6432").is_ok() => 6432,
        None => free_port()?,
    };
    let web_port = match std::net::TcpListener::bind("127.0.0.1:8443") {
        Ok(_) => 8443,
        Err(_) => free_port()?,
    };
    // With OpenSSH's sshd installed, a throwaway one is the second resource: it lets Ward's
    // client key (made now, before Ward starts) log in as whoever runs the demo.
    let sshd = match demo_sshd(&dir) {
        Ok(sshd) => Some(sshd),
        Err(e) => {
            println!("(no SSH resource: {e:#})");
            None
        }
    };
    let ssh_port = match std::net::TcpListener::bind("127.0.0.1:2222") {
        Ok(_) => 2222,
        Err(_) => free_port()?,
    };
    let ssh_listen = match &sshd {
        Some(_) => format!("ssh = \"127.0.0.1:{ssh_port}\"        # OpenSSH clients"),
        None => String::new(),
    };
    let mut text = demo_config(port, web_port, &ssh_listen, &cluster.address());
    if let Some(sshd) = &sshd {
        text.push_str(&demo_ssh_config(ssh_port, sshd)?);
    }
    let config_path = dir.join("ward.toml");
    std::fs::write(&config_path, text)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let config = Config::load(&config_path)?;

    let password = random_token(9)?;
    let support_password = random_token(9)?;
    let auditor_password = random_token(9)?;
    {
        let mut store = crate::serve::open_store(&config)?;
        store.put_user(
            "demo",
            &["dev".to_owned()],
            &crate::users::hash_password(&password)?,
        )?;
        store.put_user(
            "support",
            &["support".to_owned()],
            &crate::users::hash_password(&support_password)?,
        )?;
        store.put_user(
            "auditor",
            &["auditors".to_owned()],
            &crate::users::hash_password(&auditor_password)?,
        )?;
    }
    let agent_key = {
        let mut store = crate::serve::open_store(&config)?;
        let new = ward_audit::credentials::NewCredential {
            kind: ward_audit::credentials::CredentialKind::ServiceAccount,
            subject: "demo-agent".into(),
            groups: vec!["dev".into()],
            issuer: "local".into(),
            method: "admin".into(),
            expires_at: None,
        };
        store.issue_credential(&new)?.1
    };
    let running = crate::serve::start(config).await?;
    let cfg = config_path.display();
    println!();
    println!(
        "Ward is running (demo). TLS fingerprint {}",
        running.fingerprint
    );
    println!(
        "  PostgreSQL upstream: {} (database shop, throwaway)",
        cluster.address()
    );
    println!("  Ward store and config: {}", dir.display());
    println!();
    println!("Connect through Ward (user demo, resource shop):");
    println!("  psql \"postgresql://demo:{password}@127.0.0.1:{port}/shop?sslmode=require\"");
    println!();
    println!("The same data as user support, whose grant masks what the client sees:");
    println!(
        "  psql \"postgresql://support:{support_password}@127.0.0.1:{port}/shop?sslmode=require\""
    );
    println!();
    if let (Some(sshd), Some(ssh)) = (&sshd, running.ssh) {
        println!(
            "SSH through Ward to a throwaway sshd (resource box, {}; password {password}):",
            sshd.address()
        );
        println!("  ssh -p {} demo:box@127.0.0.1", ssh.port());
        if let Some((fingerprint, _)) = &running.ssh_keys {
            println!("  (Ward's host key: {fingerprint})");
        }
        println!();
    }
    println!("Find and read every session in the web UI (self-signed certificate):");
    println!("  https://127.0.0.1:{web_port}   user auditor, password {auditor_password}");
    println!("  (demo and support sign in there too, and see only their own sessions)");
    println!();
    println!("AI agents (MCP, Streamable HTTP) as service account demo-agent:");
    println!("  endpoint https://127.0.0.1:{web_port}/mcp   key {agent_key}");
    println!("  stdio, for local agents:");
    println!(
        "  WARD_MCP_KEY={agent_key} ward mcp --server https://127.0.0.1:{web_port} --ca-cert {}",
        dir.join("tls/cert.pem").display()
    );
    println!();
    println!("Then, in another terminal:");
    println!("  ward sessions list --config {cfg}");
    println!("  ward replay <SESSION-ID> --config {cfg}");
    println!("  ward verify --config {cfg}");
    println!();
    println!(
        "Ctrl-C stops Ward and PostgreSQL; the recordings stay in {}.",
        dir.display()
    );
    crate::serve::until_signal().await;
    println!("stopping…");
    running.shutdown().await;
    drop(cluster);
    drop(sshd);
    Ok(())
}

/// A throwaway `sshd` that lets Ward's client key in.
fn demo_sshd(dir: &Path) -> anyhow::Result<crate::sshd::Sshd> {
    let mut sshd = crate::sshd::Sshd::prepare()?;
    let key = dir.join("ssh_client_key");
    ward_ssh::keys::load_or_create(&key, "ward")?;
    sshd.start(&key.with_extension("pub"))?;
    Ok(sshd)
}

/// The SSH listener, the `box` resource (the demo's sshd, logging in as whoever runs the
/// demo), and its grant.
fn demo_ssh_config(ssh_port: u16, sshd: &crate::sshd::Sshd) -> anyhow::Result<String> {
    let user = std::process::Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .context("who runs the demo (id -un)")?;
    Ok(format!(
        r#"
# The demo's second resource: a throwaway OpenSSH sshd (ssh -p {ssh_port} demo:box@127.0.0.1).
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
