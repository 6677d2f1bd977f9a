//! `ward demo` on this machine: it prints psql and mariadb lines that work as printed, the
//! support user sees the shop's card numbers and e-mail addresses masked, the store holds none
//! of them in clear, and SIGTERM stops everything and leaves the recording behind. However the demo ends
//! (a signal, a closed stdout, a panic, `kill -9`), no process of its own is left running; a
//! second demo on the same directory is refused; and the CLI finds the same files whichever
//! way the config is named.

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ward_testkit::{free_port, run};

use crate::WARD;

/// A running `ward demo`, killed if the test ends first.
struct Demo {
    child: Child,
    lines: Option<Lines<BufReader<ChildStdout>>>,
    /// What it printed up to "Ctrl-C stops".
    printed: String,
}

impl Demo {
    /// Starts a demo on `dir` with free ports and waits until it says how to connect.
    fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut demo = Self::spawn(dir, env);
        let lines = demo.lines.as_mut().expect("stdout");
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            demo.printed.push_str(&line);
            demo.printed.push('\n');
            if line.contains("Ctrl-C stops") {
                return demo;
            }
        }
        let _ = demo.child.kill();
        let mut err = String::new();
        if let Some(mut e) = demo.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        panic!(
            "the demo did not get ready:\n{}\nstderr:\n{err}",
            demo.printed
        )
    }

    fn spawn(dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = |p: u16| p.to_string();
        let mut child = Command::new(WARD)
            .args(["demo", "--dir", dir.to_str().expect("path"), "--port"])
            .arg(port(free_port().expect("port")))
            .arg("--mysql-port")
            .arg(port(free_port().expect("port")))
            .arg("--web-port")
            .arg(port(free_port().expect("port")))
            .arg("--ssh-port")
            .arg(port(free_port().expect("port")))
            .arg("--http-port")
            .arg(port(free_port().expect("port")))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ward demo");
        let lines = child.stdout.take().map(|s| BufReader::new(s).lines());
        Self {
            child,
            lines,
            printed: String::new(),
        }
    }

    /// The printed line that starts with `prefix` (trimmed).
    fn line(&self, prefix: &str) -> Option<String> {
        self.printed
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(str::to_owned)
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(run("kill", &[name, &pid]).status.success());
    }

    /// Waits for the demo to end; returns its status and what it wrote on stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return (status, err);
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the demo did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether MariaDB's server is installed, so the demo has its MySQL resource.
fn mariadb_installed() -> bool {
    Path::new("/usr/sbin/mariadbd").exists()
}

/// The processes a demo with this pid started: its PostgreSQL cluster, its MariaDB, its sshd
/// and its model stand-in, found by the directories they run from (`/tmp/ward-pg-PID-…`,
/// `/tmp/ward-mariadb-PID-…`, `/tmp/ward-sshd-PID-…`, `/tmp/ward-model-PID-…`).
fn processes_of(demo_pid: u32) -> Vec<(u32, String)> {
    let marks = [
        format!("/ward-pg-{demo_pid}-"),
        format!("/ward-mariadb-{demo_pid}-"),
        format!("/ward-sshd-{demo_pid}-"),
        format!("/ward-model-{demo_pid}-"),
    ];
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if marks.iter().any(|m| cmdline.contains(m.as_str())) && ward_local::child::alive(pid) {
            found.push((pid, cmdline));
        }
    }
    found
}

