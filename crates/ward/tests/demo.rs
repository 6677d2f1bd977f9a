//! `ward demo` on this machine: it prints psql lines that work as printed, the support user
//! sees the shop's card numbers and e-mail addresses masked, the store holds none of them in
//! clear, and SIGTERM stops everything and leaves the recording behind.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ward_testkit::{free_port, run};

const WARD: &str = env!("CARGO_BIN_EXE_ward");

#[test]
fn demo_prints_a_working_psql_line_and_stops_cleanly() {
    let dir = std::env::temp_dir().join(format!("ward-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port().expect("port");
    let mut child = Command::new(WARD)
        .args([
            "demo",
            "--dir",
            dir.to_str().expect("path"),
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ward demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut psql_line = None;
    let mut support_line = None;
    let mut ui_line = None;
    let mut mcp_line = None;
    let mut ssh_line = None;
    let mut printed = String::new();
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        printed.push_str(&line);
        printed.push('\n');
        if line.trim_start().starts_with("psql \"postgresql://demo:") {
            psql_line = Some(line.trim().to_owned());
        }
        if line
            .trim_start()
            .starts_with("psql \"postgresql://support:")
        {
            support_line = Some(line.trim().to_owned());
        }
        if line.trim_start().starts_with("endpoint https://") {
            mcp_line = Some(line.trim().to_owned());
        }
        if line.trim_start().starts_with("https://127.0.0.1:") {
            ui_line = Some(line.trim().to_owned());
        }
        if line.trim_start().starts_with("ssh -p ") {
            ssh_line = Some(line.trim().to_owned());
        }
        if line.contains("Ctrl-C stops") {
            break;
        }
    }
    let psql_line = psql_line.unwrap_or_else(|| panic!("no psql line in:\n{printed}"));
    assert!(
        printed.contains(&format!(
            "ward sessions list --config {}",
            dir.join("ward.toml").display()
        )),
        "{printed}"
    );

    // The printed ssh line reaches the demo's sshd through Ward, with the demo password.
    if std::path::Path::new("/usr/sbin/sshd").exists() {
        let ssh_line = ssh_line.unwrap_or_else(|| panic!("no ssh line in:\n{printed}"));
        let ssh_port: u16 = ssh_line
            .split_whitespace()
            .nth(2)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {ssh_line}"));
        let password = psql_line
            .split_once("demo:")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map(|(p, _)| p.to_owned())
            .expect("the demo password");
        let out = ward_testkit::ssh_client(
            &dir,
            ssh_port,
            "demo:box",
            &password,
            &["echo through Ward to box"],
            None,
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("through Ward to box"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Run the printed command exactly as a person would paste it.
    let out = run(
        "sh",
        &[
            "-c",
            &format!("{psql_line} -X -A -t -c 'SELECT count(*) FROM customers'"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "8");
    let ada = "SELECT email, card_number FROM customers WHERE name = 'Ada Lovelace'";
    let clear = run("sh", &["-c", &format!("{psql_line} -X -A -t -c \"{ada}\"")]);
    assert_eq!(
        String::from_utf8_lossy(&clear.stdout).trim(),
        "ada@example.com|4111 1111 1111 1111"
    );
    let support_line =
        support_line.unwrap_or_else(|| panic!("no support psql line in:\n{printed}"));
    let masked = run(
        "sh",
        &["-c", &format!("{support_line} -X -A -t -c \"{ada}\"")],
    );
    assert_eq!(
        String::from_utf8_lossy(&masked.stdout).trim(),
        "[REDACTED:email]|**** **** **** 1111",
        "{}",
        String::from_utf8_lossy(&masked.stderr)
    );

    // The web UI address and the auditor's sign-in, as printed.
    let ui_line = ui_line.unwrap_or_else(|| panic!("no web UI line in:\n{printed}"));
    let words: Vec<&str> = ui_line.split_whitespace().collect();
    let (url, password) = (words[0], words[words.len() - 1]);
    let body = format!(r#"{{"username":"auditor","password":"{password}"}}"#);
    let signed_in = run(
        "curl",
        &[
            "-sk",
            "-H",
            "content-type: application/json",
            "-d",
            &body,
            &format!("{url}/api/v1/login"),
        ],
    );
    let me: serde_json::Value = serde_json::from_slice(&signed_in.stdout).expect("sign-in JSON");
    assert_eq!(me["auditor"], true, "{me}");
    // The printed MCP endpoint and key start an agent session.
    let mcp_line = mcp_line.unwrap_or_else(|| panic!("no MCP line in:\n{printed}"));
    let words: Vec<&str> = mcp_line.split_whitespace().collect();
    let (endpoint, key) = (words[1], words[3]);
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo-test","version":"1"}}}"#;
    let answer = run(
        "curl",
        &[
            "-sk",
            "-H",
            "content-type: application/json",
            "-H",
            &format!("authorization: Bearer {key}"),
            "-d",
            init,
            endpoint,
        ],
    );
    let answer: serde_json::Value = serde_json::from_slice(&answer.stdout).expect("MCP JSON");
    assert_eq!(answer["result"]["serverInfo"]["name"], "ward", "{answer}");

    assert!(
        run("kill", &["-TERM", &child.id().to_string()])
            .status
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "demo did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");

    // The recording stays, readable with the config the demo wrote.
    let config = dir.join("ward.toml");
    let out = run(
        WARD,
        &[
            "sessions",
            "list",
            "--json",
            "--config",
            config.to_str().expect("path"),
        ],
    );
    let sessions: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    let ssh = usize::from(std::path::Path::new("/usr/sbin/sshd").exists());
    assert_eq!(
        sessions.len(),
        5 + ssh,
        "three psql sessions, the auditor's sign-in, the agent's session (and the ssh one)"
    );
    assert_eq!(
        sessions.iter().filter(|s| s["protocol"] == "mcp").count(),
        1
    );
    assert_eq!(
        sessions.iter().filter(|s| s["protocol"] == "web").count(),
        1
    );
    assert!(
        sessions.iter().all(|s| s["outcome"] == "ok"),
        "{sessions:?}"
    );
    assert_eq!(
        sessions.iter().filter(|s| s["user"] == "support").count(),
        1
    );
    // The raw store files hold no card number and no customer e-mail address, in any session.
    for file in ["ward.db", "ward.db-wal"] {
        let raw = std::fs::read(dir.join(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&raw);
        for secret in ["4111 1111 1111 1111", "ada@example.com"] {
            assert!(!text.contains(secret), "{secret} in {file}");
        }
    }
    let out = run(
        WARD,
        &["verify", "--config", config.to_str().expect("path")],
    );
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
