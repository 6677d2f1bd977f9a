//! Measures how many events per second the recorder writes: 8 sessions each recording
//! query/result/complete-sized JSON events, as pgbench -S does through the PostgreSQL gateway.
//!
//! `cargo run --release -p ward-audit --example record_rate [EVENTS]`

use std::time::Instant;

use ward_audit::{JsonBody, KeySource, Location, Recorder, RecorderOptions, SessionStart};
use ward_core::config::Durability;
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(300_000);
    let dir = std::env::temp_dir().join(format!("ward-record-rate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let masker = ward_mask::Masker::builtin().expect("masker");
    let options = RecorderOptions {
        queue_events: 8192,
        masker,
        durability: Durability::Batched,
        signing_key: KeySource::File(dir.join("signing.key")),
        checkpoint_interval: std::time::Duration::from_secs(10),
        node: "bench".into(),
    };
    let location = Location::Sqlite(dir.join("ward.db"));
    let (recorder, _thread) = Recorder::spawn(&location, options).expect("recorder");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let identity = Identity { subject: "bench".into(), groups: vec![], method: "password".into(), issuer: "local".into() };
            let start = SessionStart {
                id: SessionId::new(),
                identity,
                resource: "bench".into(),
                protocol: Protocol::Postgres,
                client_addr: "127.0.0.1:1".into(),
            };
            let s = recorder.start(start).await;
            for i in 0..total / 8 / 3 {
                let q = serde_json::json!({ "text": "SELECT abalance FROM pgbench_accounts WHERE aid = $1", "statement": "P0_1", "params": [i.to_string()] });
                s.record(JsonBody(EventKind::DbQuery, q)).await;
                let r = serde_json::json!({ "columns": [{ "name": "abalance", "type_oid": 23 }], "rows": [["0"]], "row_count": 1, "truncated": false });
                s.record(JsonBody(EventKind::DbResult, r)).await;
                s.record(JsonBody(EventKind::DbComplete, serde_json::json!({ "tag": "SELECT 1", "duration_us": 120 }))).await;
            }
            s.end(Outcome::Ok, 0, 0).await;
        }));
    }
    for t in tasks {
        t.await.expect("session");
    }
    recorder.flush().await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} events in {secs:.2} s: {:.0} events/s",
        total as f64 / secs
    );
    let _ = std::fs::remove_dir_all(&dir);
}
