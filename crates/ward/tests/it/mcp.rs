//! AI agents through Ward's MCP endpoint, driven by the official MCP Python SDK
//! (`tools/mcp-client/agent.py`) over Streamable HTTP and through `ward mcp` over stdio: the
//! tools, a note, a query whose secret comes back masked, a guardrail denial, a resource outside
//! the grant, a bad key; then the session's chain verifies and replays in order.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use ward_testkit::{ClusterOptions, Postgres, Ward, free_port, success};

pub fn agent_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/mcp-client/agent.py")
}

/// Runs agent.py with `args` and a plan; its JSON lines.
fn agent(ward: &Ward, args: &[&str], plan: &Value) -> (Output, Vec<Value>) {
    let plan_file = ward
        .dir
        .join(format!("plan-{}.json", free_port().unwrap_or(0)));
    std::fs::write(&plan_file, plan.to_string()).expect("plan");
    let out = Command::new("python3")
        .arg(agent_py())
        .args(args)
        .arg("--plan")
        .arg(&plan_file)
        .output()
        .expect("python3 agent.py");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out, lines)
}

/// A service account in `group`, and its key.
pub fn service_account(ward: &Ward, name: &str, group: &str) -> String {
    let created = success(&ward.cli(&["service-accounts", "create", name, "--groups", group]));
    created
        .lines()
        .find(|l| l.starts_with("ward_sa_"))
        .expect("key")
        .to_owned()
}