/// Waits until nothing the demo `demo_pid` started is running.
fn assert_nothing_left(demo_pid: u32, how: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = processes_of(demo_pid);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {how}, the demo left running: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ward-demo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts a demo, checks that its PostgreSQL (and MariaDB and sshd) run, ends it with `stop`, and checks
/// that they are gone. Returns the demo's exit status and stderr.
fn ends_leaving_nothing(name: &str, env: &[(&str, &str)], stop: &str) -> (ExitStatus, String) {
    let dir = scratch(name);
    let demo = Demo::start(&dir, env);
    let pid = demo.child.id();
    let running = processes_of(pid);
    assert!(
        running.iter().any(|(_, cmd)| cmd.contains("postgres")),
        "the scanner must see the demo's PostgreSQL while it runs: {running:?}"
    );
    if mariadb_installed() {
        assert!(
            running.iter().any(|(_, cmd)| cmd.contains("mariadbd")),
            "{running:?}"
        );
    }
    if Path::new("/usr/sbin/sshd").exists() {
        assert!(
            running.iter().any(|(_, cmd)| cmd.contains("sshd")),
            "{running:?}"
        );
    }
    assert!(
        running.iter().any(|(_, cmd)| cmd.contains("server.mjs")),
        "the model stand-in (node) runs too: {running:?}"
    );
    let ended = match stop {
        "" => demo.wait(),
        signal => {
            demo.signal(signal);
            demo.wait()
        }
    };
    assert_nothing_left(pid, &format!("{name} ({stop})"));
    let _ = std::fs::remove_dir_all(&dir);
    ended
}

#[test]
fn ctrl_c_sigterm_and_sighup_stop_the_demo_and_everything_it_started() {
    for (name, signal) in [("int", "-INT"), ("term", "-TERM"), ("hup", "-HUP")] {
        let (status, stderr) = ends_leaving_nothing(name, &[], signal);
        assert!(status.success(), "{signal}: {status}\n{stderr}");
    }
}

#[test]
fn a_panicking_demo_leaves_nothing_running() {
    let (status, stderr) = ends_leaving_nothing("panic", &[("WARD_DEMO_FAILPOINT", "panic")], "");
    assert!(!status.success());
    assert!(stderr.contains("panics on purpose"), "{stderr}");
}

#[test]
fn kill_9_leaves_nothing_running_and_the_next_demo_clears_what_remains() {
    let dir = scratch("kill9");
    let demo = Demo::start(&dir, &[]);
    let pid = demo.child.id();
    let children = std::fs::read_to_string(dir.join("demo.children")).expect("demo.children");
    let dir_of = |name: &str| {
        children
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|l| l.split_once(' '))
            .map(|(_, dir)| PathBuf::from(dir))
    };
    let cluster_dir = dir_of("postgres ").expect("the cluster's directory");
    assert!(cluster_dir.exists());
    let mariadb_dir = dir_of("mariadbd ");
    assert_eq!(mariadb_dir.is_some(), mariadb_installed(), "{children}");
    demo.signal("-KILL");
    let (status, _) = demo.wait();
    assert!(!status.success());
    assert_nothing_left(pid, "kill -9");
    // Nothing ran Ward's clean-up: the servers' files are still there, until the next demo.
    assert!(cluster_dir.exists());
    assert!(mariadb_dir.as_ref().is_none_or(|d| d.exists()));
    let next = Demo::start(&dir, &[]);
    for left in std::iter::once(&cluster_dir).chain(&mariadb_dir) {
        assert!(!left.exists(), "the next demo removes {left:?}");
    }
    let next_pid = next.child.id();
    next.signal("-INT");
    let (status, stderr) = next.wait();
    assert!(status.success(), "{status}: {stderr}");
    assert_nothing_left(next_pid, "Ctrl-C");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_stdout_stops_the_demo_with_a_message() {
    // `ward demo | head -n 1`: the reader goes away before the demo says how to connect.
    let dir = scratch("stdout");
    let mut demo = Demo::spawn(&dir, &[]);
    let first = demo
        .lines
        .as_mut()
        .and_then(|l| l.next())
        .expect("a first line")
        .expect("utf-8");
    assert!(first.starts_with("Starting"), "{first}");
    demo.lines = None;
    let pid = demo.child.id();
    let (status, stderr) = demo.wait();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stdout was closed"), "{stderr}");
    assert_nothing_left(pid, "a closed stdout");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_demo_on_the_same_directory_says_so_and_the_next_demo_stops_leftovers() {
    let dir = scratch("twice");
    let first = Demo::start(&dir, &[]);
    let second = Demo::spawn(&dir, &[]);
    let (status, stderr) = second.wait();
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains(&format!(
            "another `ward demo` (pid {}) is running with",
            first.child.id()
        )),
        "{stderr}"
    );
    let first_pid = first.child.id();
    first.signal("-INT");
    let (status, stderr) = first.wait();
    assert!(status.success(), "{status}: {stderr}");
    assert_nothing_left(first_pid, "Ctrl-C");

    // A PostgreSQL that an earlier demo started and did not stop (an older ward, say) is
    // stopped by the next demo on that directory.
    let stale = ward_testkit::Postgres::start(&Default::default()).expect("a cluster");
    let stale_pid = stale.cluster.pid().expect("running");
    std::fs::write(
        dir.join("demo.children"),
        format!("postgres {stale_pid} {}\n", stale.cluster.root.display()),
    )
    .expect("write");
    let demo = Demo::start(&dir, &[]);
    assert!(
        demo.printed.contains(&format!(
            "Stopped postgres (pid {stale_pid}), which an earlier demo left running."
        )),
        "{}",
        demo.printed
    );
    assert!(!ward_local::child::alive(stale_pid));
    drop(demo);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ward keys show` finds the same signing key whether its config is named relatively (from
/// the directory holding it, as the README's tour does), absolutely, through a symlink, or
/// through `..`, from any working directory.
#[test]
fn the_cli_finds_the_same_files_however_the_config_is_named() {
    let top = scratch("paths");
    let data = top.join("ward-data");
    std::fs::create_dir_all(&data).expect("dir");
    std::fs::write(
        data.join("ward.toml"),
        "[store]\npath = \"ward.db\"\n[tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n",
    )
    .expect("config");
    let key = ward_store::keys::SigningKey::generate().expect("key");
    key.save(&data.join("signing.key")).expect("save");
    let elsewhere = top.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    std::os::unix::fs::symlink(data.join("ward.toml"), elsewhere.join("link.toml"))
        .expect("symlink");
    let absolute = data.join("ward.toml");
    for (cwd, config) in [
        (top.as_path(), "ward-data/ward.toml"),
        (data.as_path(), "ward.toml"),
        (Path::new("/"), absolute.to_str().expect("path")),
        (elsewhere.as_path(), "link.toml"),
        (elsewhere.as_path(), "../ward-data/ward.toml"),
    ] {
        let out = Command::new(WARD)
            .args(["keys", "show", "--config", config])
            .current_dir(cwd)
            .output()
            .expect("ward keys show");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("public key:  {}", key.public())),
            "--config {config} from {}: {text}{}",
            cwd.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        !data.join("ward-data").exists(),
        "nothing under a doubled path"
    );
    let _ = std::fs::remove_dir_all(&top);
}

#[test]
fn demo_prints_working_psql_and_mariadb_lines_and_stops_cleanly() {
    let dir = scratch("tour");
    let demo = Demo::start(&dir, &[]);
    let printed = demo.printed.clone();
    let psql_line = demo.line("psql \"postgresql://demo:");
    let support_line = demo.line("psql \"postgresql://support:");
    let mcp_line = demo.line("endpoint https://");
    let ui_line = demo.line("https://127.0.0.1:");
    let ssh_line = demo.line("ssh -p ");
    let curl_line = demo.line("curl --cacert ");
    let psql_line = psql_line.unwrap_or_else(|| panic!("no psql line in:\n{printed}"));
    // The printed curl line asks the assistant through Ward, as pasted.
    let curl_line = curl_line.unwrap_or_else(|| panic!("no assistant line in:\n{printed}"));
    let answer = run("sh", &["-c", &format!("{curl_line} -sS")]);
    let answer: serde_json::Value = serde_json::from_slice(&answer.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&answer.stderr)));
    let said = answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(said.contains("SELECT count(*) FROM orders"), "{answer}");
    // The printed `ward sessions list` line works as printed, from anywhere: it names this
    // binary (not on PATH here) and the config by absolute paths.
    let list_line = printed
        .lines()
        .map(str::trim)
        .find(|l| {
            l.ends_with(&format!(
                "sessions list --config {}",
                dir.join("ward.toml").display()
            ))
        })
        .unwrap_or_else(|| panic!("no sessions list line in:\n{printed}"));
    assert!(list_line.starts_with(WARD), "{list_line}");
    let listed = run("sh", &["-c", list_line]);
    assert!(listed.status.success(), "{list_line}: {listed:?}");

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

    // The printed mariadb lines reach the same shop in the demo's MariaDB, over TLS checked
    // against Ward's certificate: demo sees it in clear, support masked.
    let mysql_sessions = if mariadb_installed() {
        let mariadb_line = |user: &str| {
            printed
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("mariadb ") && l.contains(&format!(" -u {user} ")))
                .unwrap_or_else(|| panic!("no mariadb line for {user} in:\n{printed}"))
        };
        let mariadb = |line: &str, sql: &str| {
            // As pasted, but reading no option file (as psql's -X reads no .psqlrc).
            let line = line.replacen("mariadb ", "mariadb --no-defaults ", 1);
            let out = run(
                "sh",
                &[
                    "-c",
                    &format!("{line} --batch --skip-column-names -e \"{sql}\""),
                ],
            );
            assert!(
                out.status.success(),
                "{line}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let demo_line = mariadb_line("demo");
        assert!(demo_line.contains(" -D shop-mysql "), "{demo_line}");
        assert_eq!(mariadb(demo_line, "SELECT count(*) FROM customers"), "8");
        assert_eq!(
            mariadb(demo_line, ada),
            "ada@example.com\t4111 1111 1111 1111"
        );
        assert_eq!(
            mariadb(mariadb_line("support"), ada),
            "[REDACTED:email]\t**** **** **** 1111"
        );
        3
    } else {
        assert!(printed.contains("(no MySQL resource: "), "{printed}");
        0
    };

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

    let pid = demo.child.id();
    demo.signal("-TERM");
    let (status, stderr) = demo.wait();
    assert!(status.success(), "{status}\n{stderr}");
    assert_nothing_left(pid, "SIGTERM");

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
        6 + ssh + mysql_sessions,
        "three psql sessions, the auditor's sign-in, the agent's session, the assistant's (and the ssh one, and three mariadb ones)"
    );
    let show = |session: &serde_json::Value| {
        let out = run(
            WARD,
            &[
                "sessions",
                "show",
                session["id"].as_str().expect("id"),
                "--json",
                "--config",
                config.to_str().expect("path"),
            ],
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    if mysql_sessions > 0 {
        // The record of the mariadb line's count: the statement and its result.
        let counted = sessions
            .iter()
            .filter(|s| s["resource"] == "shop-mysql" && s["user"] == "demo")
            .map(show)
            .find(|shown| {
                shown["events"].as_array().is_some_and(|events| {
                    events.iter().any(|e| {
                        e["kind"] == "db.query"
                            && e["payload"]["text"] == "SELECT count(*) FROM customers"
                    })
                })
            })
            .unwrap_or_else(|| panic!("no recorded count in {sessions:?}"));
        assert_eq!(counted["session"]["protocol"], "mysql", "{counted}");
        let result = counted["events"]
            .as_array()
            .and_then(|events| events.iter().find(|e| e["kind"] == "db.result"))
            .unwrap_or_else(|| panic!("no db.result in {counted}"));
        assert_eq!(
            result["payload"]["rows"],
            serde_json::json!([["8"]]),
            "{result}"
        );
    }
    let asked = sessions
        .iter()
        .find(|s| s["resource"] == "assistant")
        .expect("the assistant's session");
    let events = run(
        WARD,
        &[
            "sessions",
            "show",
            asked["id"].as_str().expect("id"),
            "--json",
            "--config",
            config.to_str().expect("path"),
        ],
    );
    let events = String::from_utf8_lossy(&events.stdout);
    assert!(events.contains("\"ai.completion\""), "{events}");
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
        1 + usize::from(mysql_sessions > 0)
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
