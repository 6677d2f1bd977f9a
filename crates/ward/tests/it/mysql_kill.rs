//! Stopping MySQL queries and sessions: KILL through Ward (the mariadb client's Ctrl-C stops
//! its own query over its second connection, which names no database, and no one stops another
//! user's query, whichever id they name), a session ended from outside, and a server that dies
//! mid-query.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ward_testkit::{Mariadb, PASSWORD, Ward, of_kind};

use crate::WARD;

/// A `SELECT SLEEP(30)` through Ward in the mariadb client, as a child process.
fn sleeper(ward: &Ward, user: &str) -> std::process::Child {
    let port = ward.mysql_port.expect("port").to_string();
    let ca = format!("--ssl-ca={}", ward.ca_cert().display());
    let client = ward_local::mariadb::client().expect("mariadb client");
    Command::new(client)
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &port,
            "-u",
            user,
            &format!("-p{PASSWORD}"),
            "-D",
            "shop",
            "--ssl",
            &ca,
            "-e",
            "SELECT SLEEP(30)",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mariadb")
}

/// Waits until the server runs a `SLEEP` query.
fn wait_for_sleep(db: &Mariadb) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let n = db
            .sql("SELECT count(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP%'")
            .expect("processlist");
        if n.trim() != "0" {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the SLEEP query never ran");
}

fn setup() -> (Mariadb, Ward) {
    setup_with(|b| b)
}

fn setup_with(
    extra: impl FnOnce(ward_testkit::WardBuilder) -> ward_testkit::WardBuilder,
) -> (Mariadb, Ward) {
    let db = Mariadb::start(false).expect("mariadb");
    let ward = extra(Ward::builder(WARD))
        .mysql()
        .mysql_resource("shop", &db, "app")
        .user("alice", &["dev"])
        .user("bob", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    (db, ward)
}

#[test]
fn ctrl_c_in_the_mariadb_client_stops_its_query() {
    let (db, ward) = setup();
    let started = Instant::now();
    let child = sleeper(&ward, "alice");
    wait_for_sleep(&db);
    // SAFETY-free: kill(1) sends the signal a terminal's Ctrl-C would.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR 1317") && started.elapsed() < Duration::from_secs(20),
        "{err} after {:?}",
        started.elapsed()
    );
    let sessions = ward.wait_sessions(2);
    let target = sessions
        .iter()
        .find(|s| s["resource"] == "shop")
        .expect("the query's session");
    let events = ward.events(target["id"].as_str().expect("id"));
    assert_eq!(of_kind(&events, "db.cancel").len(), 1, "{events:?}");
    let killer = sessions
        .iter()
        .find(|s| s["resource"] == "")
        .expect("the client's kill connection");
    assert_eq!(killer["user"], "alice");
    let events = ward.events(killer["id"].as_str().expect("id"));
    let queries: Vec<&str> = of_kind(&events, "db.query")
        .iter()
        .filter_map(|q| q["payload"]["text"].as_str())
        .collect();
    assert!(
        queries.iter().any(|q| q.starts_with("KILL QUERY ")),
        "{queries:?}"
    );
}

#[test]
fn no_one_stops_another_users_query() {
    let (db, ward) = setup();
    let mut child = sleeper(&ward, "alice");
    wait_for_sleep(&db);
    let live = ward.live_sessions(&[], |s| s["user"] == "alice");
    let events = ward.events(live[0]["id"].as_str().expect("id"));
    let ward_id = events[0]["payload"]["parameters"]["connection_id"]
        .as_str()
        .expect("connection id")
        .to_owned();
    let upstream_id = db
        .sql("SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP%'")
        .expect("id");
    for id in [ward_id.as_str(), upstream_id.trim()] {
        for sql in [format!("KILL QUERY {id}"), format!("KILL {id}")] {
            let out = ward.mysql_client("bob", "shop", &sql, &[]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("ERROR 1094"), "{sql}: {err}");
        }
    }
    for sql in [
        format!("/*!KILL {}*/", upstream_id.trim()),
        format!("SELECT 1; KILL QUERY {}", upstream_id.trim()),
        format!("PREPARE k FROM 'KILL {}'", upstream_id.trim()),
        "KILL USER app".to_owned(),
    ] {
        let out = ward.mysql_client("bob", "shop", &sql, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("ERROR 1227") || err.contains("ERROR 1094"),
            "{sql}: {err}"
        );
    }
    // Alice's query is still running, and alice herself may stop it.
    assert!(child.try_wait().expect("wait").is_none());
    let out = ward.mysql_client("alice", "shop", &format!("KILL QUERY {ward_id}"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = child.wait_with_output().expect("wait");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ERROR 1317"));
}

#[test]
fn a_terminated_session_tells_its_client_and_ends_terminated() {
    let (db, ward) = setup();
    let child = sleeper(&ward, "alice");
    wait_for_sleep(&db);
    let live = ward.live_sessions(&[], |s| s["user"] == "alice");
    let id = live[0]["id"].as_str().expect("id").to_owned();
    let out = ward.cli(&["sessions", "terminate", &id, "--reason", "end of shift"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Ward ended this session") || err.contains("ERROR 1927"),
        "{err}"
    );
    let sessions =
        ward.wait_for_session(|s| s["id"] == id.as_str() && s["outcome"] == "terminated");
    let ended = sessions
        .iter()
        .find(|s| s["id"] == id.as_str())
        .expect("the session");
    assert_eq!(ended["outcome"], "terminated");
    // Closing the upstream connection stopped the query there too.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = db
            .sql("SELECT count(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP%'")
            .expect("processlist");
        if n.trim() == "0" {
            break;
        }
        assert!(Instant::now() < deadline, "the query still runs upstream");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_server_that_dies_mid_query_ends_the_session_and_ward_serves_on() {
    let (mut db, ward) = setup();
    let child = sleeper(&ward, "alice");
    wait_for_sleep(&db);
    db.server.stop();
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("ERROR"), "{err}");
    let sessions = ward.wait_sessions(1);
    assert_eq!(sessions[0]["outcome"], "error", "{sessions:?}");
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    assert!(!of_kind(&events, "db.error").is_empty(), "{events:?}");
    // Ward itself serves on: the next login is refused with a clear error, and recorded.
    let out = ward.mysql_client("bob", "shop", "SELECT 1", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR 1429") && err.contains("could not open resource"),
        "{err}"
    );
    let verify = ward.cli(&["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
