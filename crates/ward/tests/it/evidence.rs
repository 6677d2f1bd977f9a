//! Evidence: an attacker with write access to the SQLite file edits it directly (dropping the
//! append-only triggers first), and every edit is detected and named; export bundles verify
//! offline; rotated keys keep old checkpoints verifiable.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, params};
use ward_store::keys::{PublicKey, SigningKey};
use ward_store::verify::{CheckpointStatus, Report, Status};
use ward_store::{Location, Store};
use ward_testkit::{ClusterOptions, Postgres, Ward, psql, sqlite_without_triggers, success};

use crate::WARD;

/// Two psql sessions through Ward, then Ward stopped: every session ended and signed.
fn recorded(pg: &Postgres) -> (Ward, PublicKey) {
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    let url = ward.url("alice", "shop");
    // The last statement fails (psql exits 3): errors are part of the record too.
    let out = psql(
        &url,
        &[
            "-c",
            "SELECT 1 AS one",
            "-c",
            "SELECT 'card 4111 1111 1111 1111' AS note",
            "-c",
            "SELECT no_such_column",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_column"));
    success(&psql(&url, &["-c", "SELECT 2 AS two"]));
    ward.wait_sessions(2);
    let keys = ward.cli(&["keys", "show", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&keys.stdout).expect("keys json");
    let key = PublicKey::parse(doc["public_key"].as_str().expect("key")).expect("public key");
    (ward, key)
}

fn attacker(db: &Path) -> Connection {
    let (conn, triggers) = sqlite_without_triggers(db).expect("open sqlite");
    assert!(triggers.len() >= 8, "append-only triggers: {triggers:?}");
    conn
}

fn verify(store: &mut Store, key: &PublicKey) -> Report {
    store
        .verify(None, std::slice::from_ref(key))
        .expect("verify")
}

fn status_of(report: &Report, session: &[u8]) -> Option<Status> {
    let id = uuid::Uuid::from_slice(session).expect("uuid").to_string();
    report
        .sessions
        .iter()
        .find(|v| v.session == id)
        .map(|v| v.status.clone())
}

type Row = Vec<Value>;
const COLUMNS: [&str; 8] = [
    "session_id",
    "seq",
    "at",
    "kind",
    "payload",
    "compressed",
    "prev_hash",
    "hash",
];

fn events(conn: &Connection, session: &[u8]) -> Vec<Row> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM events WHERE session_id = ?1 ORDER BY seq",
            COLUMNS.join(", ")
        ))
        .expect("select");
    stmt.query_map([session], |r| {
        (0..COLUMNS.len()).map(|i| r.get::<_, Value>(i)).collect()
    })
    .and_then(|rows| rows.collect::<Result<Vec<Row>, _>>())
    .expect("events")
}

fn insert(conn: &Connection, row: &Row) {
    conn.execute(
        &format!(
            "INSERT INTO events ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            COLUMNS.join(", ")
        ),
        rusqlite::params_from_iter(row.iter()),
    )
    .expect("insert");
}

fn delete(conn: &Connection, session: &[u8], seq: i64) {
    conn.execute(
        "DELETE FROM events WHERE session_id = ?1 AND seq = ?2",
        params![session, seq],
    )
    .expect("delete");
}

/// Every single-byte variant of a stored value: each byte xor 0x01 and xor 0x80.
fn byte_variants(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let bytes = match v {
        Value::Integer(n) => n.to_be_bytes().to_vec(),
        other => bytes_of(other),
    };
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            out.push(match v {
                Value::Integer(_) => {
                    Value::Integer(i64::from_be_bytes(b.try_into().expect("8 bytes")))
                }
                Value::Text(_) => match String::from_utf8(b) {
                    Ok(s) => Value::Text(s),
                    // No longer UTF-8: kept as the raw bytes a file edit would leave.
                    Err(e) => Value::Blob(e.into_bytes()),
                },
                _ => Value::Blob(b),
            });
        }
    }
    out
}

fn bytes_of(v: &Value) -> Vec<u8> {
    match v {
        Value::Blob(b) => b.clone(),
        Value::Text(t) => t.as_bytes().to_vec(),
        _ => Vec::new(),
    }
}

