//! HTTP resources: curl, Python requests and the websockets library reach an internal HTTP
//! service (tools/http-peer) through Ward's HTTP listener with a Ward credential; Ward sends
//! the service's own credential, which the client never sees, and records every request,
//! response, body chunk and WebSocket message, masked.

use std::process::{Command, Output};

use serde_json::Value;
use ward_testkit::{HttpPeer, PASSWORD, Ward, WardBuilder, of_kind, success};

/// The upstream service's own credential: only Ward knows it.
pub(crate) const UPSTREAM_TOKEN: &str = "upstream-only-secret-7f3a";

/// A Ward serving HTTP resource `api` in front of `peer` (Ward presents `UPSTREAM_TOKEN` as a
/// bearer token), alice in `dev`.
pub(crate) fn api_ward(peer: &HttpPeer) -> WardBuilder {
    Ward::builder(crate::WARD)
        .http()
        .file("api.token", UPSTREAM_TOKEN)
        .http_resource(
            "api",
            &peer.url(),
            "credential = \"bearer\"\npassword_file = \"api.token\"",
        )
        .user("alice", &["dev"])
        .grant("dev", "api")
}

/// [`api_ward`] with `extra` lines of config, started.
fn ward_for(peer: &HttpPeer, extra: &str) -> Ward {
    api_ward(peer).config(extra).start().expect("ward")
}

/// curl with Ward's CA, `args` and the URLs (one connection for all of them).
pub(crate) fn curl(ward: &Ward, args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(ward.ca_cert())
        .args(args)
        .output()
        .expect("curl runs")
}

