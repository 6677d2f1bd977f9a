//! Guardrails through Ward with real psql and a real driver: each statement kind and a pattern
//! are denied with 42501 naming the rule, recorded, never run upstream, and the session goes on.

use ward_testkit::{ClusterOptions, Postgres, Ward, psql};

use crate::WARD;

const RULES: &str = r#"
[[guardrails]]
name = "no-destruction"
resources = ["shop"]
deny = ["drop", "truncate", "alter_role", "delete_without_where", "update_without_where", "copy_program"]

[[guardrails]]
name = "no-pg-authid"
group = "dev"
pattern = "(?i)pg_authid"
"#;

fn setup(pg: &Postgres) {
    pg.sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text); \
         INSERT INTO items VALUES (1, 'apple'), (2, 'pear'), (3, 'plum'); \
         ALTER TABLE items OWNER TO app",
    )
    .expect("setup");
}

/// Runs the statements in one psql session that goes on after errors; returns stdout, stderr.
fn psql_session(url: &str, statements: &[&str]) -> (String, String) {
    let mut args = vec!["-v", "ON_ERROR_STOP=0", "-A", "-t"];
    for s in statements {
        args.push("-c");
        args.push(s);
    }
    let out = psql(url, &args);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn denials(events: &[serde_json::Value]) -> Vec<serde_json::Value> {
    events
        .iter()
        .filter(|e| e["kind"] == "policy.denied")
        .map(|e| e["payload"].clone())
        .collect()
}

#[test]
fn each_kind_and_a_pattern_are_denied_recorded_and_the_session_goes_on() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    setup(&pg);
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config(RULES)
        .start()
        .expect("ward");
    let url = ward.url("alice", "shop");

    let cases = [
        ("DROP TABLE items", "no-destruction", "drop", "a DROP"),
        ("TRUNCATE items", "no-destruction", "truncate", "a TRUNCATE"),
        (
            "ALTER ROLE app SUPERUSER",
            "no-destruction",
            "alter_role",
            "an ALTER ROLE",
        ),
        (
            "DELETE FROM items",
            "no-destruction",
            "delete_without_where",
            "a DELETE without WHERE",
        ),
        (
            "UPDATE items SET name = 'x'",
            "no-destruction",
            "update_without_where",
            "an UPDATE without WHERE",
        ),
        (
            "COPY items TO PROGRAM 'cat > /dev/null'",
            "no-destruction",
            "copy_program",
            "a COPY with PROGRAM",
        ),
        (
            "SELECT rolname FROM pg_catalog.PG_AUTHID",
            "no-pg-authid",
            "pattern",
            "matches the rule's pattern",
        ),
    ];
    for (i, (sql, rule, reason, why)) in cases.iter().enumerate() {
        let marker = format!("still here {i}");
        let after = format!("SELECT '{marker}'");
        let (out, err) = psql_session(&url, &[sql, &after]);
        assert!(
            err.contains(&format!("statement denied by Ward guardrail \"{rule}\""))
                && err.contains(why),
            "{sql}: {err}"
        );
        assert!(
            out.contains(&marker),
            "the session goes on after {sql}: {out} {err}"
        );
        let sessions = ward.wait_sessions(i + 1);
        let id = sessions[i]["id"].as_str().expect("id");
        let events = ward.events(id);
        let d = denials(&events);
        assert_eq!(d.len(), 1, "{sql}: {d:?}");
        assert_eq!(d[0]["rule"], *rule);
        assert_eq!(d[0]["reason"], *reason);
        assert_eq!(d[0]["protocol"], "simple");
        let queries: Vec<&str> = events
            .iter()
            .filter(|e| e["kind"] == "db.query")
            .filter_map(|e| e["payload"]["text"].as_str())
            .collect();
        assert_eq!(queries, [*sql, after.as_str()], "both statements recorded");
        assert_eq!(sessions[i]["outcome"], "ok");
        let replay = String::from_utf8_lossy(&ward.cli(&["replay", id]).stdout).into_owned();
        assert!(
            replay.contains(&format!("DENIED by guardrail {rule} ({reason}), not run")),
            "{replay}"
        );
    }
    // Nothing denied ran upstream: the table and its rows are intact, the role unchanged.
    let rows = pg
        .sql("SELECT count(*) || ' ' || min(name) FROM items")
        .expect("count");
    assert_eq!(rows.trim(), "3 apple");
    let superuser = pg
        .sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'app'")
        .expect("role");
    assert_eq!(superuser.trim(), "f");
    assert!(ward.cli(&["verify"]).status.success());
}

