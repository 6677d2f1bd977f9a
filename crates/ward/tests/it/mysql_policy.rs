//! Guardrails and client masking on MySQL sessions, with the real mariadb client against a
//! real MariaDB: denied statements get ERR 1227 naming the rule, are recorded and never run;
//! a `mask_client` grant's client sees masked cells.

use ward_testkit::{Mariadb, Ward, of_kind};

use crate::WARD;
use crate::mysql::stdout;

const RULES: &str = r#"
[[guardrails]]
name = "no-destruction"
resources = ["shop"]
deny = ["drop", "truncate", "delete_without_where", "update_without_where", "grant", "create_user", "copy_file"]

[[guardrails]]
name = "no-mysql-schema"
group = "dev"
pattern = "(?i)mysql\\.user"
"#;

#[test]
fn guardrails_deny_in_mysqls_dialect() {
    let db = Mariadb::start(false).expect("mariadb");
    db.sql(
        "CREATE TABLE app.items (id int PRIMARY KEY, name text); \
         INSERT INTO app.items VALUES (1, 'apple'), (2, 'pear'), (3, 'plum')",
    )
    .expect("seed");
    let ward = Ward::builder(WARD)
        .mysql()
        .mysql_resource("shop", &db, "app")
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config(RULES)
        .start()
        .expect("ward");
    let denied = [
        ("DROP TABLE items", "drop"),
        ("drop table `items`", "drop"),
        ("TRUNCATE items", "truncate"),
        ("DELETE FROM items", "delete_without_where"),
        ("UPDATE items SET name = 'x'", "update_without_where"),
        ("SELECT 1; DROP TABLE items", "drop"),
        // MySQL runs what an executable comment holds.
        ("/*!50000 DROP TABLE items */", "drop"),
        ("/*M!100100 TRUNCATE items */", "truncate"),
        ("GRANT ALL ON *.* TO 'app'@'%'", "grant"),
        ("CREATE USER 'eve'@'%' IDENTIFIED BY 'x'", "create_user"),
        (
            "SELECT * FROM items INTO OUTFILE '/tmp/items.txt'",
            "copy_file",
        ),
        (
            "SELECT name FROM items INTO DUMPFILE '/tmp/one.bin'",
            "copy_file",
        ),
        (
            "LOAD DATA INFILE '/etc/passwd' INTO TABLE items",
            "copy_file",
        ),
        ("SELECT user FROM mysql.user", "pattern"),
    ];
    for (sql, _) in denied {
        let out = ward.mysql_client("alice", "shop", sql, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("ERROR 1227 (42000)"),
            "{sql}: {err}"
        );
    }
    // Allowed statements run, and nothing denied ran.
    let ok = stdout(&ward.mysql_client(
        "alice",
        "shop",
        "DELETE FROM items WHERE id = 3; SELECT count(*) FROM items",
        &[],
    ));
    assert!(ok.contains('2'), "{ok}");
    assert_eq!(
        db.sql("SELECT count(*) FROM app.items")
            .expect("count")
            .trim(),
        "2"
    );
    let sessions = ward.wait_sessions(denied.len() + 1);
    let mut reasons = Vec::new();
    for s in &sessions {
        let events = ward.events(s["id"].as_str().expect("id"));
        for d in of_kind(&events, "policy.denied") {
            assert_eq!(d["payload"]["protocol"], "query");
            reasons.push(d["payload"]["reason"].as_str().unwrap_or("").to_owned());
        }
    }
    for (sql, reason) in denied {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{sql}: {reason} not in {reasons:?}"
        );
    }
    assert_eq!(reasons.len(), denied.len(), "{reasons:?}");
}

#[test]
fn mask_client_masks_what_the_client_sees() {
    const CARD: &str = "4111 1111 1111 1111";
    let db = Mariadb::start(true).expect("mariadb");
    db.sql(&format!(
        "CREATE TABLE app.customers (id int, email text, card varchar(32), api_password bigint); \
         INSERT INTO app.customers VALUES (1, 'ada@example.com', '{CARD}', 4111111111111111)"
    ))
    .expect("seed");
    let ward = Ward::builder(WARD)
        .mysql()
        .mysql_resource("shop", &db, "app")
        .user("sam", &["support"])
        .user("dev", &["dev"])
        .config(
            "[[grants]]\ngroup = \"support\"\nresources = [\"shop\"]\nmask_client = true\n\n[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\n\n[[masking.columns]]\ncolumn = \"*password*\"\n",
        )
        .start()
        .expect("ward");
    let sql = "SELECT id, email, card, api_password FROM customers";
    let masked = stdout(&ward.mysql_client("sam", "shop", sql, &["--skip-column-names"]));
    assert_eq!(
        masked.trim(),
        "1\t[REDACTED:email]\t[REDACTED:card]\t[REDACTED:*password*]"
    );
    let plain = stdout(&ward.mysql_client("dev", "shop", sql, &["--skip-column-names"]));
    assert_eq!(
        plain.trim(),
        format!("1\tada@example.com\t{CARD}\t4111111111111111")
    );
}

