//! Review of risky steps: a guardrail with `action = "review"` holds a psql statement, an SSH
//! exec command and an agent's MCP query while the client waits; an approver allows one (it
//! runs late, and the client sees its result) or rejects one (the client gets the reviewer's
//! comment), and one nobody decides fails at its timeout. A rule that denies wins over one
//! that reviews. Each hold and verdict is in the session's chain.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ward_testkit::{
    ClusterOptions, PASSWORD, Postgres, Ward, psql, ssh_client, ssh_gateway, success,
};

use crate::approvals::Person;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits for the step `what` held for review to appear in `approver`'s pending list, then
/// approves it (`verb` `approve`) or denies it (`deny`) with `comment`; returns its id.
fn review_next(
    ward: &Ward,
    approver: &Person,
    what: &str,
    (verb, comment): (&str, &str),
) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        let listed = success(&approver.ward(ward, &["requests", "list", "--state", "pending"]));
        if let Some(line) = listed
            .lines()
            .find(|l| l.contains(" step ") && l.contains(what))
        {
            break line.split_whitespace().next().expect("id").to_owned();
        }
        assert!(Instant::now() < deadline, "no held step: {listed}");
        std::thread::sleep(Duration::from_millis(100));
    };
    success(&approver.ward(ward, &["requests", verb, &id, "--comment", comment]));
    id
}