#[test]
fn delete_with_where_passes_and_transactions_keep_their_status() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    setup(&pg);
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config(RULES)
        .start()
        .expect("ward");
    let url = ward.url("alice", "shop");
    let (out, err) = psql_session(
        &url,
        &[
            "DELETE FROM items WHERE id = 3",
            "DELETE FROM items",
            "SELECT count(*) FROM items",
        ],
    );
    assert!(err.contains("a DELETE without WHERE"), "{err}");
    assert!(out.lines().any(|l| l == "2"), "{out}");
    // Inside a transaction block the denial does not end the transaction: what came before
    // commits (psql's prompt status follows the server's ReadyForQuery).
    let (out, err) = psql_session(
        &url,
        &[
            "BEGIN",
            "INSERT INTO items VALUES (4, 'fig')",
            "DROP TABLE items",
            "COMMIT",
            "SELECT string_agg(name, ',' ORDER BY id) FROM items",
        ],
    );
    assert!(err.contains("a DROP"), "{err}");
    assert!(out.contains("apple,pear,fig"), "{out} {err}");
    // Several statements in one Query: checked one by one, none runs when one is denied.
    let (out, err) = psql_session(
        &url,
        &[
            "INSERT INTO items VALUES (5, 'kiwi'); TRUNCATE items",
            "SELECT count(*) FROM items",
        ],
    );
    assert!(
        err.contains("statement 2 of the query is a TRUNCATE"),
        "{err}"
    );
    assert!(out.lines().any(|l| l == "3"), "{out}");
}

#[test]
fn unparsable_statements_are_denied_by_default_and_allowed_when_configured() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    setup(&pg);
    // PostgreSQL runs this; the SQL parser does not know it.
    let odd = "TABLE items";
    assert!(pg.sql(odd).expect("postgres runs it").contains("apple"));
    for (unparsed, denied) in [(None, true), (Some("allow"), false), (Some("deny"), true)] {
        let mut rules = "[[guardrails]]\nname = \"strict\"\ndeny = [\"drop\"]\n".to_owned();
        if let Some(u) = unparsed {
            rules.push_str(&format!("unparsed = \"{u}\"\n"));
        }
        let ward = Ward::builder(WARD)
            .postgres_resource("shop", &pg)
            .user("alice", &["dev"])
            .grant("dev", "shop")
            .config(&rules)
            .start()
            .expect("ward");
        let (out, err) = psql_session(&ward.url("alice", "shop"), &[odd, "SELECT 'next'"]);
        assert!(out.contains("next"), "{out} {err}");
        if denied {
            assert!(
                err.contains("guardrail \"strict\": Ward cannot parse the statement"),
                "{unparsed:?}: {err}"
            );
            assert!(!out.contains("apple"), "{out}");
        } else {
            assert!(err.is_empty(), "{err}");
            assert!(out.contains("1|apple"), "{out}");
        }
        let sessions = ward.wait_sessions(1);
        let events = ward.events(sessions[0]["id"].as_str().expect("id"));
        let d = denials(&events);
        assert_eq!(d.len(), usize::from(denied), "{d:?}");
        if denied {
            assert_eq!(d[0]["reason"], "unparsed");
        }
    }
}