pub(crate) fn body(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The sessions of protocol `http`, ended, with their events.
pub(crate) fn http_sessions(ward: &Ward, n: usize) -> Vec<(Value, Vec<Value>)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ended: Vec<Value> = ward
            .sessions()
            .into_iter()
            .filter(|s| s["protocol"] == "http" && !s["outcome"].is_null())
            .collect();
        if ended.len() >= n || std::time::Instant::now() > deadline {
            return ended
                .into_iter()
                .map(|s| {
                    let events = ward.events(s["id"].as_str().expect("id"));
                    (s, events)
                })
                .collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The text of a session's `http.body` chunks of `stream` (`request` or `response`).
fn bodies(events: &[Value], stream: &str) -> String {
    of_kind(events, "http.body")
        .into_iter()
        .filter(|e| e["payload"]["stream"] == stream)
        .filter_map(|e| e["payload"]["data"].as_str())
        .collect()
}

#[test]
fn curl_reaches_the_service_with_wards_credential_and_every_exchange_is_recorded_masked() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let ward = ward_for(&peer, "");
    let token = ward.token("alice");
    let base = ward.http_url("api");
    let bearer = format!("Authorization: Bearer {token}");

    // Four requests on one connection (curl keeps it across `--next`): one session.
    let ca = ward.ca_cert();
    let out = curl(
        &ward,
        &[
            "-H",
            &bearer,
            "-H",
            "X-Ward-Reason: INC-42",
            "-H",
            "Cookie: ward_session=web-ui-cookie; theme=dark",
            "--data-binary",
            "pay with 4111 1111 1111 1111",
            &format!("{base}/echo/orders?limit=2"),
            "--next",
            "--cacert",
            ca.to_str().expect("path"),
            "-H",
            &bearer,
            &format!("{base}/secret"),
            &format!("{base}/stream?n=3&delay=50"),
            &format!("{base}/gzip"),
        ],
    );
    let text = body(&out);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The echo's JSON comes first, the other bodies follow it.
    let echo: Value = serde_json::Deserializer::from_str(&text)
        .into_iter()
        .next()
        .expect("echo")
        .expect("json");
    // The service saw Ward's credential, not alice's, and none of Ward's own headers.
    assert_eq!(echo["auth"], "bearer");
    assert_eq!(
        echo["headers"]["authorization"],
        format!("Bearer {UPSTREAM_TOKEN}")
    );
    assert_eq!(echo["headers"]["cookie"], "theme=dark");
    assert!(echo["headers"]["x-ward-reason"].is_null(), "{echo}");
    assert_eq!(echo["headers"]["x-forwarded-prefix"], "/api");
    assert_eq!(echo["headers"]["accept-encoding"], "identity");
    assert_eq!(
        (echo["method"].as_str(), echo["path"].as_str()),
        (Some("POST"), Some("/echo/orders"))
    );
    assert_eq!(echo["query"], "limit=2");
    // What the client sent and got passes unmasked (no `mask_client` here)...
    assert_eq!(echo["body"], "pay with 4111 1111 1111 1111");
    assert!(
        text.contains("card 4111 1111 1111 1111 and key AKIAIOSFODNN7EXAMPLE"),
        "{text}"
    );
    assert!(text.contains("line 1\nline 2\nline 3\n"), "{text}");

    // ... and is recorded masked.
    let sessions = http_sessions(&ward, 1);
    assert_eq!(
        sessions.len(),
        1,
        "one connection, one credential: one session"
    );
    let (session, events) = &sessions[0];
    assert_eq!(session["outcome"], "ok");
    assert_eq!(session["user"], "alice");
    assert_eq!(session["resource"], "api");
    let all = serde_json::to_string(events).expect("json");
    for secret in [
        UPSTREAM_TOKEN,
        &token,
        "4111 1111 1111 1111",
        "AKIAIOSFODNN7EXAMPLE",
        "web-ui-cookie",
    ] {
        assert!(!all.contains(secret), "{secret} is in the record");
    }
    let start = &of_kind(events, "session.start")[0]["payload"];
    assert_eq!(start["reason"], "INC-42");
    assert_eq!(
        of_kind(events, "auth")[0]["payload"]["credential_in"],
        "bearer"
    );
    let requests = of_kind(events, "http.request");
    let lines: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["payload"]["method"].as_str().unwrap_or(""),
                r["payload"]["path"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "POST /echo/orders",
            "GET /secret",
            "GET /stream",
            "GET /gzip"
        ]
    );
    let first = &requests[0]["payload"];
    assert_eq!(first["query"], "limit=2");
    assert_eq!(
        first["removed"],
        serde_json::json!(["authorization", "cookie"])
    );
    assert!(
        first["headers"]["user-agent"]
            .as_str()
            .is_some_and(|u| u.starts_with("curl/"))
    );
    let statuses: Vec<&Value> = of_kind(events, "http.response")
        .into_iter()
        .map(|r| &r["payload"]["status"])
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200]);
    assert!(bodies(events, "request").starts_with("pay with "), "{all}");
    let responses = bodies(events, "response");
    assert!(
        responses.contains("\"path\":\"/echo/orders\""),
        "{responses}"
    );
    assert!(
        responses.contains("card ") && responses.contains("line 3\n"),
        "{responses}"
    );
    // The stream was recorded as it passed: a chunk per line.
    let stream_chunks = of_kind(events, "http.body")
        .iter()
        .filter(|e| {
            e["payload"]["data"]
                .as_str()
                .is_some_and(|d| d.starts_with("line "))
        })
        .count();
    assert!(stream_chunks >= 2, "{all}");
    // The gzip body cannot be masked: counted and hashed, not stored.
    let unstored: Vec<&Value> = of_kind(events, "http.body")
        .into_iter()
        .filter(|e| e["payload"]["truncated"] == true)
        .collect();
    assert_eq!(unstored.len(), 1, "{all}");
    assert!(
        unstored[0]["payload"]["sha256_not_stored"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );
    assert!(!of_kind(events, "mask.applied").is_empty());
    success(&ward.cli(&["verify"]));
}

