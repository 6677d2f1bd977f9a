//! psql through Ward: statements, results, errors and COPY are recorded, replayable and verify.

use ward_testkit::{ClusterOptions, Postgres, Ward, psql, success};

use crate::WARD;

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn psql_session_is_recorded_replayable_and_verifies() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    let url = ward.url("alice", "shop");

    let out = psql(
        &url,
        &[
            "-c",
            "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric)",
            "-c",
            "INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'pear', NULL)",
            "-c",
            "SELECT id, name, price FROM items ORDER BY id",
            "-c",
            "SELECT 1 AS a; SELECT 'two' AS b",
        ],
    );
    let text = success(&out);
    assert!(text.contains("apple") && text.contains("two"), "{text}");
    // An error is forwarded unchanged (ON_ERROR_STOP makes psql exit 3).
    let out = psql(&url, &["-c", "SELECT * FROM no_such_table"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("relation \"no_such_table\" does not exist")
    );

    let sessions = ward.wait_sessions(2);
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let s = &sessions[0];
    assert_eq!(s["user"], "alice");
    assert_eq!(s["groups"], serde_json::json!(["dev"]));
    assert_eq!(s["resource"], "shop");
    assert_eq!(s["protocol"], "postgres");
    assert_eq!(s["outcome"], "ok");
    assert!(
        s["client_addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:"))
    );
    let id = s["id"].as_str().expect("id");
    let events = ward.events(id);
    let k = kinds(&events);
    assert_eq!(&k[..3], ["session.start", "auth", "policy.decision"]);
    assert_eq!(k.last().map(String::as_str), Some("session.end"));
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64, "seq gap-free");
        assert_eq!(e["hash"].as_str().map(str::len), Some(64));
    }
    let queries: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "db.query")
        .filter_map(|e| e["payload"]["text"].as_str())
        .collect();
    assert_eq!(
        queries,
        [
            "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric)",
            "INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'pear', NULL)",
            "SELECT id, name, price FROM items ORDER BY id",
            "SELECT 1 AS a; SELECT 'two' AS b",
        ]
    );
    let select = events
        .iter()
        .find(|e| e["kind"] == "db.result" && e["payload"]["row_count"] == 2)
        .expect("select result");
    assert_eq!(
        select["payload"]["rows"],
        serde_json::json!([["1", "apple", "1.5"], ["2", "pear", null]])
    );
    assert_eq!(select["payload"]["columns"][1]["name"], "name");
    assert_eq!(select["payload"]["truncated"], false);
    // The two-statement query yields two results, each ending with its completion, in order
    // after its query; statements without rows end with a db.complete of their own.
    let multi = k.iter().rposition(|k| k == "db.query").expect("last query");
    assert_eq!(&k[multi + 1..multi + 3], ["db.result", "db.result"]);
    assert_eq!(k.get(multi + 3).map(String::as_str), Some("session.end"));
    let tags: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "db.complete" || e["kind"] == "db.result")
        .filter_map(|e| e["payload"]["tag"].as_str())
        .collect();
    assert_eq!(
        tags,
        [
            "CREATE TABLE",
            "INSERT 0 2",
            "SELECT 2",
            "SELECT 1",
            "SELECT 1"
        ]
    );

    let failed = ward.events(sessions[1]["id"].as_str().expect("id"));
    let error = failed
        .iter()
        .find(|e| e["kind"] == "db.error")
        .expect("db.error");
    assert_eq!(error["payload"]["code"], "42P01");

    let replay = ward.cli(&["replay", id]);
    let replay_text = success(&replay);
    let select_at = replay_text
        .find("shop=> SELECT id, name, price")
        .expect("statement in replay");
    assert!(
        replay_text[select_at..].contains("| apple"),
        "the row follows its statement: {replay_text}"
    );
    assert!(replay_text.contains("SELECT 2"), "{replay_text}");

    let verify = ward.cli(&["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    assert!(
        success(&verify).contains("2 session(s): 2 verified, 0 open (no signed end), 0 broken")
    );
}

#[test]
fn copy_both_ways_is_recorded() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("bob", &["ops"])
        .grant("ops", "db")
        .start()
        .expect("ward");
    let url = ward.url("bob", "db");
    let file = ward.dir.join("in.csv");
    std::fs::write(&file, "1,one\n2,two\n3,three\n").expect("csv");
    success(&psql(&url, &["-c", "CREATE TABLE t (id int, name text)"]));
    success(&psql(
        &url,
        &[
            "-c",
            &format!("\\copy t FROM '{}' WITH (FORMAT csv)", file.display()),
        ],
    ));
    let out = success(&psql(
        &url,
        &[
            "-c",
            "\\copy (SELECT * FROM t ORDER BY id) TO STDOUT WITH (FORMAT csv)",
        ],
    ));
    assert_eq!(out, "1,one\n2,two\n3,three\n");

    let sessions = ward.wait_sessions(3);
    let copy_in = ward.events(sessions[1]["id"].as_str().expect("id"));
    let e = copy_in
        .iter()
        .find(|e| e["kind"] == "db.copy")
        .expect("copy in");
    assert_eq!(e["payload"]["direction"], "in");
    assert_eq!(e["payload"]["data"], "1,one\n2,two\n3,three\n");
    assert!(copy_in.iter().any(|e| e["payload"]["tag"] == "COPY 3"));
    let copy_out = ward.events(sessions[2]["id"].as_str().expect("id"));
    let e = copy_out
        .iter()
        .find(|e| e["kind"] == "db.copy")
        .expect("copy out");
    assert_eq!(e["payload"]["direction"], "out");
    assert_eq!(e["payload"]["data"], "1,one\n2,two\n3,three\n");
    assert_eq!(e["payload"]["bytes"], 20);
}

