//! Who gets in: wrong password, unknown resource, no grant, no TLS, upstream down; and the
//! upstream side: TLS with verify-full, md5, trust. Every refusal is a recorded session.

use ward_testkit::{ClusterOptions, HostAuth, Postgres, Ward, free_port, psql, tls_pair};

use crate::WARD;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What psql prints when Ward refuses it.
fn refused(url: &str) -> String {
    let out = psql(url, &["-c", "select 1"]);
    assert!(!out.status.success(), "should be refused: {url}");
    stderr(&out)
}

/// The SQLSTATE a driver sees when Ward refuses the login (plaintext from loopback).
fn sqlstate(ward: &Ward, user: &str, password: &str, resource: &str) -> String {
    let conn = format!(
        "host=127.0.0.1 port={} user={user} password='{password}' dbname={resource}",
        ward.port
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(tokio_postgres::connect(&conn, tokio_postgres::NoTls)) {
        Ok(_) => panic!("{user} should be refused on {resource}"),
        Err(e) => e
            .code()
            .map(|c| c.code().to_owned())
            .unwrap_or_else(|| format!("no SQLSTATE: {e}")),
    }
}

#[test]
fn refusals_are_clear_and_recorded_as_denied() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .postgres_resource("hr", &pg)
        .user("alice", &["dev"])
        .user("mallory", &[])
        .grant("dev", "shop")
        .plaintext_loopback()
        .start()
        .expect("ward");

    let e = refused(&ward.url_with("alice", "not the password", "shop", "require"));
    assert!(
        e.contains("password authentication failed for user \"alice\""),
        "{e}"
    );
    let e = refused(&ward.url_with("nobody", "whatever1", "shop", "require"));
    assert!(
        e.contains("password authentication failed for user \"nobody\""),
        "unknown users look like wrong passwords: {e}"
    );
    let e = refused(&ward.url("alice", "shopp"));
    assert!(
        e.contains("no resource \"shopp\"") && e.contains("you may reach: shop"),
        "{e}"
    );
    let e = refused(&ward.url("alice", "hr"));
    assert!(e.contains("no grant for resource \"hr\""), "{e}");
    let e = refused(&ward.url("mallory", "shop"));
    assert!(
        e.contains("user \"mallory\" (groups: none) has no grant"),
        "{e}"
    );
    let pw = ward_testkit::PASSWORD;
    assert_eq!(
        sqlstate(&ward, "alice", "not the password", "shop"),
        "28P01"
    );
    assert_eq!(sqlstate(&ward, "alice", pw, "shopp"), "3D000");
    assert_eq!(sqlstate(&ward, "alice", pw, "hr"), "42501");

    let sessions = ward.wait_sessions(8);
    assert_eq!(sessions.len(), 8, "{sessions:?}");
    assert!(
        sessions.iter().all(|s| s["outcome"] == "denied"),
        "{sessions:?}"
    );
    // Nobody authenticated: the claimed name is kept, with no groups.
    assert_eq!(sessions[0]["user"], "alice");
    assert_eq!(sessions[0]["auth_method"], "none");
    let events = ward.events(sessions[3]["id"].as_str().expect("id"));
    let decision = events
        .iter()
        .find(|e| e["kind"] == "policy.decision")
        .expect("decision");
    assert_eq!(decision["payload"]["allowed"], false);
    assert_eq!(decision["payload"]["reason"], "no grant");
    assert_eq!(sessions[3]["groups"], serde_json::json!(["dev"]));
    assert!(ward.cli(&["verify"]).status.success());
    // Nothing reached the upstream: no session of Ward's role was ever opened there.
    let n = pg
        .psql(
            "postgres",
            "SELECT sessions FROM pg_stat_database WHERE datname = 'app'",
        )
        .expect("stats");
    assert_eq!(n.trim(), "0");
}

#[test]
fn passwords_need_tls_unless_loopback_plaintext_is_allowed() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    let e = refused(&ward.url_with("alice", ward_testkit::PASSWORD, "shop", "disable"));
    assert!(
        e.contains("only over TLS") && e.contains("sslmode=require"),
        "{e}"
    );
    let sessions = ward.wait_sessions(1);
    assert_eq!(sessions[0]["outcome"], "denied");
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "auth" && e["payload"]["reason"] == "TLS required")
    );
}

#[test]
fn upstream_down_is_08006_and_an_error_session() {
    let port = free_port().expect("port");
    let ward = Ward::builder(WARD)
        .resource_toml("gone", &format!("127.0.0.1:{port}"), "disable", None)
        .user("alice", &["dev"])
        .grant("dev", "gone")
        .plaintext_loopback()
        .start()
        .expect("ward");
    let e = refused(&ward.url("alice", "gone"));
    assert!(
        e.contains("could not open resource \"gone\"") && e.contains("refused"),
        "{e}"
    );
    assert_eq!(
        sqlstate(&ward, "alice", ward_testkit::PASSWORD, "gone"),
        "08006"
    );
    let sessions = ward.wait_sessions(2);
    assert_eq!(sessions[0]["outcome"], "error");
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "db.error" && e["payload"]["code"] == "08006")
    );
}

