//! Masking before persistence: secrets in statements, parameters, rows, errors and COPY data
//! are masked in the record (and never reach the store file), while the client sees the data.

use std::io::Write;
use std::process::{Command, Stdio};

use ward_testkit::{ClusterOptions, Postgres, Ward, psql, success};

use crate::WARD;

const CARD: &str = "4111 1111 1111 1111";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const GITHUB: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";

#[test]
fn secrets_are_masked_before_they_are_stored() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config("[[masking.rules]]\nname = \"employee_id\"\npattern = 'EMP-[0-9]{6}'\n")
        .start()
        .expect("ward");
    let url = ward.url("alice", "shop");
    let csv = ward.dir.join("in.csv");
    std::fs::write(&csv, format!("3,carol@example.com,{CARD}\n")).expect("csv");
    success(&psql(
        &url,
        &[
            "-c",
            "CREATE TABLE customers (id int, email text, card text)",
        ],
    ));
    success(&psql(
        &url,
        &[
            "-c",
            &format!(
                "INSERT INTO customers VALUES (1, 'ada@example.com', '{CARD}'), (2, 'EMP-123456', '{AWS_KEY}')"
            ),
        ],
    ));
    success(&psql(
        &url,
        &[
            "-c",
            &format!(
                "\\copy customers FROM '{}' WITH (FORMAT csv)",
                csv.display()
            ),
        ],
    ));
    let rows = success(&psql(
        &url,
        &[
            "-A",
            "-t",
            "-c",
            "SELECT id, email, card FROM customers ORDER BY id",
        ],
    ));
    // The client sees the real data: masking for clients is a policy choice, not the default.
    assert!(
        rows.contains(CARD) && rows.contains("ada@example.com") && rows.contains(AWS_KEY),
        "{rows}"
    );
    let out = psql(&url, &["-c", &format!("SELECT '{GITHUB}'::int")]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(GITHUB),
        "the client sees its own error"
    );

    let sessions = ward.wait_sessions(5);
    let all: Vec<serde_json::Value> = sessions
        .iter()
        .flat_map(|s| ward.events(s["id"].as_str().expect("id")))
        .collect();
    let dump = serde_json::to_string(&all).expect("json");
    for secret in [
        CARD,
        "ada@example.com",
        "carol@example.com",
        AWS_KEY,
        GITHUB,
        "EMP-123456",
    ] {
        assert!(!dump.contains(secret), "{secret} is in the record");
    }
    let insert = all
        .iter()
        .find(|e| {
            e["payload"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("INSERT"))
        })
        .expect("insert");
    let text = insert["payload"]["text"].as_str().expect("text");
    assert!(
        text.contains("[REDACTED:card]")
            && text.contains("[REDACTED:aws_access_key]")
            && text.contains("[REDACTED:employee_id]"),
        "{text}"
    );
    let result = all
        .iter()
        .find(|e| e["kind"] == "db.result" && e["payload"]["row_count"] == 3)
        .expect("select result");
    assert_eq!(
        result["payload"]["rows"][0],
        serde_json::json!(["1", "[REDACTED:email]", "[REDACTED:card]"])
    );
    let copy = all.iter().find(|e| e["kind"] == "db.copy").expect("copy");
    assert_eq!(
        copy["payload"]["data"],
        "3,[REDACTED:email],[REDACTED:card]\n"
    );
    let error = all.iter().find(|e| e["kind"] == "db.error").expect("error");
    assert!(
        error["payload"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("[REDACTED:github_token]")),
        "{error}"
    );

    // Each masked event is followed by a mask.applied event naming rules and counts, never values.
    let applied: Vec<&serde_json::Value> =
        all.iter().filter(|e| e["kind"] == "mask.applied").collect();
    assert!(applied.len() >= 4, "{applied:?}");
    let select_session = sessions
        .iter()
        .map(|s| ward.events(s["id"].as_str().expect("id")))
        .find(|events| {
            events
                .iter()
                .any(|e| e["kind"] == "db.result" && e["payload"]["row_count"] == 3)
        })
        .expect("the SELECT session");
    let for_result = select_session
        .iter()
        .find(|e| e["kind"] == "mask.applied" && e["payload"]["event_seq"] == result["seq"])
        .expect("applied to the result");
    assert_eq!(
        for_result["payload"]["rules"],
        serde_json::json!({ "card": 2, "email": 2, "aws_access_key": 1, "employee_id": 1 })
    );
    assert!(ward.cli(&["verify"]).status.success());
    let select_id = sessions
        .iter()
        .filter_map(|s| s["id"].as_str())
        .find(|id| {
            ward.events(id)
                .iter()
                .any(|e| e["kind"] == "db.result" && e["payload"]["row_count"] == 3)
        })
        .expect("the SELECT session");
    let replay = success(&ward.cli(&["replay", select_id]));
    assert!(
        replay
            .lines()
            .any(|l| l.contains("1  | [REDACTED:email]") && l.contains("| [REDACTED:card]")),
        "{replay}"
    );
    assert!(
        replay.contains("masked: aws_access_key 1, card 2, email 2, employee_id 1"),
        "{replay}"
    );

    // Not in the store files either (these payloads are small, so stored uncompressed).
    for file in ["ward.db", "ward.db-wal"] {
        let bytes = std::fs::read(ward.dir.join(file)).unwrap_or_default();
        let haystack = String::from_utf8_lossy(&bytes);
        for secret in [CARD, AWS_KEY, GITHUB, "ada@example.com"] {
            assert!(!haystack.contains(secret), "{secret} found in {file}");
        }
    }
}