#[test]
fn every_way_to_prove_who_you_are_and_every_refusal_is_answered_and_recorded() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let ward = ward_for(&peer, "");
    let token = ward.token("alice");
    let base = ward.http_url("api");
    let status = |args: &[&str]| {
        let out = curl(
            &ward,
            &[&["-o", "/dev/null", "-w", "%{http_code}"], args].concat(),
        );
        body(&out)
    };
    let api_key = format!("X-Api-Key: {token}");
    assert_eq!(status(&["-H", &api_key, &format!("{base}/echo")]), "200");
    let basic = format!("alice:{PASSWORD}");
    assert_eq!(status(&["-u", &basic, &format!("{base}/echo")]), "200");
    let basic_token = format!("alice:{token}");
    assert_eq!(
        status(&["-u", &basic_token, &format!("{base}/echo")]),
        "200"
    );

    // No credential, a wrong one, an unknown resource, a user without a grant.
    let out = curl(&ward, &["-i", &format!("{base}/echo")]);
    let text = body(&out);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(
        text.contains("www-authenticate: Bearer realm=\"ward\""),
        "{text}"
    );
    assert!(text.contains("a Ward token (ward login)"), "{text}");
    let out = curl(
        &ward,
        &[
            "-H",
            "Authorization: Bearer ward_t_forged",
            &format!("{base}/echo"),
        ],
    );
    let refused: Value = serde_json::from_str(&body(&out)).expect("json");
    assert_eq!(refused["error"]["code"], "unauthenticated");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Ward refused the credential"))
    );
    let bearer = format!("Authorization: Bearer {token}");
    let out = curl(&ward, &["-H", &bearer, &ward.http_url("nosuch")]);
    assert!(
        body(&out).contains("\"code\":\"no_resource\""),
        "{}",
        body(&out)
    );
    success(
        &ward
            .cli_with_input(
                &["users", "add", "bob", "--groups", "ops", "--password-stdin"],
                PASSWORD,
            )
            .expect("bob"),
    );
    let bob = format!("bob:{PASSWORD}");
    let out = curl(&ward, &["-u", &bob, &format!("{base}/echo")]);
    let refused: Value = serde_json::from_str(&body(&out)).expect("json");
    assert_eq!(refused["error"]["code"], "not_granted", "{refused}");
    let out = curl(
        &ward,
        &["-i", "https://127.0.0.1:1/", "--connect-timeout", "1"],
    );
    assert!(!out.status.success());
    let out = curl(
        &ward,
        &[
            "-H",
            &bearer,
            &format!("https://127.0.0.1:{}/", ward.http_port.unwrap_or_default()),
        ],
    );
    assert!(body(&out).contains("under /RESOURCE/"), "{}", body(&out));

    // Each was recorded: three admitted sessions, a failed login, and two refusals.
    let sessions = http_sessions(&ward, 6);
    let outcomes: Vec<(String, String)> = sessions
        .iter()
        .map(|(s, _)| {
            (
                s["user"].as_str().unwrap_or("").to_owned(),
                s["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let count = |user: &str, outcome: &str| {
        outcomes
            .iter()
            .filter(|(u, o)| u == user && o == outcome)
            .count()
    };
    assert_eq!(count("alice", "ok"), 3, "{outcomes:?}");
    assert_eq!(count("bearer", "denied"), 1, "{outcomes:?}");
    assert_eq!(count("alice", "denied"), 1, "{outcomes:?}");
    assert_eq!(count("bob", "denied"), 1, "{outcomes:?}");
    let mut ways: Vec<&str> = sessions
        .iter()
        .filter(|(s, _)| s["outcome"] == "ok")
        .flat_map(|(_, events)| of_kind(events, "auth"))
        .filter_map(|a| a["payload"]["credential_in"].as_str())
        .collect();
    ways.sort_unstable();
    assert_eq!(ways, ["basic", "basic", "x-api-key"]);
}

#[test]
fn guardrails_deny_methods_and_paths_and_the_client_reads_which_rule() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let rules = "[[guardrails]]\nname = \"no-order-deletes\"\nresources = [\"api\"]\nmethods = [\"DELETE\"]\npaths = [\"/echo/orders/*\"]\n";
    let ward = ward_for(&peer, rules);
    let token = ward.token("alice");
    let base = ward.http_url("api");
    let bearer = format!("Authorization: Bearer {token}");
    let out = curl(
        &ward,
        &[
            "-i",
            "-H",
            &bearer,
            "-X",
            "DELETE",
            &format!("{base}/echo/orders/7"),
        ],
    );
    let text = body(&out);
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert!(
        text.contains("request denied by Ward guardrail \\\"no-order-deletes\\\": its method and path match the rule; it was not sent"),
        "{text}"
    );
    // The same path spelled as a service would still read it is the same path.
    for disguised in [
        "/echo/x/../orders/7",
        "/echo//orders/7",
        "/echo/%6Frders/7",
        "/echo/orders%2F7",
    ] {
        let out = curl(
            &ward,
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--path-as-is",
                "-H",
                &bearer,
                "-X",
                "DELETE",
                &format!("{base}{disguised}"),
            ],
        );
        assert_eq!(body(&out), "403", "{disguised}");
    }
    let out = curl(
        &ward,
        &[
            "-H",
            &bearer,
            "-X",
            "DELETE",
            &format!("{base}/echo/customers/7"),
        ],
    );
    assert!(
        body(&out).contains("\"method\":\"DELETE\""),
        "{}",
        body(&out)
    );

    let sessions = http_sessions(&ward, 6);
    let denied: Vec<Value> = sessions
        .iter()
        .flat_map(|(_, events)| of_kind(events, "policy.denied").into_iter().cloned())
        .collect();
    assert_eq!(denied.len(), 5, "{denied:?}");
    assert!(
        denied
            .iter()
            .all(|d| d["payload"]["rule"] == "no-order-deletes")
    );
    // Recorded as sent on: the normalised path.
    let commands: Vec<&str> = denied
        .iter()
        .filter_map(|d| d["payload"]["command"].as_str())
        .collect();
    assert!(commands.contains(&"DELETE /echo/orders/7"), "{commands:?}");
    assert!(
        commands.contains(&"DELETE /echo/orders%2F7"),
        "{commands:?}"
    );
    assert_eq!(
        commands
            .iter()
            .filter(|c| **c == "DELETE /echo/orders/7")
            .count(),
        4
    );
    // The denied request never reached the service: no response was recorded for it.
    let (_, events) = sessions
        .iter()
        .find(|(_, e)| !of_kind(e, "policy.denied").is_empty())
        .expect("the denied session");
    assert!(of_kind(events, "http.response").is_empty(), "{events:?}");
}

