//! Masking profiles per resource (what its record masks) and per grant (what `mask_client`
//! clients see), and the configurations `ward serve` refuses: unknown profile names, and a
//! resource profile that would record less masked than the default profile.

use ward_testkit::{ClusterOptions, Postgres, Ward, psql, success};

use crate::WARD;

const CARD: &str = "4111 1111 1111 1111";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const EMAIL: &str = "ada@example.com";

/// Profiles: a narrow default (cards and AWS keys, no column rules) that every record applies,
/// `hr` with every rule and column rule, and `cards` for clients that may see the rest.
const PROFILES: &str = r#"
[[masking.columns]]
column = "salary"

[masking.profiles.default]
rules = ["card", "aws_*"]
columns = []

[masking.profiles.hr]

[masking.profiles.cards]
rules = ["card"]
columns = []

[[grants]]
group = "dev"
resources = ["shop", "hr"]

[[grants]]
group = "support"
resources = ["hr"]
mask_client = true
client_profile = "cards"

[[grants]]
group = "audit"
resources = ["hr"]
mask_client = true
"#;

fn seeded_postgres() -> Postgres {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql(&format!(
        "CREATE TABLE staff (email text, card text, salary int8, note text);
         INSERT INTO staff VALUES ('{EMAIL}', '{CARD}', 52000, 'key {AWS_KEY}');
         GRANT SELECT ON staff TO app;"
    ))
    .expect("seed");
    pg
}

/// The rows of the session's `db.result` and its `policy.decision` payload.
fn recorded(ward: &Ward, session: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    let events = ward.events(session["id"].as_str().expect("id"));
    let find = |kind: &str| {
        events
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {events:?}"))["payload"]
            .clone()
    };
    (find("db.result")["rows"].clone(), find("policy.decision"))
}