#[test]
fn every_edit_of_the_sqlite_file_is_detected_and_named() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let (mut ward, key) = recorded(&pg);
    ward.stop();
    let db = ward.dir.join("ward.db");
    let mut store = Store::open(&Location::Sqlite(db.clone())).expect("store");
    let baseline = verify(&mut store, &key);
    assert!(baseline.ok, "{baseline:?}");
    assert!(
        baseline
            .sessions
            .iter()
            .all(|v| matches!(v.status, Status::Verified { .. })),
        "{baseline:?}"
    );
    let conn = attacker(&db);
    let sessions: Vec<Vec<u8>> = conn
        .prepare("SELECT id FROM sessions ORDER BY started_at")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<Vec<u8>>, _>>())
        })
        .expect("sessions");
    let (a, b) = (&sessions[0], &sessions[1]);
    let original = events(&conn, a);
    assert!(original.len() >= 8, "{} events", original.len());

    // 1. Every single-byte change of every column of every event of session a.
    let (mut changes, mut refused) = (0, 0);
    for row in &original {
        let seq = row[1].clone();
        for (col, value) in COLUMNS.iter().zip(row) {
            for variant in byte_variants(value) {
                let applied = conn.execute(
                    &format!("UPDATE events SET {col} = ?1 WHERE session_id = ?2 AND seq = ?3"),
                    params![variant, a, seq],
                );
                if applied.is_err() {
                    // A primary-key collision: this edit alone cannot be made.
                    refused += 1;
                    continue;
                }
                changes += 1;
                let report = verify(&mut store, &key);
                let (moved_to, at_seq) = match *col {
                    "session_id" => (Some(bytes_of(&variant)), row[1].clone()),
                    "seq" => (None, variant.clone()),
                    _ => (None, seq.clone()),
                };
                assert!(
                    !report.ok,
                    "{col} change of seq {seq:?} to {variant:?} not detected"
                );
                let named = status_of(&report, a).is_some_and(|s| s.is_failure());
                assert!(
                    named,
                    "{col} change of seq {seq:?} not named for its session: {report:?}"
                );
                conn.execute(
                    &format!("UPDATE events SET {col} = ?1 WHERE session_id = ?2 AND seq = ?3"),
                    params![value, moved_to.as_deref().unwrap_or(a), at_seq],
                )
                .expect("revert");
            }
        }
    }
    assert!(
        changes > 1000,
        "only {changes} edits made ({refused} refused)"
    );
    assert!(
        verify(&mut store, &key).ok,
        "reverting every edit restores the record"
    );

    // 2. Deleting any one event.
    for row in &original {
        let Value::Integer(seq) = row[1] else {
            panic!("seq")
        };
        delete(&conn, a, seq);
        let report = verify(&mut store, &key);
        assert!(
            matches!(status_of(&report, a), Some(Status::MissingEvents { .. })),
            "deleting seq {seq}: {report:?}"
        );
        insert(&conn, row);
    }

    // 3. Reordering two events (swapping their seqs).
    conn.execute_batch(&format!(
        "UPDATE events SET seq = -1 WHERE session_id = x'{h}' AND seq = 2;
         UPDATE events SET seq = 2 WHERE session_id = x'{h}' AND seq = 3;
         UPDATE events SET seq = 3 WHERE session_id = x'{h}' AND seq = -1;",
        h = hex::encode(a)
    ))
    .expect("swap");
    let report = verify(&mut store, &key);
    assert!(
        matches!(status_of(&report, a), Some(Status::Tampered { seq: 2, .. })),
        "{report:?}"
    );
    restore(&conn, a, &original);

    // 4. Dropping the signed tail.
    let keep: i64 = 4;
    conn.execute(
        "DELETE FROM events WHERE session_id = ?1 AND seq >= ?2",
        params![a, keep],
    )
    .expect("drop tail");
    let report = verify(&mut store, &key);
    assert!(
        matches!(
            status_of(&report, a),
            Some(Status::MissingEvents { found: 4, .. })
        ),
        "{report:?}"
    );
    restore(&conn, a, &original);
    assert!(verify(&mut store, &key).ok);

    // 5. Moving an event to the other session (to the end of its chain).
    let b_len = events(&conn, b).len() as i64;
    conn.execute(
        "UPDATE events SET session_id = ?1, seq = ?2 WHERE session_id = ?3 AND seq = 3",
        params![b, b_len, a],
    )
    .expect("move");
    let report = verify(&mut store, &key);
    assert!(
        matches!(status_of(&report, a), Some(Status::MissingEvents { .. })),
        "{report:?}"
    );
    assert!(
        matches!(status_of(&report, b), Some(Status::Tampered { .. })),
        "{report:?}"
    );
    conn.execute(
        "UPDATE events SET session_id = ?1, seq = 3 WHERE session_id = ?2 AND seq = ?3",
        params![a, b, b_len],
    )
    .expect("move back");

    // 6. Deleting a whole session, row and events.
    conn.execute("DELETE FROM events WHERE session_id = ?1", [b])
        .expect("delete events");
    conn.execute("DELETE FROM session_ends WHERE session_id = ?1", [b])
        .expect("delete end");
    conn.execute("DELETE FROM sessions WHERE id = ?1", [b])
        .expect("delete row");
    let report = verify(&mut store, &key);
    assert!(
        matches!(status_of(&report, b), Some(Status::MissingSession { .. })),
        "{report:?}"
    );

    // 7. Replacing a checkpoint signature: random bytes, then a valid signature by the
    //    attacker's own key, registered in the store.
    let (seq, body_sig): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT seq, signature FROM checkpoints ORDER BY seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("checkpoint");
    let mut forged = body_sig.clone();
    forged[10] ^= 0x01;
    conn.execute(
        "UPDATE checkpoints SET signature = ?1 WHERE seq = ?2",
        params![forged, seq],
    )
    .expect("forge");
    let report = verify(&mut store, &key);
    assert!(
        matches!(&report.checkpoint_chain, CheckpointStatus::Broken { seq: s, reason } if *s == seq as u64 && reason.contains("signature")),
        "{report:?}"
    );
    let cp = store
        .checkpoint(seq as u64)
        .expect("get")
        .expect("checkpoint");
    let mallory = SigningKey::generate().expect("key");
    let resigned = ward_store::checkpoint::Checkpoint {
        key_id: mallory.public().id(),
        ..cp
    };
    conn.execute(
        "UPDATE checkpoints SET signature = ?1, key_id = ?2 WHERE seq = ?3",
        params![
            mallory.sign(&resigned.body()).to_vec(),
            resigned.key_id.to_vec(),
            seq
        ],
    )
    .expect("re-sign");
    register_key(&conn, &mallory);
    let report = verify(&mut store, &key);
    assert!(
        matches!(&report.checkpoint_chain, CheckpointStatus::Broken { reason, .. } if reason.contains("not trusted")),
        "with --key the attacker's key is refused: {report:?}"
    );

    // The command line names the breaks and exits 1.
    let out = ward.cli(&["verify", "--key", &key.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("MISSING") && text.contains("session deleted"),
        "{text}"
    );
    assert!(text.contains(&format!("CHECKPOINT {seq} BROKEN")), "{text}");
}

