//! OpenSSH's `ssh` through Ward to a real `sshd`: a command runs with its output and exit
//! status, what came back is recorded (masked), and refusals are recorded as denied.

use std::path::Path;
use std::process::{Command, Output};

use ward_testkit::{PASSWORD, Sshd, Ward, free_port, ssh_client, success};

fn ssh(ward: &Ward, port: u16, user: &str, password: &str, command: &str) -> Output {
    ssh_client(&ward.dir, port, user, password, &[command], None)
}

#[test]
fn ssh_exec_through_ward_is_relayed_and_recorded() {
    let mut sshd = Sshd::prepare().expect("sshd");
    let port = free_port().expect("port");
    let ward = Ward::builder(env!("CARGO_BIN_EXE_ward"))
        .ssh(port)
        .user("alice", &["ops"])
        .user("bob", &["interns"])
        .grant("ops", "web1")
        .ssh_resource("web1", &sshd)
        .start()
        .expect("ward");
    sshd.start(&ward.dir.join("ssh_client_key.pub"))
        .expect("sshd starts");

    let out = ssh(
        &ward,
        port,
        "alice:web1",
        PASSWORD,
        "echo hello from web1; echo card 4111 1111 1111 1111; echo oops >&2; exit 3",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("hello from web1"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The person sees what the host sent; the record has it masked.
    assert!(stdout.contains("4111 1111 1111 1111"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops"));
    assert_eq!(out.status.code(), Some(3));

    let sessions = ward.wait_sessions(1);
    let s = sessions
        .iter()
        .find(|s| s["protocol"] == "ssh")
        .expect("an ssh session");
    assert_eq!(s["user"], "alice");
    assert_eq!(s["resource"], "web1");
    let events = ward.events(s["id"].as_str().expect("id"));
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    let command = events
        .iter()
        .find(|e| e["kind"] == "exec.command")
        .expect("exec.command");
    assert!(
        command["payload"]["command"]
            .as_str()
            .unwrap_or_default()
            .starts_with("echo hello from web1"),
        "{command}"
    );
    let output: String = events
        .iter()
        .filter(|e| e["kind"] == "term.output")
        .filter_map(|e| e["payload"]["data"].as_str())
        .collect();
    assert!(output.contains("hello from web1"), "{kinds:?}");
    assert!(!output.contains("4111 1111 1111 1111"), "{output}");
    let exit = events
        .iter()
        .find(|e| e["kind"] == "exec.exit")
        .expect("exec.exit");
    assert_eq!(exit["payload"]["status"], 3);
    let verify = ward.cli(&["verify", "--session", s["id"].as_str().expect("id")]);
    success(&verify);
    // The replay plays what the terminal showed (masked), at its pace.
    let id = s["id"].as_str().expect("id");
    let replay = success(&ward.cli(&["replay", id, "--speed", "4"]));
    assert!(replay.contains("hello from web1"), "{replay}");
    assert!(!replay.contains("4111 1111 1111 1111"), "{replay}");
    // asciicast v2 for asciinema: a header, the command as a marker, the output.
    let cast_file = ward.dir.join("session.cast");
    success(&ward.cli(&[
        "export",
        id,
        "--format",
        "asciicast",
        "--out",
        cast_file.to_str().expect("path"),
    ]));
    let cast = std::fs::read_to_string(&cast_file).expect("cast");
    let lines: Vec<serde_json::Value> = cast
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines[0]["version"], 2);
    assert!(lines.iter().any(|l| {
        l[1] == "m"
            && l[2]
                .as_str()
                .unwrap_or_default()
                .starts_with("$ echo hello")
    }));
    assert!(lines.iter().any(|l| {
        l[1] == "o"
            && l[2]
                .as_str()
                .unwrap_or_default()
                .contains("hello from web1")
    }));
    // asciinema's own reader (Debian's package, which `.ci/run` installs) loads it and finds
    // the output.
    if std::env::var_os("CI").is_some() || Path::new("/usr/bin/asciinema").exists() {
        let read = Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import sys\nfrom asciinema import asciicast\nwith asciicast.open_from_url(sys.argv[1]) as a:\n    print(''.join(e[2] for e in a.stdout_events()))",
            ])
            .arg(&cast_file)
            .output()
            .expect("asciinema's reader");
        assert!(
            String::from_utf8_lossy(&read.stdout).contains("hello from web1"),
            "{}",
            String::from_utf8_lossy(&read.stderr)
        );
    }

    // An interactive shell on a terminal (`-tt`): what was typed runs, the screen is recorded.
    let shell = ssh_client(
        &ward.dir,
        port,
        "alice:web1",
        PASSWORD,
        &["-tt"],
        Some("echo shell says $((6*7))\nexit\n"),
    );
    let screen = String::from_utf8_lossy(&shell.stdout);
    assert!(screen.contains("shell says 42"), "{screen}");
    let sessions = ward.wait_sessions(2);
    let last = sessions.last().expect("the shell session");
    let events = ward.events(last["id"].as_str().expect("id"));
    assert!(
        events.iter().any(|e| e["kind"] == "term.resize"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "exec.command" && e["payload"]["shell"] == true)
    );
    let output: String = events
        .iter()
        .filter(|e| e["kind"] == "term.output")
        .filter_map(|e| e["payload"]["data"].as_str())
        .collect();
    assert!(output.contains("shell says 42"), "{output}");

    // A wrong password and a user without a grant are refused, and recorded.
    let wrong = ssh(&ward, port, "alice:web1", "not the password", "true");
    assert_ne!(wrong.status.code(), Some(0));
    let intern = ssh(&ward, port, "bob:web1", PASSWORD, "true");
    assert_ne!(intern.status.code(), Some(0));
    let sessions = ward.wait_sessions(4);
    let denied: Vec<&serde_json::Value> = sessions
        .iter()
        .filter(|s| s["protocol"] == "ssh" && s["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), 2, "{sessions:?}");
}

#[test]
fn an_agent_runs_a_command_on_an_ssh_resource_through_mcp() {
    let mut sshd = Sshd::prepare().expect("sshd");
    let ward = Ward::builder(env!("CARGO_BIN_EXE_ward"))
        .web(free_port().expect("port"))
        .grant("agents", "web1")
        .ssh_resource("web1", &sshd)
        .start()
        .expect("ward");
    sshd.start(&ward.dir.join("ssh_client_key.pub"))
        .expect("sshd starts");
    let created = success(&ward.cli(&[
        "service-accounts",
        "create",
        "ops-bot",
        "--groups",
        "agents",
    ]));
    let key = created
        .lines()
        .find(|l| l.starts_with("ward_sa_"))
        .expect("key")
        .to_owned();
    let plan = serde_json::json!([
        { "call": "list_resources", "args": {} },
        { "call": "note", "args": { "text": "Looking at the payment log on web1." } },
        { "call": "exec", "args": { "resource": "web1", "command": "echo paid with 4111 1111 1111 1111; echo warning >&2; exit 2" } }
    ]);
    let plan_file = ward.dir.join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).expect("plan");
    let out = Command::new("python3")
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/mcp-client/agent.py"),
        )
        .args([
            "http",
            "--url",
            &format!("{}/mcp", ward.web_url()),
            "--key",
            &key,
            "--ca-file",
        ])
        .arg(ward.ca_cert())
        .arg("--plan")
        .arg(&plan_file)
        .output()
        .expect("agent.py");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let resources = &lines[0]["structured"]["resources"];
    assert_eq!(resources[0]["kind"], "ssh", "{resources}");
    let ran = &lines[2]["structured"];
    assert_eq!(ran["exit_status"], 2, "{ran}");
    let stdout = ran["stdout"].as_str().unwrap_or_default();
    assert!(stdout.contains("paid with"), "{ran}");
    assert!(!stdout.contains("4111 1111 1111 1111"), "{ran}");
    assert!(
        ran["stderr"]
            .as_str()
            .unwrap_or_default()
            .contains("warning")
    );

    let sessions = ward.wait_sessions(1);
    let mcp = sessions
        .iter()
        .find(|s| s["protocol"] == "mcp")
        .expect("the agent's session");
    let events = ward.events(mcp["id"].as_str().expect("id"));
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| {
            matches!(
                *k,
                "agent.note" | "exec.command" | "term.output" | "exec.exit"
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "agent.note",
            "exec.command",
            "term.output",
            "term.output",
            "exec.exit"
        ]
    );
    let stored = events
        .iter()
        .map(serde_json::Value::to_string)
        .collect::<String>();
    assert!(!stored.contains("4111 1111 1111 1111"));
}