#[test]
fn mask_test_shows_what_the_rules_do() {
    let ward = Ward::builder(WARD)
        .config("[masking]\nreplacements = { card = \"partial\" }\n")
        .start()
        .expect("ward");
    let mut child = Command::new(WARD)
        .args([
            "mask",
            "test",
            "--config",
            ward.config.to_str().expect("path"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ward mask test");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("pay with {CARD} or key {AWS_KEY}; order 1234567812345678\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pay with **** **** **** 1111 or key [REDACTED:aws_access_key]; order 1234567812345678\n"
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("card: 1") && summary.contains("aws_access_key: 1"),
        "{summary}"
    );
    let bad = Command::new(WARD)
        .args([
            "mask",
            "test",
            "--profile",
            "nope",
            "--config",
            ward.config.to_str().expect("path"),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no masking profile `nope`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_and_column_rules_are_masked_every_time() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("alice", &["dev"])
        .grant("dev", "db")
        .plaintext_loopback()
        .config("[[masking.columns]]\ncolumn = \"*salary*\"\n")
        .start()
        .expect("ward");
    let conn = format!(
        "host=127.0.0.1 port={} user=alice password='{}' dbname=db",
        ward.port,
        ward_testkit::PASSWORD
    );
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let stmt = client
        .prepare(&format!(
            "SELECT $1::int4 AS n, 50000::int4 AS salary, '{CARD}' AS card, $2::text AS note"
        ))
        .await
        .expect("prepare");
    for n in 0..3i32 {
        let row = client
            .query_one(&stmt, &[&n, &format!("key {AWS_KEY}")])
            .await
            .expect("query");
        assert_eq!(
            row.get::<_, i32>(1),
            50000,
            "the client sees the real value"
        );
    }
    drop(client);
    let sessions = ward.wait_sessions(1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let queries: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "db.query").collect();
    assert_eq!(queries.len(), 3);
    for (n, q) in queries.iter().enumerate() {
        let text = q["payload"]["text"].as_str().expect("text");
        assert!(
            text.contains("[REDACTED:card]") && !text.contains(CARD),
            "{text}"
        );
        assert_eq!(
            q["payload"]["params"],
            serde_json::json!([n.to_string(), "key [REDACTED:aws_access_key]"])
        );
        let applied = events
            .iter()
            .find(|e| e["kind"] == "mask.applied" && e["payload"]["event_seq"] == q["seq"])
            .expect("every execution reports its masking");
        assert_eq!(
            applied["payload"]["rules"],
            serde_json::json!({ "card": 1, "aws_access_key": 1 })
        );
    }
    let result = events
        .iter()
        .find(|e| e["kind"] == "db.result")
        .expect("result");
    // An int4 is never a secret by value, but a column rule masks it by name.
    assert_eq!(
        result["payload"]["rows"][0],
        serde_json::json!([
            "0",
            "[REDACTED:*salary*]",
            "[REDACTED:card]",
            "key [REDACTED:aws_access_key]"
        ])
    );
}

#[test]
fn grants_with_mask_client_show_clients_masked_rows() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql(&format!(
        "CREATE TABLE customers (id int, email text, card text, api_password int8);
         INSERT INTO customers VALUES (1, 'ada@example.com', '{CARD}', 4111111111111111);
         GRANT SELECT ON customers TO app;"
    ))
    .expect("seed");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("sam", &["support"])
        .user("dev", &["dev"])
        .plaintext_loopback()
        .config(
            "[[grants]]\ngroup = \"support\"\nresources = [\"shop\"]\nmask_client = true\n\n[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\n\n[[masking.columns]]\ncolumn = \"*password*\"\n",
        )
        .start()
        .expect("ward");
    let query = [
        "-A",
        "-t",
        "-c",
        "SELECT id, email, card, api_password FROM customers",
    ];
    let masked = success(&psql(&ward.url("sam", "shop"), &query));
    assert_eq!(
        masked.trim(),
        "1|[REDACTED:email]|[REDACTED:card]|[REDACTED:*password*]"
    );
    // COPY TO STDOUT is masked as a stream for these clients too.
    let copied = success(&psql(
        &ward.url("sam", "shop"),
        &[
            "-c",
            "\\copy (SELECT email, card FROM customers) TO STDOUT WITH (FORMAT csv)",
        ],
    ));
    assert_eq!(copied, "[REDACTED:email],[REDACTED:card]\n");
    let plain = success(&psql(&ward.url("dev", "shop"), &query));
    assert_eq!(
        plain.trim(),
        format!("1|ada@example.com|{CARD}|4111111111111111")
    );

    // The extended protocol with binary results: text cells are masked, a binary cell under a
    // column rule becomes NULL, other binary cells pass.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let conn = format!(
        "host=127.0.0.1 port={} user=sam password='{}' dbname=shop",
        ward.port,
        ward_testkit::PASSWORD
    );
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        let row = client
            .query_one("SELECT id, email, card, api_password FROM customers", &[])
            .await
            .expect("query");
        assert_eq!(row.get::<_, i32>(0), 1);
        assert_eq!(row.get::<_, String>(1), "[REDACTED:email]");
        assert_eq!(row.get::<_, String>(2), "[REDACTED:card]");
        assert_eq!(row.get::<_, Option<i64>>(3), None);
    });
    // Dropping the runtime closes the connection, which ends the session.
    drop(rt);
    let sessions = ward.wait_sessions(4);
    let decisions: Vec<serde_json::Value> = sessions
        .iter()
        .map(|s| ward.events(s["id"].as_str().expect("id")))
        .map(|events| {
            events
                .iter()
                .find(|e| e["kind"] == "policy.decision")
                .expect("decision")["payload"]["mask_client"]
                .clone()
        })
        .collect();
    assert_eq!(
        decisions,
        [true, true, false, true].map(serde_json::Value::from)
    );
}