/// The attacker adds their own public key to the store's key list.
fn register_key(conn: &Connection, key: &SigningKey) {
    conn.execute(
        "INSERT INTO signing_keys (key_id, public_key, created_at) VALUES (?1, ?2, 0)",
        params![key.public().id().to_vec(), key.public().bytes().to_vec()],
    )
    .expect("register key");
}

fn restore(conn: &Connection, session: &[u8], original: &[Row]) {
    conn.execute("DELETE FROM events WHERE session_id = ?1", [session])
        .expect("clear");
    for row in original {
        insert(conn, row);
    }
}

#[test]
fn export_bundles_verify_offline_and_key_rotation_keeps_trust() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let (mut ward, old_key) = recorded(&pg);
    // Rotate while serving; the next session is signed with the new key.
    let rotated = success(&ward.cli(&["keys", "rotate"]));
    assert!(rotated.contains("new key:"), "{rotated}");
    success(&psql(
        &ward.url("alice", "shop"),
        &["-c", "SELECT 3 AS three"],
    ));
    ward.wait_sessions(3);
    ward.stop();
    let shown = success(&ward.cli(&["keys", "show", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(doc["keys"].as_array().map(Vec::len), Some(2), "{doc}");
    assert!(doc["keys"][0]["valid_until"].is_string(), "{doc}");
    let new_key = PublicKey::parse(doc["public_key"].as_str().expect("key")).expect("key");
    assert_ne!(new_key, old_key);

    // The old key still verifies everything, the new one through its endorsement.
    let out = ward.cli(&["verify", "--key", &old_key.to_string(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(out.status.success(), "{report}");
    assert_eq!(report["trust"]["keys"].as_array().map(Vec::len), Some(2));
    assert!(
        report["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .all(|s| s["status"] == "verified"),
        "{report}"
    );
    // Only the new key does not vouch for checkpoints the old one signed.
    let out = ward.cli(&["verify", "--key", &new_key.to_string()]);
    assert_eq!(out.status.code(), Some(1));

    // Export the last session and verify it with no config and no store, from another directory.
    let sessions = ward.sessions();
    let last = sessions.last().expect("session")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bundle = ward.dir.join("bundle.json");
    let out = ward.cli(&["export", &last, "--out", bundle.to_str().expect("path")]);
    assert!(success(&out).contains("1 checkpoint(s)"));
    let offline = std::env::temp_dir();
    let check = |path: &Path, key: &PublicKey| {
        std::process::Command::new(WARD)
            .current_dir(&offline)
            .env_remove("WARD_CONFIG")
            .args(["verify", "--bundle"])
            .arg(path)
            .args(["--key", &key.to_string()])
            .output()
            .expect("run ward")
    };
    let ok = check(&bundle, &old_key);
    assert!(
        success(&ok).contains("verified"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // Edits to the bundle are caught: a payload, a proof, and a wrong key.
    let text = std::fs::read_to_string(&bundle).expect("bundle");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut d = doc.clone();
        f(&mut d);
        let p = ward.dir.join("edited.json");
        std::fs::write(&p, serde_json::to_vec(&d).expect("json")).expect("write");
        p
    };
    let payload_edit = edit(&|d| {
        for e in d["events"].as_array_mut().expect("events") {
            let p = e["payload"].as_str().expect("payload").to_owned();
            if p.contains("three") {
                e["payload"] = p.replace("three", "thr33").into();
            }
        }
    });
    let out = check(&payload_edit, &old_key);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("TAMPERED"));
    let proof_edit = edit(&|d| {
        d["checkpoints"][0]["leaf"]["events"] = 1.into();
    });
    let out = check(&proof_edit, &old_key);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("inclusion proof"));
    // A bundle stripped of its checkpoints has nothing that vouches for it.
    let unsigned = edit(&|d| {
        d["checkpoints"] = serde_json::json!([]);
    });
    let out = check(&unsigned, &old_key);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("UNSIGNED"));
    let stranger = SigningKey::generate().expect("key").public();
    let out = check(&bundle, &stranger);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not trusted"));
}

#[test]
fn prune_removes_expired_sessions_with_a_signed_record_and_nothing_else_can() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let (mut ward, key) = recorded(&pg);
    ward.stop();
    let sessions = ward.sessions();
    let (first, second) = (&sessions[0], &sessions[1]);
    let cutoff = second["started_at"].as_str().expect("started_at");

    let dry = success(&ward.cli(&["prune", "--before", cutoff, "--dry-run"]));
    assert!(
        dry.contains("would remove") && dry.contains(first["id"].as_str().expect("id")),
        "{dry}"
    );
    assert_eq!(ward.sessions().len(), 2);

    let done = success(&ward.cli(&["prune", "--before", cutoff]));
    assert!(
        done.contains("1 session(s) removed") && done.contains("prune record 0"),
        "{done}"
    );
    assert_eq!(ward.sessions().len(), 1);
    let verify = ward.cli(&["verify", "--key", &key.to_string()]);
    let text = success(&verify);
    assert!(
        text.contains("pruned ") && text.contains("1 verified") && text.contains("1 pruned"),
        "{text}"
    );

    // Without a prune record signed by a trusted key, a removed session is a deleted one.
    let db = ward.dir.join("ward.db");
    let (events, head): (i64, Vec<u8>) = (
        second["event_count"].as_i64().expect("count"),
        ward.events(second["id"].as_str().expect("id"))
            .last()
            .map(|e| hex::decode(e["hash"].as_str().expect("hash")).expect("hex"))
            .unwrap_or_default(),
    );
    let conn = attacker(&db);
    let id = uuid::Uuid::parse_str(second["id"].as_str().expect("id")).expect("uuid");
    conn.execute("DELETE FROM events WHERE session_id = ?1", [id.as_bytes()])
        .expect("delete events");
    conn.execute(
        "DELETE FROM session_ends WHERE session_id = ?1",
        [id.as_bytes()],
    )
    .expect("delete end");
    conn.execute("DELETE FROM sessions WHERE id = ?1", [id.as_bytes()])
        .expect("delete row");
    // The attacker signs a prune record for it with a key of their own (layout: docs/evidence.md).
    let mallory = SigningKey::generate().expect("key");
    let mut body = b"ward.prune.v1\0".to_vec();
    body.extend_from_slice(&1u64.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes());
    body.extend_from_slice(&mallory.public().id());
    body.extend_from_slice(&1u64.to_be_bytes());
    body.extend_from_slice(id.as_bytes());
    body.extend_from_slice(&(events as u64).to_be_bytes());
    body.extend_from_slice(&head);
    conn.execute(
        "INSERT INTO prunes (seq, at, key_id, body, signature) VALUES (1, 0, ?1, ?2, ?3)",
        params![
            mallory.public().id().to_vec(),
            body,
            mallory.sign(&body).to_vec()
        ],
    )
    .expect("forge prune");
    register_key(&conn, &mallory);
    let mut store = Store::open(&Location::Sqlite(db.clone())).expect("store");
    // Trusting the store's own keys, the forgery passes; with --key it does not.
    let naive = store.verify(None, &[]).expect("verify");
    assert!(
        matches!(
            status_of(&naive, id.as_bytes()),
            Some(Status::Pruned { prune: 1 })
        ),
        "{naive:?}"
    );
    let report = store
        .verify(None, std::slice::from_ref(&key))
        .expect("verify");
    assert!(
        matches!(
            status_of(&report, id.as_bytes()),
            Some(Status::MissingSession { .. })
        ),
        "{report:?}"
    );
}

#[test]
fn an_anchor_kept_outside_the_store_catches_removal_of_the_newest_records() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let (mut ward, key) = recorded(&pg);
    ward.stop();
    let out = ward.cli(&["verify", "--key", &key.to_string(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let newest = &report["newest_checkpoint"];
    let anchor = format!(
        "{}:{}",
        newest["seq"].as_u64().expect("seq"),
        newest["hash"].as_str().expect("hash")
    );
    let held = success(&ward.cli(&["verify", "--key", &key.to_string(), "--anchor", &anchor]));
    assert!(held.contains("is held unchanged"), "{held}");

    // The attacker removes the last session and every checkpoint that names it: the newest.
    let sessions = ward.sessions();
    let last = uuid::Uuid::parse_str(sessions[1]["id"].as_str().expect("id")).expect("uuid");
    let conn = attacker(&ward.dir.join("ward.db"));
    let naming: Vec<i64> = conn
        .prepare("SELECT DISTINCT checkpoint_seq FROM checkpoint_leaves WHERE session_id = ?1")
        .and_then(|mut s| {
            s.query_map([last.as_bytes()], |r| r.get(0))
                .and_then(|r| r.collect::<Result<Vec<i64>, _>>())
        })
        .expect("checkpoints naming it");
    let max: i64 = conn
        .query_row("SELECT MAX(seq) FROM checkpoints", [], |r| r.get(0))
        .expect("max");
    let first = naming.iter().copied().min().expect("named");
    assert_eq!(
        naming.len() as i64,
        max - first + 1,
        "the newest checkpoints name it"
    );
    for (table, column) in [
        ("checkpoint_leaves", "checkpoint_seq"),
        ("checkpoints", "seq"),
    ] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE {column} >= ?1"),
            [first],
        )
        .expect("delete checkpoints");
    }
    for (table, column) in [
        ("events", "session_id"),
        ("session_ends", "session_id"),
        ("sessions", "id"),
    ] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE {column} = ?1"),
            [last.as_bytes()],
        )
        .expect("delete session");
    }
    drop(conn);

    // What is left is a shorter record that verifies on its own ...
    let naive = ward.cli(&["verify", "--key", &key.to_string()]);
    assert!(
        naive.status.success(),
        "{}",
        String::from_utf8_lossy(&naive.stdout)
    );
    // ... and the anchor kept outside the store shows it was cut.
    let out = ward.cli(&["verify", "--key", &key.to_string(), "--anchor", &anchor]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ANCHOR") && text.contains("no longer holds"),
        "{text}"
    );
    // A malformed anchor is a usage error.
    assert_eq!(
        ward.cli(&["verify", "--anchor", "7"]).status.code(),
        Some(2)
    );
}

/// A record cut short together with its end (its newest events removed, with the checkpoints
/// that signed them, and its end row deleted) looks like a live session. It must never verify
/// as complete: `ward verify`, `ward verify --bundle` and the independent Python verifier call
/// it open and exit 1, unless the caller accepts open sessions.
#[test]
fn a_record_cut_short_with_its_end_is_open_never_verified() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let mut ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config("[evidence]\ncheckpoint_interval = \"200ms\"\n")
        .start()
        .expect("ward");
    // A checkpoint signs the session while it sleeps; the last statement and the end follow.
    success(&psql(
        &ward.url("alice", "shop"),
        &[
            "-c",
            "SELECT pg_sleep(1.5)",
            "-c",
            "SELECT 'the statement to hide' AS last",
        ],
    ));
    let sessions = ward.wait_sessions(1);
    let id = sessions[0]["id"].as_str().expect("id").to_owned();
    let keys: serde_json::Value =
        serde_json::from_slice(&ward.cli(&["keys", "show", "--json"]).stdout).expect("keys");
    let key = keys["public_key"].as_str().expect("key").to_owned();
    ward.stop();

    let session = uuid::Uuid::parse_str(&id).expect("uuid");
    let conn = attacker(&ward.dir.join("ward.db"));
    let total: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE session_id = ?1",
            [session.as_bytes()],
            |r| r.get(0),
        )
        .expect("count");
    let (live_checkpoint, live_events): (i64, i64) = conn
        .query_row(
            "SELECT checkpoint_seq, events FROM checkpoint_leaves WHERE session_id = ?1 AND ended = 0 ORDER BY events DESC, checkpoint_seq DESC LIMIT 1",
            [session.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("a checkpoint signed the live session");
    assert!(live_events < total, "{live_events} of {total}");
    for sql in [
        "DELETE FROM checkpoint_leaves WHERE checkpoint_seq > ?1",
        "DELETE FROM checkpoints WHERE seq > ?1",
    ] {
        conn.execute(sql, [live_checkpoint]).expect("delete");
    }
    conn.execute(
        "DELETE FROM events WHERE session_id = ?1 AND seq >= ?2",
        params![session.as_bytes(), live_events],
    )
    .expect("delete events");
    conn.execute(
        "DELETE FROM session_ends WHERE session_id = ?1",
        [session.as_bytes()],
    )
    .expect("delete the end");
    drop(conn);

    let out = ward.cli(&["verify", "--key", &key]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("OPEN           {id}")) && text.contains("no signed end"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&ward.cli(&["verify", "--key", &key, "--json"]).stdout)
            .expect("json");
    assert_eq!(json["ok"], false);
    assert_eq!(json["sessions"][0]["status"], "open", "{json}");
    assert_eq!(json["sessions"][0]["unsigned"], 0, "{json}");
    let allowed = ward.cli(&["verify", "--key", &key, "--allow-open"]);
    assert!(allowed.status.success(), "{allowed:?}");

    let bundle = ward.dir.join("cut.json");
    success(&ward.cli(&["export", &id, "--out", bundle.to_str().expect("path")]));
    let bundle = bundle.to_str().expect("path");
    let out = ward.cli(&["verify", "--bundle", bundle, "--key", &key]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("OPEN"));
    success(&ward.cli(&["verify", "--bundle", bundle, "--key", &key, "--allow-open"]));

    let python = |extra: &[&str]| {
        std::process::Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify_bundle.py"))
            .args([bundle, "--key", &key])
            .args(extra)
            .output()
            .expect("python3 verify_bundle.py")
    };
    let out = python(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines().last().is_some_and(|l| l.starts_with("open ")),
        "{text}"
    );
    assert_eq!(python(&["--allow-open"]).status.code(), Some(0));
}
