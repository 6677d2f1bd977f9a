//! The recorder writes chained events that verify, and verification names what was changed.

use ward_audit::query::SessionFilter;
use ward_audit::verify::Status;
use ward_audit::{JsonBody, Recorder, SessionStart, Store};
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId};

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
    let masker = ward_mask::Masker::builtin().expect("masker");
    let (recorder, _thread) = Recorder::spawn(&path, 16, masker).expect("recorder");
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
    assert!(
        store
            .verify(None)
            .expect("verify")
            .iter()
            .all(|v| v.status == Status::Intact)
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
    let verdicts = store.verify(None).expect("verify");
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