/// Runs `plan` as an agent over streamable HTTP with `key`.
fn http_agent(ward: &Ward, key: &str, plan: &Value) -> (Output, Vec<Value>) {
    let url = format!("{}/mcp", ward.web_url());
    let ca = ward.ca_cert();
    let args = ["http", "--url", &url, "--key", key, "--ca-file"];
    agent(
        ward,
        &[&args[..], &[ca.to_str().expect("path")]].concat(),
        plan,
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Setup {
    ward: Ward,
    _pg: Postgres,
    key: String,
}

fn setup() -> Setup {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql(
        "CREATE TABLE customers (id int, name text, card text);
         INSERT INTO customers VALUES (1, 'Ada', '4111 1111 1111 1111'), (2, 'Alan', '5500 0000 0000 0004');
         GRANT SELECT, INSERT, DELETE ON customers TO app;",
    )
    .expect("seed");
    let ward = Ward::builder(crate::WARD)
        .postgres_resource("shop", &pg)
        .postgres_resource("vault", &pg)
        .grant("agents", "shop")
        .web(free_port().expect("port"))
        .config("[[guardrails]]\nname = \"no-drops\"\nresources = [\"shop\"]\ndeny = [\"drop\", \"truncate\"]\n")
        .start()
        .expect("ward");
    let key = service_account(&ward, "report-bot", "agents");
    Setup { ward, _pg: pg, key }
}

fn step(lines: &[Value], i: usize) -> &Value {
    lines
        .iter()
        .find(|l| l["step"] == i)
        .unwrap_or_else(|| panic!("no step {i} in {lines:?}"))
}

#[test]
fn an_agent_over_streamable_http_is_policed_masked_and_recorded() {
    let s = setup();
    let url = format!("{}/mcp", s.ward.web_url());
    let ca = s.ward.ca_cert();
    let ca = ca.to_str().expect("path");
    let plan = json!([
        { "list_tools": true },
        { "call": "note", "args": { "text": "Checking which customers have a card on file before the refund run (Ada's is 4111 1111 1111 1111)." } },
        { "call": "list_resources", "args": {} },
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT id, name, card FROM customers WHERE id = $1", "params": ["1"] } },
        { "call": "note", "args": { "text": "Cleaning up: dropping the table (this must be refused)." } },
        { "call": "query", "args": { "resource": "shop", "sql": "DROP TABLE customers" } },
        { "call": "query", "args": { "resource": "vault", "sql": "SELECT 1" } },
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT * FROM no_such_table" } },
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT g FROM generate_series(1, 50) g", "max_rows": 5 } },
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT repeat('x', 1048576) FROM generate_series(1, 300)", "max_rows": 1000 } }
    ]);
    let peak_before = s.ward.peak_rss_kib();
    let (out, lines) = agent(
        &s.ward,
        &[
            "http",
            "--url",
            &url,
            "--key",
            &s.key,
            "--ca-file",
            ca,
            "--on-behalf-of",
            "alice",
        ],
        &plan,
    );
    assert!(out.status.success(), "agent.py: {}", text(&out));
    let tools: Vec<&str> = step(&lines, 0)["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tools, ["list_resources", "query", "exec", "note"]);
    assert_eq!(step(&lines, 1)["is_error"], false);
    let resources = &step(&lines, 2)["structured"]["resources"];
    assert_eq!(resources.as_array().map(Vec::len), Some(1), "{resources}");
    assert_eq!(resources[0]["name"], "shop");
    // The card number comes back masked; the rest as stored.
    let q = step(&lines, 3);
    assert_eq!(q["is_error"], false, "{q}");
    let row = &q["structured"]["rows"][0];
    assert_eq!(row[0], "1");
    assert_eq!(row[1], "Ada");
    let card = row[2].as_str().expect("card");
    assert!(!card.contains("4111 1111 1111 1111"), "{card}");
    assert!(card.contains("REDACTED") || card.contains("****"), "{card}");
    // The guardrail: a tool error naming the rule; the table is still there.
    let denied = step(&lines, 5);
    assert_eq!(denied["is_error"], true, "{denied}");
    assert!(
        denied["text"]
            .as_str()
            .unwrap_or_default()
            .contains("no-drops"),
        "{denied}"
    );
    let outside = step(&lines, 6);
    assert_eq!(outside["is_error"], true);
    assert!(
        outside["text"]
            .as_str()
            .unwrap_or_default()
            .contains("no grant"),
        "{outside}"
    );
    let missing = step(&lines, 7);
    assert_eq!(missing["is_error"], true);
    assert!(
        missing["text"]
            .as_str()
            .unwrap_or_default()
            .contains("42P01"),
        "{missing}"
    );
    let capped = &step(&lines, 8)["structured"];
    assert_eq!(capped["rows"].as_array().map(Vec::len), Some(5));
    assert_eq!(capped["truncated"], true);
    // 300 MiB of rows: the reply and Ward's memory hold about the 1 MiB cap, not the rows asked.
    let big = &step(&lines, 9)["structured"];
    assert_eq!(big["truncated"], true);
    assert!(
        big["rows"].as_array().is_some_and(|r| r.len() <= 1),
        "{}",
        big["row_count"]
    );
    let grew = s.ward.peak_rss_kib().saturating_sub(peak_before);
    assert!(grew < 100 * 1024, "Ward's peak memory grew by {grew} KiB");

    // A bad key is refused before anything starts.
    let (out, lines) = agent(
        &s.ward,
        &[
            "http",
            "--url",
            &url,
            "--key",
            "ward_sa_not-a-real-key",
            "--ca-file",
            ca,
            "--expect-auth-failure",
        ],
        &json!([]),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(lines.first().map(|l| l["status"].clone()), Some(json!(401)));

    // One MCP session, one Ward session: notes, queries, results and denials in order. The
    // bad key is a session of its own, refused.
    let sessions = s.ward.wait_sessions(2);
    let refused: Vec<&Value> = sessions
        .iter()
        .filter(|x| x["protocol"] == "mcp" && x["outcome"] == "denied")
        .collect();
    assert_eq!(refused.len(), 1, "{sessions:?}");
    let mcp: Vec<&Value> = sessions
        .iter()
        .filter(|x| x["protocol"] == "mcp" && x["outcome"] != "denied")
        .collect();
    assert_eq!(mcp.len(), 1, "{sessions:?}");
    let id = mcp[0]["id"].as_str().expect("id");
    assert_eq!(mcp[0]["user"], "report-bot");
    let events = s.ward.events(id);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    let auth = events.iter().find(|e| e["kind"] == "auth").expect("auth");
    assert_eq!(auth["payload"]["method"], "service-account");
    assert_eq!(auth["payload"]["on_behalf_of"], "alice");
    assert!(auth["payload"]["agent"]["name"].is_string(), "{auth}");
    let order: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| {
            matches!(
                *k,
                "agent.note" | "db.query" | "db.result" | "policy.denied" | "db.error"
            )
        })
        .collect();
    assert_eq!(
        &order[..6],
        [
            "agent.note",
            "db.query",
            "db.result",
            "agent.note",
            "db.query",
            "policy.denied"
        ],
        "{kinds:?}"
    );
    // Nothing the agent wrote or read is stored unmasked, its notes included.
    let stored = events.iter().map(Value::to_string).collect::<String>();
    assert!(!stored.contains("4111 1111 1111 1111"), "{stored}");
    assert!(kinds.contains(&"mask.applied"), "{kinds:?}");
    let verify = s.ward.cli(&["verify", "--session", id]);
    assert!(verify.status.success(), "{}", text(&verify));
    let replay = success(&s.ward.cli(&["replay", id]));
    let note = replay
        .find("NOTE (agent): Checking which customers")
        .expect("note");
    let query = replay.find("shop=> SELECT id, name, card").expect("query");
    let denial = replay.find("DENIED by guardrail no-drops").expect("denial");
    assert!(note < query && query < denial, "{replay}");
}

#[test]
fn a_local_agent_over_stdio_through_ward_mcp() {
    let s = setup();
    let command = format!(
        "{} mcp --server {} --ca-cert {}",
        crate::WARD,
        s.ward.web_url(),
        s.ward.ca_cert().display()
    );
    let plan = json!([
        { "list_tools": true },
        { "call": "note", "args": { "text": "Counting customers." } },
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT count(*) AS n FROM customers" } }
    ]);
    let plan_file = s.ward.dir.join("stdio-plan.json");
    std::fs::write(&plan_file, plan.to_string()).expect("plan");
    let out = Command::new("python3")
        .arg(agent_py())
        .args(["stdio", "--command", &command, "--plan"])
        .arg(&plan_file)
        .env("WARD_MCP_KEY", &s.key)
        .output()
        .expect("agent.py stdio");
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let count = step(&lines, 2);
    assert_eq!(count["structured"]["rows"][0][0], "2", "{count}");
    let sessions = s.ward.wait_sessions(1);
    assert!(
        sessions
            .iter()
            .any(|x| x["protocol"] == "mcp" && !x["ended_at"].is_null()),
        "the stdio bridge ends its session: {sessions:?}"
    );
}

/// An agent gets what a person gets under the same grant, through the same admission: the
/// resource's masking profile masks its record (the statement's text included, not only the
/// default profile's rules), column rules mask whole cells of what the agent receives, and the
/// decision names the profiles as it does for `psql`.
#[test]
fn an_agent_is_masked_by_the_resources_profile_and_its_column_rules() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql(
        "CREATE TABLE staff (email text, salary int8);
         INSERT INTO staff VALUES ('ada@example.com', 52000);
         GRANT SELECT ON staff TO app;",
    )
    .expect("seed");
    let ward = Ward::builder(crate::WARD)
        .postgres_resource_with("hr", &pg, "masking_profile = \"hr\"")
        .grant("agents", "hr")
        .web(free_port().expect("port"))
        .config(
            "[[masking.columns]]\ncolumn = \"salary\"\n\n[masking.profiles.default]\nrules = [\"card\"]\ncolumns = []\n\n[masking.profiles.hr]\n",
        )
        .start()
        .expect("ward");
    let key = service_account(&ward, "hr-bot", "agents");
    let plan = json!([
        { "call": "query", "args": { "resource": "hr", "sql": "SELECT email, salary FROM staff WHERE email = 'ada@example.com'" } },
        { "call": "query", "args": { "resource": "hr", "sql": "SELECT s.salary AS pay FROM staff s" } }
    ]);
    let (out, lines) = http_agent(&ward, &key, &plan);
    assert!(out.status.success(), "agent.py: {}", text(&out));
    let row = &step(&lines, 0)["structured"]["rows"][0];
    assert_ne!(row[1], "52000", "the column rule on salary: {row}");
    assert!(!row[0].to_string().contains("ada@example.com"), "{row}");
    let aliased = &step(&lines, 1)["structured"]["rows"][0];
    assert_ne!(
        aliased[0], "52000",
        "an alias hides no column from its rule: {aliased}"
    );

    let sessions = ward.wait_sessions(1);
    let id = sessions[0]["id"].as_str().expect("id");
    let events = ward.events(id);
    let stored = events.iter().map(Value::to_string).collect::<String>();
    assert!(
        !stored.contains("ada@example.com"),
        "the hr profile masks the record, not only the default profile: {stored}"
    );
    assert!(!stored.contains("52000"), "{stored}");
    let decision = events
        .iter()
        .find(|e| e["kind"] == "policy.decision")
        .expect("decision");
    assert_eq!(decision["payload"]["masking_profile"], "hr", "{decision}");
    assert_eq!(decision["payload"]["allowed"], true, "{decision}");
}

#[test]
fn an_agent_gives_the_reason_its_grant_requires_with_each_call() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(crate::WARD)
        .postgres_resource("shop", &pg)
        .web(free_port().expect("port"))
        .config("[[grants]]\ngroup = \"agents\"\nresources = [\"shop\"]\nrequire_reason = true\n")
        .start()
        .expect("ward");
    let key = service_account(&ward, "bot", "agents");
    let plan = json!([
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT 1 AS one" } },
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT 2 AS two", "reason": "OPS-9 nightly check" } }
    ]);
    let (out, lines) = http_agent(&ward, &key, &plan);
    assert!(out.status.success(), "agent.py: {}", text(&out));
    let without = step(&lines, 0);
    assert_eq!(without["is_error"], true, "{without}");
    assert!(
        without["text"]
            .as_str()
            .unwrap_or_default()
            .contains("requires a reason for each access: pass the tool argument `reason`"),
        "{without}"
    );
    assert_eq!(step(&lines, 1)["is_error"], false);
    let id = ward.wait_sessions(1)[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let events = ward.events(&id);
    let decisions: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "policy.decision")
        .map(|e| &e["payload"])
        .collect();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert_eq!(decisions[0]["reason"], "reason required");
    assert_eq!(decisions[1]["reason_given"], "OPS-9 nightly check");
    let found = success(&ward.cli(&["sessions", "list", "--json", "--search", "OPS-9"]));
    assert!(found.contains(&id), "{found}");
}

#[test]
fn an_agents_open_session_is_ended_from_outside() {
    let s = setup();
    let go = s.ward.dir.join("go");
    let plan = json!([
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT 1 AS one" } },
        { "wait_for": go },
        { "call": "query", "args": { "resource": "shop", "sql": "SELECT 2 AS two" } }
    ]);
    let agent = {
        let (ward_dir, url, ca, key) = (
            s.ward.dir.clone(),
            format!("{}/mcp", s.ward.web_url()),
            s.ward.ca_cert(),
            s.key.clone(),
        );
        let plan_file = ward_dir.join("plan-ended.json");
        std::fs::write(&plan_file, plan.to_string()).expect("plan");
        Command::new("python3")
            .arg(agent_py())
            .args(["http", "--url", &url, "--key", &key, "--ca-file"])
            .arg(ca)
            .arg("--plan")
            .arg(&plan_file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("agent.py")
    };
    // Once its first query is recorded, the agent's session is ended by id.
    let id = s
        .ward
        .wait_for_session(|x| x["protocol"] == "mcp" && x["event_count"].as_u64() >= Some(5))
        .iter()
        .find(|x| x["protocol"] == "mcp")
        .and_then(|x| x["id"].as_str())
        .expect("the agent's session")
        .to_owned();
    success(
        &s.ward
            .cli(&["sessions", "terminate", &id, "--reason", "runaway agent"]),
    );
    let is_ended = |x: &Value| x["id"] == id.as_str() && x["outcome"] == "terminated";
    let sessions = s.ward.wait_for_session(is_ended);
    assert!(sessions.iter().any(is_ended), "{sessions:?}");
    std::fs::write(&go, "").expect("go");
    let out = agent.wait_with_output().expect("agent.py ends");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(step(&lines, 0)["is_error"], false, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l["step"] == 2 && !l["error"].is_null()),
        "its next call finds no session: {lines:?}"
    );
    let events = s.ward.events(&id);
    let why = events
        .iter()
        .find(|e| e["kind"] == "session.terminated")
        .expect("session.terminated");
    assert_eq!(why["payload"]["reason"], "runaway agent");
}
