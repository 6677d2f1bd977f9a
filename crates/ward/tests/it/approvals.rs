//! Access requests and approvals, with the CLI a person uses: a grant that `requires_approval`
//! refuses psql until `ward request` is approved by an approver (never the requester), opens
//! for the window approved, and ends the session it let in when the window closes. The request
//! and the approval are events in their authors' chains, linked from the session's decision,
//! and reach the webhooks with a link to review.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ward_testkit::{ClusterOptions, Postgres, Psql, Ward, free_port, of_kind, psql, success};

/// A person at their own terminal: a Ward home with a saved token.
pub struct Person {
    home: PathBuf,
}

impl Person {
    pub fn new(ward: &Ward, user: &str, groups: &[&str]) -> Self {
        let token = ward.token(user);
        let home = ward.dir.join(format!("home-{user}"));
        std::fs::create_dir_all(&home).expect("home");
        let saved = json!({
            "server": ward.web_url(), "ca_cert": ward.ca_cert(), "token": token, "id": "t",
            "user": user, "groups": groups, "issuer": "local",
            "expires_at": "2099-01-01T00:00:00Z", "postgres": null,
        });
        std::fs::write(home.join("credentials.json"), saved.to_string()).expect("save");
        Self { home }
    }

    pub fn ward(&self, ward: &Ward, args: &[&str]) -> Output {
        ward.command()
            .env("WARD_HOME", &self.home)
            .args(args)
            .output()
            .expect("ward")
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The request id `ward request` printed.
fn request_id(said: &str) -> String {
    said.split_whitespace()
        .nth(1)
        .filter(|id| id.len() == 12)
        .unwrap_or_else(|| panic!("no request id in {said}"))
        .to_owned()
}

#[test]
fn an_approved_request_opens_the_grant_for_its_window_then_ends_the_session() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let port = free_port().expect("port");
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("receiver");
    let got = Arc::new(Mutex::new(Vec::new()));
    {
        let got = got.clone();
        std::thread::spawn(move || crate::webhooks::receive(listener, got));
    }
    let ward = Ward::builder(crate::WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .user("dana", &["dba"])
        .user("erin", &["dev"])
        .web(free_port().expect("port"))
        .auth("public_url = \"https://ward.example.com\"")
        .config(&format!(
            "[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\nrequires_approval = true\n\
             approvers = [\"dba\"]\nmax_duration = \"1h\"\n\n\
             [[webhooks]]\nurl = \"http://127.0.0.1:{port}/hook\"\nevents = [\"request.created\", \"request.approved\"]\n"
        ))
        .start()
        .expect("ward");
    let (alice, dana, erin) = (
        Person::new(&ward, "alice", &["dev"]),
        Person::new(&ward, "dana", &["dba"]),
        Person::new(&ward, "erin", &["dev"]),
    );

    // Without an approved request, the grant does not let alice in, and says how to ask.
    let refused = psql(&ward.url("alice", "shop"), &["-c", "SELECT 1"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("needs an approved access request (approvers: group dba)")
            && stderr(&refused).contains("ward request shop"),
        "{}",
        stderr(&refused)
    );

    // Asking: for longer than the grant allows, refused; then for 6 seconds.
    let long = alice.ward(&ward, &["request", "shop", "--reason", "x", "--for", "2h"]);
    assert!(
        stderr(&long).contains("gives at most 3600s per request"),
        "{}",
        stderr(&long)
    );
    let reason = "INC-42 refund card 4111 1111 1111 1111";
    let asked = success(&alice.ward(
        &ward,
        &["request", "shop", "--reason", reason, "--for", "6s"],
    ));
    assert!(
        asked.contains("waiting for 1 approval(s) from group dba"),
        "{asked}"
    );
    let id = request_id(&asked);
    let twice = alice.ward(&ward, &["request", "shop", "--reason", "again"]);
    assert!(
        stderr(&twice).contains("is pending already"),
        "{}",
        stderr(&twice)
    );

    // Nobody reviews their own request, nor one their groups do not approve.
    let own = alice.ward(&ward, &["requests", "approve", &id]);
    assert!(
        stderr(&own).contains("cannot review your own request"),
        "{}",
        stderr(&own)
    );
    let peer = erin.ward(&ward, &["requests", "approve", &id]);
    assert!(
        stderr(&peer).contains("only its requester, its approvers and auditors"),
        "{}",
        stderr(&peer)
    );
    let listed = success(&dana.ward(&ward, &["requests", "list", "--state", "pending"]));
    assert!(
        listed.contains(&id) && listed.contains("[REDACTED:card]"),
        "{listed}"
    );
    assert!(!listed.contains("4111"), "the reason is masked: {listed}");

    let approved = success(&dana.ward(&ward, &["requests", "approve", &id, "--comment", "go"]));
    assert!(approved.contains("state     approved"), "{approved}");
    let approved_at = Instant::now();

    // Within the window (Ward reads approvals every half second), alice reaches shop.
    let mut session = loop {
        let probe = psql(&ward.url("alice", "shop"), &["-c", "SELECT 1"]);
        if probe.status.success() {
            break Psql::open(&ward.url("alice", "shop"));
        }
        assert!(
            approved_at.elapsed() < Duration::from_secs(3),
            "{}",
            stderr(&probe)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        session.ask("SELECT 'inside the window';"),
        "inside the window"
    );
    let live = ward
        .sessions()
        .into_iter()
        .find(|s| s["protocol"] == "postgres" && s["ended_at"].is_null())
        .expect("the live session");
    let live_id = live["id"].as_str().expect("id").to_owned();
    let decision = of_kind(&ward.events(&live_id), "policy.decision")[0].clone();
    assert_eq!(decision["payload"]["approval"]["request"], id.as_str());
    assert_eq!(
        decision["payload"]["approval"]["approved_by"],
        json!(["dana"])
    );

    // When the window closes, the session ends, on the record, and alice is refused again.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ward
        .sessions()
        .iter()
        .any(|s| s["id"] == live_id.as_str() && s["outcome"] == "terminated")
    {
        assert!(Instant::now() < deadline, "{:?}", ward.sessions());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        approved_at.elapsed() >= Duration::from_secs(5),
        "not before the window ends"
    );
    let stderr_after = session.finish("SELECT 'after';");
    assert!(
        stderr_after.contains(&format!("the window of access request {id} ended")),
        "{stderr_after}"
    );
    let again = psql(&ward.url("alice", "shop"), &["-c", "SELECT 1"]);
    assert!(
        stderr(&again).contains("needs an approved access request"),
        "{}",
        stderr(&again)
    );
    let shown = success(&alice.ward(&ward, &["requests", "show", &id]));
    assert!(
        shown.contains("state     expired") && shown.contains("dana approved at"),
        "{shown}"
    );

    // The request and the approval are events in alice's and dana's own (web) sessions.
    let web: Vec<Value> = ward
        .sessions()
        .into_iter()
        .filter(|s| s["protocol"] == "web")
        .collect();
    let event_of = |user: &str, kind: &str| {
        web.iter()
            .filter(|s| s["user"] == user)
            .flat_map(|s| ward.events(s["id"].as_str().expect("id")))
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {user}'s sessions"))
    };
    let request = event_of("alice", "access.request");
    assert_eq!(request["payload"]["request"], id.as_str());
    assert_eq!(
        request["payload"]["reason"],
        "INC-42 refund card [REDACTED:card]"
    );
    let approval = event_of("dana", "access.approve");
    assert_eq!(
        (
            approval["payload"]["request"].as_str(),
            approval["payload"]["state"].as_str()
        ),
        (Some(id.as_str()), Some("approved"))
    );
    success(&ward.cli(&["verify"]));

    // The approvers heard of it, with a link to review it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let hooks = crate::webhooks::bodies(&got);
        let event = |name: &str| hooks.iter().find(|b| b["event"] == name).cloned();
        if let (Some(created), Some(done)) = (event("request.created"), event("request.approved")) {
            assert_eq!(
                created["link"],
                format!("https://ward.example.com/requests/{id}").as_str()
            );
            assert!(
                created["text"].as_str().is_some_and(|t| t
                    .contains("alice asks for access to shop")
                    && !t.contains("4111")),
                "{created}"
            );
            assert!(
                done["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("dana approved alice's request")),
                "{done}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "webhooks: {hooks:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_denied_request_keeps_the_grant_closed_and_tells_the_requester_why() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(crate::WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .user("dana", &["dba"])
        .web(free_port().expect("port"))
        .config(
            "[[grants]]\ngroup = \"dev\"\nresources = [\"shop\"]\nrequires_approval = true\napprovers = [\"dba\"]\n",
        )
        .start()
        .expect("ward");
    let (alice, dana) = (
        Person::new(&ward, "alice", &["dev"]),
        Person::new(&ward, "dana", &["dba"]),
    );
    let waiting = std::thread::spawn({
        let ward_dir = alice.home.clone();
        let command = ward.command();
        move || {
            let mut command = command;
            command
                .env("WARD_HOME", ward_dir)
                .args(["request", "shop", "--reason", "curious", "--wait"])
                .output()
                .expect("ward request --wait")
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        let listed = success(&dana.ward(&ward, &["requests", "list"]));
        if let Some(line) = listed.lines().find(|l| l.contains("pending")) {
            break line.split_whitespace().next().expect("id").to_owned();
        }
        assert!(Instant::now() < deadline, "{listed}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let no_reason = dana.ward(&ward, &["requests", "deny", &id, "--comment", " "]);
    assert!(
        stderr(&no_reason).contains("say why you deny it"),
        "{}",
        stderr(&no_reason)
    );
    success(&dana.ward(
        &ward,
        &[
            "requests",
            "deny",
            &id,
            "--comment",
            "not during the freeze",
        ],
    ));
    let waited = waiting.join().expect("thread");
    assert!(!waited.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&waited.stdout),
        stderr(&waited)
    );
    assert!(
        said.contains("dana denied")
            && said.contains("not during the freeze")
            && said.contains("is denied"),
        "{said}"
    );
    let refused = psql(&ward.url("alice", "shop"), &["-c", "SELECT 1"]);
    assert!(stderr(&refused).contains("needs an approved access request"));
    let late = dana.ward(&ward, &["requests", "approve", &id]);
    assert!(
        stderr(&late).contains("is denied already"),
        "{}",
        stderr(&late)
    );
}
