//! The independent Python verifier (tools/verify_bundle.py, written from docs/evidence.md)
//! against bundles Ward exported from real sessions: it agrees with `ward verify --bundle` on
//! the untouched bundle (trust carried through a key rotation, a payload stored compressed) and
//! on every edit — a payload, a chain rewritten to match, a dropped tail, an event after the
//! signed end — and refuses a key it was not given.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_core::SessionId;
use ward_store::chain::{self, Hash};
use ward_store::keys::SigningKey;
use ward_testkit::{ClusterOptions, Postgres, Ward, psql, success};

use crate::WARD;
const INSTALL: &str = ".ci/run installs it (`python3 -m pip install cryptography`)";

fn verifier() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify_bundle.py")
}

/// Python and `cryptography` are part of the test setup: without them the test fails, it does
/// not skip, so a CI machine that lacks them cannot pass silently.
fn require_python() {
    match Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "python3 cannot import the `cryptography` module; {INSTALL}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("python3 cannot be run ({e}); {INSTALL}"),
    }
}

/// How a verifier ended: its exit code and what it printed.
struct Verdict {
    code: Option<i32>,
    out: String,
}

impl Verdict {
    fn of(out: Output) -> Self {
        Self {
            code: out.status.code(),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    fn last_line(&self) -> &str {
        self.out.lines().last().unwrap_or_default()
    }
}

fn python(args: &[&str]) -> Verdict {
    Verdict::of(
        Command::new("python3")
            .arg(verifier())
            .args(args)
            .output()
            .expect("run python3"),
    )
}

/// Both verifiers on one bundle and one trusted key.
fn both(bundle: &Path, key: &str) -> (Verdict, Verdict) {
    let path = bundle.to_str().expect("path");
    let py = python(&[path, "--key", key]);
    let rust = Verdict::of(
        Command::new(WARD)
            .env_remove("WARD_CONFIG")
            .args(["verify", "--bundle", path, "--key", key])
            .output()
            .expect("run ward"),
    );
    (py, rust)
}

fn public_key(ward: &Ward) -> String {
    let shown = success(&ward.cli(&["keys", "show", "--json"]));
    let doc: Value = serde_json::from_str(&shown).expect("keys json");
    doc["public_key"].as_str().expect("public_key").to_owned()
}

fn export(ward: &Ward, id: &str, name: &str) -> (PathBuf, Value) {
    let path = ward.dir.join(name);
    success(&ward.cli(&["export", id, "--out", path.to_str().expect("path")]));
    let doc = serde_json::from_slice(&std::fs::read(&path).expect("bundle")).expect("json");
    (path, doc)
}

fn hash_of(v: &Value) -> Hash {
    hex::decode(v.as_str().expect("hex"))
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

/// Recomputes `prev_hash` and `hash` of every event from `from` on, as an attacker without the
/// signing key would after editing one: the chain is consistent again, only the signed heads
/// can tell.
fn rechain(doc: &mut Value, from: usize) {
    let id: SessionId = doc["session"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let events = doc["events"].as_array_mut().expect("events");
    let mut prev = match from.checked_sub(1) {
        Some(before) => hash_of(&events[before]["hash"]),
        None => chain::genesis(id),
    };
    for e in events.iter_mut().skip(from) {
        let payload = e["payload"].as_str().expect("text payload").as_bytes();
        let at: i64 = e["at_ns"].as_str().expect("at_ns").parse().expect("ns");
        let hash = chain::event_hash(
            &prev,
            e["seq"].as_u64().expect("seq"),
            at,
            e["kind"].as_str().expect("kind").as_bytes(),
            &chain::payload_digest(payload),
        );
        e["prev_hash"] = hex::encode(prev).into();
        e["hash"] = hex::encode(hash).into();
        prev = hash;
    }
}

#[test]
fn python_verifier_agrees_with_ward_on_exported_bundles() {
    require_python();
    let selftest = python(&["--self-test"]);
    assert_eq!(selftest.code, Some(0), "{}", selftest.out);

    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let mut ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    let url = ward.url("alice", "shop");
    success(&psql(&url, &["-c", "SELECT 1 AS one"]));
    ward.wait_sessions(1);
    let old_key = public_key(&ward);
    // Rotated while serving: later sessions are signed by the new key, which the old one
    // endorsed.
    success(&ward.cli(&["keys", "rotate"]));
    // Two sessions stay open while a third ends: the checkpoint at its end holds three leaves,
    // so the bundles carry real audit paths. The first one's 100 kB result is past the size
    // from which payloads are stored compressed.
    let open: Vec<_> = [
        vec![
            "-c",
            "SELECT 'three' AS three",
            "-c",
            "SELECT repeat('x', 100000) AS big",
            "-c",
            "SELECT pg_sleep(2)",
        ],
        vec!["-c", "SELECT pg_sleep(2)"],
    ]
    .into_iter()
    .map(|args| {
        let url = url.clone();
        std::thread::spawn(move || psql(&url, &args))
    })
    .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ward
        .sessions()
        .iter()
        .filter(|s| s["ended_at"].is_null() && s["event_count"].as_i64() >= Some(4))
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "two sessions did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    success(&psql(&url, &["-c", "SELECT 2 AS two"]));
    for session in open {
        success(&session.join().expect("psql thread"));
    }
    ward.wait_sessions(4);
    ward.stop();
    let new_key = public_key(&ward);
    assert_ne!(old_key, new_key);
    let db = rusqlite::Connection::open(ward.dir.join("ward.db")).expect("store");
    let compressed: i64 = db
        .query_row(
            "SELECT count(*) FROM events WHERE compressed = 1",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert!(compressed >= 1, "no payload was stored compressed");

    let sessions = ward.sessions();
    let first = sessions[0]["id"].as_str().expect("id");
    let (first, _) = export(&ward, first, "first.json");
    let big = sessions
        .iter()
        .find(|s| s["bytes_down"].as_i64() > Some(100_000))
        .and_then(|s| s["id"].as_str())
        .expect("the session with the large result");
    let (second, doc) = export(&ward, big, "second.json");
    let proofs = doc["checkpoints"].as_array().expect("checkpoints");
    assert!(
        proofs.iter().any(|c| c["leaf_count"].as_u64() >= Some(3)
            && c["proof"].as_array().is_some_and(|p| p.len() >= 2)),
        "no checkpoint with three leaves: {proofs:?}"
    );

    // The untouched bundle: verified through the endorsement, and with the new key alone.
    for key in [&old_key, &new_key] {
        let (py, rust) = both(&second, key);
        assert_eq!(py.code, Some(0), "{}", py.out);
        assert!(py.last_line().starts_with("verified "), "{}", py.out);
        assert_eq!(rust.code, Some(0), "{}", rust.out);
    }
    assert!(
        python(&[second.to_str().expect("path"), "--key", &old_key])
            .out
            .contains("trusted: endorsed by")
    );
    // The new key does not vouch for what the old one signed before it existed.
    let (py, rust) = both(&first, &new_key);
    assert_eq!((py.code, rust.code), (Some(1), Some(1)), "{}", py.out);
    assert!(py.out.contains("not trusted"), "{}", py.out);
    let stranger = SigningKey::generate().expect("key").public().to_string();
    let (py, rust) = both(&second, &stranger);
    assert_eq!((py.code, rust.code), (Some(1), Some(1)), "{}", py.out);
    assert!(py.last_line().starts_with("FAILED "), "{}", py.out);
    assert!(py.out.contains("not trusted"), "{}", py.out);

    // Edits to the bundle: each is caught by both verifiers, and named by the Python one.
    let edited = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        edit(&mut d);
        let path = ward.dir.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(&d).expect("json")).expect("write");
        path
    };
    let query = doc["events"]
        .as_array()
        .expect("events")
        .iter()
        .position(|e| e["kind"] == "db.query" && e["payload"].to_string().contains("three"))
        .expect("the query event");
    let edit_query = |d: &mut Value| {
        let p = d["events"][query]["payload"].as_str().expect("payload");
        d["events"][query]["payload"] = p.replace("three", "thr33").into();
    };
    let last = doc["events"].as_array().expect("events").len() - 1;
    let cases: [(&str, PathBuf, &str); 4] = [
        (
            "an edited payload",
            edited("payload.json", &edit_query),
            "content does not match its hash",
        ),
        (
            "an edited payload with the chain recomputed",
            edited("rechained.json", &|d| {
                edit_query(d);
                rechain(d, query);
            }),
            "differs from the head that checkpoint",
        ),
        (
            "a dropped tail with the session record adjusted",
            edited("truncated.json", &|d| {
                d["events"].as_array_mut().expect("events").pop();
                d["session"]["event_count"] = last.into();
            }),
            "MISSING EVENTS",
        ),
        (
            "an event appended after the signed end",
            edited("appended.json", &|d| {
                let events = d["events"].as_array_mut().expect("events");
                let mut extra = events[last].clone();
                extra["seq"] = (last + 1).into();
                extra["payload"] = r#"{"text":"SELECT 4"}"#.into();
                extra["kind"] = "db.query".into();
                events.push(extra);
                d["session"]["event_count"] = (last + 2).into();
                rechain(d, last + 1);
            }),
            "follows the session's end",
        ),
    ];
    for (what, path, named) in cases {
        let (py, rust) = both(&path, &old_key);
        assert_eq!(py.code, Some(1), "{what}: {}", py.out);
        assert_eq!(rust.code, Some(1), "{what}: ward verify: {}", rust.out);
        assert!(py.out.contains(named), "{what}: {}", py.out);
        assert!(py.last_line().starts_with("FAILED "), "{what}: {}", py.out);
    }

    // Usage errors: no key to trust, or a key that is not one.
    let second = second.to_str().expect("path");
    assert_eq!(python(&[second]).code, Some(2));
    assert_eq!(python(&[second, "--key", "ed25519:AAAA"]).code, Some(2));
}
