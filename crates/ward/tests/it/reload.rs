//! `ward serve` reloads its configuration on SIGHUP: resources, grants, guardrails and masking
//! change for the sessions that start after it, while open sessions keep what they were
//! admitted with. A file that is not valid, or that changes what only a restart applies,
//! changes nothing.

use ward_testkit::{ClusterOptions, Postgres, Ward, psql, success};

use crate::WARD;

/// What psql prints for `sql` run by alice on `resource`, or its error.
fn run(ward: &Ward, resource: &str, sql: &str) -> Result<String, String> {
    let out = psql(&ward.url("alice", resource), &["-A", "-t", "-c", sql]);
    if out.status.success() {
        Ok(success(&out).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn edit(ward: &Ward, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(&ward.config).expect("config");
    let changed = change(text.clone());
    assert_ne!(changed, text, "the edit changes the file");
    std::fs::write(&ward.config, changed).expect("config written");
}

#[test]
fn sighup_puts_new_grants_guardrails_and_resources_in_force_for_new_sessions() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("CREATE TABLE t (n int); INSERT INTO t VALUES (1); ALTER TABLE t OWNER TO app")
        .expect("table");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .plaintext_loopback()
        .start()
        .expect("ward");
    assert_eq!(run(&ward, "shop", "SELECT n FROM t").as_deref(), Ok("1"));

    // A session open across the reloads keeps what it was admitted with.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (open, connection) = rt
        .block_on(tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=alice password='{}' dbname=shop",
                ward.port,
                ward_testkit::PASSWORD
            ),
            tokio_postgres::NoTls,
        ))
        .expect("a session before the reload");
    rt.spawn(connection);

    // A guardrail and a second resource: new sessions meet them, the open one keeps its
    // admission.
    edit(&ward, |c| {
        let resource = c
            .split("[[resources]]")
            .nth(1)
            .expect("the shop resource")
            .split("[[grants]]")
            .next()
            .expect("its lines")
            .replace("name = \"shop\"", "name = \"shop2\"");
        c.replace(
            "resources = [\"shop\"]",
            "resources = [\"shop\", \"shop2\"]",
        ) + "\n[[resources]]"
            + &resource
            + "\n[[guardrails]]\nname = \"no-drops\"\ndeny = [\"drop\"]\n"
    });
    let said = ward.reload();
    assert!(
        said.contains("2 resources, 1 grant, 1 guardrail; 0 open sessions ended"),
        "{said}"
    );
    assert_eq!(run(&ward, "shop2", "SELECT n FROM t").as_deref(), Ok("1"));
    let denied = run(&ward, "shop", "DROP TABLE t").expect_err("the guardrail");
    assert!(denied.contains("no-drops"), "{denied}");
    rt.block_on(open.simple_query("CREATE TABLE u (n int); DROP TABLE u"))
        .expect("the open session keeps its admission");

    // The grant moves to another group: alice's next session is refused, and her open one,
    // which no grant lets in any more, is ended.
    edit(&ward, |c| c.replace("group = \"dev\"", "group = \"ops\""));
    let said = ward.reload();
    assert!(said.contains("1 open session ended"), "{said}");
    let refused = run(&ward, "shop", "SELECT 1").expect_err("no grant any more");
    assert!(
        refused.contains("has no grant for resource \"shop\""),
        "{refused}"
    );
    let ended = rt
        .block_on(open.simple_query("SELECT 1"))
        .expect_err("the open session was ended");
    let ended = ended.as_db_error().map(|e| (e.code().code(), e.message()));
    let (code, message) = ended.expect("a FATAL error from Ward");
    assert_eq!(code, "57P01");
    assert!(
        message.contains(
            "terminated by a configuration reload: no grant lets alice reach resource \"shop\""
        ),
        "{message}"
    );

    // A file that does not parse changes nothing.
    edit(&ward, |c| {
        c.replace("group = \"ops\"", "group = \"dev\"") + "\n[[grants\n"
    });
    let said = ward.reload();
    assert!(said.starts_with("reload failed"), "{said}");
    assert!(
        run(&ward, "shop", "SELECT 1").is_err(),
        "the ops grant is still in force"
    );
    // `ward reload` checks the file before it signals the server.
    let out = ward.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("the configuration was not sent to the running Ward"),
        "{said}"
    );

    // Nor does one that also changes what only a restart applies; `ward reload` prints the
    // server's refusal and exits 1.
    edit(&ward, |c| {
        c.replace("\n[[grants\n", "")
            .replace("[listen]\n", "[listen]\nweb = \"127.0.0.1:1\"\n")
    });
    let out = ward.cli(&["reload"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.starts_with("refused, the configuration in force is unchanged"),
        "{said}"
    );
    assert!(
        said.contains("[listen] changed, which only a restart applies"),
        "{said}"
    );
    assert!(
        run(&ward, "shop", "SELECT 1").is_err(),
        "the ops grant is still in force"
    );
    // Without that change, `ward reload` puts the file in force.
    edit(&ward, |c| c.replace("web = \"127.0.0.1:1\"\n", ""));
    let out = ward.cli(&["reload"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.starts_with("reloaded"), "{said}");
    assert_eq!(run(&ward, "shop", "SELECT 1"), Ok("1".into()));

    let sessions = ward.sessions();
    let outcomes = |o: &str| sessions.iter().filter(|s| s["outcome"] == o).count();
    assert_eq!(
        outcomes("denied"),
        3,
        "each refusal is recorded: {sessions:?}"
    );
    assert_eq!(outcomes("terminated"), 1, "{sessions:?}");
    let terminated = sessions
        .iter()
        .find(|s| s["outcome"] == "terminated")
        .expect("the open session");
    let events = ward.events(terminated["id"].as_str().expect("id"));
    let why = ward_testkit::of_kind(&events, "session.terminated");
    assert_eq!(why.len(), 1, "{events:?}");
    assert_eq!(why[0]["payload"]["by"], "a configuration reload");
}
