//! The SIEM stream: every committed event reaches rsyslog (RFC 5424 over TCP and TLS), an OTLP/HTTP
//! logs endpoint read with OpenTelemetry's own definitions, and a webhook, at least once and in
//! order per session, across a crash of Ward.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_testkit::{ClusterOptions, Postgres, Rsyslog, SiemPeer, Ward, psql};

use crate::WARD;

/// `(session, seq, hash)` of each event, in the order a sink received them.
pub(crate) type Received = Vec<(String, i64, String)>;

/// Events as a sink received them (JSON as Ward sends them).
pub(crate) fn received(events: impl Iterator<Item = Value>) -> Received {
    events
        .map(|e| {
            (
                e["session"].as_str().unwrap_or_default().to_owned(),
                e["seq"].as_i64().unwrap_or(-1),
                e["hash"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Whether `got` holds every event the store holds, each session's in order (a first arrival
/// never comes before an earlier event of its session); duplicates are allowed.
pub(crate) fn covers(
    got: &Received,
    store: &HashMap<String, Vec<(i64, String)>>,
) -> Result<(), String> {
    let mut next: HashMap<&str, i64> = HashMap::new();
    for (session, seq, hash) in got {
        let Some(events) = store.get(session) else {
            continue;
        };
        let want = next.entry(session).or_insert(0);
        if *seq == *want {
            let stored = events.get(*seq as usize).map(|(_, h)| h);
            if stored != Some(hash) {
                return Err(format!("{session} #{seq}: hash {hash} is not the store's"));
            }
            *want += 1;
        } else if *seq > *want {
            return Err(format!("{session}: #{seq} arrived before #{want}"));
        }
    }
    for (session, events) in store {
        let sent = next.get(session.as_str()).copied().unwrap_or(0);
        if sent != events.len() as i64 {
            return Err(format!("{session}: {sent} of {} events", events.len()));
        }
    }
    Ok(())
}

/// `(seq, hash)` of every event the store holds, by session.
pub(crate) fn events_by_session(ward: &Ward) -> HashMap<String, Vec<(i64, String)>> {
    ward.sessions()
        .iter()
        .map(|s| {
            let id = s["id"].as_str().expect("id").to_owned();
            let events = ward
                .events(&id)
                .iter()
                .map(|e| {
                    (
                        e["seq"].as_i64().unwrap_or(-1),
                        e["hash"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            (id, events)
        })
        .collect()
}

#[test]
fn every_committed_event_reaches_syslog_otlp_and_a_webhook_in_order_across_a_crash() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let rsyslog = Rsyslog::start().expect("rsyslog");
    let (cert, key) = ward_testkit::tls_pair();
    let rsyslog_tls = Rsyslog::start_tls((&cert, &key)).expect("rsyslog over TLS");
    let peer = SiemPeer::start(2).expect("siem peer");
    let mut ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .file("siem.secret", "hook-secret\n")
        .file("syslog-ca.pem", &cert)
        .config(&format!(
            "[evidence]\ncheckpoint_interval = \"200ms\"\n\n\
             [[guardrails]]\nname = \"no-drops\"\ndeny = [\"drop\"]\n\n\
             [[siem]]\nname = \"rsyslog\"\nkind = \"syslog\"\nurl = \"tcp://127.0.0.1:{}\"\nbatch = 5\nstart = \"beginning\"\n\n\
             [[siem]]\nname = \"rsyslog-tls\"\nkind = \"syslog\"\nurl = \"tls://127.0.0.1:{tls_port}\"\nca_file = \"syslog-ca.pem\"\nbatch = 5\nstart = \"beginning\"\n\n\
             [[siem]]\nname = \"otel\"\nkind = \"otlp\"\nurl = \"{url}/v1/logs\"\nbatch = 7\nstart = \"beginning\"\n\n\
             [[siem]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}/hook\"\nsecret_file = \"siem.secret\"\nbatch = 5\nstart = \"beginning\"\n",
            rsyslog.port,
            tls_port = rsyslog_tls.port,
            url = peer.url()
        ))
        .start()
        .expect("ward");

    let sessions = |ward: &Ward| {
        for sql in ["SELECT 'card 4111 1111 1111 1111'", "DROP TABLE nothing"] {
            let _ = psql(&ward.url("alice", "shop"), &["-c", sql]);
        }
        let refused = psql(
            &ward.url_with("alice", "wrong", "shop", "require"),
            &["-c", "SELECT 1"],
        );
        assert!(!refused.status.success());
    };
    sessions(&ward);
    // A crash, once the store has the three sessions, while the streams are still sending
    // (they poll every second): the restart goes on from the cursor in the store.
    ward.wait_sessions(3);
    ward.kill();
    ward.restart().expect("restart");
    sessions(&ward);
    ward.wait_sessions(6);

    let store = events_by_session(&ward);
    assert!(store.len() >= 6, "{store:?}");

    let syslog = |rsyslog: &Rsyslog| {
        received(rsyslog.lines().iter().map(|l| {
            let mut parts = l.splitn(4, '|');
            let (version, app, msgid, msg) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let event: Value =
                serde_json::from_str(msg.trim_start()).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(
                (version, app),
                ("1", "ward"),
                "rsyslog parsed RFC 5424: {l}"
            );
            assert_eq!(msgid, event["kind"], "{l}");
            event
        }))
    };
    let otlp = || {
        received(
            peer.received("otlp")
                .into_iter()
                .map(|r| r["event"].clone()),
        )
    };
    let hook = || {
        received(
            peer.received("hook")
                .into_iter()
                .map(|r| r["event"].clone()),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let total: usize = store.values().map(Vec::len).sum();
    loop {
        // Each sink got everything; after the crash, at most the batch in flight came again
        // (the restart went on from the cursor, not from the start).
        let done = [
            ("syslog", syslog(&rsyslog), 5),
            ("syslog over TLS", syslog(&rsyslog_tls), 5),
            ("otlp", otlp(), 7),
            ("webhook", hook(), 5),
        ]
        .into_iter()
        .map(|(sink, got, batch)| {
            covers(&got, &store)
                .and_then(|()| match got.len() <= total + batch {
                    true => Ok(()),
                    false => Err(format!("{} events sent for {total}", got.len())),
                })
                .map_err(|e| format!("{sink}: {e}"))
        })
        .collect::<Result<Vec<()>, String>>();
        match done {
            Ok(_) => break,
            Err(why) if Instant::now() > deadline => panic!("{why}\n{}", ward.log()),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }

    // The OTLP records carry the event as OpenTelemetry's fields too.
    let records = peer.received("otlp");
    let denied = records
        .iter()
        .find(|r| r["event"]["kind"] == "policy.denied")
        .expect("a guardrail's refusal");
    assert_eq!(denied["severity_text"], "WARN");
    assert_eq!(denied["event_name"], "policy.denied");
    assert_eq!(denied["attributes"]["ward.user"], "alice");
    assert_eq!(denied["resource"]["service.name"], "ward");
    assert_eq!(
        denied["time_unix_nano"].as_u64().map(|t| t > 0),
        Some(true),
        "{denied}"
    );
    // What the store masked, the SIEM gets masked.
    let text = serde_json::to_string(&records).expect("json");
    assert!(!text.contains("4111 1111 1111 1111"), "{text}");
    assert!(text.contains("[REDACTED:card]"), "{text}");
    // The webhook's batches are signed, and the two refused posts were sent again.
    let hooked = peer.received("hook");
    assert!(
        hooked.iter().all(|r| r["headers"]["x-ward-signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("v1="))),
        "{hooked:?}"
    );
    let metrics_free = ward.log();
    assert!(
        metrics_free.contains("delivery failed"),
        "the 503s were retried: {metrics_free}"
    );
}