#[test]
fn extended_protocol_denial_through_a_driver_keeps_the_connection() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    setup(&pg);
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config(RULES)
        .plaintext_loopback()
        .start()
        .expect("ward");
    let conn = format!(
        "host=127.0.0.1 port={} user=alice password='{}' dbname=shop",
        ward.port,
        ward_testkit::PASSWORD
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .expect("connect");
        let driver = tokio::spawn(connection);
        let e = client
            .prepare("DROP TABLE items")
            .await
            .expect_err("denied");
        let db = e.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), "42501");
        assert!(
            db.message()
                .contains("statement denied by Ward guardrail \"no-destruction\""),
            "{db:?}"
        );
        // The connection still works, with the extended protocol and the simple one.
        let row = client
            .query_one("SELECT count(*) FROM items WHERE id > $1", &[&0i32])
            .await
            .expect("next query");
        assert_eq!(row.get::<_, i64>(0), 3);
        // A denied statement inside a pipeline: the statements before it run, the rest of the
        // batch is skipped until Sync, and the client gets one error.
        let e = client
            .execute("DELETE FROM items", &[])
            .await
            .expect_err("denied");
        assert_eq!(e.code().map(|c| c.code()), Some("42501"));
        let (a, b) = tokio::join!(
            client.query_one("SELECT $1::text", &[&"first"]),
            client.query_one("SELECT $1::text", &[&"second"]),
        );
        assert_eq!(a.expect("a").get::<_, String>(0), "first");
        assert_eq!(b.expect("b").get::<_, String>(0), "second");
        // Pipelined simple queries (one write): each answer stays in order, the denied one's too.
        let (a, b, c) = tokio::join!(
            client.simple_query("SELECT 'one'"),
            client.simple_query("TRUNCATE items"),
            client.simple_query("SELECT 'three'"),
        );
        let first = |r: Vec<tokio_postgres::SimpleQueryMessage>| {
            r.into_iter().find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
        };
        assert_eq!(first(a.expect("one")).as_deref(), Some("one"));
        assert_eq!(
            b.expect_err("denied").code().map(|c| c.code()),
            Some("42501")
        );
        assert_eq!(first(c.expect("three")).as_deref(), Some("three"));
        drop(client);
        let _ = driver.await;
    });
    let sessions = ward.wait_sessions(1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let d = denials(&events);
    assert_eq!(d.len(), 3, "{d:?}");
    let protocols: Vec<&str> = d.iter().filter_map(|d| d["protocol"].as_str()).collect();
    assert_eq!(protocols, ["extended", "extended", "simple"]);
    assert_eq!(d[0]["reason"], "drop");
    assert_eq!(d[1]["reason"], "delete_without_where");
    assert_eq!(d[2]["reason"], "truncate");
    let rows = pg.sql("SELECT count(*) FROM items").expect("count");
    assert_eq!(rows.trim(), "3");
}

#[test]
fn denials_reach_mask_client_sessions_too_and_their_rows_stay_masked() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql(
        "CREATE TABLE people (id int, email text); \
         INSERT INTO people VALUES (1, 'ada@example.com'); ALTER TABLE people OWNER TO app",
    )
    .expect("setup");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("sam", &["support"])
        .config(&format!(
            "[[grants]]\ngroup = \"support\"\nresources = [\"shop\"]\nmask_client = true\n{RULES}"
        ))
        .start()
        .expect("ward");
    let (out, err) = psql_session(
        &ward.url("sam", "shop"),
        &[
            "SELECT email FROM people",
            "DROP TABLE people",
            "SELECT 'after', email FROM people",
        ],
    );
    assert!(err.contains("guardrail \"no-destruction\""), "{err}");
    assert!(!out.contains("ada@example.com"), "{out}");
    assert!(out.contains("after|"), "{out}");
    assert_eq!(
        pg.sql("SELECT count(*) FROM people").expect("count").trim(),
        "1"
    );
}

/// psql's `\lo_export` reads a large object through fast-path calls (lo_open, loread,
/// lo_close). Each call and what it returned is recorded, masked; under `mask_client` (or a
/// grant with `fast_path = false`, or a guardrail denying `function_call`) the calls are
/// refused, so a card number cannot reach the client's disk unmasked that way.
#[test]
fn fast_path_calls_are_recorded_masked_and_refused_where_the_grant_says() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let grants = r#"
[[grants]]
group = "dev"
resources = ["shop"]

[[grants]]
group = "support"
resources = ["shop"]
mask_client = true

[[grants]]
group = "nofastpath"
resources = ["shop"]
fast_path = false