#[test]
fn load_data_local_infile_needs_the_grant_and_is_recorded() {
    let db = Mariadb::start(false).expect("mariadb");
    db.sql("CREATE TABLE app.items (id int, name text); SET GLOBAL local_infile = 1")
        .expect("seed");
    let ward = Ward::builder(WARD)
        .mysql()
        .mysql_resource("shop", &db, "app")
        .mysql_resource("loader", &db, "app")
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config("[[grants]]\ngroup = \"dev\"\nresources = [\"loader\"]\nlocal_infile = true\n")
        .start()
        .expect("ward");
    let file = ward.dir.join("items.tsv");
    let contents = "1\tapple\n2\tcard 4111 1111 1111 1111\n";
    std::fs::write(&file, contents).expect("file");
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE items",
        file.display()
    );
    let out = ward.mysql_client("alice", "shop", &sql, &["--local-infile=1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR 1148 (42000)") && err.contains("local_infile = true"),
        "{err}"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM app.items")
            .expect("count")
            .trim(),
        "0"
    );
    stdout(&ward.mysql_client("alice", "loader", &sql, &["--local-infile=1"]));
    assert_eq!(
        db.sql("SELECT count(*) FROM app.items")
            .expect("count")
            .trim(),
        "2"
    );

    let sessions = ward.wait_sessions(2);
    let refused = sessions
        .iter()
        .find(|s| s["resource"] == "shop")
        .expect("shop");
    let events = ward.events(refused["id"].as_str().expect("id"));
    let denied = of_kind(&events, "policy.denied");
    assert_eq!(denied[0]["payload"]["reason"], "local_infile");
    let loaded = sessions
        .iter()
        .find(|s| s["resource"] == "loader")
        .expect("loader");
    let events = ward.events(loaded["id"].as_str().expect("id"));
    let copy = of_kind(&events, "db.copy");
    assert_eq!(copy.len(), 1, "{events:?}");
    assert_eq!(copy[0]["payload"]["direction"], "in");
    assert_eq!(copy[0]["payload"]["bytes"], contents.len());
    let data = copy[0]["payload"]["data"].as_str().expect("data");
    assert!(
        data.contains("apple") && !data.contains("4111 1111"),
        "{data}"
    );
    assert!(
        of_kind(&events, "db.complete")
            .iter()
            .any(|c| c["payload"]["tag"] == "OK, 2 rows affected")
    );
}

/// Rows of `SELECT … WHERE id = ?` through Ward with Node's mysql2 `execute`: a prepared
/// statement, so binary rows.
fn prepared_rows(ward: &Ward, user: &str, sql: &str) -> serde_json::Value {
    let mysql2 = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/mysql-clients/node_modules/mysql2/promise");
    let script = "const mysql = require(process.argv[1]);
(async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: +process.env.PORT,
    user: process.env.WUSER, password: process.env.PW, database: 'shop',
    ssl: { ca: require('fs').readFileSync(process.env.CA) }, dateStrings: true });
  const [rows] = await c.execute(process.env.SQL, [1]);
  console.log(JSON.stringify(rows));
  await c.end();
})().catch((e) => { console.error(e); process.exit(1); });";
    let out = std::process::Command::new("node")
        .args(["-e", script])
        .arg(mysql2)
        .env("PORT", ward.mysql_port.expect("port").to_string())
        .env("WUSER", user)
        .env("PW", ward_testkit::PASSWORD)
        .env("CA", ward.ca_cert())
        .env("SQL", sql)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rows")
}

#[test]
fn mask_client_masks_binary_rows_of_prepared_statements() {
    const CARD: &str = "4111 1111 1111 1111";
    let db = Mariadb::start(true).expect("mariadb");
    db.sql(&format!(
        "CREATE TABLE app.customers (id int, email text, card varchar(32), api_password bigint, seen datetime); \
         INSERT INTO app.customers VALUES (1, 'ada@example.com', '{CARD}', 4111111111111111, '2026-12-08 10:11:12')"
    ))
    .expect("seed");
    let ward = Ward::builder(WARD)
        .mysql()
        .mysql_resource("shop", &db, "app")
        .user("sam", &["support"])
        .user("dev", &["dev"])
        .config(
            "[[grants]]\ngroup = \"support\"\nresources = [\"shop\"]\nmask_client = true\n\n[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\n\n[[masking.columns]]\ncolumn = \"*password*\"\n",
        )
        .start()
        .expect("ward");
    let sql = "SELECT id, email, card, api_password, seen FROM customers WHERE id = ?";
    let masked = prepared_rows(&ward, "sam", sql);
    assert_eq!(
        masked,
        serde_json::json!([{
            "id": 1,
            "email": "[REDACTED:email]",
            "card": "[REDACTED:card]",
            // A number a column rule masks has no room for the rule's text: withheld.
            "api_password": null,
            "seen": "2026-12-08 10:11:12"
        }])
    );
    let plain = prepared_rows(&ward, "dev", sql);
    assert_eq!(plain[0]["card"], CARD);
    assert_eq!(plain[0]["api_password"], 4_111_111_111_111_111_u64);
    // Both records are masked, with the binary cells read as text.
    let sessions = ward.wait_sessions(2);
    for s in &sessions {
        let events = ward.events(s["id"].as_str().expect("id"));
        let result = of_kind(&events, "db.result");
        let row = &result[0]["payload"]["rows"][0];
        assert_eq!(row[2], "[REDACTED:card]", "{row}");
        assert_eq!(row[3], "[REDACTED:*password*]", "{row}");
        assert_eq!(row[4], "2026-12-08 10:11:12", "{row}");
        let query = of_kind(&events, "db.query");
        assert_eq!(query[0]["payload"]["params"], serde_json::json!(["1"]));
    }
}
