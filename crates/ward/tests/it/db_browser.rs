//! A MySQL session in the web UI, in Chromium (`web/e2e/db.mjs`): alice runs statements with
//! the mariadb client through Ward against a real MariaDB, then opens her session in the UI: it
//! shows as a `mysql` session on the database timeline, with her statements, the rows of a
//! result as a table (the card number masked, as recorded; the columns' MySQL types) and the
//! server's error with its MySQL number.

use std::path::PathBuf;
use std::process::{Command, Output};

use ward_testkit::{Mariadb, PASSWORD, Ward, free_port, of_kind};

use crate::WARD;

const STATEMENT: &str = "SELECT id, name, card FROM items ORDER BY id";

#[test]
fn a_mysql_session_shows_its_statements_and_result_table_in_the_web_ui() {
    let Some(runner) = ward_testkit::chromium_e2e("db.mjs") else {
        return;
    };
    let db = Mariadb::start(true).expect("mariadb");
    let ward = Ward::builder(WARD)
        .web(free_port().expect("port"))
        .mysql()
        .mysql_resource("shop", &db, "app")
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .start()
        .expect("ward");

    // One session: statements, a result with a card number, and an error (which ends the batch).
    let sql = format!(
        "CREATE TABLE items (id int PRIMARY KEY, name varchar(40), card varchar(32)); \
         INSERT INTO items VALUES (1, 'apple', '4111 1111 1111 1111'), (2, 'pear', NULL); \
         {STATEMENT}; SELECT * FROM no_such_table"
    );
    let out = ward.mysql_client("alice", "shop", &sql, &[]);
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(said.contains("apple\t4111 1111 1111 1111"), "{said}{err}");
    assert!(err.contains("ERROR 1146 (42S02)"), "{err}");
    let sessions = ward.wait_sessions(1);
    let recorded = sessions
        .iter()
        .find(|s| s["protocol"] == "mysql")
        .unwrap_or_else(|| panic!("no mysql session: {sessions:?}"));

    let out_dir = std::env::var_os("WARD_E2E_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| ward.dir.join("e2e-db-output"));
    let out: Output = Command::new("node")
        .arg(&runner)
        .args(["--url", &ward.web_url()])
        .args(["--user", "alice", "--password", PASSWORD])
        .args(["--protocol", "mysql", "--resource", "shop"])
        .args(["--statement", STATEMENT, "--cell", "apple"])
        .args(["--masked-column", "card", "--type-title", "MySQL type"])
        .args(["--error", "ERROR 1146 (42S02)"])
        .arg("--out")
        .arg(&out_dir)
        .current_dir(ward_testkit::web_dir())
        .output()
        .expect("node e2e/db.mjs");
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "e2e failed (screenshots in {}):\n{shown}{}\nward's log:\n{}",
        out_dir.display(),
        String::from_utf8_lossy(&out.stderr),
        ward.log()
    );

    // The page showed the session the mariadb client made, and its record holds what it showed.
    let id = shown
        .lines()
        .find_map(|l| l.strip_prefix("session "))
        .unwrap_or_else(|| panic!("the e2e script printed no session: {shown}"));
    assert_eq!(recorded["id"], id, "{shown}");
    let events = ward.events(id);
    assert!(
        of_kind(&events, "db.query")
            .iter()
            .any(|q| q["payload"]["text"] == STATEMENT),
        "{events:?}"
    );
    assert!(
        of_kind(&events, "db.result")
            .iter()
            .any(|r| r["payload"]["rows"][0][1] == "apple"),
        "{events:?}"
    );
    assert!(
        of_kind(&events, "db.error")
            .iter()
            .any(|e| e["payload"]["error_code"] == 1146 && e["payload"]["code"] == "42S02"),
        "{events:?}"
    );
}
