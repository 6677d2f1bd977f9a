//! `ward login --dpop`: the token is bound to a key the CLI keeps, every use of it from the CLI
//! (`ward connect http`, `ward connect ssh`, `ward mcp`, `ward requests`, `ward tokens revoke`)
//! carries a proof made with that key, and a copy of the token alone is refused everywhere.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use serde_json::Value;
use ward_testkit::{HttpPeer, free_port, of_kind, python_client_at, success};

use crate::http::UPSTREAM_TOKEN;
use crate::oidc::{ALICE_PW, setup_with, text};

/// curl with Ward's CA and `args`: the status code, then the body.
fn curl(ca: &std::path::Path, args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(ca)
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = said.rsplit_once('\n').unwrap_or_default();
    (code.trim().parse().unwrap_or_default(), body.to_owned())
}

#[test]
fn a_dpop_login_keeps_its_key_and_a_copy_of_its_token_alone_is_refused_everywhere() {
    let peer = HttpPeer::start(Some(UPSTREAM_TOKEN)).expect("http peer");
    let mut sshd = ward_testkit::Sshd::prepare().expect("sshd");
    let ssh_port = free_port().expect("port");
    let s = setup_with("dpop", Some((&mut sshd, ssh_port)), |b| {
        b.http()
            .file("api.token", UPSTREAM_TOKEN)
            .http_resource(
                "api",
                &peer.url(),
                "credential = \"bearer\"\npassword_file = \"api.token\"",
            )
            .grant("analysts", "api")
    });
    let (_, login) = s.browser_login_with("alice", ALICE_PW, &[], &["--dpop"]);
    assert!(login.status.success(), "ward login: {}", text(&login));
    let saved = s.saved();
    let token = saved["token"].as_str().expect("token").to_owned();
    assert!(saved["dpop_key"].is_string(), "{saved}");
    assert!(text(&login).contains("bound to key"), "{}", text(&login));
    let credentials = success(&s.ward.cli(&["tokens", "list", "--json"]));
    assert!(credentials.contains("\"key\""), "{credentials}");
    let ca = s.ward.ca_cert();

    // `ward connect http` serves the resource on loopback and signs each request.
    let mut proxy = Running(
        s.ward_client(&["connect", "http", "api"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ward connect http"),
    );
    let mut banner = String::new();
    BufReader::new(proxy.0.stdout.take().expect("stdout"))
        .read_line(&mut banner)
        .expect("banner");
    let local = banner
        .split_whitespace()
        .next()
        .filter(|u| u.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no loopback URL: {banner}"))
        .trim_end_matches('/')
        .to_owned();
    assert!(banner.contains("signed with your DPoP key"), "{banner}");
    // Two requests on one connection, and a POST: each with a proof of its own.
    let first = format!("{local}/echo/one?x=1");
    let second = format!("{local}/echo/two");
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", &first, &second])
        .output()
        .expect("curl");
    let said = success(&out);
    assert!(
        said.contains(r#""path":"/echo/one","query":"x=1""#) && said.contains("/echo/two"),
        "{said}"
    );
    assert!(said.contains(&format!("Bearer {UPSTREAM_TOKEN}")), "{said}");
    assert!(
        !said.contains(&token) && !said.to_lowercase().contains("dpop"),
        "{said}"
    );
    let (status, said) = curl(
        &ca,
        &["-X", "POST", "-d", "hello", &format!("{local}/echo/post")],
    );
    assert_eq!(status, 200, "{said}");
    // A WebSocket goes through too (the websockets library, to ws:// on the proxy).
    let ws = python_client_at("websocket", &local, "not-a-token", &ca);
    assert_eq!(ws["replies"][0], "echo: hello", "{ws}");

    // The token copied out of the file, without its key, is refused by the HTTP listener…
    let direct = format!("{}/echo/stolen", s.ward.http_url("api"));
    let (status, said) = curl(
        &ca,
        &["-H", &format!("Authorization: Bearer {token}"), &direct],
    );
    assert_eq!(status, 401, "{said}");
    assert!(said.contains("bound to a key"), "{said}");
    let (status, said) = curl(
        &ca,
        &["-H", &format!("Authorization: DPoP {token}"), &direct],
    );
    assert_eq!(status, 401, "{said}");
    // … by the API that issues SSH certificates and the one that revokes tokens …
    let web = s.ward.web_url();
    for path in ["/api/v1/auth/ssh-certificate", "/api/v1/auth/revoke"] {
        let (status, said) = curl(
            &ca,
            &[
                "-X",
                "POST",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "-H",
                "content-type: application/json",
                "-d",
                r#"{"public_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}"#,
                &format!("{web}{path}"),
            ],
        );
        assert_eq!(status, 401, "{path}: {said}");
        assert!(said.contains("bound to a key"), "{path}: {said}");
    }
    // … by the web sign-in, and as a PostgreSQL password.
    let (status, said) = curl(
        &ca,
        &[
            "-H",
            "content-type: application/json",
            "-d",
            &format!(r#"{{"username":"alice","password":"{token}"}}"#),
            &format!("{web}/api/v1/login"),
        ],
    );
    assert_eq!(status, 401, "{said}");
    let psql = Command::new("psql")
        .args([
            &s.ward.url_with("alice", &token, "shop", "require"),
            "-c",
            "select 1",
        ])
        .output()
        .expect("psql");
    assert!(text(&psql).contains("bound to a key"), "{}", text(&psql));
    let connect = s
        .ward_client(&["connect", "psql", "shop"])
        .output()
        .expect("ward connect psql");
    assert!(!connect.status.success());
    assert!(
        text(&connect).contains("cannot prove it holds the key"),
        "{}",
        text(&connect)
    );

    // The CLI's own uses carry proofs: an SSH certificate, the MCP bridge, the request API.
    let ssh = s
        .ward_client(&[
            "connect",
            "ssh",
            "web1",
            "--",
            "-o",
            "BatchMode=yes",
            "echo via-dpop",
        ])
        .output()
        .expect("ward connect ssh");
    assert_eq!(success(&ssh).trim(), "via-dpop", "{}", text(&ssh));
    let mut bridge = s
        .ward_client(&["mcp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ward mcp");
    writeln!(
        bridge.stdin.take().expect("stdin"),
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}}}"#
    )
    .expect("write");
    let out = bridge.wait_with_output().expect("ward mcp");
    assert!(text(&out).contains("serverInfo"), "{}", text(&out));
    let listed = s
        .ward_client(&["requests", "list"])
        .output()
        .expect("ward requests");
    assert!(listed.status.success(), "{}", text(&listed));

    // What went through is on the record as DPoP; each copy refused is a denied session.
    // Three proxied connections (curl's two GETs, its POST, the WebSocket) and two refused
    // copies.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let http = loop {
        let http: Vec<Value> = s
            .ward
            .sessions()
            .into_iter()
            .filter(|x| x["protocol"] == "http" && !x["outcome"].is_null())
            .collect();
        if http.len() >= 5 || std::time::Instant::now() > deadline {
            break http;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let outcomes = |o: &str| http.iter().filter(|x| x["outcome"] == o).count();
    assert_eq!((outcomes("ok"), outcomes("denied")), (3, 2), "{http:?}");
    let mut requests = 0;
    for ok in http.iter().filter(|x| x["outcome"] == "ok") {
        let events = s.ward.events(ok["id"].as_str().expect("id"));
        assert_eq!(
            of_kind(&events, "auth")[0]["payload"]["credential_in"],
            "dpop"
        );
        requests += of_kind(&events, "http.request").len();
    }
    assert_eq!(requests, 4);

    // Logging out revokes the token with a proof; the proxy's requests then fail.
    let revoked = s
        .ward_client(&["tokens", "revoke"])
        .output()
        .expect("ward tokens revoke");
    assert!(success(&revoked).contains("revoked"), "{}", text(&revoked));
    let (status, said) = curl(&ca, &[&format!("{local}/echo/after")]);
    assert_eq!(status, 401, "{said}");
}

/// A process that runs until it is dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