#[test]
fn held_steps_run_when_allowed_fail_when_rejected_or_unanswered() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2); ALTER TABLE t OWNER TO app")
        .expect("table");
    let hook_port = ward_testkit::free_port().expect("port");
    let listener = std::net::TcpListener::bind(("127.0.0.1", hook_port)).expect("receiver");
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let got = got.clone();
        std::thread::spawn(move || crate::webhooks::receive(listener, got));
    }
    let (_sshd, ward, ssh_port) = ssh_gateway(crate::WARD, |b, sshd| {
        b.user("alice", &["dev"])
            .user("dana", &["dba"])
            .grant("dev", "shop")
            .grant("dev", "web1")
            .grant("agents", "shop")
            .postgres_resource("shop", &pg)
            .ssh_resource("web1", sshd)
            .web(ward_testkit::free_port().expect("port"))
            .auth("public_url = \"https://ward.example.com\"")
            .config(&format!(
                "[[webhooks]]\nurl = \"http://127.0.0.1:{hook_port}/hook\"\nevents = [\"review.waiting\"]\n\n\
                 [[guardrails]]\nname = \"review-deletes\"\ndeny = [\"delete_without_where\"]\n\
                 action = \"review\"\napprovers = [\"dba\"]\nreview_timeout = \"30s\"\n\n\
                 [[guardrails]]\nname = \"review-truncates\"\ndeny = [\"truncate\"]\n\
                 action = \"review\"\napprovers = [\"dba\"]\nreview_timeout = \"2s\"\n\n\
                 [[guardrails]]\nname = \"review-restarts\"\npattern = \"^echo restart\"\n\
                 action = \"review\"\napprovers = [\"dba\"]\nreview_timeout = \"30s\"\n\n\
                 [[guardrails]]\nname = \"no-drops\"\npattern = \"(?i)drop table\"\n"
            ))
    });
    let (alice, dana) = (
        Person::new(&ward, "alice", &["dev"]),
        Person::new(&ward, "dana", &["dba"]),
    );
    let url = ward.url("alice", "shop");
    let run_psql = |sql: &'static str| {
        let url = url.clone();
        std::thread::spawn(move || psql(&url, &["-c", sql]))
    };

    // Allowed: the DELETE waits, then runs; psql sees its result.
    let held = run_psql("DELETE FROM t");
    let deadline = Instant::now() + Duration::from_secs(10);
    let own = loop {
        let listed = success(&alice.ward(&ward, &["requests", "list", "--state", "pending"]));
        if let Some(line) = listed.lines().find(|l| l.contains(" step ")) {
            break line.split_whitespace().next().expect("id").to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "alice sees her held step: {listed}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mine = alice.ward(&ward, &["requests", "approve", &own]);
    assert!(
        stderr(&mine).contains("cannot review your own request"),
        "{}",
        stderr(&mine)
    );
    let id = review_next(
        &ward,
        &dana,
        "DELETE FROM t",
        ("approve", "fine, the table is scratch"),
    );
    assert_eq!(id, own);
    let out = held.join().expect("psql");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("DELETE 2"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );

    // Rejected: the client reads the reviewer's comment, and the statement never ran.
    pg.sql("INSERT INTO t VALUES (3)").expect("row");
    let held = run_psql("DELETE FROM t");
    review_next(
        &ward,
        &dana,
        "DELETE FROM t",
        ("deny", "not during the freeze"),
    );
    let out = held.join().expect("psql");
    assert!(
        stderr(&out).contains(
            "the statement held for review by Ward guardrail \"review-deletes\" did not run: dana rejected it: not during the freeze"
        ),
        "{}",
        stderr(&out)
    );
    let left = pg.sql("SELECT count(*) FROM t").expect("count");
    assert_eq!(left.trim(), "1", "the rejected DELETE never ran");

    // Nobody decides: it fails at the rule's timeout.
    let started = Instant::now();
    let out = psql(&url, &["-c", "TRUNCATE t"]);
    assert!(
        stderr(&out).contains("did not run: no reviewer decided within 2s"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    // A rule that denies is not offered for review.
    let out = psql(&url, &["-c", "DROP TABLE t"]);
    assert!(
        stderr(&out).contains("statement denied by Ward guardrail \"no-drops\""),
        "{}",
        stderr(&out)
    );

    // An SSH exec command waits and runs once allowed.
    let held = {
        let dir = ward.dir.clone();
        std::thread::spawn(move || {
            ssh_client(
                &dir,
                ssh_port,
                "alice:web1",
                PASSWORD,
                &["echo restart done"],
                None,
            )
        })
    };
    review_next(&ward, &dana, "echo restart", ("approve", "go"));
    let out = held.join().expect("ssh");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("restart done"),
        "{}",
        stderr(&out)
    );

    // The holds and the verdicts are in alice's sessions.
    let sessions = ward.sessions();
    let events: Vec<Value> = sessions
        .iter()
        .filter(|s| s["user"] == "alice" && s["protocol"] != "web")
        .flat_map(|s| ward.events(s["id"].as_str().expect("id")))
        .collect();
    let of = |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["kind"] == kind).collect() };
    let holds = of("review.held");
    assert_eq!(holds.len(), 4, "{holds:?}");
    assert_eq!(holds[0]["payload"]["text"], "DELETE FROM t");
    assert_eq!(holds[0]["payload"]["rule"], "review-deletes");
    assert_eq!(holds[0]["payload"]["request"], id.as_str());
    let verdicts: Vec<&str> = of("review.decided")
        .iter()
        .filter_map(|e| e["payload"]["verdict"].as_str())
        .collect();
    assert_eq!(verdicts, ["allowed", "rejected", "timed out", "allowed"]);
    success(&ward.cli(&["verify"]));
    // Approvers were told of each held step, with a link to review it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let hooks = crate::webhooks::bodies(&got);
        if let Some(first) = hooks.iter().find(|h| h["detail"]["request"] == id.as_str()) {
            assert_eq!(first["event"], "review.waiting");
            assert_eq!(
                first["link"],
                format!("https://ward.example.com/requests/{id}").as_str()
            );
            let text = first["text"].as_str().unwrap_or_default();
            assert!(
                text.contains("guardrail review-deletes holds this for review by group dba")
                    && text.contains("DELETE FROM t"),
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "webhooks: {hooks:?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // An agent's query waits for review like a person's statement.
    let key = crate::mcp::service_account(&ward, "cleanup-bot", "agents");
    let agent = {
        let ward_url = format!("{}/mcp", ward.web_url());
        let (ca, dir) = (ward.ca_cert(), ward.dir.clone());
        std::thread::spawn(move || {
            let plan = json!([
                { "call": "query", "args": { "resource": "shop", "sql": "DELETE FROM t" } }
            ]);
            let plan_file = dir.join("plan-review.json");
            std::fs::write(&plan_file, plan.to_string()).expect("plan");
            std::process::Command::new("python3")
                .arg(crate::mcp::agent_py())
                .args(["http", "--url", &ward_url, "--key", &key, "--ca-file"])
                .arg(ca)
                .arg("--plan")
                .arg(&plan_file)
                .output()
                .expect("agent.py")
        })
    };
    review_next(&ward, &dana, "DELETE FROM t", ("approve", "ok for the bot"));
    let out = agent.join().expect("agent");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("DELETE 1"), "{said}{}", stderr(&out));
}
