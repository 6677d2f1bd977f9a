//! Real MySQL drivers through Ward's MySQL listener against a real MariaDB: PyMySQL,
//! mysql-connector-python (its C extension and its pure-Python protocol) and Node's mysql2
//! (text protocol and prepared statements), each running the fixed script of
//! `tools/mysql-clients` over TLS checked against Ward's CA. Each test holds the driver's own
//! view and the record (statements, masked rows, completions, the error) to what they should
//! be, and `ward verify` to the record's chain.

use std::process::Command;

use serde_json::{Value, json};
use ward_testkit::{Mariadb, PASSWORD, Ward, of_kind};

use crate::WARD;

const CARD: &str = "4111 1111 1111 1111";

/// `tools/mysql-clients`, whose venv and node_modules `./x setup` makes.
fn tools() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/mysql-clients")
}

/// A MariaDB behind Ward as resource `shop`, which alice may reach.
fn gateway() -> (Mariadb, Ward) {
    let db = Mariadb::start(true).expect("mariadb");
    let ward = Ward::builder(WARD)
        .mysql()
        .mysql_resource("shop", &db, "app")
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");
    (db, ward)
}

/// What one run of a driver printed: its JSON lines, keyed by step.
struct Run {
    lines: Vec<Value>,
}

impl Run {
    fn step(&self, name: &str) -> &Value {
        self.lines
            .iter()
            .find(|l| l["step"] == name)
            .unwrap_or_else(|| panic!("no step {name} in {:#?}", self.lines))
    }
}

/// Runs the client script of `tools/mysql-clients` in `mode` as alice on `shop`; panics with
/// what the driver and Ward said unless every step went as the script expects.
fn drive(ward: &Ward, mode: &str) -> Run {
    let dir = tools();
    let mut command = if mode.starts_with("mysql2") {
        let mut c = Command::new("node");
        c.arg(dir.join("client.js"));
        c
    } else {
        let mut c = Command::new(dir.join(".venv/bin/python"));
        c.arg(dir.join("client.py"));
        c
    };
    let port = ward.mysql_port.expect("mysql listener").to_string();
    let out = command
        .arg(mode)
        .env("MYSQL_HOST", "127.0.0.1")
        .env("MYSQL_PORT", &port)
        .env("MYSQL_USER", "alice")
        .env("MYSQL_PWD", PASSWORD)
        .env("MYSQL_DATABASE", "shop")
        .env("MYSQL_CA", ward.ca_cert())
        .output()
        .expect("the MySQL clients (./x setup makes tools/mysql-clients' venv and node_modules)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{mode} failed\n--- stdout\n{stdout}\n--- stderr\n{}\n--- ward.log\n{}",
        String::from_utf8_lossy(&out.stderr),
        ward.log()
    );
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    Run { lines }
}

/// What every driver sees of the script, the same through Ward as from MariaDB itself (no
/// `mask_client` grant, so the card reaches the client unchanged).
fn assert_driver_saw(run: &Run, multi: bool) {
    assert!(run.step("connect")["tls"].is_string(), "{:?}", run.lines);
    assert_eq!(run.step("create")["affected"], 0);
    assert_eq!(run.step("insert")["affected"], 2);
    let select = run.step("select");
    assert_eq!(select["columns"], json!(["id", "name", "card"]));
    assert_eq!(
        select["rows"],
        json!([[1, "apple", CARD], [2, "pear", null]])
    );
    assert_eq!(run.step("update")["affected"], 1);
    if multi {
        assert_eq!(
            run.step("multi")["sets"],
            json!([
                {"columns": ["a"], "rows": [[1]]},
                {"columns": ["b", "c"], "rows": [["two", 2]]},
            ])
        );
    }
    assert_eq!(
        run.step("procedure")["sets"],
        json!([
            {"columns": ["id"], "rows": [[1], [2]]},
            {"columns": ["n"], "rows": [[2]]},
        ])
    );
    let error = run.step("error");
    assert_eq!(error["errno"], 1146, "{error}");
    assert_eq!(error["sqlstate"], "42S02", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("no_such_table")),
        "{error}"
    );
    assert_eq!(
        run.step("after_error")["rows"],
        json!([["still here"]]),
        "the session goes on after an error"
    );
    let untrusted = run.step("untrusted");
    assert_eq!(
        untrusted["refused"], true,
        "a driver not trusting Ward's CA must refuse it: {untrusted}"
    );
    run.step("done");
}