/// Passwords typed into statements (`CREATE/ALTER ROLE … PASSWORD`, a SCRAM verifier as psql's
/// `\password` sends it) are masked in `db.query` and never reach the store file, while the
/// server gets them as typed (the new role can log in).
#[test]
fn passwords_in_role_statements_are_masked_before_they_are_stored() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("ALTER ROLE app CREATEROLE").expect("createrole");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    let typed = "Tr0ub4dor-horse-staple";
    let verifier =
        "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$c3RvcmVka2V5c3RvcmVka2V5:c2VydmVya2V5c2VydmVya2V5";
    success(&psql(
        &ward.url("alice", "shop"),
        &[
            "-c",
            &format!("CREATE ROLE carol LOGIN PASSWORD '{typed}'"),
            "-c",
            &format!("ALTER ROLE carol PASSWORD E'{typed}2'"),
            "-c",
            &format!("CREATE ROLE dave LOGIN PASSWORD '{verifier}'"),
        ],
    ));
    // The server got the password as typed.
    let direct = format!(
        "postgresql://carol:{typed}2@127.0.0.1:{}/postgres",
        pg.cluster.port
    );
    assert_eq!(
        success(&psql(&direct, &["-A", "-t", "-c", "SELECT current_user"])).trim(),
        "carol"
    );
    let sessions = ward.wait_sessions(1);
    let queries: Vec<String> = ward
        .events(sessions[0]["id"].as_str().expect("id"))
        .iter()
        .filter(|e| e["kind"] == "db.query")
        .filter_map(|e| e["payload"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        queries,
        [
            "CREATE ROLE carol LOGIN PASSWORD '[REDACTED:sql_password]'",
            "ALTER ROLE carol PASSWORD E'[REDACTED:sql_password]'",
            "CREATE ROLE dave LOGIN PASSWORD '[REDACTED:sql_password]'",
        ]
    );
    for file in ["ward.db", "ward.db-wal"] {
        let raw = std::fs::read(ward.dir.join(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&raw);
        for secret in [typed, "c3RvcmVka2V5c3RvcmVka2V5"] {
            assert!(!text.contains(secret), "{secret} in {file}");
        }
    }
}
