//! SCIM 2.0 with a real client library (scim2-client, tools/scim-client/scim.py): an identity
//! provider provisions a user and its groups; taking the user out of the group its grant names
//! ends its open ssh session at once and refuses psql; putting it back lets it in; making it
//! inactive, or deleting it, disables it. Each change is recorded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_testkit::{
    ClusterOptions, PASSWORD, Postgres, Ward, psql, ssh_client, ssh_gateway, success,
};

const TOKEN: &str = "scim-token-for-the-test-0123456789";

fn scim_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/scim-client/scim.py")
}

/// Runs one SCIM operation; its JSON answer.
fn scim(ward: &Ward, args: &[&str]) -> Value {
    let out: Output = Command::new("python3")
        .arg(scim_py())
        .args(["--url", &ward.web_url(), "--token", TOKEN, "--ca-file"])
        .arg(ward.ca_cert())
        .args(args)
        .output()
        .expect("python3 scim.py");
    assert!(
        out.status.success(),
        "scim.py {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits until psql as alice succeeds (`ok`) or fails with `why`.
fn psql_turns(ward: &Ward, ok: bool, why: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = psql(&ward.url("alice", "shop"), &["-c", "SELECT 1"]);
        if out.status.success() == ok && (ok || stderr(&out).contains(why)) {
            return;
        }
        assert!(Instant::now() < deadline, "psql: {}", stderr(&out));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_identity_provider_provisions_groups_and_deprovisions_users_through_scim() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let (_sshd, ward, ssh_port) = ssh_gateway(crate::WARD, |b, sshd| {
        b.user("alice", &["dev"])
            .grant("dev", "shop")
            .grant("dev", "web1")
            .postgres_resource("shop", &pg)
            .ssh_resource("web1", sshd)
            .web(ward_testkit::free_port().expect("port"))
            .file("scim.token", &format!("{TOKEN}\n"))
            .auth("scim_token_file = \"scim.token\"")
    });
    // A wrong token is refused, in SCIM's error shape.
    let wrong = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(ward.ca_cert())
        .args(["-H", "Authorization: Bearer wrong"])
        .arg(format!("{}/scim/v2/Users", ward.web_url()))
        .output()
        .expect("curl");
    let wrong: Value = serde_json::from_slice(&wrong.stdout).expect("json");
    assert_eq!(wrong["status"], "401", "{wrong}");

    let alice = scim(&ward, &["create-user", "alice"]);
    assert_eq!(alice["userName"], "alice");
    let dev = scim(&ward, &["create-group", "dev", "alice"]);
    assert_eq!(dev["members"][0]["display"], "alice", "{dev}");
    let found = scim(&ward, &["find-user", "alice"]);
    assert_eq!(found["id"], alice["id"]);

    // alice on the host, through her grant to group dev.
    let host = {
        let dir = ward.dir.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let out = ssh_client(&dir, ssh_port, "alice:web1", PASSWORD, &["sleep 60"], None);
            (out, started.elapsed())
        })
    };
    ward.wait_for_session(|s| s["protocol"] == "ssh" && s["ended_at"].is_null());

    // The identity provider takes her out of dev: the session ends, psql is refused.
    scim(&ward, &["remove-member", "dev", "alice"]);
    let (out, took) = host.join().expect("ssh");
    assert!(!out.status.success());
    assert!(
        took < Duration::from_secs(30),
        "ended long before its command: {took:?}"
    );
    let ended = |s: &Value| s["protocol"] == "ssh" && !s["outcome"].is_null();
    let ssh = ward
        .wait_for_session(ended)
        .into_iter()
        .find(ended)
        .expect("the ssh session ended");
    assert_eq!(ssh["outcome"], "terminated");
    let events = ward.events(ssh["id"].as_str().expect("id"));
    let why = events
        .iter()
        .find(|e| e["kind"] == "session.terminated")
        .expect("session.terminated");
    assert_eq!(why["payload"]["by"], "the identity provider (SCIM)");
    assert!(
        why["payload"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("alice's groups changed (now: none)")),
        "{why}"
    );
    psql_turns(&ward, false, "has no grant for resource \"shop\"");

    // Back in dev, she reaches shop again.
    scim(&ward, &["add-member", "dev", "alice"]);
    psql_turns(&ward, true, "");

    // Made inactive, she is disabled; active again, enabled.
    let inactive = scim(&ward, &["set-active", "alice", "false"]);
    assert_eq!(inactive["active"], false);
    psql_turns(&ward, false, "user \"alice\" is disabled");
    scim(&ward, &["set-active", "alice", "true"]);
    psql_turns(&ward, true, "");
    // Deleted, she is disabled for good.
    scim(&ward, &["delete-user", "alice"]);
    psql_turns(&ward, false, "user \"alice\" is disabled");
    let disabled = success(&ward.cli(&["users", "list"]));
    assert!(disabled.contains("alice"), "{disabled}");

    // Every change is on the record.
    let changes: Vec<Value> = ward
        .sessions()
        .iter()
        .filter(|s| s["resource"] == "ward-scim")
        .flat_map(|s| ward.events(s["id"].as_str().expect("id")))
        .filter(|e| e["kind"] == "scim.change")
        .map(|e| e["payload"].clone())
        .collect();
    let ops: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["resource_type"].as_str().unwrap_or("?"),
                c["op"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("User", "create"),
            ("Group", "create"),
            ("Group", "patch"),
            ("Group", "patch"),
            ("User", "patch"),
            ("User", "patch"),
            ("User", "delete")
        ]
    );
    assert_eq!(changes[4]["effect"], "user disabled");
    assert_eq!(changes[5]["effect"], "user enabled");
    success(&ward.cli(&["verify"]));
}