/// The one session the driver's run made, and its events.
fn recorded(ward: &Ward) -> Vec<Value> {
    let sessions = ward.wait_sessions(1);
    let ok: Vec<&Value> = sessions.iter().filter(|s| s["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 1, "{sessions:#?}");
    let s = ok[0];
    assert_eq!(s["protocol"], "mysql");
    assert_eq!(s["user"], "alice");
    assert_eq!(s["resource"], "shop");
    ward.events(s["id"].as_str().expect("id"))
}

fn queries(events: &[Value]) -> Vec<&Value> {
    of_kind(events, "db.query")
}

/// The `db.query` whose text starts with `prefix`.
fn query<'a>(events: &'a [Value], prefix: &str) -> &'a Value {
    queries(events)
        .into_iter()
        .find(|q| {
            q["payload"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with(prefix))
        })
        .unwrap_or_else(|| {
            let texts: Vec<&Value> = queries(events)
                .iter()
                .map(|q| &q["payload"]["text"])
                .collect();
            panic!("no db.query starting {prefix:?} in {texts:#?}")
        })
}

/// The `db.result` whose column names are `columns`.
fn result<'a>(events: &'a [Value], columns: &[&str]) -> &'a Value {
    of_kind(events, "db.result")
        .into_iter()
        .find(|r| {
            let names: Vec<&str> = r["payload"]["columns"]
                .as_array()
                .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
                .unwrap_or_default();
            names == columns
        })
        .unwrap_or_else(|| panic!("no db.result with columns {columns:?} in {events:#?}"))
}

