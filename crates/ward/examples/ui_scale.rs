//! What the web UI's queries cost on a big store: the session list (newest first, filtered by
//! user, full-text search, the next page), and a session of many events (a page of events, and
//! the integrity check the detail view runs).
//!
//! `cargo run --release -p ward --example ui_scale -- [SESSIONS] [EVENTS]` (default 100000 sessions
//! of 4 events, and one session of 10000 events), recorded through the real recorder into an
//! SQLite store; each query is timed five times and the median printed.

use std::time::{Duration, Instant};

use ward_config::Durability;
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId};
use ward_store::query::SessionFilter;
use ward_store::{JsonBody, KeySource, Location, Recorder, RecorderOptions, SessionStart, Store};

const WRITERS: usize = 16;

fn identity(user: &str) -> Identity {
    Identity {
        subject: user.into(),
        groups: vec!["dev".into()],
        method: "password".into(),
        issuer: "local".into(),
        credential: None,
    }
}

async fn session(recorder: &Recorder, user: &str, events: usize, tag: usize) -> SessionId {
    let id = SessionId::new();
    let s = recorder
        .start(SessionStart {
            id,
            identity: identity(user),
            resource: "shop".into(),
            protocol: Protocol::Postgres,
            client_addr: "127.0.0.1:1".into(),
            parameters: Default::default(),
            reason: None,
        })
        .await;
    for i in 0..events.div_ceil(2) {
        let text = format!("select * from orders where id = {i} /* tag{tag} */");
        s.record(JsonBody(
            EventKind::DbQuery,
            serde_json::json!({ "text": text }),
        ))
        .await;
        let result = serde_json::json!({ "columns": [{ "name": "id", "type_oid": 23 }], "rows": [[i.to_string()]], "row_count": 1, "truncated": false, "tag": "SELECT 1", "duration_us": 90 });
        s.record(JsonBody(EventKind::DbResult, result)).await;
    }
    s.end(Outcome::Ok, 0, 0).await;
    id
}

/// The median of five runs of `f`, in milliseconds.
fn time<T>(mut f: impl FnMut() -> T) -> f64 {
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    runs.sort();
    runs[2].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sessions = args.first().copied().unwrap_or(100_000);
    let big_events = args.get(1).copied().unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("ward-ui-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let location = Location::Sqlite(dir.join("ward.db"));
    let options = RecorderOptions {
        queue_events: 8192,
        masker: ward_mask::Masker::builtin()?,
        durability: Durability::Batched,
        signing_key: KeySource::File(dir.join("signing.key")),
        checkpoint_interval: Duration::from_secs(10),
        node: "bench".into(),
        notify: None,
    };
    let (recorder, _thread) = Recorder::spawn(&location, options)?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..sessions).step_by(WRITERS) {
                session(&recorder, &format!("user{}", i % 100), 4, i).await;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let big = session(&recorder, "bigspender", big_events, sessions + 1).await;
    recorder.flush().await;
    println!(
        "recorded {sessions} sessions and one of {big_events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut store = Store::open(&location)?;
    let page = |store: &mut Store, f: SessionFilter| {
        store.sessions(&SessionFilter {
            limit: Some(51),
            ..f
        })
    };
    let newest = time(|| page(&mut store, SessionFilter::default()));
    let first = page(&mut store, SessionFilter::default())?;
    let last = first.last().cloned();
    let by_user = time(|| {
        page(
            &mut store,
            SessionFilter {
                user: Some("user42".into()),
                ..SessionFilter::default()
            },
        )
    });
    let needle = format!("tag{}", sessions / 2);
    let search = time(|| {
        page(
            &mut store,
            SessionFilter {
                text: Some(needle.clone()),
                ..SessionFilter::default()
            },
        )
    });
    let next = time(|| {
        let before = last.as_ref().and_then(|s| {
            Some((
                ward_core::Timestamp::parse_rfc3339(&s.started_at).ok()?,
                s.id.parse().ok()?,
            ))
        });
        page(
            &mut store,
            SessionFilter {
                before,
                ..SessionFilter::default()
            },
        )
    });
    let found = page(
        &mut store,
        SessionFilter {
            text: Some(needle.clone()),
            ..SessionFilter::default()
        },
    )?;
    let matches = time(|| {
        found
            .iter()
            .filter_map(|s| s.id.parse().ok())
            .map(|id| store.text_matches(id, &needle, 3))
            .collect::<Vec<_>>()
    });
    let first_events = time(|| store.events_page(big, None, 200));
    let middle_events =
        time(|| store.events_page(big, Some(i64::try_from(big_events / 2).unwrap_or(0)), 200));
    let verify = time(|| store.verify_session_alone(big, &[]));
    println!("session list, newest 50:            {newest:8.2} ms");
    println!("session list, one user's:           {by_user:8.2} ms");
    println!(
        "session list, full-text search:     {search:8.2} ms (+ {matches:.2} ms for snippets)"
    );
    println!("session list, next page (cursor):   {next:8.2} ms");
    println!("events of the big session, first 200: {first_events:6.2} ms");
    println!("events of the big session, middle 200: {middle_events:5.2} ms");
    println!("integrity check of the big session: {verify:8.2} ms");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
