//! A person's activity in the web UI, in Chromium (`web/e2e/activity.mjs`): alice asks an AI
//! assistant (the official OpenAI SDK through Ward, to the stand-in model) and then runs in
//! psql what it proposed; an auditor opens her timeline on the Activity page and sees her
//! question (with the pasted password masked), the answer with its proposals as code, and the
//! statement that ran linked to the answer that proposed it; the link highlights that answer.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use ward_testkit::{PASSWORD, free_port, success};

/// The password alice pastes into the chat (tools/http-client/client.py).
const PASTED_PASSWORD: &str = "Sup3rSecret";
/// What the assistant proposes (a tool call), and what alice runs of it.
const PROPOSED: &str = "ALTER TABLE orders ADD COLUMN note text;";
const RAN: &str = "ALTER TABLE orders ADD COLUMN note text";

#[test]
fn an_auditor_sees_a_statement_linked_to_the_assistants_proposal_on_the_activity_page() {
    let Some(runner) = ward_testkit::chromium_e2e("activity.mjs") else {
        return;
    };
    // ai.rs's scene, with a web listener and an auditor.
    let scene = crate::ai::proposed_then_ran(|b| {
        b.web(free_port().expect("port"))
            .user("audrey", &["auditors"])
            .config("[web]\nauditor_groups = [\"auditors\"]")
    });
    let ward = &scene.ward;

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
        .current_dir(ward_testkit::web_dir())
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