#[test]
fn python_requests_and_websockets_go_through_ward_recorded_message_by_message() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let rules = "[[guardrails]]\nname = \"no-order-deletes\"\nmethods = [\"DELETE\"]\npaths = [\"/echo/orders/*\"]\n";
    let ward = ward_for(&peer, rules);
    let token = ward.token("alice");
    let client = |mode: &str| ward_testkit::python_client(&ward, mode, "api", &token);
    let got = client("requests");
    assert_eq!(got["echo"]["query"], "x=1");
    assert_eq!(
        got["echo"]["headers"]["authorization"],
        format!("Bearer {UPSTREAM_TOKEN}")
    );
    assert_eq!(got["post"]["body"], "{\"card\": \"4111 1111 1111 1111\"}");
    assert_eq!(
        got["lines"],
        serde_json::json!(["line 1", "line 2", "line 3"])
    );
    assert_eq!(got["denied"]["status"], 403);
    assert!(
        got["denied"]["body"]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-order-deletes"))
    );

    let got = client("websocket");
    assert_eq!(
        got["replies"],
        serde_json::json!(["echo: hello", "card 4111 1111 1111 1111", {"binary": hex("echo: \x00\x01binary")}])
    );

    let sessions = http_sessions(&ward, 2);
    assert_eq!(sessions.len(), 2, "a keep-alive session each");
    let (_, ws) = sessions
        .iter()
        .find(|(_, e)| !of_kind(e, "http.websocket").is_empty())
        .expect("the websocket session");
    let messages: Vec<(String, String, String)> = of_kind(ws, "http.websocket")
        .into_iter()
        .map(|m| {
            let p = &m["payload"];
            let data = p["data"].as_str().or(p["data_b64"].as_str()).unwrap_or("");
            (
                p["from"].as_str().unwrap_or("").into(),
                p["opcode"].as_str().unwrap_or("").into(),
                data.into(),
            )
        })
        .collect();
    let said: Vec<(&str, &str)> = messages
        .iter()
        .map(|(f, o, _)| (f.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        &said[..8],
        [
            ("client", "text"),
            ("server", "text"),
            ("client", "text"),
            ("server", "text"),
            ("client", "binary"),
            ("server", "binary"),
            ("client", "ping"),
            ("server", "pong"),
        ]
    );
    assert_eq!(messages[0].2, "hello");
    assert_eq!(messages[1].2, "echo: hello");
    assert!(
        !messages[3].2.contains("4111 1111 1111 1111"),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|(_, o, _)| o == "close"),
        "{messages:?}"
    );
    let upgrade = of_kind(ws, "http.response");
    assert_eq!(upgrade[0]["payload"]["status"], 101);
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_mask_client_grant_masks_what_the_client_receives_and_refuses_websockets() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let grant = "[[grants]]\ngroup = \"support\"\nresources = [\"api\"]\nmask_client = true\n";
    let ward = ward_for(&peer, grant);
    success(
        &ward
            .cli_with_input(
                &[
                    "users",
                    "add",
                    "sam",
                    "--groups",
                    "support",
                    "--password-stdin",
                ],
                PASSWORD,
            )
            .expect("sam"),
    );
    let sam = format!("sam:{PASSWORD}");
    let base = ward.http_url("api");
    let out = curl(&ward, &["-i", "-u", &sam, &format!("{base}/secret")]);
    let text = body(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(!text.contains("4111 1111 1111 1111"), "{text}");
    assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"), "{text}");
    assert!(text.contains("card "), "{text}");
    // Masking changes the length: the body is chunked, not the service's content-length.
    assert!(
        !text.to_ascii_lowercase().contains("content-length"),
        "{text}"
    );
    // A big body masked on the way, intact in length where nothing matched.
    let out = curl(&ward, &["-u", &sam, &format!("{base}/big?bytes=300000")]);
    assert_eq!(out.stdout.len(), 300_000);
    // An encoded body cannot be masked: refused, not passed.
    let out = curl(&ward, &["-u", &sam, &format!("{base}/gzip")]);
    assert!(
        body(&out).contains("\"code\":\"unmaskable\""),
        "{}",
        body(&out)
    );
    // A WebSocket cannot be masked message by message here: the upgrade is refused.
    let out = curl(
        &ward,
        &[
            "-i",
            "-u",
            &sam,
            "-H",
            "Connection: Upgrade",
            "-H",
            "Upgrade: websocket",
            "-H",
            "Sec-WebSocket-Version: 13",
            "-H",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            &format!("{base}/ws"),
        ],
    );
    let text = body(&out);
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert!(text.contains("mask_client"), "{text}");
}

