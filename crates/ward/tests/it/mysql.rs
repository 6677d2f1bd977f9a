//! The mariadb command-line client through Ward's MySQL listener, against a real MariaDB:
//! the login (Ward password over TLS, Ward's own credential upstream), statements, results,
//! errors and refusals recorded.

use ward_testkit::{Mariadb, PASSWORD, Ward, mysql, of_kind};

use crate::WARD;

pub(crate) fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "mariadb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mariadb_client_session_is_recorded() {
    let db = Mariadb::start(true).expect("mariadb");
    let ward = Ward::builder(WARD)
        .mysql()
        .mysql_resource("shop", &db, "app")
        .mysql_resource("shop_ed", &db, "app_ed")
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .grant("dev", "shop_ed")
        .start()
        .expect("ward");

    let sql = "CREATE TABLE items (id int PRIMARY KEY, name text, card varchar(32)); \
               INSERT INTO items VALUES (1, 'apple', '4111 1111 1111 1111'), (2, NULL, NULL); \
               SELECT id, name, card FROM items ORDER BY id; \
               SELECT current_user(); \
               SELECT 1 AS a; SELECT 'two' AS b";
    let text = stdout(&ward.mysql_client("alice", "shop", sql, &[]));
    // The client sees the server's answers unchanged (no mask_client grant).
    assert!(text.contains("apple\t4111 1111 1111 1111"), "{text}");
    assert!(
        text.contains("app@127.0.0.1"),
        "Ward's upstream account: {text}"
    );
    assert!(text.contains("two"), "{text}");

    // An error reaches the client with its number and SQLSTATE.
    let out = ward.mysql_client("alice", "shop", "SELECT * FROM no_such_table", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR 1146 (42S02)") && err.contains("no_such_table"),
        "{err}"
    );

    // MariaDB's ed25519 upstream login.
    let text = stdout(&ward.mysql_client("alice", "shop_ed", "SELECT current_user()", &[]));
    assert!(text.contains("app_ed@127.0.0.1"), "{text}");

    let sessions = ward.wait_sessions(3);
    let s = sessions
        .iter()
        .find(|s| s["outcome"] == "ok" && s["resource"] == "shop")
        .expect("the first session");
    assert_eq!(s["protocol"], "mysql");
    assert_eq!(s["user"], "alice");
    let events = ward.events(s["id"].as_str().expect("id"));
    let queries: Vec<&str> = of_kind(&events, "db.query")
        .iter()
        .filter_map(|e| e["payload"]["text"].as_str())
        .collect();
    assert!(
        queries.iter().any(|q| q.starts_with("CREATE TABLE items")),
        "{queries:?}"
    );
    let results = of_kind(&events, "db.result");
    let rows = results
        .iter()
        .find(|r| r["payload"]["columns"][2]["name"] == "card")
        .expect("the items result");
    assert_eq!(rows["payload"]["row_count"], 2);
    assert_eq!(rows["payload"]["tag"], "2 rows in set");
    assert_eq!(rows["payload"]["rows"][0][0], "1");
    assert_eq!(rows["payload"]["rows"][1][1], serde_json::Value::Null);
    // The card number is masked in the record.
    let card = rows["payload"]["rows"][0][2].as_str().expect("card");
    assert!(!card.contains("4111 1111 1111 1111"), "{card}");
    let complete = of_kind(&events, "db.complete");
    assert!(
        complete
            .iter()
            .any(|c| c["payload"]["tag"] == "OK, 2 rows affected"),
        "{complete:?}"
    );

    let verify = ward.cli(&["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn logins_without_tls_or_with_a_wrong_password_are_refused_and_recorded() {
    let db = Mariadb::start(false).expect("mariadb");
    let ward = Ward::builder(WARD)
        .mysql()
        .mysql_resource("shop", &db, "app")
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    let port = ward.mysql_port.expect("port").to_string();
    let password = format!("-p{PASSWORD}");
    let out = mysql(&[
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "-u",
        "alice",
        &password,
        "-D",
        "shop",
        "--skip-ssl",
        "-e",
        "select 1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("only over TLS"),
        "{err}"
    );
    let out = mysql(&[
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "-u",
        "alice",
        "-pwrong",
        "-D",
        "shop",
        "--ssl",
        "-e",
        "select 1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ERROR 1045 (28000)"), "{err}");
    let out = ward.mysql_client("alice", "nope", "select 1", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR 1049") && err.contains("resources you may reach: shop"),
        "{err}"
    );
    let sessions = ward.wait_sessions(3);
    assert!(
        sessions.iter().all(|s| s["outcome"] == "denied"),
        "{sessions:?}"
    );
}

#[test]
fn ward_connect_mysql_runs_the_client_with_the_token_and_a_reason() {
    let db = Mariadb::start(false).expect("mariadb");
    let s = crate::oidc::setup_with("mysql", None, |b| {
        b.mysql().mysql_resource("shop_my", &db, "app").config(
            "[[grants]]\ngroup = \"analysts\"\nresources = [\"shop_my\"]\nrequire_reason = true\n",
        )
    });
    let (_, login) = s.browser_login_with("alice", crate::oidc::ALICE_PW, &[], &[]);
    assert!(login.status.success(), "{}", crate::oidc::text(&login));
    assert!(s.saved()["mysql"].as_str().is_some(), "{}", s.saved());
    let run = |extra: &[&str]| {
        let mut args = vec!["connect", "mysql", "shop_my"];
        args.extend_from_slice(extra);
        args.extend([
            "--",
            "--batch",
            "--skip-column-names",
            "-e",
            "select current_user()",
        ]);
        s.ward_client(&args).output().expect("ward connect mysql")
    };
    // The grant wants a reason, and says how to give one.
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("requires a reason") && err.contains("--reason"),
        "{err}"
    );
    let out = run(&["--reason", "TICKET-9"]);
    assert_eq!(stdout(&out).trim(), "app@127.0.0.1");
    let sessions = s.ward.wait_sessions(2);
    let ok = sessions
        .iter()
        .find(|x| x["outcome"] == "ok")
        .expect("the session with a reason");
    assert_eq!(ok["user"], "alice");
    let events = s.ward.events(ok["id"].as_str().expect("id"));
    assert_eq!(events[0]["payload"]["reason"], "TICKET-9");
    let auth = of_kind(&events, "auth");
    assert_eq!(auth[0]["payload"]["method"], "ward-token");
}

/// Ward in front of Ward: the outer one logs in to the inner one's MySQL listener, which asks
/// for `caching_sha2_password` and then the password itself, over TLS. MariaDB has no server
/// side of that plugin, so this is where Ward's client side of it meets a real server: Ward's
/// own, which the drivers' tests check against the drivers.
#[test]
fn caching_sha2_password_upstream_with_full_authentication_over_tls() {
    let db = Mariadb::start(true).expect("mariadb");
    let inner = Ward::builder(WARD)
        .mysql()
        .plaintext_loopback()
        .mysql_resource("shop", &db, "app")
        .user("relay", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("inner ward");
    let ca = std::fs::read_to_string(inner.ca_cert()).expect("inner CA");
    let address = format!("127.0.0.1:{}", inner.mysql_port.expect("port"));
    let outer = Ward::builder(WARD)
        .mysql()
        .file("inner-ca.pem", &ca)
        .config(&format!(
            "[[resources]]\nname = \"chained\"\nkind = \"mysql\"\naddress = \"{address}\"\ndatabase = \"shop\"\nuser = \"relay\"\npassword_file = \"app.pw\"\ntls = \"verify-full\"\nca_file = \"inner-ca.pem\"\n\n[[resources]]\nname = \"plain\"\nkind = \"mysql\"\naddress = \"{address}\"\ndatabase = \"shop\"\nuser = \"relay\"\npassword_file = \"app.pw\"\n\n[[grants]]\ngroup = \"dev\"\nresources = [\"chained\", \"plain\"]\n"
        ))
        .user("alice", &["dev"])
        .start()
        .expect("outer ward");
    let text = stdout(&outer.mysql_client(
        "alice",
        "chained",
        "SELECT current_user(); SELECT 'via two Wards' AS hop",
        &[],
    ));
    assert!(
        text.contains("app@127.0.0.1") && text.contains("via two Wards"),
        "{text}"
    );
    // Without TLS the inner Ward asks for the password in clear (mysql_clear_password), and
    // the outer one will not send it.
    let out = outer.mysql_client("alice", "plain", "SELECT 1", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR 1429") && err.contains("only over TLS"),
        "{err}"
    );
    let inner_sessions = inner.wait_sessions(1);
    let s = inner_sessions
        .iter()
        .find(|s| s["outcome"] == "ok")
        .expect("the inner session");
    assert_eq!(s["user"], "relay");
    let events = inner.events(s["id"].as_str().expect("id"));
    assert_eq!(of_kind(&events, "auth")[0]["payload"]["tls"], true);
    let queries = of_kind(&events, "db.query");
    assert!(
        queries
            .iter()
            .any(|q| q["payload"]["text"] == "SELECT 'via two Wards' AS hop"),
        "{queries:?}"
    );
}
