//! Ways into HTTP resources past a header: a browser's launch from the web UI (a cookie for
//! the resource's path) and credentials bound to a key (DPoP, proven per request with npm
//! `dpop`, on an HTTP resource and on MCP).

use std::process::Command;

use serde_json::Value;
use ward_testkit::{HttpPeer, PASSWORD, of_kind, success};

use crate::http::{UPSTREAM_TOKEN, api_ward, body, curl, http_sessions};

#[test]
fn a_browser_launch_sets_a_cookie_for_the_resource_that_ward_takes_off_the_request() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let web_port = ward_testkit::free_port().expect("port");
    let ward = api_ward(&peer).web(web_port).start().expect("ward");
    let jar = ward.dir.join("cookies.txt");
    let jar = jar.to_str().expect("path");
    let login = format!("{{\"username\":\"alice\",\"password\":\"{PASSWORD}\"}}");
    let out = curl(
        &ward,
        &[
            "-c",
            jar,
            "-H",
            "Content-Type: application/json",
            "-d",
            &login,
            &format!("{}/api/v1/login", ward.web_url()),
        ],
    );
    let me: Value = serde_json::from_str(&body(&out)).expect("login json");
    let csrf = format!("X-CSRF-Token: {}", me["csrf"].as_str().expect("csrf"));
    let out = curl(
        &ward,
        &["-b", jar, &format!("{}/api/v1/resources", ward.web_url())],
    );
    let listed: Value = serde_json::from_str(&body(&out)).expect("json");
    assert_eq!(listed["resources"][0]["url"], ward.http_url("api"));
    let out = curl(
        &ward,
        &[
            "-b",
            jar,
            "-H",
            &csrf,
            "-X",
            "POST",
            &format!("{}/api/v1/resources/api/open", ward.web_url()),
        ],
    );
    let launch: Value = serde_json::from_str(&body(&out)).expect("json");
    let token = launch["token"].as_str().expect("token");
    assert_eq!(
        launch["launch"],
        format!("{}/.ward/launch", ward.http_url("api"))
    );
    let apps = ward.dir.join("app-cookies.txt");
    let apps = apps.to_str().expect("path");
    let out = curl(
        &ward,
        &[
            "-i",
            "-c",
            apps,
            "-d",
            &format!("token={token}"),
            launch["launch"].as_str().expect("url"),
        ],
    );
    let text = body(&out);
    assert!(text.starts_with("HTTP/1.1 303"), "{text}");
    assert!(text.contains("location: /api/"), "{text}");
    assert!(
        text.contains("Path=/api/; HttpOnly; Secure; SameSite=Lax"),
        "{text}"
    );
    let out = curl(
        &ward,
        &[
            "-b",
            apps,
            "-H",
            "Cookie: theme=dark",
            &format!("{}/echo/page", ward.http_url("api")),
        ],
    );
    let echo: Value = serde_json::from_str(&body(&out)).expect("echo json");
    assert_eq!(echo["auth"], "bearer");
    assert!(
        !echo["headers"]["cookie"]
            .as_str()
            .unwrap_or("")
            .contains("ward_app"),
        "{echo}"
    );
    // A forged launch is refused and recorded.
    let out = curl(
        &ward,
        &[
            "-d",
            "token=ward_t_forged",
            launch["launch"].as_str().expect("url"),
        ],
    );
    assert!(
        body(&out).contains("\"code\":\"unauthenticated\""),
        "{}",
        body(&out)
    );
    let sessions = http_sessions(&ward, 2);
    let ok = sessions
        .iter()
        .find(|(s, _)| s["outcome"] == "ok")
        .expect("the browser's session");
    assert_eq!(
        of_kind(&ok.1, "auth")[0]["payload"]["credential_in"],
        "cookie"
    );
    assert!(!serde_json::to_string(&ok.1).expect("json").contains(token));
    assert!(sessions.iter().any(|(s, _)| s["outcome"] == "denied"));
}

