//! Grants to users and groups: which grant is chosen, the upstream role it logs in as, and
//! grants that expired or are outside their daily window refused with 42501 and recorded.

use ward_testkit::{ClusterOptions, PASSWORD, Postgres, Ward, psql, success};

use crate::WARD;

fn current_user(ward: &Ward, user: &str) -> String {
    let out = psql(
        &ward.url(user, "shop"),
        &["-A", "-t", "-c", "SELECT current_user"],
    );
    success(&out).trim().to_owned()
}

fn decision(ward: &Ward, session: &serde_json::Value) -> serde_json::Value {
    let events = ward.events(session["id"].as_str().expect("id"));
    events
        .iter()
        .find(|e| e["kind"] == "policy.decision")
        .map(|e| e["payload"].clone())
        .expect("policy.decision")
}

#[test]
fn user_grants_win_over_group_grants_and_log_in_as_their_upstream_role() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql(&format!(
        "CREATE ROLE alice_ro LOGIN PASSWORD '{PASSWORD}'; CREATE ROLE ops_admin LOGIN PASSWORD '{PASSWORD}'"
    ))
    .expect("roles");
    let dir = std::env::temp_dir().join(format!("ward-grants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pw = dir.join("upstream.pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("pw");
    let grants = format!(
        "[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\n\n\
         [[grants]]\ngroup = \"ops\"\nresources = [\"shop\"]\nupstream_user = \"ops_admin\"\npassword_file = \"{}\"\n\n\
         [[grants]]\nuser = \"alice\"\nresources = [\"shop\"]\nupstream_user = \"alice_ro\"\npassword_file = \"{}\"\n",
        pw.display(),
        pw.display()
    );
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev", "ops"])
        .user("bob", &["dev", "ops"])
        .user("carol", &["ops"])
        .config(&grants)
        .start()
        .expect("ward");

    // alice: her own grant (index 2) comes before both group grants.
    assert_eq!(current_user(&ward, "alice"), "alice_ro");
    // bob: the group grants in config order: dev's (index 0), as the resource's role.
    assert_eq!(current_user(&ward, "bob"), "app");
    // carol: only ops's grant (index 1) names her.
    assert_eq!(current_user(&ward, "carol"), "ops_admin");

    let sessions = ward.wait_sessions(3);
    let d: Vec<serde_json::Value> = sessions.iter().map(|s| decision(&ward, s)).collect();
    assert_eq!(
        d[0]["grant"],
        serde_json::json!({ "index": 2, "user": "alice" })
    );
    assert_eq!(d[0]["upstream_user"], "alice_ro");
    assert_eq!(
        d[1]["grant"],
        serde_json::json!({ "index": 0, "group": "dev" })
    );
    assert_eq!(d[1]["upstream_user"], "app");
    assert_eq!(
        d[2]["grant"],
        serde_json::json!({ "index": 1, "group": "ops" })
    );
    assert_eq!(d[2]["upstream_user"], "ops_admin");
    assert!(d.iter().all(|d| d["allowed"] == true));
    let replay = ward.cli(&["replay", sessions[0]["id"].as_str().expect("id")]);
    let text = success(&replay);
    assert!(
        text.contains("allowed by grant to user alice, upstream user alice_ro"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The current hour of the day in UTC.
fn utc_hour() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    secs / 3600 % 24
}

#[test]
fn expired_and_out_of_window_grants_are_refused_with_42501_and_recorded() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    // A window that starts two hours from now and lasts one hour: it excludes now (a test that
    // runs across the hour still stays out of it).
    let (start, end) = ((utc_hour() + 2) % 24, (utc_hour() + 3) % 24);
    let grants = format!(
        "[[grants]]\nuser = \"alice\"\nresources = [\"shop\"]\nexpires_at = \"2020-01-01T00:00:00Z\"\n\n\
         [[grants]]\ngroup = \"night\"\nresources = [\"shop\"]\nhours = \"{start:02}:00-{end:02}:00\"\n\n\
         [[grants]]\ngroup = \"always\"\nresources = [\"shop\"]\nexpires_at = \"2999-01-01T00:00:00Z\"\n"
    );
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &[])
        .user("bob", &["night"])
        .user("carol", &["night", "always"])
        .config(&grants)
        .plaintext_loopback()
        .start()
        .expect("ward");

    let out = psql(&ward.url("alice", "shop"), &["-c", "select 1"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        err.contains(
            "the grant for resource \"shop\" (grants[0], user alice) expired at 2020-01-01T00:00:00Z"
        ),
        "{err}"
    );
    let out = psql(&ward.url("bob", "shop"), &["-c", "select 1"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "(grants[1], group night) is valid only {start:02}:00-{end:02}:00 UTC, and it is now"
        )),
        "{err}"
    );
    // carol's first group grant is outside its window, her second one works.
    assert_eq!(
        success(&psql(
            &ward.url("carol", "shop"),
            &["-A", "-t", "-c", "select 'in'"]
        ))
        .trim(),
        "in"
    );
    // Drivers see the SQLSTATE.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let conn = format!(
        "host=127.0.0.1 port={} user=bob password='{PASSWORD}' dbname=shop",
        ward.port
    );
    let code = match rt.block_on(tokio_postgres::connect(&conn, tokio_postgres::NoTls)) {
        Ok(_) => panic!("bob should be refused"),
        Err(e) => e.code().map(|c| c.code().to_owned()),
    };
    assert_eq!(code.as_deref(), Some("42501"));

    let sessions = ward.wait_sessions(4);
    let outcomes: Vec<&str> = sessions
        .iter()
        .map(|s| s["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["denied", "denied", "ok", "denied"]);
    let d = decision(&ward, &sessions[0]);
    assert_eq!(d["allowed"], false);
    assert_eq!(d["reason"], "grant expired");
    assert_eq!(
        d["grant"],
        serde_json::json!({ "index": 0, "user": "alice" })
    );
    let d = decision(&ward, &sessions[1]);
    assert_eq!(d["reason"], "outside grant window");
    assert_eq!(
        d["grant"],
        serde_json::json!({ "index": 1, "group": "night" })
    );
    let d = decision(&ward, &sessions[2]);
    assert_eq!(d["allowed"], true);
    assert_eq!(
        d["grant"],
        serde_json::json!({ "index": 2, "group": "always" })
    );
    assert!(ward.cli(&["verify"]).status.success());
}

/// psql with `PGOPTIONS` and `PGAPPNAME`: every startup parameter is in `session.start`; the
/// settings clients routinely send pass, `-c role=…` and `-c search_path=…` are refused with a
/// FATAL that names them (and recorded as a refusal), and a grant's `startup_parameters` lets
/// `search_path` through, where it takes effect.
#[test]
fn startup_parameters_are_recorded_and_only_the_allowed_ones_reach_the_server() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .user("carol", &["schemas"])
        .grant("dev", "shop")
        .config(
            "[[grants]]\ngroup = \"schemas\"\nresources = [\"shop\"]\nstartup_parameters = [\"search_path\"]\n",
        )
        .start()
        .expect("ward");
    let psql_with = |user: &str, env: &[(&str, &str)], sql: &str| {
        std::process::Command::new("psql")
            .arg(ward.url(user, "shop"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .envs(env.iter().copied())
            .output()
            .expect("psql")
    };

    let out = psql_with(
        "alice",
        &[
            ("PGAPPNAME", "nightly-report"),
            ("PGOPTIONS", "-c DateStyle=German"),
        ],
        "SHOW DateStyle",
    );
    assert_eq!(success(&out).trim(), "German, DMY");
    for (options, named) in [
        (
            "-c role=postgres",
            "setting \"role\" in the startup options",
        ),
        (
            "-c search_path=pg_catalog",
            "setting \"search_path\" in the startup options",
        ),
        (
            "-c standard_conforming_strings=off",
            "setting \"standard_conforming_strings\"",
        ),
    ] {
        let out = psql_with("alice", &[("PGOPTIONS", options)], "SELECT 1");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{options} went through");
        assert!(
            err.contains(named) && err.contains("is not allowed through Ward"),
            "{options}: {err}"
        );
    }
    let out = psql_with(
        "carol",
        &[("PGOPTIONS", "-c search_path=pg_catalog")],
        "SHOW search_path",
    );
    assert_eq!(success(&out).trim(), "pg_catalog");

    let sessions = ward.wait_sessions(5);
    let start = |s: &serde_json::Value| {
        ward.events(s["id"].as_str().expect("id"))
            .into_iter()
            .find(|e| e["kind"] == "session.start")
            .map(|e| e["payload"]["parameters"].clone())
            .expect("session.start")
    };
    let first = start(&sessions[0]);
    assert_eq!(first["application_name"], "nightly-report", "{first}");
    assert_eq!(first["options"], "-c DateStyle=German", "{first}");
    let refused = start(&sessions[1]);
    assert_eq!(refused["options"], "-c role=postgres", "{refused}");
    let d = decision(&ward, &sessions[1]);
    assert_eq!(d["allowed"], false, "{d}");
    assert_eq!(d["reason"], "startup parameter", "{d}");
    assert_eq!(sessions[1]["outcome"], "denied");
    assert_eq!(start(&sessions[4])["options"], "-c search_path=pg_catalog");
    assert_eq!(sessions[4]["outcome"], "ok");
}