[[grants]]
group = "guarded"
resources = ["shop"]

[[guardrails]]
name = "no-fast-path"
group = "guarded"
deny = ["function_call"]
"#;
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .user("sam", &["support"])
        .user("nora", &["nofastpath"])
        .user("gus", &["guarded"])
        .config(grants)
        .start()
        .expect("ward");
    let dir = ward.dir.clone();
    let card = "4111 1111 1111 1111";
    let export = |user: &str| {
        let file = dir.join(format!("{user}.out"));
        let script = dir.join(format!("{user}.sql"));
        std::fs::write(
            &script,
            format!(
                "SELECT lo_from_bytea(0, convert_to('card {card}', 'UTF8')) AS oid \\gset\n\\lo_export :oid '{}'\n",
                file.display()
            ),
        )
        .expect("script");
        let out = psql(
            &ward.url(user, "shop"),
            &[
                "-v",
                "ON_ERROR_STOP=0",
                "-f",
                script.to_str().expect("path"),
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (err, std::fs::read_to_string(&file).ok())
    };

    // dev: the file has what the server holds; the record has the calls, masked.
    let (err, file) = export("alice");
    assert_eq!(
        file.as_deref(),
        Some(format!("card {card}").as_str()),
        "{err}"
    );
    // mask_client, fast_path = false, a guardrail: refused, with the reason.
    for (user, reason) in [
        ("sam", "masks what this client receives (mask_client)"),
        (
            "nora",
            "does not allow fast-path function calls (fast_path = false)",
        ),
        ("gus", "denied by Ward guardrail \"no-fast-path\""),
    ] {
        let (err, file) = export(user);
        assert!(
            file.is_none_or(|f| !f.contains(card)),
            "{user} got the card number"
        );
        assert!(
            err.contains("fast-path call of lo_open") && err.contains(reason),
            "{user}: {err}"
        );
    }

    let sessions = ward.wait_sessions(4);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let calls: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "db.function_call")
        .filter_map(|e| e["payload"]["function"].as_str())
        .collect();
    assert_eq!(calls.first(), Some(&"lo_open"), "{calls:?}");
    assert!(
        calls.contains(&"loread") && calls.contains(&"lo_close"),
        "{calls:?}"
    );
    let read = events
        .iter()
        .find(|e| e["kind"] == "db.function_result" && e["payload"]["function"] == "loread")
        .expect("loread's result");
    let value = read["payload"]["result"]["value"].as_str().expect("text");
    assert!(
        value.starts_with("card ") && !value.contains(card),
        "{read}"
    );
    for (i, reason) in [(1, "mask_client"), (2, "fast_path"), (3, "function_call")] {
        let events = ward.events(sessions[i]["id"].as_str().expect("id"));
        let denied = denials(&events);
        assert!(
            denied
                .iter()
                .any(|d| d["reason"] == reason && d["protocol"] == "fast-path"),
            "{reason}: {denied:?}"
        );
        assert!(events.iter().any(|e| e["kind"] == "db.function_call"));
        assert!(!events.iter().any(|e| e["kind"] == "db.function_result"));
    }
    let raw = std::fs::read(ward.dir.join("ward.db")).expect("store");
    assert!(!String::from_utf8_lossy(&raw).contains(card));
}

/// What a rule denying `drop` says of `sql`, as Ward reads it (with standard strings).
fn ward_policy_kinds(sql: &str) -> Option<String> {
    let rules = vec![ward_policy::GuardrailConfig {
        name: "drops".into(),
        resources: Vec::new(),
        group: None,
        user: None,
        deny: vec![ward_policy::StatementKind::Drop],
        pattern: None,
        unparsed: ward_policy::Unparsed::Deny,
        action: Default::default(),
        approvers: Vec::new(),
        review_timeout: None,
        methods: Vec::new(),
        paths: Vec::new(),
        secrets: Vec::new(),
    }];
    let compiled = ward_policy::Guardrails::compile(&rules).expect("compiles");
    let session = compiled
        .for_session("shop", "alice", &["dev".to_owned()])
        .expect("applies");
    let denial = session.check(sql.as_bytes());
    assert!(denial.is_none(), "Ward reads no DROP in {sql}");
    denial.map(|d| d.code().to_owned())
}

