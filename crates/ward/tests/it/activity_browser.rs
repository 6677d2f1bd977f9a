//! A person's activity in the web UI, in Chromium (`web/e2e/activity.mjs`): alice asks an AI
//! assistant (the official OpenAI SDK through Ward, to the stand-in model) and then runs in
//! psql what it proposed; an auditor opens her timeline on the Activity page and sees her
//! question (with the pasted password masked), the answer with its proposals as code, and the
//! statement that ran linked to the answer that proposed it; the link highlights that answer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_testkit::{ClusterOptions, HttpPeer, PASSWORD, Postgres, Ward, free_port, psql, success};

/// The provider's key: only Ward knows it.
const PROVIDER_KEY: &str = "sk-provider-only-0a1b2c";
/// The password alice pastes into the chat (tools/http-client/client.py).
const PASTED_PASSWORD: &str = "Sup3rSecret";
/// What the assistant proposes (a tool call), and what alice runs of it.
const PROPOSED: &str = "ALTER TABLE orders ADD COLUMN note text;";
const RAN: &str = "ALTER TABLE orders ADD COLUMN note text";

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// The official SDK of `mode` through Ward (`tools/http-client/client.py`), as in `ai.rs`.
fn sdk(ward: &Ward, mode: &str, resource: &str, token: &str) -> Value {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/http-client");
    let out = Command::new(tools.join(".venv/bin/python"))
        .arg(tools.join("client.py"))
        .args([mode, &ward.http_url(resource), token])
        .arg(ward.ca_cert())
        .output()
        .expect("the http client's venv (./x setup makes it)");
    serde_json::from_str(success(&out).trim()).expect("json")
}

/// Waits until `user`'s sessions on each of `resources` have all ended.
fn all_ended(ward: &Ward, user: &str, resources: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sessions: Vec<Value> = ward
            .sessions()
            .into_iter()
            .filter(|s| s["user"] == user)
            .collect();
        let done = resources.iter().all(|r| {
            let on: Vec<&Value> = sessions.iter().filter(|s| s["resource"] == *r).collect();
            !on.is_empty() && on.iter().all(|s| !s["outcome"].is_null())
        });
        if done || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_auditor_sees_a_statement_linked_to_the_assistants_proposal_on_the_activity_page() {
    let chromium = Path::new("/usr/bin/chromium");
    let runner = web_dir().join("e2e/activity.mjs");
    let built = web_dir().join("dist/index.html");
    if std::env::var_os("CI").is_some() {
        assert!(chromium.exists(), "CI must install chromium");
        assert!(built.exists(), "CI must build the UI (web/dist)");
    }
    if !chromium.exists() || !runner.exists() || !built.exists() {
        eprintln!("skipped: chromium, web/e2e/activity.mjs or web/dist missing");
        return;
    }
    // The scene of ai.rs's a_statement_run_in_psql_is_linked_to_the_assistants_proposal_on_the_persons_timeline,
    // with a web listener and an auditor.
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("CREATE TABLE orders (id int, status text); ALTER TABLE orders OWNER TO app")
        .expect("table");
    let model = HttpPeer::model(PROVIDER_KEY).expect("model peer");
    let ward = Ward::builder(crate::WARD)
        .web(free_port().expect("port"))
        .http()
        .postgres_resource("shop", &pg)
        .file("provider.key", PROVIDER_KEY)
        .http_resource(
            "assistant",
            &model.url(),
            "api = \"openai\"\ncredential = \"bearer\"\npassword_file = \"provider.key\"",
        )
        .user("alice", &["dev"])
        .user("audrey", &["auditors"])
        .grant("dev", "shop")
        .grant("dev", "assistant")
        .config("[web]\nauditor_groups = [\"auditors\"]")
        .start()
        .expect("ward");
    let token = ward.token("alice");
    let got = sdk(&ward, "openai", "assistant", &token);
    assert_eq!(got["tool_call"]["name"], "run_sql", "{got}");
    let out = psql(
        &ward.url("alice", "shop"),
        &[
            "-c",
            "select COUNT(*) from orders\n  where status = 'open'",
            "-c",
            RAN,
            "-c",
            "SELECT 42",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    all_ended(&ward, "alice", &["assistant", "shop"]);

    let out_dir = std::env::var_os("WARD_E2E_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| ward.dir.join("e2e-activity-output"));
    let out: Output = Command::new("node")
        .arg(&runner)
        .args(["--url", &ward.web_url()])
        .args(["--user", "audrey", "--password", PASSWORD])
        .args(["--subject", "alice", "--subject-password", PASSWORD])
        .args(["--question", "Our database is postgres://app:"])
        .args(["--absent", PASTED_PASSWORD])
        .args(["--proposal", PROPOSED])
        .args(["--statement", RAN])
        .arg("--out")
        .arg(&out_dir)
        .current_dir(web_dir())
        .output()
        .expect("node e2e/activity.mjs");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "e2e failed (screenshots in {}):\n{said}{}\nward's log:\n{}",
        out_dir.display(),
        String::from_utf8_lossy(&out.stderr),
        ward.log()
    );
    let printed = |what: &str| {
        let line = said
            .lines()
            .find_map(|l| l.strip_prefix(what))
            .unwrap_or_else(|| panic!("the e2e script printed no `{what}`: {said}"));
        let (session, seq) = line.trim().split_once(' ').expect("SESSION SEQ");
        (session.to_owned(), seq.parse::<i64>().expect("seq"))
    };
    let answer = printed("answer ");
    let statement = printed("statement ");

    // What the page showed is what the timeline holds: the statement alice ran in psql, proposed
    // by the assistant's answer in her assistant session.
    let json = success(&ward.cli(&["activity", "alice", "--since", "1h", "--json"]));
    let items: Vec<Value> = serde_json::from_str(&json).expect("json");
    let at = |(session, seq): &(String, i64)| {
        items
            .iter()
            .find(|i| i["session"] == session.as_str() && i["seq"] == *seq)
            .unwrap_or_else(|| panic!("{session} #{seq} is not on the timeline: {json}"))
    };
    let ran = at(&statement);
    assert_eq!(
        (ran["kind"].as_str(), ran["resource"].as_str()),
        (Some("db.query"), Some("shop"))
    );
    assert_eq!(ran["summary"], RAN);
    let by = &ran["proposed_by"];
    assert_eq!(
        (by["session"].as_str(), by["seq"].as_i64()),
        (Some(answer.0.as_str()), Some(answer.1)),
        "{ran}"
    );
    let proposing = at(&answer);
    assert_eq!(
        (proposing["kind"].as_str(), proposing["resource"].as_str()),
        (Some("ai.completion"), Some("assistant"))
    );
    assert!(
        proposing["proposals"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == PROPOSED)),
        "{proposing}"
    );
    assert!(!json.contains(PASTED_PASSWORD));
}