#[test]
fn a_token_bound_to_a_key_needs_a_proof_per_request_and_a_copy_without_the_key_is_refused() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let ward = api_ward(&peer)
        .web(ward_testkit::free_port().expect("port"))
        .start()
        .expect("ward");
    // npm `dpop`, an implementation of RFC 9449 that is not Ward's, makes the key and proofs.
    let tools = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/dpop-client");
    let node = |args: &[&str]| {
        Command::new("node")
            .arg(tools.join("client.mjs"))
            .args(args)
            .env("NODE_EXTRA_CA_CERTS", ward.ca_cert())
            .output()
            .expect("node (./x setup installs npm dpop)")
    };
    let key = ward.dir.join("dpop-key.json");
    let jkt = success(&node(&["keygen", key.to_str().expect("path")]));
    let jkt = jkt.trim();
    let issued =
        success(&ward.cli(&["tokens", "issue", "alice", "--ttl", "1h", "--dpop-jkt", jkt]));
    assert!(
        issued.contains(&format!("bound to key {jkt} (DPoP)")),
        "{issued}"
    );
    let token = issued
        .split_whitespace()
        .find(|w| w.starts_with("ward_t_"))
        .expect("a token");
    let url = format!("{}/echo/dpop", ward.http_url("api"));
    let out = node(&["call", key.to_str().expect("path"), &url, token]);
    let got: Value = serde_json::from_str(success(&out).trim()).expect("json");
    let status = |step: &str| got[step]["status"].as_u64().unwrap_or_default();
    let said = |step: &str| got[step]["body"].as_str().unwrap_or_default().to_owned();
    assert_eq!((status("valid"), status("second")), (200, 200), "{got}");
    // The service got Ward's credential, never the token or the proof.
    let echo: Value = serde_json::from_str(&said("valid")).expect("echo");
    assert_eq!(
        echo["headers"]["authorization"],
        format!("Bearer {UPSTREAM_TOKEN}")
    );
    assert!(echo["headers"]["dpop"].is_null(), "{echo}");
    for (step, why) in [
        ("replayed", "was used before"),
        ("other_method", "another method"),
        ("bearer", "bound to a key (DPoP)"),
        ("other_key", "signed by another key"),
    ] {
        assert_eq!(status(step), 401, "{step}: {got}");
        assert!(said(step).contains(why), "{step}: {}", said(step));
    }
    // The bound token is no password either.
    let copied = format!("alice:{token}");
    let out = curl(&ward, &["-u", &copied, &url]);
    assert!(body(&out).contains("bound to a key"), "{}", body(&out));

    // The proven requests are one session; each refusal is recorded as its own.
    let sessions = http_sessions(&ward, 6);
    let ok: Vec<&(Value, Vec<Value>)> = sessions
        .iter()
        .filter(|(s, _)| s["outcome"] == "ok")
        .collect();
    assert_eq!(ok.len(), 1, "{sessions:?}");
    assert_eq!(
        of_kind(&ok[0].1, "auth")[0]["payload"]["credential_in"],
        "dpop"
    );
    assert_eq!(of_kind(&ok[0].1, "http.request").len(), 2);
    let refusals: Vec<String> = sessions
        .iter()
        .filter(|(s, _)| s["outcome"] == "denied")
        .flat_map(|(_, e)| of_kind(e, "auth").into_iter().cloned().collect::<Vec<_>>())
        .filter_map(|a| a["payload"]["reason"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(refusals.len(), 5, "{refusals:?}");
    assert!(
        !serde_json::to_string(&sessions)
            .expect("json")
            .contains(token)
    );

    // MCP takes the bound token with a proof too, and refuses it alone, on the record.
    let mcp = format!("{}/mcp", ward.web_url());
    let out = node(&["mcp", key.to_str().expect("path"), &mcp, token]);
    let got: Value = serde_json::from_str(success(&out).trim()).expect("json");
    assert_eq!(got["valid"]["status"], 200, "{got}");
    assert!(
        got["valid"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("serverInfo")),
        "{got}"
    );
    assert_eq!(got["bearer"]["status"], 401, "{got}");
    assert!(
        got["bearer"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("bound to a key")),
        "{got}"
    );
    let refused = ward
        .sessions()
        .into_iter()
        .filter(|s| s["protocol"] == "mcp" && s["outcome"] == "denied")
        .count();
    assert_eq!(refused, 1);
}