#[test]
fn upstream_refusing_the_login_is_08006_with_its_reason() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("ALTER ROLE app PASSWORD 'changed behind wards back'")
        .expect("alter");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("alice", &["dev"])
        .grant("dev", "db")
        .start()
        .expect("ward");
    let e = refused(&ward.url("alice", "db"));
    assert!(
        e.contains("could not open resource")
            && e.contains("password authentication failed for user \"app\""),
        "{e}"
    );
    // The upstream password never reaches the client or the record.
    let sessions = ward.wait_sessions(1);
    let dump =
        serde_json::to_string(&ward.events(sessions[0]["id"].as_str().expect("id"))).expect("json");
    assert!(!dump.contains(ward_testkit::PASSWORD), "{dump}");
}

#[test]
fn upstream_tls_verify_full_with_md5_and_trust_clusters() {
    let (cert, key) = tls_pair();
    let tls_md5 = Postgres::start(&ClusterOptions {
        host_auth: HostAuth::Md5,
        tls: Some((cert, key)),
        ..Default::default()
    })
    .expect("tls md5 cluster");
    let trust = Postgres::start(&ClusterOptions {
        host_auth: HostAuth::Trust,
        ..Default::default()
    })
    .expect("trust cluster");
    let (other_cert, _) = tls_pair();
    let ward = Ward::builder(WARD)
        .postgres_resource("secure", &tls_md5)
        .postgres_resource("open", &trust)
        .resource_toml(
            "wrongca",
            &tls_md5.address(),
            "verify-full",
            Some(&other_cert),
        )
        .resource_toml("plain", &tls_md5.address(), "disable", None)
        .user("alice", &["dev"])
        .grant("dev", "secure")
        .grant("dev", "open")
        .grant("dev", "wrongca")
        .grant("dev", "plain")
        .start()
        .expect("ward");
    let out = psql(
        &ward.url("alice", "secure"),
        &[
            "-A",
            "-t",
            "-c",
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "t",
        "{}",
        stderr(&out)
    );
    let out = psql(
        &ward.url("alice", "open"),
        &["-A", "-t", "-c", "SELECT current_user"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "app",
        "{}",
        stderr(&out)
    );
    // A certificate from another CA is refused; so is plaintext to a hostssl-only server.
    let e = refused(&ward.url("alice", "wrongca"));
    assert!(
        e.contains("could not open resource \"wrongca\"") && e.contains("TLS"),
        "{e}"
    );
    let e = refused(&ward.url("alice", "plain"));
    assert!(
        e.contains("could not open resource \"plain\"") && e.contains("pg_hba.conf"),
        "{e}"
    );
}

/// Guessing passwords: after five wrong ones for a user, psql is refused before the password is
/// checked (even the right one) with the time left, the lock's start is in the record, and the
/// web sign-in, which shares the count, refuses the same user with 429. Another user is not
/// affected.
#[test]
fn failed_logins_lock_the_user_on_every_listener() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let web_port = free_port().expect("port");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .user("bob", &["dev"])
        .grant("dev", "shop")
        .web(web_port)
        .start()
        .expect("ward");
    for i in 1..=5 {
        let err = refused(&ward.url_with("alice", "guess", "shop", "require"));
        if i < 5 {
            assert!(err.contains("password authentication failed"), "{i}: {err}");
        } else {
            assert!(
                err.contains("too many failed logins for user \"alice\": locked for"),
                "{err}"
            );
        }
    }
    let err = refused(&ward.url("alice", "shop"));
    assert!(
        err.contains("too many failed logins for user \"alice\"")
            && err.contains("try again later"),
        "the right password is refused while locked: {err}"
    );
    assert!(
        psql(&ward.url("bob", "shop"), &["-c", "select 1"])
            .status
            .success()
    );

    let sessions = ward.wait_sessions(7);
    let reasons: Vec<String> = sessions
        .iter()
        .filter(|s| s["user"] == "alice")
        .map(|s| {
            ward.events(s["id"].as_str().expect("id"))
                .into_iter()
                .find(|e| e["kind"] == "auth")
                .map(|e| e["payload"]["reason"].as_str().unwrap_or("").to_owned())
                .expect("auth")
        })
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    assert!(
        reasons[4].contains("locked for"),
        "the lock's start: {reasons:?}"
    );
    assert!(reasons[5].contains("too many failed logins"), "{reasons:?}");

    let login = ward_testkit::run(
        "curl",
        &[
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "content-type: application/json",
            "-d",
            &format!(
                r#"{{"username":"alice","password":"{}"}}"#,
                ward_testkit::PASSWORD
            ),
            &format!("{}/api/v1/login", ward.web_url()),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&login.stdout), "429");
}
