//! pgbench (simple, extended, prepared; 8 clients) and tokio-postgres through Ward: every
//! statement recorded with its parameters, cancel requests reach the upstream.

use std::time::{Duration, Instant};

use ward_testkit::{ClusterOptions, PASSWORD, Postgres, Ward, run, success};

use crate::WARD;

#[test]
fn pgbench_in_every_query_mode_is_fully_recorded() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("bench", &pg)
        .user("carol", &["dev"])
        .grant("dev", "bench")
        .start()
        .expect("ward");
    let url = ward.url("carol", "bench");
    // Initialisation runs through Ward too: DDL, COPY FROM STDIN, VACUUM.
    success(&run("pgbench", &["-i", "-s", "1", "-q", &url]));
    let per_client = 25;
    for mode in ["simple", "extended", "prepared"] {
        let out = success(&run(
            "pgbench",
            &[
                "-S",
                "-M",
                mode,
                "-c",
                "8",
                "-j",
                "2",
                "-t",
                &per_client.to_string(),
                "-n",
                &url,
            ],
        ));
        assert!(
            out.contains(&format!(
                "number of transactions actually processed: {}/{}",
                8 * per_client,
                8 * per_client
            )),
            "{out}"
        );
    }
    // Each pgbench run opens one connection to check the tables, then one per client.
    let sessions = ward.wait_sessions(1 + 3 * 9);
    assert_eq!(sessions.len(), 1 + 3 * 9);
    assert!(
        sessions.iter().all(|s| s["outcome"] == "ok"),
        "{sessions:?}"
    );
    let init = ward.events(sessions[0]["id"].as_str().expect("id"));
    let copy = init
        .iter()
        .find(|e| e["kind"] == "db.copy")
        .expect("pgbench -i loads with COPY");
    assert_eq!(copy["payload"]["direction"], "in");

    for (mode, group) in ["simple", "extended", "prepared"]
        .iter()
        .zip(sessions[1..].chunks(9))
    {
        let mut selects = 0;
        for s in group {
            let events = ward.events(s["id"].as_str().expect("id"));
            let queries: Vec<&serde_json::Value> = events
                .iter()
                .filter(|e| e["kind"] == "db.query")
                .filter(|e| {
                    e["payload"]["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("pgbench_accounts WHERE aid"))
                })
                .collect();
            selects += queries.len();
            let results = events
                .iter()
                .filter(|e| e["kind"] == "db.result" && e["payload"]["row_count"] == 1)
                .count();
            assert!(
                results >= queries.len(),
                "{mode}: every select has its result row"
            );
            if let (true, Some(q)) = (*mode != "simple", queries.first()) {
                // Extended protocol: the aid is a bound parameter, rendered as text.
                let p = &q["payload"]["params"];
                assert!(
                    p[0].as_str().is_some_and(|a| a.parse::<u32>().is_ok()),
                    "{mode}: {p}"
                );
            }
        }
        assert_eq!(
            selects,
            8 * per_client,
            "{mode}: every transaction recorded"
        );
    }
    assert!(ward.cli(&["verify"]).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_params_and_cancel() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("dave", &["dev"])
        .grant("dev", "db")
        .plaintext_loopback()
        .start()
        .expect("ward");
    let conn_str = format!(
        "host=127.0.0.1 port={} user=dave password='{PASSWORD}' dbname=db",
        ward.port
    );
    let (client, conn) = tokio_postgres::connect(&conn_str, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);

    let row = client
        .query_one(
            "SELECT $1::int4 + 1, $2::text, $3::bool, $4::int8, $5::float8",
            &[&41i32, &"hi", &true, &-5i64, &2.5f64],
        )
        .await
        .expect("query");
    assert_eq!(row.get::<_, i32>(0), 42);
    assert_eq!(row.get::<_, String>(1), "hi");

    // Cancel a long statement: Ward maps its own BackendKeyData to the upstream's.
    let token = client.cancel_token();
    let started = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(tokio_postgres::NoTls).await
    });
    let err = client
        .simple_query("SELECT pg_sleep(30)")
        .await
        .expect_err("cancelled");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    canceller.await.expect("join").expect("cancel sent");
    // The session goes on after the cancel.
    let rows = client
        .simple_query("SELECT 'still here'")
        .await
        .expect("after cancel");
    let row = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
        _ => None,
    });
    assert_eq!(row.as_deref(), Some("still here"));
    drop(client);

    let sessions = ward.wait_sessions(1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let q = events
        .iter()
        .find(|e| e["kind"] == "db.query")
        .expect("query");
    assert_eq!(
        q["payload"]["params"],
        serde_json::json!(["41", "hi", "t", "-5", "2.5"])
    );
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    let sleep = events
        .iter()
        .position(|e| e["payload"]["text"] == "SELECT pg_sleep(30)")
        .expect("sleep recorded");
    assert!(kinds[sleep..].contains(&"db.cancel"), "{kinds:?}");
    let err = events
        .iter()
        .find(|e| e["kind"] == "db.error")
        .expect("error");
    assert_eq!(err["payload"]["code"], "57014");
}

#[test]
fn ctrl_c_in_psql_cancels_a_long_statement() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("erin", &["dev"])
        .grant("dev", "db")
        .start()
        .expect("ward");
    let started = Instant::now();
    let child = std::process::Command::new("psql")
        .args([&ward.url("erin", "db"), "-X", "-c", "SELECT pg_sleep(30)"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql");
    std::thread::sleep(Duration::from_millis(1500));
    success(&run("kill", &["-INT", &child.id().to_string()]));
    let out = child.wait_with_output().expect("psql exits");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "cancelled long before 30 s"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("canceling statement due to user request"),
        "{err}"
    );
    let sessions = ward.wait_sessions(1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    assert!(events.iter().any(|e| e["kind"] == "db.cancel"));
}