/// What the record holds of the script, whatever the driver: the statements, the rows with
/// the card masked, the completions, the error, and a chain `ward verify` accepts.
fn assert_recorded(ward: &Ward, events: &[Value], multi: bool) {
    query(events, "CREATE TABLE items");
    query(events, "INSERT INTO items");
    query(events, "SELECT id, name, card FROM items");
    query(events, "UPDATE items SET name");
    query(events, "CALL two_sets()");
    query(events, "SELECT * FROM no_such_table");
    query(events, "SELECT 'still here'");

    let items = &result(events, &["id", "name", "card"])["payload"];
    assert_eq!(items["row_count"], 2, "{items}");
    assert_eq!(items["rows"][0][0], "1");
    assert_eq!(items["rows"][0][1], "apple");
    let card = items["rows"][0][2].as_str().expect("the card, masked");
    assert!(!card.is_empty() && !card.contains(CARD), "{card}");
    assert_eq!(items["rows"][1][2], Value::Null);
    if multi {
        query(events, "SELECT 1 AS a; SELECT 'two' AS b");
        assert_eq!(result(events, &["a"])["payload"]["rows"], json!([["1"]]));
        assert_eq!(
            result(events, &["b", "c"])["payload"]["rows"],
            json!([["two", "2"]])
        );
    }
    assert_eq!(
        result(events, &["id"])["payload"]["rows"],
        json!([["1"], ["2"]])
    );
    assert_eq!(result(events, &["n"])["payload"]["rows"], json!([["2"]]));

    let tags: Vec<&Value> = of_kind(events, "db.complete")
        .iter()
        .map(|c| &c["payload"]["tag"])
        .chain(
            of_kind(events, "db.result")
                .iter()
                .map(|r| &r["payload"]["tag"]),
        )
        .collect();
    for tag in ["OK, 2 rows affected", "OK, 1 row affected"] {
        assert!(tags.iter().any(|t| *t == tag), "{tag} in {tags:?}");
    }
    let errors = of_kind(events, "db.error");
    assert!(
        errors
            .iter()
            .any(|e| e["payload"]["code"] == "42S02" && e["payload"]["error_code"] == 1146),
        "{errors:#?}"
    );
    // The card is nowhere in the record: not in the INSERT's text, nor in any row.
    let all = serde_json::to_string(events).expect("json");
    assert!(!all.contains(CARD), "the card is recorded in clear: {all}");

    let verify = ward.cli(&["verify"]);
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// Runs `mode`, then holds the driver's view and the record to the script.
fn check_text_protocol(mode: &str) -> Run {
    let (_db, ward) = gateway();
    let run = drive(&ward, mode);
    assert_driver_saw(&run, true);
    let events = recorded(&ward);
    assert_recorded(&ward, &events, true);
    // The driver quoted its parameters into the text: no prepared statement.
    assert!(
        queries(&events)
            .iter()
            .all(|q| q["payload"]["params"].is_null()),
        "{events:#?}"
    );
    run
}

#[test]
fn pymysql() {
    let run = check_text_protocol("pymysql");
    assert_eq!(run.step("connect")["driver"], "PyMySQL");
}

#[test]
fn mysql_connector_python_c_extension() {
    let run = check_text_protocol("connector-c");
    let connect = run.step("connect");
    assert_eq!(connect["cext"], true, "{connect}");
    assert_eq!(connect["connection"], "CMySQLConnection", "{connect}");
}

#[test]
fn mysql_connector_python_pure() {
    let run = check_text_protocol("connector-pure");
    let connect = run.step("connect");
    assert_eq!(connect["connection"], "MySQLConnection", "{connect}");
}

#[test]
fn mysql2_text_protocol() {
    let run = check_text_protocol("mysql2-text");
    assert_eq!(run.step("connect")["driver"], "mysql2");
}

/// mysql2's `execute`: COM_STMT_PREPARE, COM_STMT_EXECUTE with binary parameters, binary
/// result rows. The record shows each execution as its statement with the parameters as text
/// (masked like any text), and the rows like the text protocol's.
#[test]
fn mysql2_prepared_statements() {
    let (_db, ward) = gateway();
    let run = drive(&ward, "mysql2-prepared");
    assert_driver_saw(&run, false);
    let events = recorded(&ward);
    assert_recorded(&ward, &events, false);

    let insert = &query(&events, "INSERT INTO items")["payload"];
    assert_eq!(
        insert["text"],
        "INSERT INTO items (id, name, card) VALUES (?, ?, ?), (?, ?, ?)"
    );
    let params = insert["params"]
        .as_array()
        .expect("the INSERT's parameters");
    assert_eq!(params.len(), 6, "{params:?}");
    let number = |v: &Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
    assert_eq!(number(&params[0]), Some(1.0), "{params:?}");
    assert_eq!(params[1], "apple");
    let card = params[2].as_str().expect("the card parameter, masked");
    assert!(!card.is_empty() && !card.contains(CARD), "{card}");
    assert_eq!(number(&params[3]), Some(2.0), "{params:?}");
    assert_eq!(params[4], "pear");
    assert_eq!(params[5], Value::Null);

    let select = &query(&events, "SELECT id, name, card FROM items")["payload"];
    assert_eq!(
        select["text"],
        "SELECT id, name, card FROM items WHERE id >= ? ORDER BY id"
    );
    assert_eq!(
        select["params"]
            .as_array()
            .map(|p| p.iter().map(number).collect::<Vec<_>>()),
        Some(vec![Some(1.0)]),
        "{select}"
    );
    let update = &query(&events, "UPDATE items SET name")["payload"];
    let params = update["params"]
        .as_array()
        .expect("the UPDATE's parameters");
    assert_eq!(params.first(), Some(&json!("banana")), "{params:?}");
    assert_eq!(number(&params[1]), Some(2.0), "{params:?}");
}