/// The classification held against a real server: each statement, run directly, does what its
/// kind says (rows deleted, a column dropped, a file written, a body run), and through Ward a
/// rule denying that kind refuses it, leaving the table as it was. `standard_conforming_strings
/// = off` is shown to make PostgreSQL run a DROP that Ward's reading calls a string, which is
/// why setting it is refused as unparsed.
#[test]
fn what_postgres_runs_is_what_the_guardrails_classify() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let reset = "DROP TABLE IF EXISTS t; DROP FUNCTION IF EXISTS f(); \
                 CREATE TABLE t (id int, secret text); INSERT INTO t VALUES (1, 'a'), (2, 'b'); \
                 ALTER TABLE t OWNER TO app";
    let count = "SELECT count(*) FROM t";
    let secret_column = "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'secret'";
    let file = std::env::temp_dir().join(format!("ward-copy-{}.csv", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let copy = format!("COPY t TO '{}'", file.display());
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        (
            "EXPLAIN (ANALYZE) DELETE FROM t",
            "delete_without_where",
            count,
            "0",
        ),
        (
            "MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE",
            "merge_delete",
            count,
            "1",
        ),
        (
            "ALTER TABLE t DROP COLUMN secret",
            "drop",
            secret_column,
            "0",
        ),
        ("DO $$ BEGIN DELETE FROM t; END $$", "code", count, "0"),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t'; SELECT f()",
            "code",
            count,
            "0",
        ),
        (&copy, "copy_file", count, "2"),
        (
            "SET standard_conforming_strings = off",
            "unparsed",
            count,
            "2",
        ),
    ];
    // Directly, as the superuser: what each one does.
    for (sql, _, check, after) in &cases {
        pg.sql(reset).expect("reset");
        pg.sql(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(pg.sql(check).expect("check").trim(), *after, "{sql}");
    }
    assert!(file.exists(), "COPY TO wrote the server file");
    let _ = std::fs::remove_file(&file);
    // Once strings lex the old way (a later statement of the session), this runs a DROP that
    // Ward's reading calls part of a string.
    let hidden = "SELECT 'a\\''; DROP TABLE t; --'";
    let ward_reads = ward_policy_kinds(hidden);
    pg.sql("ALTER DATABASE app SET standard_conforming_strings = off")
        .expect("set");
    pg.sql(reset).expect("reset");
    pg.sql(hidden).expect("the hidden drop");
    assert_eq!(
        pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 't'")
            .expect("tables")
            .trim(),
        "0",
        "the DROP ran, though Ward reads {ward_reads:?}"
    );
    pg.sql("ALTER DATABASE app RESET standard_conforming_strings")
        .expect("reset");

    // Through Ward: each is refused, naming its kind, and the table is as it was.
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config(
            "[[guardrails]]\nname = \"runs-what-it-says\"\ndeny = [\"drop\", \"delete_without_where\", \"merge_delete\", \"copy_file\", \"code\"]\n",
        )
        .start()
        .expect("ward");
    pg.sql(reset).expect("reset");
    for (sql, _, _, _) in &cases {
        let (_, err) = psql_session(&ward.url("alice", "shop"), &[sql]);
        assert!(
            err.contains("denied by Ward guardrail \"runs-what-it-says\""),
            "{sql}: {err}"
        );
        assert_eq!(pg.sql(count).expect("count").trim(), "2", "{sql} ran");
        assert_eq!(
            pg.sql(secret_column).expect("column").trim(),
            "1",
            "{sql} ran"
        );
    }
    assert!(!file.exists());
    let sessions = ward.wait_sessions(cases.len());
    let reasons: Vec<String> = sessions
        .iter()
        .flat_map(|s| denials(&ward.events(s["id"].as_str().expect("id"))))
        .filter_map(|d| d["reason"].as_str().map(str::to_owned))
        .collect();
    let kinds: Vec<&str> = cases.iter().map(|(_, kind, _, _)| *kind).collect();
    assert_eq!(reasons, kinds);
}
