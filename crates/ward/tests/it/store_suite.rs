//! The store suite: the same tests run against the SQLite store and the PostgreSQL store.
//! Recording with backpressure, verification, what the database itself refuses, tampering by
//! whoever can bypass it, periodic checkpoints, restarts, prune, export bundles, users; and, on
//! PostgreSQL, several recorders sharing one store.

use std::path::PathBuf;
use std::time::Duration;

use ward_config::Durability;
use ward_core::{EventKind, Identity, Outcome, Protocol, SessionId, Timestamp};
use ward_store::bundle::Bundle;
use ward_store::keys::SigningKey;
use ward_store::query::SessionFilter;
use ward_store::verify::Status;
use ward_store::{JsonBody, KeySource, Location, Recorder, RecorderOptions, SessionStart, Store};
use ward_testkit::{ClusterOptions, Postgres, sqlite_without_triggers};

/// A store to test: where it is, and how an attacker (or the owner) reaches it directly.
struct Backend {
    location: Location,
    dir: PathBuf,
    /// PostgreSQL: the cluster and the owner's URL.
    pg: Option<(Postgres, String)>,
}

impl Backend {
    fn sqlite(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ward-suite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        Self {
            location: Location::Sqlite(dir.join("ward.db")),
            dir,
            pg: None,
        }
    }