#[test]
fn large_results_are_capped_in_the_record_but_complete_for_the_client() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("bob", &["ops"])
        .grant("ops", "db")
        .recording("max_result_bytes = \"64KiB\"")
        .start()
        .expect("ward");
    let out = success(&psql(
        &ward.url("bob", "db"),
        &[
            "-A",
            "-t",
            "-c",
            "SELECT g, md5(g::text) FROM generate_series(1, 100000) g",
        ],
    ));
    assert_eq!(out.lines().count(), 100_000);
    let sessions = ward.wait_sessions(1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let r = events
        .iter()
        .find(|e| e["kind"] == "db.result")
        .expect("result");
    assert_eq!(r["payload"]["row_count"], 100_000);
    assert_eq!(r["payload"]["truncated"], true);
    let kept = r["payload"]["rows"].as_array().map_or(0, Vec::len);
    assert!(
        kept > 100 && kept < 2000,
        "kept {kept} rows under a 64 KiB cap"
    );
    assert_eq!(
        r["payload"]["rows"][0],
        serde_json::json!(["1", "c4ca4238a0b923820dcc509a6f75849b"])
    );
}

#[test]
fn notices_notifications_and_parameter_status_pass_through_and_are_recorded() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("bob", &["ops"])
        .grant("ops", "db")
        .start()
        .expect("ward");
    let script = ward.dir.join("script.sql");
    std::fs::write(
        &script,
        "DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$;\nLISTEN jobs;\nNOTIFY jobs, 'job 42 done';\nSET client_encoding = 'LATIN1';\n\\encoding\n",
    )
    .expect("script");
    let out = psql(
        &ward.url("bob", "db"),
        &["-f", script.to_str().expect("path")],
    );
    let text = success(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NOTICE:  hello from plpgsql"), "{err}");
    assert!(
        text.contains("Asynchronous notification \"jobs\" with payload \"job 42 done\""),
        "{text}"
    );
    // psql learns the new client encoding from the ParameterStatus Ward forwarded.
    assert!(text.trim_end().ends_with("LATIN1"), "{text}");
    let sessions = ward.wait_sessions(1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let notice = events
        .iter()
        .find(|e| e["kind"] == "db.notice")
        .expect("notice");
    assert_eq!(notice["payload"]["message"], "hello from plpgsql");
    let n = events
        .iter()
        .find(|e| e["kind"] == "db.notification")
        .expect("notification");
    assert_eq!(n["payload"]["channel"], "jobs");
    assert_eq!(n["payload"]["payload"], "job 42 done");
}

/// Recorded text cannot drive the auditor's terminal: a statement, a result cell, a column name
/// and an error that carry escape sequences replay with them shown escaped, and a statement
/// with a newline cannot print a line that passes for one of the replay's own.
#[test]
fn replay_shows_control_characters_escaped() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    let url = ward.url("alice", "shop");
    let esc = '\u{1b}';
    let statement = format!("SELECT 1 /*{esc}[1A{esc}[2K*/");
    let cell = format!("SELECT E'\\x1b[31mred\\r' AS \"col{esc}[5m\"");
    let forged = "SELECT 2 /*\n[+   0.001s] shop=> DROP TABLE evidence */";
    let error = format!("SELECT * FROM \"gone{esc}[2J\"");
    let out = psql(
        &url,
        &["-c", &statement, "-c", &cell, "-c", forged, "-c", &error],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let sessions = ward.wait_sessions(1);
    let replay = ward.cli(&["replay", sessions[0]["id"].as_str().expect("id")]);
    let text = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{text}");
    assert!(
        !text.contains(esc),
        "an escape reached the terminal: {text:?}"
    );
    assert!(!text.contains('\r'), "{text:?}");
    for shown in [
        "shop=> SELECT 1 /*\\x1B[1A\\x1B[2K*/",
        "\\x1B[31mred\\r",
        "col\\x1B[5m",
        "relation \"gone\\x1B[2J\" does not exist",
    ] {
        assert!(text.contains(shown), "{shown} in {text}");
    }
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("[+   0.001s] shop=> DROP")),
        "a recorded line passed for one of the replay's own: {text}"
    );
}
