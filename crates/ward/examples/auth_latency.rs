//! Connect + first query latency through Ward by credential kind: a local password, a Ward
//! token, a service-account key and an OpenID Connect token (JWKS cached), each connection new.
//!
//! `cargo run --release -p ward --example auth_latency -- [ROUNDS]`
//! with `WARD_BIN` naming the `ward` binary (default `target/release/ward`); needs PostgreSQL's
//! server binaries and `npm ci` in `tools/oidc-idp`.
//!
//! The methods take turns round after round, so background noise falls on all of them alike.
//! Connections are plaintext on loopback (`allow_plaintext_loopback`) so that the TLS handshake,
//! the same for every method, does not drown the difference. Prints p50 and p95 per method and
//! each one's p50 minus the password's.

use std::time::{Duration, Instant};

use serde_json::json;
use ward_testkit::{ClusterOptions, Idp, IdpUser, PASSWORD, Postgres, Ward, free_port};

async fn connect_and_query(port: u16, user: &str, password: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname("shop")
        .connect(tokio_postgres::NoTls)
        .await?;
    let driver = tokio::spawn(connection);
    client.simple_query("select 1").await?;
    let elapsed = started.elapsed();
    drop(client);
    let _ = driver.await;
    Ok(elapsed)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let bin = std::env::var("WARD_BIN").unwrap_or_else(|_| "target/release/ward".into());
    let pg = Postgres::start(&ClusterOptions::default())?;
    let web = free_port()?;
    let idp = Idp::start(
        &format!("https://127.0.0.1:{web}/auth/callback"),
        &[IdpUser {
            username: "alice",
            password: "unused",
            groups: &["dev"],
        }],
    )?;
    let ward = Ward::builder(&bin)
        .postgres_resource("shop", &pg)
        .grant("dev", "shop")
        .user("carol", &["dev"])
        .plaintext_loopback()
        .web(web)
        .auth(&format!(
            "[[auth.oidc]]\nissuer = \"{}\"\nclient_id = \"ward\"",
            idp.issuer
        ))
        .start()?;
    let issued = ward_testkit::success(&ward.cli(&["tokens", "issue", "carol", "--ttl", "2h"]));
    let token = issued
        .lines()
        .find(|l| l.starts_with("ward_t_"))
        .unwrap_or_default()
        .to_owned();
    let created = ward_testkit::success(&ward.cli(&[
        "service-accounts",
        "create",
        "bench-bot",
        "--groups",
        "dev",
    ]));
    let key = created
        .lines()
        .find(|l| l.starts_with("ward_sa_"))
        .unwrap_or_default()
        .to_owned();
    let oidc = idp.mint("RS256", json!({}), idp.claims("alice", &["dev"], "ward"));
    let methods = [
        ("password", "carol", PASSWORD.to_owned()),
        ("ward token", "carol", token),
        ("service key", "bench-bot", key),
        ("oidc (RS256)", "alice", oidc),
    ];
    // Warm up: argon2 once per password, the JWKS fetch, caches and the upstream.
    for _ in 0..10 {
        for (_, user, secret) in &methods {
            connect_and_query(ward.port, user, secret).await?;
        }
    }
    let mut samples = vec![Vec::with_capacity(rounds); methods.len()];
    for _ in 0..rounds {
        for (i, (_, user, secret)) in methods.iter().enumerate() {
            samples[i].push(connect_and_query(ward.port, user, secret).await?);
        }
    }
    println!(
        "connect + `select 1` through Ward, {rounds} connections per method (plaintext loopback)"
    );
    println!(
        "{:<14} {:>9} {:>9} {:>14}",
        "method", "p50 ms", "p95 ms", "p50 - password"
    );
    let mut base = None;
    for ((name, _, _), s) in methods.iter().zip(samples.iter_mut()) {
        s.sort();
        let p50 = percentile(s, 0.5);
        let base = *base.get_or_insert(p50);
        println!(
            "{name:<14} {:>9.3} {:>9.3} {:>+14.3}",
            ms(p50),
            ms(percentile(s, 0.95)),
            ms(p50) - ms(base)
        );
    }
    Ok(())
}