    fn postgres(name: &str) -> Self {
        let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
        let (admin, url) = pg.audit_store("audit").expect("store database");
        let applied = Store::migrate_postgres(&admin, None, "audit_ward").expect("migrate");
        assert_eq!(applied, (1..=10).collect::<Vec<i64>>());
        // Migrating again is a no-op.
        assert!(
            Store::migrate_postgres(&admin, None, "audit_ward")
                .expect("again")
                .is_empty()
        );
        let dir = std::env::temp_dir().join(format!("ward-suite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        Self {
            location: Location::Postgres(url, None),
            dir,
            pg: Some((pg, admin)),
        }
    }

    fn recorder(&self, node: &str, interval: Duration) -> (Recorder, std::thread::JoinHandle<()>) {
        let options = RecorderOptions {
            queue_events: 16,
            masker: ward_mask::Masker::builtin().expect("masker"),
            durability: Durability::Batched,
            signing_key: KeySource::File(self.dir.join("signing.key")),
            checkpoint_interval: interval,
            node: node.into(),
            notify: None,
        };
        Recorder::spawn(&self.location, options).expect("recorder")
    }

    fn store(&self) -> Store {
        Store::open(&self.location).expect("open store")
    }

    /// Runs SQL as someone who can bypass the store's protections: the SQLite file's owner
    /// drops the triggers; PostgreSQL's owner disables them.
    fn attack(&self, sql: &str) {
        match &self.pg {
            None => {
                let Location::Sqlite(path) = &self.location else {
                    unreachable!()
                };
                let (conn, _) = sqlite_without_triggers(path).expect("open");
                conn.execute_batch(sql).expect("attack");
            }
            // (The blocking client needs a thread that does not drive the test's runtime.)
            Some((_, admin)) => tokio::task::block_in_place(|| {
                let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("owner");
                c.batch_execute(&format!(
                    "ALTER TABLE events DISABLE TRIGGER ALL; {sql}; ALTER TABLE events ENABLE TRIGGER ALL;"
                ))
                .expect("attack");
            }),
        }
    }

    /// A blob literal in the backend's dialect.
    fn blob(&self, bytes: &[u8]) -> String {
        if self.pg.is_some() {
            format!("'\\x{}'::bytea", hex::encode(bytes))
        } else {
            format!("x'{}'", hex::encode(bytes))
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(id: SessionId) -> SessionStart {
    SessionStart {
        id,
        identity: Identity {
            subject: "alice".into(),
            groups: vec!["dev".into()],
            method: "password".into(),
            issuer: "local".into(),
            credential: None,
        },
        resource: "shop".into(),
        protocol: Protocol::Postgres,
        client_addr: "127.0.0.1:5555".into(),
        parameters: Default::default(),
        reason: None,
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

fn status(report: &ward_store::verify::Report, id: SessionId) -> Option<Status> {
    report
        .sessions
        .iter()
        .find(|v| v.session == id.to_string())
        .map(|v| v.status.clone())
}

async fn recording_verification_and_tampering(b: Backend) {
    let (recorder, _thread) = b.recorder("n1", Duration::from_secs(10));
    // A small queue and many events: the recorder must keep every one (backpressure, no drops).
    let a = record_session(&recorder, 500).await;
    let c = record_session(&recorder, 3).await;
    assert!(recorder.flush().await);

    let mut store = b.store();
    let sessions = store.sessions(&SessionFilter::default()).expect("list");
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.outcome.as_deref() == Some("ok")));
    assert_eq!(sessions[1].event_count, 502);
    let events = store.events(a).expect("events");
    assert_eq!(events.len(), 502);
    assert_eq!(events[1].payload["text"], "select 0");
    assert_eq!(events.last().map(|e| e.kind.as_str()), Some("session.end"));
    let prefix = &a.to_string()[..13];
    assert_eq!(store.resolve_session(prefix).expect("prefix"), a);
    // Ids begin with their start time: two sessions a few milliseconds apart share more than
    // the 8 digits a prefix needs (unless a 65-second boundary falls between them).
    let (a_id, c_id) = (a.to_string(), c.to_string());
    let common = a_id
        .bytes()
        .zip(c_id.bytes())
        .take_while(|(x, y)| x == y)
        .count();
    if common >= 8 {
        let shared = &a_id[..common];
        assert!(matches!(
            store.resolve_session(shared),
            Err(ward_store::StoreError::AmbiguousSession(_))
        ));
    }
    let report = store.verify(None, &[]).expect("verify");
    assert!(report.ok, "{report:?}");
    assert!(matches!(status(&report, a), Some(Status::Verified { .. })));

    // The database itself refuses to change or remove events.
    let refused = match &b.pg {
        None => {
            let Location::Sqlite(path) = &b.location else {
                unreachable!()
            };
            let conn = rusqlite::Connection::open(path).expect("open");
            conn.execute("DELETE FROM events WHERE seq = 1", [])
                .is_err()
                && conn.execute("UPDATE events SET at = 0", []).is_err()
        }
        Some((_, admin)) => tokio::task::block_in_place(|| {
            let Location::Postgres(url, _) = &b.location else {
                unreachable!()
            };
            // Ward's role has no UPDATE or DELETE at all; the owner meets the triggers.
            let mut ward = postgres::Client::connect(url, postgres::NoTls).expect("ward role");
            let mut owner = postgres::Client::connect(admin, postgres::NoTls).expect("owner");
            ward.execute("DELETE FROM events WHERE seq = 1", &[])
                .is_err()
                && ward.execute("UPDATE events SET at = 0", &[]).is_err()
                && owner
                    .execute("DELETE FROM events WHERE seq = 1", &[])
                    .is_err()
                && owner.execute("UPDATE events SET at = 0", &[]).is_err()
                && owner.batch_execute("TRUNCATE events").is_err()
        }),
    };
    assert!(refused, "the store let an event be changed");

    // Someone who bypasses that edits a payload and deletes an event: both are named.
    b.attack(&format!(
        "UPDATE events SET payload = {} WHERE session_id = {} AND seq = 7",
        b.blob(br#"{"text":"select 42"}"#),
        b.blob(a.0.as_bytes())
    ));
    b.attack(&format!(
        "DELETE FROM events WHERE session_id = {} AND seq = 2",
        b.blob(c.0.as_bytes())
    ));
    let report = store.verify(None, &[]).expect("verify");
    assert!(!report.ok);
    assert!(
        matches!(status(&report, a), Some(Status::Tampered { seq: 7, .. })),
        "{report:?}"
    );
    assert!(
        matches!(
            status(&report, c),
            Some(Status::MissingEvents {
                after_seq: Some(1),
                ..
            })
        ),
        "{report:?}"
    );
}

async fn checkpoints_restarts_prune_and_bundles(b: Backend) {
    {
        let (recorder, thread) = b.recorder("n1", Duration::from_millis(100));
        let done = record_session(&recorder, 3).await;
        let s = recorder.start(start(SessionId::new())).await;
        s.record(JsonBody(
            EventKind::DbQuery,
            serde_json::json!({ "text": "select 1" }),
        ))
        .await;
        assert!(recorder.flush().await);
        let mut store = b.store();
        // The periodic checkpoint signs the live session's head without any new event; with
        // no signed end yet it is open, never verified.
        let mut signed = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let r = store.verify(None, &[]).expect("verify");
            let statuses: Vec<_> = r.sessions.iter().map(|v| &v.status).collect();
            if statuses
                .iter()
                .filter(|s| matches!(s, Status::Verified { .. }))
                .count()
                == 1
                && statuses.iter().any(|s| {
                    matches!(
                        s,
                        Status::Open {
                            unsigned: 0,
                            checkpoint: Some(_)
                        }
                    )
                })
            {
                assert!(!r.ok, "an open session is not a complete record: {r:?}");
                signed = true;
                break;
            }
        }
        assert!(signed, "no periodic checkpoint within 2.5 s");
        let _ = done;
        // The recorder stops with the session still open, as in a crash.
        drop((s, recorder));
        thread.join().expect("recorder thread");
    }
    // Another node does not touch n1's open session; n1 restarting ends it as incomplete.
    let (other, _t) = b.recorder("n2", Duration::from_secs(10));
    let mut store = b.store();
    let open = store.sessions(&SessionFilter::default()).expect("list");
    assert_eq!(open.iter().filter(|s| s.ended_at.is_none()).count(), 1);
    drop(other);
    let (recorder, _thread) = b.recorder("n1", Duration::from_secs(10));
    let sessions = store.sessions(&SessionFilter::default()).expect("list");
    let live = sessions
        .iter()
        .find(|s| s.event_count == 3)
        .expect("the interrupted session");
    assert_eq!(live.outcome.as_deref(), Some("incomplete"));
    let report = store.verify(None, &[]).expect("verify");
    assert!(
        report.ok
            && report
                .sessions
                .iter()
                .all(|v| matches!(v.status, Status::Verified { .. })),
        "{report:?}"
    );

    // Export a session and verify the bundle on its own.
    let key = SigningKey::load_or_create(&b.dir.join("signing.key"))
        .expect("key")
        .0
        .public();
    let id: SessionId = live.id.parse().expect("id");
    let mut text = Vec::new();
    store.write_bundle(id, &mut text).expect("export");
    let report = Bundle::parse(&text)
        .expect("parse")
        .verify(&[key])
        .expect("verify");
    assert!(report.ok, "{report:?}");

    // Prune what ended before now; a session that ends later is kept.
    let cutoff = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let later = record_session(&recorder, 1).await;
    assert!(recorder.flush().await);
    let signing = SigningKey::load_or_create(&b.dir.join("signing.key"))
        .expect("key")
        .0;
    let mut admin = match &b.pg {
        None => b.store(),
        Some((_, admin)) => Store::open(&Location::Postgres(admin.clone(), None)).expect("owner"),
    };
    if b.pg.is_some() {
        // Ward's own role cannot prune: it has no DELETE.
        assert!(store.prune(cutoff, &signing, false).is_err());
    }
    let pruned = admin.prune(cutoff, &signing, false).expect("prune");
    assert_eq!(pruned.removed.len(), 2, "{pruned:?}");
    assert_eq!(pruned.record, Some(0));
    let left = store.sessions(&SessionFilter::default()).expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, later.to_string());
    let report = store.verify(None, &[key]).expect("verify");
    assert!(report.ok, "{report:?}");
    assert_eq!(
        report
            .sessions
            .iter()
            .filter(|v| matches!(v.status, Status::Pruned { prune: 0 }))
            .count(),
        2
    );

    // Users.
    store
        .put_user("bob", &["ops".into()], "hash1")
        .expect("put");
    store
        .put_user("bob", &["ops".into(), "dev".into()], "hash2")
        .expect("replace");
    let bob = store.user("bob").expect("user").expect("bob");
    assert_eq!(bob.groups, vec!["ops", "dev"]);
    assert_eq!(bob.password_hash, "hash2");

    // SSH keys: one owner per key, listed, removed.
    store
        .add_user_key("bob", "SHA256:k1", "ssh-ed25519 AAAA k1")
        .expect("add");
    store
        .add_user_key("bob", "SHA256:k1", "ssh-ed25519 AAAA k1")
        .expect("adding it again is a no-op");
    let taken = store.add_user_key("carol", "SHA256:k1", "ssh-ed25519 AAAA k1");
    assert!(taken.is_err_and(|e| e.to_string().contains("already registered for user bob")));
    assert_eq!(
        store.key_owner("SHA256:k1").expect("owner").as_deref(),
        Some("bob")
    );
    assert_eq!(store.user_keys(Some("bob")).expect("keys").len(), 1);
    assert!(store.remove_user_key("bob", "SHA256:k1").expect("remove"));
    assert!(!store.remove_user_key("bob", "SHA256:k1").expect("gone"));
    assert!(store.key_owner("SHA256:k1").expect("owner").is_none());

    // SSH host keys learned on first use: the first one stays.
    assert_eq!(
        store
            .learn_host_key("web1", "ssh-ed25519 AAAA1")
            .expect("learn"),
        "ssh-ed25519 AAAA1"
    );
    assert_eq!(
        store
            .learn_host_key("web1", "ssh-ed25519 AAAA2")
            .expect("learn"),
        "ssh-ed25519 AAAA1"
    );
}

/// Ward tokens and service-account keys: issued, found by secret only, listed, revoked at
/// once; the tables refuse changes like the audit tables.
fn credentials(b: Backend) {
    use ward_store::credentials::{CredentialFilter, CredentialKind, NewCredential};
    let mut store = b.store();
    let in_an_hour = Timestamp(Timestamp::now().0 + 3_600_000_000_000);
    let token = |subject: &str, expires_at| NewCredential {
        kind: CredentialKind::Token,
        subject: subject.into(),
        groups: vec!["dev".into()],
        issuer: "https://idp.example.com".into(),
        method: "oidc".into(),
        expires_at,
        key: None,
    };
    let (alice, secret) = store
        .issue_credential(&token("alice", Some(in_an_hour)))
        .expect("issue");
    assert!(secret.starts_with("ward_t_") && alice.id.starts_with("t_"));
    let (_, expired) = store
        .issue_credential(&token("alice", Some(Timestamp(1))))
        .expect("issue");
    let (_, bob) = store
        .issue_credential(&token("bob", Some(in_an_hour)))
        .expect("issue");
    let (bot, key) = store
        .issue_credential(&NewCredential {
            kind: CredentialKind::ServiceAccount,
            subject: "ci-bot".into(),
            groups: vec![],
            issuer: "local".into(),
            method: "admin".into(),
            expires_at: None,
            key: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
        })
        .expect("issue");
    // A key bound to a DPoP key says so when found.
    let bound = store
        .credential_by_secret(&key)
        .expect("lookup")
        .expect("found");
    assert_eq!(
        bound.key.as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    assert_eq!(bot.key, bound.key);
    let now = Timestamp::now();
    let found = store
        .credential_by_secret(&secret)
        .expect("lookup")
        .expect("found");
    assert_eq!(found.subject, "alice");
    assert_eq!(found.groups, ["dev"]);
    assert!(found.unusable(now).is_none());
    assert!(found.key.is_none());
    let old = store
        .credential_by_secret(&expired)
        .expect("lookup")
        .expect("found");
    assert!(old.unusable(now).is_some_and(|w| w.contains("expired")));
    assert!(
        store
            .credential_by_secret("ward_t_guess")
            .expect("lookup")
            .is_none()
    );
    let usable = |store: &mut Store, kind| {
        store
            .credentials(&CredentialFilter {
                kind: Some(kind),
                usable_only: true,
                ..CredentialFilter::default()
            })
            .expect("list")
            .len()
    };
    assert_eq!(usable(&mut store, CredentialKind::Token), 2);
    assert_eq!(usable(&mut store, CredentialKind::ServiceAccount), 1);
    // Revoking alice's tokens leaves bob's; revoking again finds nothing.
    let alice_only = CredentialFilter {
        kind: Some(CredentialKind::Token),
        subject: Some("alice"),
        ..CredentialFilter::default()
    };
    let revoked = store
        .revoke_credentials(&alice_only, "admin:test")
        .expect("revoke");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].id, alice.id);
    assert!(
        store
            .revoke_credentials(&alice_only, "admin:test")
            .expect("again")
            .is_empty()
    );
    let found = store
        .credential_by_secret(&secret)
        .expect("lookup")
        .expect("found");
    assert!(
        found
            .unusable(Timestamp::now())
            .is_some_and(|w| w.contains("revoked"))
    );
    assert!(
        store
            .credential_by_secret(&bob)
            .expect("lookup")
            .expect("found")
            .unusable(Timestamp::now())
            .is_none()
    );
    let by_id = CredentialFilter {
        id: Some(&bot.id),
        ..CredentialFilter::default()
    };
    assert_eq!(
        store
            .revoke_credentials(&by_id, "admin:test")
            .expect("revoke")
            .len(),
        1
    );
    assert!(
        store
            .credential_by_secret(&key)
            .expect("lookup")
            .expect("found")
            .revoked_at
            .is_some()
    );
    assert_eq!(
        store
            .credentials(&CredentialFilter::default())
            .expect("all")
            .len(),
        4
    );
    drop(store);
    // Nobody un-revokes by editing rows through Ward's own access.
    let refused = match &b.location {
        Location::Sqlite(path) => rusqlite::Connection::open(path)
            .expect("open")
            .execute("DELETE FROM credential_revocations", [])
            .is_err(),
        Location::Postgres(url, _) => tokio::task::block_in_place(|| {
            let mut c = postgres::Client::connect(url, postgres::NoTls).expect("runtime role");
            c.batch_execute("DELETE FROM credential_revocations")
                .is_err()
                && c.batch_execute("UPDATE credentials SET expires_at = NULL")
                    .is_err()
        }),
    };
    assert!(refused, "changing credentials must be refused");
}

/// Access requests: approvals counted until enough, each reviewer once, none after a
/// decision; a denial ends a request; approved ones are open until their window ends.
fn access_requests(b: Backend) {
    use ward_store::StoreError;
    use ward_store::requests::{NewRequest, RequestFilter, RequestKind, RequestState, Review};
    let mut store = b.store();
    let approvers = vec!["dba".to_owned()];
    let new = |resource| NewRequest {
        id: None,
        kind: RequestKind::Access,
        rule: None,
        requester: "alice",
        resource,
        reason: "INC-1",
        seconds: 2,
        approvers: &approvers,
        approvals: 2,
        session: SessionId::new(),
        requested_at: Timestamp::now(),
    };
    let review = |who: &str, approved| Review {
        reviewer: who.into(),
        approved,
        comment: format!("{who} says so"),
        at: Timestamp::now(),
        session: SessionId::new(),
    };
    let shop = store.create_request(&new("shop")).expect("create");
    assert_eq!((shop.state, shop.id.len()), (RequestState::Pending, 12));
    let after = store
        .review_request(&shop.id, &review("dana", true))
        .expect("first approval");
    assert_eq!(after.state, RequestState::Pending, "two are needed");
    assert_eq!(after.approved_by(), ["dana"]);
    let again = store.review_request(&shop.id, &review("dana", true));
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(store.open_approvals().expect("open").is_empty());
    let after = store
        .review_request(&shop.id, &review("erin", true))
        .expect("second approval");
    assert_eq!(after.state, RequestState::Approved);
    let (decided, until) = (
        after.decided_at.expect("decided"),
        after.expires_at.expect("until"),
    );
    assert_eq!(until.0 - decided.0, 2_000_000_000);
    let late = store.review_request(&shop.id, &review("frank", false));
    assert!(
        matches!(&late, Err(StoreError::Conflict(m)) if m.contains("approved already")),
        "{late:?}"
    );
    let hr = store.create_request(&new("hr")).expect("create");
    let denied = store
        .review_request(&hr.id, &review("dana", false))
        .expect("denial");
    assert_eq!(denied.state, RequestState::Denied);
    assert_eq!(denied.reviews[0].comment, "dana says so");
    let open = store.open_approvals().expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].id.as_str(), open[0].reviews.len()),
        (shop.id.as_str(), 2)
    );
    let mine = |state| {
        let filter = RequestFilter {
            requester: Some("alice"),
            state,
            limit: None,
        };
        b.store().access_requests(&filter).expect("list")
    };
    assert_eq!(mine(None).len(), 2);
    assert_eq!(mine(Some(RequestState::Denied))[0].id, hr.id);
    assert!(matches!(
        store.access_request("000000000000"),
        Err(StoreError::NoSuchRequest(_))
    ));
    // A step held for review: its id is its session's; approved, it has no window; pending
    // past its timeout, it expired.
    let step = |id| NewRequest {
        id: Some(id),
        kind: RequestKind::Step,
        rule: Some("review-deletes"),
        reason: "DELETE FROM orders",
        approvals: 1,
        ..new("shop")
    };
    let held = store.create_request(&step("0123456789ab")).expect("step");
    assert_eq!(
        (held.kind, held.rule.as_deref()),
        (RequestKind::Step, Some("review-deletes"))
    );
    let allowed = store
        .review_request("0123456789ab", &review("dana", true))
        .expect("allow");
    assert_eq!(
        (allowed.state, allowed.expires_at),
        (RequestState::Approved, None)
    );
    store.create_request(&step("ba9876543210")).expect("step");
    assert_eq!(
        store.open_approvals().expect("open").len(),
        1,
        "steps open no grant"
    );
    std::thread::sleep(Duration::from_millis(2100));
    assert!(store.open_approvals().expect("open").is_empty());
    let ended = store.access_request(&shop.id).expect("read");
    assert_eq!(ended.state, RequestState::Expired, "its window closed");
    let unreviewed = store.access_request("ba9876543210").expect("read");
    assert_eq!(
        unreviewed.state,
        RequestState::Expired,
        "held past its timeout"
    );
    let still = store.access_request("0123456789ab").expect("read");
    assert_eq!(still.state, RequestState::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_access_requests() {
    access_requests(Backend::sqlite("req"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_access_requests() {
    access_requests(Backend::postgres("req"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_credentials() {
    credentials(Backend::sqlite("cred"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_credentials() {
    credentials(Backend::postgres("cred"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_recording_verification_and_tampering() {
    recording_verification_and_tampering(Backend::sqlite("rec")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_recording_verification_and_tampering() {
    recording_verification_and_tampering(Backend::postgres("rec")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_restarts_prune_and_bundles() {
    checkpoints_restarts_prune_and_bundles(Backend::sqlite("cp")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_checkpoints_restarts_prune_and_bundles() {
    checkpoints_restarts_prune_and_bundles(Backend::postgres("cp")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_shared_by_concurrent_recorders() {
    let b = Backend::postgres("shared");
    let (r1, _t1) = b.recorder("n1", Duration::from_millis(100));
    let (r2, _t2) = b.recorder("n2", Duration::from_millis(100));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let r = if i % 2 == 0 { r1.clone() } else { r2.clone() };
        tasks.push(tokio::spawn(async move { record_session(&r, 200).await }));
    }
    for t in tasks {
        t.await.expect("session");
    }
    assert!(r1.flush().await && r2.flush().await);
    let mut store = b.store();
    let report = store.verify(None, &[]).expect("verify");
    assert!(report.ok, "{report:?}");
    assert_eq!(report.sessions.len(), 8);
    assert!(
        report
            .sessions
            .iter()
            .all(|v| matches!(v.status, Status::Verified { .. })),
        "{report:?}"
    );
    // Both recorders wrote checkpoints into one linear chain.
    assert!(report.checkpoints >= 2, "{report:?}");
}
