//! OpenSSH's `ssh` through Ward to a real `sshd`: a command runs with its output and exit
//! status, what came back is recorded (masked), refusals are recorded as denied, and Ward logs
//! in to hosts with its key, a certificate, or a host key trusted on first use.

use std::path::Path;
use std::process::{Command, Output};

use ward_testkit::{PASSWORD, Sshd, Ward, free_port, of_kind, ssh_client, ssh_gateway, success};

fn ssh(ward: &Ward, port: u16, user: &str, password: &str, command: &str) -> Output {
    ssh_client(&ward.dir, port, user, password, &[command], None)
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn ssh_exec_through_ward_is_relayed_and_recorded() {
    let (_sshd, ward, port) = ssh_gateway(crate::WARD, |b, sshd| {
        b.user("alice", &["ops"])
            .user("bob", &["interns"])
            .grant("ops", "web1")
            .ssh_resource("web1", sshd)
    });

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
    let (_sshd, ward, _port) = ssh_gateway(crate::WARD, |b, sshd| {
        b.web(free_port().expect("port"))
            .grant("agents", "web1")
            .ssh_resource("web1", sshd)
            .config("[[guardrails]]\nname = \"no-rm-rf\"\nresources = [\"web1\"]\npattern = \"rm -rf\"\n")
    });
    let victim = ward.dir.join("victim");
    std::fs::create_dir_all(&victim).expect("victim");
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
        { "call": "exec", "args": { "resource": "web1", "command": "echo paid with 4111 1111 1111 1111; echo warning >&2; exit 2" } },
        { "call": "exec", "args": { "resource": "web1", "command": format!("rm -rf {}", victim.display()) } }
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
    // The guardrail a person's `ssh web1 rm -rf …` meets stops the agent's command too.
    let denied = &lines[3];
    assert_eq!(denied["is_error"], true, "{denied}");
    assert_eq!(denied["structured"]["rule"], "no-rm-rf", "{denied}");
    assert!(victim.exists(), "the denied command ran");

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
            "exec.exit",
            "exec.command"
        ]
    );
    let denial = events
        .iter()
        .find(|e| e["kind"] == "policy.denied")
        .expect("the denial is recorded");
    assert_eq!(denial["payload"]["rule"], "no-rm-rf", "{denial}");
    let stored = events
        .iter()
        .map(serde_json::Value::to_string)
        .collect::<String>();
    assert!(!stored.contains("4111 1111 1111 1111"));
}

#[test]
fn ward_logs_in_to_a_host_that_trusts_its_upstream_ca_with_a_certificate() {
    let mut sshd = Sshd::prepare().expect("sshd");
    let port = free_port().expect("port");
    let ward = Ward::builder(crate::WARD)
        .ssh(port)
        .user("alice", &["ops"])
        .grant("ops", "web1")
        .ssh_resource_with("web1", &sshd, "login = \"certificate\"")
        .start()
        .expect("ward");
    sshd.start_trusting(&ward.dir.join("ssh_upstream_ca.pub"))
        .expect("sshd starts");
    let out = ssh(
        &ward,
        port,
        "alice:web1",
        PASSWORD,
        "echo logged in by certificate",
    );
    assert!(
        text(&out.stdout).contains("logged in by certificate"),
        "{}",
        text(&out.stderr)
    );
    // sshd logged the certificate's key id: the Ward session.
    let sessions = ward.wait_sessions(1);
    let id = sessions[0]["id"].as_str().expect("id");
    let log = std::fs::read_to_string(sshd.dir.join("sshd.log")).expect("sshd log");
    assert!(log.contains(&format!("ward-session:{id}")), "{log}");
}

