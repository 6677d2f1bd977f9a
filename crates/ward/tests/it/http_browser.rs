//! An HTTP resource opened from the web UI, in Chromium (`web/e2e/http.mjs`): the Resources
//! page asks Ward for a token and posts it to the HTTP listener in a new tab, which reaches
//! the internal service (tools/http-peer) through Ward with the service's own credential and
//! without Ward's cookie; the session it records shows in the UI's HTTP timeline, to its user
//! and to an auditor, and holds neither credential.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_testkit::{HttpPeer, PASSWORD, Ward, free_port, of_kind};

/// The service's own credential: only Ward knows it (and the service echoes it back).
const UPSTREAM_TOKEN: &str = "upstream-only-secret-b81e";

/// `user`'s sessions of protocol `http` with their events, once some are recorded and all of
/// them have ended (the browser closed its connections).
fn ended_http_sessions(ward: &Ward, user: &str) -> Vec<(Value, Vec<Value>)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sessions: Vec<Value> = ward
            .sessions()
            .into_iter()
            .filter(|s| s["protocol"] == "http" && s["user"] == user)
            .collect();
        let ended = !sessions.is_empty() && sessions.iter().all(|s| !s["ended_at"].is_null());
        if ended || Instant::now() > deadline {
            return sessions
                .into_iter()
                .map(|s| {
                    let events = ward.events(s["id"].as_str().expect("id"));
                    (s, events)
                })
                .collect();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_browser_opens_an_http_resource_from_the_ui_and_its_session_shows_in_the_timeline() {
    let Some(runner) = ward_testkit::chromium_e2e("http.mjs") else {
        return;
    };
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    // The resource is the service's /echo: its root answers with the request the service got.
    let ward = Ward::builder(crate::WARD)
        .web(free_port().expect("port"))
        .http()
        .file("api.token", UPSTREAM_TOKEN)
        .http_resource(
            "api",
            &format!("{}/echo", peer.url()),
            "credential = \"bearer\"\npassword_file = \"api.token\"",
        )
        .user("alice", &["dev"])
        .user("audrey", &["auditors"])
        .grant("dev", "api")
        .config("[web]\nauditor_groups = [\"auditors\"]")
        .start()
        .expect("ward");

    let out_dir = std::env::var_os("WARD_E2E_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| ward.dir.join("e2e-http-output"));
    let out: Output = Command::new("node")
        .arg(&runner)
        .args(["--url", &ward.web_url()])
        .args(["--user", "alice", "--password", PASSWORD])
        .args(["--auditor-user", "audrey", "--auditor-password", PASSWORD])
        .args(["--resource", "api"])
        .arg("--out")
        .arg(&out_dir)
        .current_dir(ward_testkit::web_dir())
        .output()
        .expect("node e2e/http.mjs");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "e2e failed (screenshots in {}):\n{said}{}\nward's log:\n{}",
        out_dir.display(),
        String::from_utf8_lossy(&out.stderr),
        ward.log()
    );
    let printed = |what: &str| {
        said.lines()
            .find_map(|l| l.strip_prefix(what))
            .unwrap_or_else(|| panic!("the e2e script printed no `{what}`: {said}"))
            .trim()
            .to_owned()
    };
    let shown = printed("session ");
    let token = printed("launch-token ");
    assert!(token.len() > 16, "{token}");

    // The record: the browser's session signed in with the launch's cookie, and its requests.
    let sessions = ended_http_sessions(&ward, "alice");
    let (session, events) = sessions
        .iter()
        .find(|(s, _)| s["id"] == shown.as_str())
        .unwrap_or_else(|| panic!("no http session {shown} of alice: {sessions:?}"));
    assert_eq!(session["resource"], "api");
    assert_eq!(session["outcome"], "ok");
    let auth = &of_kind(events, "auth")[0]["payload"];
    assert_eq!(
        (auth["result"].as_str(), auth["credential_in"].as_str()),
        (Some("ok"), Some("cookie")),
        "{auth}"
    );
    let root = of_kind(events, "http.request")
        .into_iter()
        .find(|r| r["payload"]["method"] == "GET" && r["payload"]["path"] == "/")
        .unwrap_or_else(|| panic!("no `GET /` recorded: {events:?}"));
    let removed = root["payload"]["removed"].as_array().expect("removed");
    assert!(removed.iter().any(|h| h == "cookie"), "{root}");
    assert!(root["payload"]["headers"]["cookie"].is_null(), "{root}");
    let answered = events
        .iter()
        .find(|e| e["kind"] == "http.response" && e["seq"].as_i64() > root["seq"].as_i64())
        .expect("the answer to `GET /`");
    assert_eq!(answered["payload"]["status"], 200, "{answered}");

    // Neither credential is in any record: not the token the browser posted (nor its cookie),
    // not the service's own (which the echo sends back: masked).
    let everything: Vec<(Value, Vec<Value>)> = ward
        .sessions()
        .into_iter()
        .map(|s| {
            let events = ward.events(s["id"].as_str().expect("id"));
            (s, events)
        })
        .collect();
    assert!(everything.iter().any(|(s, _)| s["protocol"] == "web"));
    let all = serde_json::to_string(&everything).expect("json");
    for secret in [token.as_str(), UPSTREAM_TOKEN] {
        assert!(!all.contains(secret), "a credential is in the record");
    }
}
