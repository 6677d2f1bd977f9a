//! The recorder writes chained events that verify, and verification names what was changed.

use std::path::Path;
use std::time::Duration;
use ward_audit::query::SessionFilter;
use ward_audit::verify::Status;

use ward_audit::{JsonBody, KeySource, Recorder, RecorderOptions, SessionStart, Store};
use ward_core::config::Durability;
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId};

fn spawn(path: &Path, queue: usize, interval: Duration) -> (Recorder, std::thread::JoinHandle<()>) {
    let options = RecorderOptions {
        queue_events: queue,
        masker: ward_mask::Masker::builtin().expect("masker"),
        durability: Durability::Batched,
        signing_key: KeySource::File(path.with_file_name("signing.key")),
        checkpoint_interval: interval,
    };
    Recorder::spawn(path, options).expect("recorder")
}

fn start(id: SessionId) -> SessionStart {
    SessionStart {
        id,
        identity: Identity {
            subject: "alice".into(),
            groups: vec!["dev".into()],
            method: "password".into(),
            issuer: "local".into(),
        },
        resource: "shop".into(),
        protocol: Protocol::Postgres,
        client_addr: "127.0.0.1:5555".into(),
    }
}

async fn record_session(recorder: &Recorder, queries: usize) -> SessionId {
    let id = SessionId::new();
    let s = recorder.start(start(id)).await;
    for i in 0..queries {
        s.record(JsonBody(
            EventKind::DbQuery,
            serde_json::json!({ "text": format!("select {i}") }),
        ))
        .await;
    }
    s.end(Outcome::Ok, 10, 20).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_sessions_verify_and_tampering_is_named() {
    let dir = std::env::temp_dir().join(format!("ward-audit-test-{}", std::process::id()));
    let path = dir.join("ward.db");
    let _ = std::fs::remove_dir_all(&dir);
    let (recorder, _thread) = spawn(&path, 16, Duration::from_secs(10));
    // A small queue and many events: the recorder must keep every one (backpressure, no drops).
    let a = record_session(&recorder, 500).await;
    let b = record_session(&recorder, 3).await;
    recorder.flush().await;

    let store = Store::open(&path).expect("open");
    let sessions = store.sessions(&SessionFilter::default()).expect("list");
    assert_eq!(sessions.len(), 2);
    let events = store.events(a).expect("events");
    assert_eq!(events.len(), 502);
    assert_eq!(events[1].payload["text"], "select 0");
    assert_eq!(events.last().map(|e| e.kind.as_str()), Some("session.end"));
    // Both sessions ended, so a checkpoint signed each one's final head.
    let report = store.verify(None, &[]).expect("verify");
    assert!(report.ok, "{report:?}");
    assert!(
        report
            .sessions
            .iter()
            .all(|v| matches!(v.status, Status::Verified { .. })),
        "{report:?}"
    );

    // The store itself refuses to change events.
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    assert!(
        conn.execute("DELETE FROM events WHERE seq = 1", [])
            .is_err()
    );

    // An attacker with disk access drops the triggers and edits a payload.
    conn.execute_batch(
        "DROP TRIGGER events_append_only_update; DROP TRIGGER events_append_only_delete;",
    )
    .expect("drop");
    conn.execute(
        "UPDATE events SET payload = CAST('{\"text\":\"select 42\"}' AS BLOB) WHERE session_id = ?1 AND seq = 7",
        [a.0.as_bytes()],
    )
    .expect("tamper");
    conn.execute(
        "DELETE FROM events WHERE session_id = ?1 AND seq = 2",
        [b.0.as_bytes()],
    )
    .expect("delete");
    let report = store.verify(None, &[]).expect("verify");
    assert!(!report.ok);
    let verdicts = report.sessions;
    let by_id = |id: SessionId| {
        verdicts
            .iter()
            .find(|v| v.session == id.to_string())
            .map(|v| v.status.clone())
    };
    assert!(
        matches!(by_id(a), Some(Status::Tampered { seq: 7, .. })),
        "{verdicts:?}"
    );
    assert!(
        matches!(
            by_id(b),
            Some(Status::MissingEvents {
                after_seq: Some(1),
                ..
            })
        ),
        "{verdicts:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_sessions_are_signed_periodically_and_a_restart_ends_them_as_incomplete() {
    let dir = std::env::temp_dir().join(format!("ward-audit-live-{}", std::process::id()));
    let path = dir.join("ward.db");
    let _ = std::fs::remove_dir_all(&dir);
    {
        let (recorder, thread) = spawn(&path, 64, Duration::from_millis(100));
        let s = recorder.start(start(SessionId::new())).await;
        s.record(JsonBody(
            EventKind::DbQuery,
            serde_json::json!({ "text": "select 1" }),
        ))
        .await;
        assert!(recorder.flush().await);
        let store = Store::open(&path).expect("open");
        let tail = store.verify(None, &[]).expect("verify");
        assert!(
            matches!(
                tail.sessions[0].status,
                Status::UnsignedTail {
                    unsigned: 2,
                    checkpoint: None
                }
            ),
            "{tail:?}"
        );
        // The periodic checkpoint signs the live session's head without any new event.
        let mut signed = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let r = store.verify(None, &[]).expect("verify");
            if matches!(r.sessions[0].status, Status::Verified { .. }) {
                signed = true;
                break;
            }
        }
        assert!(signed, "no periodic checkpoint within 2.5 s");
        // The recorder stops with the session still open, as in a crash.
        drop((s, recorder));
        thread.join().expect("recorder thread");
    }
    let _recorder = spawn(&path, 64, Duration::from_secs(10));
    let store = Store::open(&path).expect("open");
    let sessions = store.sessions(&SessionFilter::default()).expect("list");
    assert_eq!(sessions[0].outcome.as_deref(), Some("incomplete"));
    let id: SessionId = sessions[0].id.parse().expect("id");
    let events = store.events(id).expect("events");
    assert_eq!(events.last().map(|e| e.kind.as_str()), Some("session.end"));
    let report = store.verify(None, &[]).expect("verify");
    assert!(
        report.ok && matches!(report.sessions[0].status, Status::Verified { .. }),
        "{report:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
