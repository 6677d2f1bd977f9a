//! Offboarding: `ward users disable` ends a user's open sessions (psql in a transaction, which
//! the server rolls back; ssh running a command) on the record as `terminated`, revokes their
//! Ward tokens, and refuses them from then on; `ward users enable` lets them in again.
//! `ward sessions terminate` ends one session.

use std::time::{Duration, Instant};

use ward_testkit::{
    ClusterOptions, PASSWORD, Postgres, Psql, Ward, of_kind, psql, ssh_client, ssh_gateway, success,
};

/// Waits until `ward` has recorded a session of `protocol` ended as `terminated`.
fn terminated(ward: &Ward, protocol: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let found = ward
            .sessions()
            .into_iter()
            .find(|s| s["protocol"] == protocol && s["outcome"] == "terminated");
        if let Some(s) = found {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "no {protocol} session ended as terminated: {:?}",
        ward.sessions()
    )
}

#[test]
fn disabling_a_user_ends_their_psql_transaction_and_ssh_session_and_refuses_them() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("CREATE TABLE t (n int); ALTER TABLE t OWNER TO app")
        .expect("table");
    let (_sshd, ward, ssh_port) = ssh_gateway(crate::WARD, |b, sshd| {
        b.user("alice", &["dev"])
            .user("bob", &["dev"])
            .grant("dev", "shop")
            .grant("dev", "web1")
            .postgres_resource("shop", &pg)
            .ssh_resource("web1", sshd)
    });
    let token = ward.token("alice");

    // alice, in psql, inside a transaction that has written a row.
    let mut session = Psql::open(&ward.url("alice", "shop"));
    let said = session.ask("BEGIN;\nINSERT INTO t VALUES (2);\nSELECT 'inserted';");
    assert_eq!(said, "inserted");
    // alice, on the host, running a command that would take a minute; bob in psql too.
    let host = {
        let dir = ward.dir.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let out = ssh_client(&dir, ssh_port, "alice:web1", PASSWORD, &["sleep 60"], None);
            (out, started.elapsed())
        })
    };
    let mut bob = Psql::open(&ward.url("bob", "shop"));
    assert_eq!(bob.ask("SELECT 'bob here';"), "bob here");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ward.sessions().iter().any(|s| s["protocol"] == "ssh") {
        assert!(Instant::now() < deadline, "the ssh session starts");
        std::thread::sleep(Duration::from_millis(50));
    }

    let disabled = success(&ward.cli(&["users", "disable", "alice", "--reason", "contract ended"]));
    assert!(disabled.contains("1 credential(s) revoked"), "{disabled}");
    let at = Instant::now();
    let pg_session = terminated(&ward, "postgres");
    let ssh_session = terminated(&ward, "ssh");
    eprintln!(
        "both sessions ended {:?} after ward users disable returned",
        at.elapsed()
    );

    // psql learns why at its next statement; the transaction never committed.
    let stderr = session.finish("SELECT 'still here';");
    assert!(
        stderr.contains("Ward ended this session: terminated by an administrator (ward users disable): user \"alice\" disabled: contract ended"),
        "{stderr}"
    );
    assert_eq!(pg.sql("SELECT count(*) FROM t").expect("count").trim(), "0");
    let (ssh_out, took) = host.join().expect("ssh thread");
    assert!(!ssh_out.status.success(), "{ssh_out:?}");
    assert!(
        took < Duration::from_secs(30),
        "ssh ended long before its command: {took:?}"
    );

    // Each ending is on the record of its session.
    for s in [&pg_session, &ssh_session] {
        let events = ward.events(s["id"].as_str().expect("id"));
        let why = of_kind(&events, "session.terminated");
        assert_eq!(why.len(), 1, "{events:?}");
        assert_eq!(
            why[0]["payload"]["by"],
            "an administrator (ward users disable)"
        );
        assert_eq!(
            why[0]["payload"]["reason"],
            "user \"alice\" disabled: contract ended"
        );
        success(&ward.cli(&["verify", "--session", s["id"].as_str().expect("id")]));
    }
    // bob's session is untouched.
    assert_eq!(bob.ask("SELECT 'bob still here';"), "bob still here");
    // An administrator ends bob's session by its id.
    let live = ward.live_sessions(&["--user", "bob"], |_| true);
    let bobs = live[0]["id"]
        .as_str()
        .expect("bob's live session")
        .to_owned();
    let asked = ward.cli(&["sessions", "terminate", &bobs, "--reason", "end of shift"]);
    assert!(success(&asked).contains(&format!("asked to end session {bobs} (bob on shop)")));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ward
        .sessions()
        .iter()
        .any(|s| s["id"] == bobs.as_str() && s["outcome"] == "terminated")
    {
        assert!(Instant::now() < deadline, "bob's session ends");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stderr = bob.finish("SELECT 'bob?';");
    assert!(
        stderr.contains("terminated by an administrator (ward sessions terminate): end of shift"),
        "{stderr}"
    );

    // alice is refused with her password and with her token, which was revoked.
    let refused = psql(&ward.url("alice", "shop"), &["-c", "SELECT 1"]);
    let refused = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(refused.contains("user \"alice\" is disabled"), "{refused}");
    let with_token = psql(
        &ward.url_with("alice", &token, "shop", "require"),
        &["-c", "SELECT 1"],
    );
    assert!(!with_token.status.success());
    let out = ssh_client(&ward.dir, ssh_port, "alice:web1", PASSWORD, &["true"], None);
    assert!(!out.status.success(), "{out:?}");
    let listed = success(&ward.cli(&["users", "list"]));
    let alice = listed
        .lines()
        .find(|l| l.starts_with("alice"))
        .expect("alice");
    assert!(
        alice.trim_end().len() > "alice".len() + 60,
        "a disabled date: {listed}"
    );

    // Enabled again, alice logs in with her password (her revoked token stays revoked).
    success(&ward.cli(&["users", "enable", "alice"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = psql(
            &ward.url("alice", "shop"),
            &["-A", "-t", "-c", "SELECT 'back'"],
        );
        if out.status.success() {
            assert_eq!(success(&out).trim(), "back");
            break;
        }
        assert!(Instant::now() < deadline, "alice is let in again: {out:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let with_token = psql(
        &ward.url_with("alice", &token, "shop", "require"),
        &["-c", "SELECT 1"],
    );
    assert!(!with_token.status.success());
    let again = ward.cli(&["users", "enable", "alice"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("alice is not disabled"));
}

#[test]
fn revoking_a_token_ends_the_sessions_it_opened() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(crate::WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    // Each token, and its id (`token t_… for alice …`).
    let issue = || {
        let out = success(&ward.cli(&["tokens", "issue", "alice", "--ttl", "1h"]));
        let word = |prefix: &str| {
            out.split_whitespace()
                .find(|w| w.starts_with(prefix))
                .expect("printed")
                .to_owned()
        };
        (word("ward_t_"), word("t_"))
    };
    let ((first, id), (second, _)) = (issue(), issue());
    let open = |token: &str| Psql::open(&ward.url_with("alice", token, "shop", "require"));
    let mut revoked = open(&first);
    let mut kept = open(&second);
    assert_eq!(revoked.ask("SELECT 'one';"), "one");
    assert_eq!(kept.ask("SELECT 'two';"), "two");
    success(&ward.cli(&["tokens", "revoke", "--id", &id]));
    let ended = terminated(&ward, "postgres");
    let stderr = revoked.finish("SELECT 'after';");
    assert!(
        stderr.contains(&format!("credential {id} revoked")),
        "{stderr}"
    );
    let events = ward.events(ended["id"].as_str().expect("id"));
    assert_eq!(
        of_kind(&events, "session.terminated")[0]["payload"]["reason"],
        format!("credential {id} revoked").as_str()
    );
    // The session of the other token goes on.
    assert_eq!(kept.ask("SELECT 'still here';"), "still here");
}