#[test]
fn a_revoked_token_ends_its_streaming_session_and_a_dead_service_is_a_recorded_502() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let dead = format!(
        "http://127.0.0.1:{}",
        ward_testkit::free_port().expect("port")
    );
    let ward = api_ward(&peer)
        .http_resource("gone", &dead, "")
        .grant("dev", "gone")
        .start()
        .expect("ward");
    let issued = success(&ward.cli(&["tokens", "issue", "alice", "--ttl", "1h"]));
    let word = |prefix: &str| {
        issued
            .split_whitespace()
            .find(|w| w.starts_with(prefix))
            .expect("printed")
            .to_owned()
    };
    let (token, id) = (word("ward_t_"), word("t_"));
    let bearer = format!("Authorization: Bearer {token}");

    let out = curl(
        &ward,
        &["-i", "-H", &bearer, &format!("{}/x", ward.http_url("gone"))],
    );
    let text = body(&out);
    assert!(text.starts_with("HTTP/1.1 502"), "{text}");
    assert!(
        text.contains("Ward could not reach resource \\\"gone\\\""),
        "{text}"
    );

    // A stream of 60 lines over 12 s, cut when the token is revoked.
    let started = std::time::Instant::now();
    let streaming = {
        let (ca, url, bearer) = (
            ward.ca_cert(),
            format!("{}/stream?n=60&delay=200", ward.http_url("api")),
            bearer.clone(),
        );
        std::thread::spawn(move || {
            Command::new("curl")
                .args(["-sS", "--max-time", "30", "--cacert"])
                .arg(ca)
                .args(["-H", &bearer, &url])
                .output()
                .expect("curl")
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(1000));
    success(&ward.cli(&["tokens", "revoke", "--id", &id]));
    let out = streaming.join().expect("curl thread");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the stream was not cut"
    );
    let text = body(&out);
    assert!(
        text.contains("line 1\n") && !text.contains("line 60"),
        "{text}"
    );

    let sessions = http_sessions(&ward, 2);
    let (_, gone) = sessions
        .iter()
        .find(|(s, _)| s["resource"] == "gone")
        .expect("gone");
    let failed = &of_kind(gone, "http.response")[0]["payload"];
    assert_eq!(failed["status"], 502);
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot connect")),
        "{failed}"
    );
    let (cut, events) = sessions
        .iter()
        .find(|(s, _)| s["resource"] == "api")
        .expect("api");
    assert_eq!(cut["outcome"], "terminated");
    assert_eq!(
        of_kind(events, "session.terminated")[0]["payload"]["reason"],
        format!("credential {id} revoked").as_str()
    );
    // The revoked token is refused from then on.
    let out = curl(
        &ward,
        &["-H", &bearer, &format!("{}/echo", ward.http_url("api"))],
    );
    assert!(
        body(&out).contains("\"code\":\"unauthenticated\""),
        "{}",
        body(&out)
    );
}