#[test]
fn a_host_key_trusted_on_first_use_is_kept_and_a_changed_one_is_refused() {
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let (mut sshd, ward, port) = ssh_gateway(crate::WARD, |b, sshd| {
        b
            .user("alice", &["ops"])
            .grant("ops", "web1")
            .config(&format!(
                "[[resources]]\nname = \"web1\"\nkind = \"ssh\"\naddress = \"{}\"\nuser = \"{user}\"\ntrust_on_first_use = true\n",
                sshd.address()
            ))
    });
    for n in ["first", "second"] {
        let out = ssh(
            &ward,
            port,
            "alice:web1",
            PASSWORD,
            &format!("echo {n} use"),
        );
        assert!(
            text(&out.stdout).contains(&format!("{n} use")),
            "{}",
            text(&out.stderr)
        );
    }
    // The host comes back with another key: refused, and the person is told why.
    sshd.replace_host_key().expect("new host key");
    let out = ssh(&ward, port, "alice:web1", PASSWORD, "echo third use");
    assert!(!text(&out.stdout).contains("third use"));
    assert!(
        text(&out.stderr).contains("trusted") && text(&out.stderr).contains("on first use"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_command_streaming_past_the_cap_is_counted_and_hashed_not_stored() {
    use sha2::Digest as _;
    let (_sshd, ward, port) = ssh_gateway(crate::WARD, |b, sshd| {
        b.user("alice", &["ops"])
            .grant("ops", "web1")
            .ssh_resource("web1", sshd)
            .recording("max_result_bytes = \"1MiB\"")
    });
    let out = ssh(
        &ward,
        port,
        "alice:web1",
        PASSWORD,
        "head -c 3000000 /dev/zero; echo done >&2",
    );
    assert_eq!(out.stdout.len(), 3_000_000, "the client gets every byte");
    let sessions = ward.wait_sessions(1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let outputs = of_kind(&events, "term.output");
    let stored: usize = outputs
        .iter()
        .filter(|e| e["payload"]["stream"].is_null() && e["payload"]["truncated"].is_null())
        .map(|e| {
            let output: ward_core::payload::Terminal =
                serde_json::from_value(e["payload"].clone()).expect("term.output");
            ward_web::asciicast::output_text(&output).len()
        })
        .sum();
    assert_eq!(stored, 1 << 20);
    let rest = 3_000_000 - (1 << 20);
    let truncated = outputs
        .iter()
        .find(|e| e["payload"]["truncated"] == true)
        .expect("a truncated marker");
    assert_eq!(truncated["payload"]["bytes_not_stored"], rest);
    let expected: String = sha2::Sha256::digest(vec![0u8; rest])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(truncated["payload"]["sha256_not_stored"], expected.as_str());
    // Standard error is under the cap: stored.
    assert!(outputs.iter().any(|e| e["payload"]["data"] == "done\n"));
}

/// Connections that never log in are bounded: past 256 in their handshake, the next is told
/// why and closed before Ward spends a key exchange on it; once they go, people log in again.
#[test]
fn connections_that_never_log_in_are_bounded() {
    use std::io::Read;
    use std::net::TcpStream;
    use std::time::Duration;

    let (_sshd, ward, port) = ssh_gateway(crate::WARD, |b, sshd| {
        b.user("alice", &["ops"])
            .grant("ops", "web1")
            .ssh_resource("web1", sshd)
    });
    let connect = || TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let waiting: Vec<TcpStream> = (0..256).map(|_| connect()).collect();
    // Each is accepted and waits for the client's version: give the last ones time to be taken.
    std::thread::sleep(Duration::from_millis(500));
    let mut one_more = connect();
    one_more
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut said = String::new();
    let _ = one_more.read_to_string(&mut said);
    assert!(said.contains("too many connections"), "{said:?}");
    assert!(!said.contains("SSH-2.0"), "{said:?}");
    drop(waiting);
    std::thread::sleep(Duration::from_millis(500));
    let out = ssh(&ward, port, "alice:web1", PASSWORD, "echo still serving");
    assert!(
        text(&out.stdout).contains("still serving"),
        "{}",
        text(&out.stderr)
    );
}
