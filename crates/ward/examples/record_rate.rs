//! Recorder throughput: 8 sessions record pgbench-sized query and result events through the
//! real recorder (JSON, SHA-256 chain, signed checkpoints, group commit) into an SQLite file or a
//! throwaway PostgreSQL cluster, in batched or strict durability.
//!
//! `cargo run --release -p ward --example record_rate -- [EVENTS] [sqlite|postgres] [batched|strict]`
//!
//! In strict mode each session waits, after every transaction's two events, until they are
//! durable, as the PostgreSQL gateway does before it releases a response.

use std::time::{Duration, Instant};

use ward_config::Durability;
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId};
use ward_local::pgcluster::{ClusterOptions, PgCluster};
use ward_store::{JsonBody, KeySource, Location, Recorder, RecorderOptions, SessionStart, Store};

const SESSIONS: usize = 8;

/// CPU seconds (user + system) this process used so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime, in clock ticks of 1/100 s.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(300_000);
    let backend = args.get(1).map_or("sqlite", String::as_str);
    let durability = match args.get(2).map(String::as_str) {
        Some("strict") => Durability::Strict,
        _ => Durability::Batched,
    };
    let dir = std::env::temp_dir().join(format!("ward-record-rate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut cluster = None;
    let location = match backend {
        "postgres" => {
            // On main's own thread: the cluster ends when the thread that started it does.
            let c = PgCluster::start(&ClusterOptions::default())?;
            c.psql("postgres", "CREATE ROLE rate LOGIN PASSWORD 'rate'")?;
            c.psql("postgres", "CREATE DATABASE rate OWNER rate")?;
            let url = format!(
                "host=127.0.0.1 port={} user=rate password=rate dbname=rate",
                c.port
            );
            let admin = url.clone();
            tokio::task::spawn_blocking(move || Store::migrate_postgres(&admin, None, "rate"))
                .await??;
            cluster = Some(c);
            Location::Postgres(url, None)
        }
        _ => Location::Sqlite(dir.join("ward.db")),
    };
    let options = RecorderOptions {
        queue_events: 8192,
        masker: ward_mask::Masker::builtin()?,
        durability,
        signing_key: KeySource::File(dir.join("signing.key")),
        checkpoint_interval: Duration::from_secs(10),
        node: "bench".into(),
        notify: None,
    };
    let (recorder, _thread) = Recorder::spawn(&location, options)?;
    let query = serde_json::json!({ "text": "SELECT abalance FROM pgbench_accounts WHERE aid = $1", "statement": "P0_1", "params": ["4242"] });
    let result = serde_json::json!({ "columns": [{ "name": "abalance", "type_oid": 23 }], "rows": [["0"]], "row_count": 1, "truncated": false, "tag": "SELECT 1", "duration_us": 120 });
    let per_tx: usize = [&query, &result]
        .iter()
        .map(|v| serde_json::to_vec(v).map_or(0, |b| b.len()))
        .sum();
    let transactions = total / SESSIONS / 2;
    let (cpu0, started) = (cpu_seconds(), Instant::now());
    let mut tasks = Vec::new();
    for _ in 0..SESSIONS {
        let (recorder, query, result) = (recorder.clone(), query.clone(), result.clone());
        tasks.push(tokio::spawn(async move {
            let identity = Identity {
                subject: "bench".into(),
                groups: vec![],
                method: "password".into(),
                issuer: "local".into(),
                credential: None,
            };
            let start = SessionStart {
                id: SessionId::new(),
                identity,
                resource: "bench".into(),
                protocol: Protocol::Postgres,
                client_addr: "127.0.0.1:1".into(),
                parameters: Default::default(),
                reason: None,
            };
            let s = recorder.start(start).await;
            for _ in 0..transactions {
                s.record(JsonBody(EventKind::DbQuery, query.clone())).await;
                s.record(JsonBody(EventKind::DbResult, result.clone()))
                    .await;
                if durability == Durability::Strict && !s.may_release().await {
                    return Err(anyhow::anyhow!("the store refused a commit"));
                }
            }
            s.end(Outcome::Ok, 0, 0).await;
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    recorder.flush().await;
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let events = transactions * SESSIONS * 2;
    let mb = (transactions * SESSIONS * per_tx) as f64 / 1e6;
    println!(
        "{backend} {durability:?}: {events} events ({mb:.1} MB of payload) in {secs:.2} s: {:.0} events/s, {:.1} MB/s, {cpu:.2} s CPU in this process",
        events as f64 / secs,
        mb / secs
    );
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