#[test]
fn each_resource_records_with_its_profile_and_each_grant_shows_clients_its_own() {
    let pg = seeded_postgres();
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .postgres_resource_with("hr", &pg, "masking_profile = \"hr\"")
        .user("dan", &["dev"])
        .user("sue", &["support"])
        .user("abe", &["audit"])
        .config(PROFILES)
        .start()
        .expect("ward");
    let query = [
        "-A",
        "-t",
        "-c",
        "SELECT email, card, salary, note FROM staff",
    ];
    let clear = format!("{EMAIL}|{CARD}|52000|key {AWS_KEY}");
    // One session per (user, resource), in this order.
    let seen: Vec<String> = [("dan", "shop"), ("dan", "hr"), ("sue", "hr"), ("abe", "hr")]
        .iter()
        .map(|(user, resource)| {
            success(&psql(&ward.url(user, resource), &query))
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(
        seen,
        [
            // Without mask_client, clients see the data whatever the resource's profile.
            clear.clone(),
            clear.clone(),
            // support: the grant's `cards` profile masks cards only.
            format!("{EMAIL}|[REDACTED:card]|52000|key {AWS_KEY}"),
            // audit: no client_profile, so the resource's `hr` profile.
            "[REDACTED:email]|[REDACTED:card]|[REDACTED:salary]|key [REDACTED:aws_access_key]"
                .to_owned(),
        ]
    );

    let sessions = ward.wait_sessions(4);
    assert_eq!(sessions.len(), 4);
    let record: Vec<(serde_json::Value, serde_json::Value)> =
        sessions.iter().map(|s| recorded(&ward, s)).collect();
    // `shop` records with the default profile: e-mail and salary stay, cards and keys do not.
    assert_eq!(
        record[0].0,
        serde_json::json!([[
            EMAIL,
            "[REDACTED:card]",
            "52000",
            "key [REDACTED:aws_access_key]"
        ]])
    );
    // `hr` records with its profile for everyone, whatever their grant shows them.
    for (rows, _) in &record[1..] {
        assert_eq!(
            *rows,
            serde_json::json!([[
                "[REDACTED:email]",
                "[REDACTED:card]",
                "[REDACTED:salary]",
                "key [REDACTED:aws_access_key]"
            ]])
        );
    }
    // The decision says which profile masked the record and which one the client.
    let profiles: Vec<(serde_json::Value, serde_json::Value)> = record
        .iter()
        .map(|(_, d)| (d["masking_profile"].clone(), d["client_profile"].clone()))
        .collect();
    assert_eq!(
        profiles,
        [
            ("default".into(), serde_json::Value::Null),
            ("hr".into(), serde_json::Value::Null),
            ("hr".into(), "cards".into()),
            ("hr".into(), "hr".into()),
        ]
    );
    assert!(ward.cli(&["verify"]).status.success());
    // The default profile is the floor of every record: cards and keys are in no store file.
    for file in ["ward.db", "ward.db-wal"] {
        let bytes = std::fs::read(ward.dir.join(file)).unwrap_or_default();
        let haystack = String::from_utf8_lossy(&bytes);
        for secret in [CARD, AWS_KEY] {
            assert!(!haystack.contains(secret), "{secret} found in {file}");
        }
    }
}

#[test]
fn unknown_profiles_and_narrower_record_profiles_stop_startup() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let refused = |builder: ward_testkit::WardBuilder| match builder.start() {
        Ok(_) => panic!("ward serve started"),
        Err(e) => format!("{e:#}"),
    };
    let err = refused(
        Ward::builder(WARD)
            .postgres_resource_with("hr", &pg, "masking_profile = \"hrr\"")
            .config("[masking.profiles.hr]\n[masking.profiles.cards]\nrules = [\"card\"]\n"),
    );
    assert!(
        err.contains(
            "ward.toml: resources[0].masking_profile: no masking profile named `hrr` \
             (profiles: default, cards, hr)"
        ),
        "{err}"
    );
    let err = refused(Ward::builder(WARD).postgres_resource("hr", &pg).config(
        "[[grants]]\ngroup = \"support\"\nresources = [\"hr\"]\nmask_client = true\n\
                 client_profile = \"card\"\n[masking.profiles.cards]\nrules = [\"card\"]\n",
    ));
    assert!(
        err.contains(
            "ward.toml: grants[0].client_profile: no masking profile named `card` \
             (profiles: default, cards)"
        ),
        "{err}"
    );
    // The implicit default profile masks with every rule: a resource may not record with fewer.
    let err = refused(
        Ward::builder(WARD)
            .postgres_resource_with("hr", &pg, "masking_profile = \"cards\"")
            .config("[masking.profiles.cards]\nrules = [\"card\"]\n"),
    );
    assert!(
        err.contains("ward.toml: resources[0].masking_profile: profile `cards` leaves out rules private_key, url_password,")
            && err.contains("email of the default profile; a resource's record is never masked less than by the default profile"),
        "{err}"
    );
    // A client profile may mask less than the record: what clients see is a policy choice.
    let ward = Ward::builder(WARD)
        .postgres_resource("hr", &pg)
        .config(
            "[[grants]]\ngroup = \"support\"\nresources = [\"hr\"]\nmask_client = true\n\
             client_profile = \"cards\"\n[masking.profiles.cards]\nrules = [\"card\"]\n",
        )
        .start();
    assert!(ward.is_ok(), "{:?}", ward.err());
}

/// Column rules follow the table column a result column is, whatever the query calls it: an
/// alias, a table alias, a table-qualified rule; in the record and for `mask_client` clients,
/// over the simple protocol (psql) and the extended one with binary results (tokio-postgres).
/// A column that only carries a ruled name as its label is not masked by a table-qualified rule.
#[test]
fn column_rules_follow_the_table_column_under_any_alias() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql(
        "CREATE TABLE users (id int, password text, api_key text);
         CREATE TABLE orders (id int, note text);
         INSERT INTO users VALUES (1, 'hunter2-horse', 'k-123-plain');
         INSERT INTO orders VALUES (1, 'plain note');
         GRANT SELECT ON users, orders TO app;",
    )
    .expect("seed");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("sam", &["support"])
        .user("dev", &["dev"])
        .plaintext_loopback()
        .config(
            "[[grants]]\ngroup = \"support\"\nresources = [\"shop\"]\nmask_client = true\n\n[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\n\n[[masking.columns]]\ncolumn = \"*password*\"\n\n[[masking.columns]]\ncolumn = \"users.api_key\"\n",
        )
        .start()
        .expect("ward");
    let shown = |user: &str, sql: &str| {
        success(&psql(&ward.url(user, "shop"), &["-A", "-t", "-c", sql]))
            .trim()
            .to_owned()
    };
    assert_eq!(
        shown("sam", "SELECT password AS p FROM users"),
        "[REDACTED:*password*]"
    );
    assert_eq!(
        shown("sam", "SELECT u.api_key AS k, u.id FROM users u"),
        "[REDACTED:users.api_key]|1"
    );
    assert_eq!(
        shown("sam", "SELECT o.note AS api_key FROM orders o"),
        "plain note",
        "orders.note is not users.api_key"
    );
    // The record of a client that sees everything is masked all the same.
    assert_eq!(
        shown("dev", "SELECT password AS p, api_key AS k FROM users"),
        "hunter2-horse|k-123-plain"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let conn = ward.url_with("sam", ward_testkit::PASSWORD, "shop", "disable");
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT password AS x, id FROM users WHERE id = $1",
                &[&1i32],
            )
            .await
            .expect("query");
        assert_eq!(row.get::<_, String>(0), "[REDACTED:*password*]");
        assert_eq!(row.get::<_, i32>(1), 1);
    });
    drop(rt);

    let sessions = ward.wait_sessions(5);
    let stored: String = sessions
        .iter()
        .flat_map(|s| ward.events(s["id"].as_str().expect("id")))
        .map(|e| e.to_string())
        .collect();
    assert!(!stored.contains("hunter2-horse"), "{stored}");
    assert!(!stored.contains("k-123-plain"), "{stored}");
    assert!(stored.contains("plain note"), "{stored}");
}
