//! The stand-in Kubernetes API server (`tools/kube-apiserver`) that Ward's kubectl relay will be
//! tested against, driven here directly by the real kubectl 1.37 of its venv (`./x setup` makes
//! it): discovery, apply (client- and server-side), get in every output, watches, logs, exec with
//! and without a terminal, cp both ways, port-forward, and errors as kubectl prints them for a
//! real cluster, with the audit line the stand-in writes for each request.
//!
//! Every child (the stand-in, kubectl, `script`) runs under a deadline and is killed by a guard.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const TOKENS: [(&str, &str); 3] = [
    ("alice", "alice-token"),
    ("ward", "ward-token"),
    ("viewer", "viewer-token"),
];
const DEADLINE: Duration = Duration::from_secs(30);

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/kube-apiserver")
}

fn kubectl_bin() -> PathBuf {
    let bin = tool().join(".venv/bin/kubectl");
    assert!(
        bin.exists(),
        "{} is missing: `./x setup` makes tools/kube-apiserver/.venv",
        bin.display()
    );
    bin
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A child process killed (and reaped) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command` to completion, killing it at `DEADLINE`; stdin is `input`.
fn bounded(mut command: Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("{command:?} ran past {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

/// Starts `command` in the background: its guard and the lines it prints.
fn spawn(mut command: Command) -> (Guard, Lines) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let lines = Lines::of(&mut child);
    (Guard(child), lines)
}

/// Lines a running child prints (stdout and stderr), as they come.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(child: &mut Child) -> Self {
        let (tx, rx) = mpsc::channel();
        let out = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let err = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        for stream in [out, err].into_iter().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        Self {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`; panics with what was seen after `DEADLINE`.
    fn wait_for(&mut self, needle: &str) -> String {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Ok(line) = self.rx.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!("no line with {needle:?} in {:#?}", self.seen);
    }
}

/// A running stand-in with a kubeconfig holding a context per user (`alice`, `ward` who may
/// impersonate, `viewer` who may only read).
struct Standin {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Standin {
    fn start() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ward-kube-standin-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).expect("temp dir");
        let (cert, key) = ward_testkit::tls_pair();
        std::fs::write(dir.join("cert.pem"), &cert).expect("cert");
        std::fs::write(dir.join("key.pem"), &key).expect("key");
        let python = tool().join(".venv/bin/python");
        assert!(
            python.exists(),
            "`./x setup` makes tools/kube-apiserver/.venv"
        );
        let mut command = Command::new(python);
        command
            .arg(tool().join("server.py"))
            .arg("--cert")
            .arg(dir.join("cert.pem"))
            .arg("--key")
            .arg(dir.join("key.pem"))
            .args([
                "--port",
                "0",
                "--impersonator",
                "ward",
                "--read-only",
                "viewer",
            ])
            .arg("--audit")
            .arg(dir.join("audit.jsonl"))
            .arg("--state-dir")
            .arg(dir.join("state"));
        for (user, token) in TOKENS {
            command.args(["--token", &format!("{user}={token}")]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(DEADLINE).unwrap_or_default();
        let ready: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let Some(port) = ready["port"].as_u64() else {
            let _ = child.kill();
            panic!("the stand-in did not start: {line:?}");
        };
        let standin = Self {
            child,
            dir,
            port: u16::try_from(port).expect("port"),
        };
        standin.write_kubeconfig();
        standin
    }

    fn write_kubeconfig(&self) {
        let mut config = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: alice\nclusters:\n- name: standin\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\nusers:\n",
            self.port,
            self.dir.join("cert.pem").display()
        );
        for (user, token) in TOKENS {
            config += &format!("- name: {user}\n  user:\n    token: {token}\n");
        }
        config += "contexts:\n";
        for (user, _) in TOKENS {
            config += &format!(
                "- name: {user}\n  context:\n    cluster: standin\n    user: {user}\n    namespace: default\n"
            );
        }
        std::fs::write(self.dir.join("kubeconfig"), config).expect("kubeconfig");
    }

    /// kubectl with this stand-in's kubeconfig, its own HOME and discovery cache.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(kubectl_bin());
        self.environment(&mut command);
        command.args(args);
        command
    }

    fn environment(&self, command: &mut Command) {
        command
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env("HOME", self.dir.join("home"))
            .env("KUBECACHEDIR", self.dir.join("home/cache"))
            .current_dir(&self.dir);
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        bounded(self.command(args), b"")
    }

    /// `kubectl ARGS`, which must succeed: its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `kubectl ARGS`, which must fail: its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} succeeded: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    fn spawn(&self, args: &[&str]) -> (Guard, Lines) {
        spawn(self.command(args))
    }

    fn apply(&self, manifest: &str, extra: &[&str]) -> String {
        let mut args = vec!["apply", "-f", "-"];
        args.extend_from_slice(extra);
        let out = bounded(self.command(&args), manifest.as_bytes());
        assert!(out.status.success(), "apply: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// A pod running `script` in `sh -c`, once it is Ready.
    fn run_pod(&self, name: &str, script: &str, annotations: &str) {
        let manifest = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: {name}}}\n  annotations: {{{annotations}}}\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: [\"sh\", \"-c\", {script:?}]\n"
        );
        assert!(
            self.apply(&manifest, &[])
                .contains(&format!("pod/{name} created"))
        );
        self.ok(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{name}"),
            "--timeout=20s",
        ]);
    }

    /// The audit lines so far.
    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The audit lines matching every `(key, value)` of `want`.
    fn audited(&self, want: &[(&str, Value)]) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|line| want.iter().all(|(k, v)| &line[*k] == v))
            .collect()
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        // SIGTERM lets it kill its pods' processes; SIGKILL if it takes too long.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn discovery_apply_get_and_delete_as_for_a_real_cluster() {
    let k = Standin::start();
    assert!(
        k.ok(&["version"])
            .contains("Server Version: v1.37.0-standin")
    );
    let resources = k.ok(&["api-resources"]);
    assert!(
        resources.lines().any(
            |l| l.split_whitespace().collect::<Vec<_>>() == ["pods", "po", "v1", "true", "Pod"]
        ),
        "{resources}"
    );

    // Client-side apply: created, then configured by a strategic merge patch (a key removed).
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {tier: web}\ndata:\n  color: blue\n  size: large\n";
    assert_eq!(k.apply(manifest, &[]), "configmap/settings created\n");
    let changed = manifest
        .replace("blue", "green")
        .replace("  size: large\n", "");
    assert_eq!(k.apply(&changed, &[]), "configmap/settings configured\n");
    assert_eq!(
        k.ok(&["get", "configmap", "settings", "-o", "jsonpath={.data}"]),
        r#"{"color":"green"}"#
    );
    let yaml = k.ok(&["get", "cm", "settings", "-o", "yaml"]);
    assert!(
        yaml.contains("  color: green\n")
            && yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
        "{yaml}"
    );
    let json: Value =
        serde_json::from_str(&k.ok(&["get", "cm", "-l", "tier=web", "-o", "json"])).expect("json");
    assert_eq!(json["kind"], "List");
    assert_eq!(json["items"][0]["metadata"]["name"], "settings");
    assert_eq!(k.ok(&["get", "cm", "-l", "tier=db", "-o", "name"]), "");
    let table = k.ok(&["get", "configmaps"]);
    assert!(
        table.starts_with("NAME       DATA   AGE\nsettings   1      "),
        "{table}"
    );
    let described = k.ok(&["describe", "configmap", "settings"]);
    assert!(
        described.contains("Name:         settings") && described.contains("color:\n----\ngreen"),
        "{described}"
    );

    // Server-side apply: a field the manager stops applying goes; another manager conflicts.
    let ssa =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n  b: \"2\"\n";
    assert_eq!(
        k.apply(ssa, &["--server-side"]),
        "configmap/ssa serverside-applied\n"
    );
    k.apply(&ssa.replace("  b: \"2\"\n", ""), &["--server-side"]);
    assert_eq!(
        k.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data}"]),
        r#"{"a":"1"}"#
    );
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"9\"\n";
    let out = bounded(
        k.command(&["apply", "--server-side", "--field-manager=other", "-f", "-"]),
        other.as_bytes(),
    );
    assert!(
        text(&out.stderr)
            .contains(r#"Apply failed with 1 conflict: conflict with "kubectl" using v1: .data.a"#),
        "{}",
        text(&out.stderr)
    );
    k.apply(
        other,
        &[
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
        ],
    );
    let managed = k.ok(&[
        "get",
        "cm",
        "ssa",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert_eq!(managed, "other");

    // Patches of every kind.
    k.ok(&[
        "patch",
        "cm",
        "ssa",
        "--type=merge",
        "-p",
        r#"{"data":{"m":"merge"}}"#,
    ]);
    k.ok(&[
        "patch",
        "cm",
        "ssa",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/data/j","value":"json"}]"#,
    ]);
    k.ok(&["patch", "cm", "ssa", "-p", r#"{"data":{"s":"strategic"}}"#]);
    assert_eq!(
        k.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data}"]),
        r#"{"a":"9","j":"json","m":"merge","s":"strategic"}"#
    );

    // Typed clients post protobuf.
    assert_eq!(
        k.ok(&[
            "create",
            "secret",
            "generic",
            "pw",
            "--from-literal=pw=s3cret"
        ]),
        "secret/pw created\n"
    );
    assert_eq!(
        k.ok(&["get", "secret", "pw", "-o", "jsonpath={.data.pw}"]),
        "czNjcmV0"
    );
    assert_eq!(
        k.ok(&["create", "namespace", "team"]),
        "namespace/team created\n"
    );
    assert!(k.ok(&["get", "ns", "team"]).contains("team   Active   "));

    assert_eq!(
        k.ok(&["delete", "cm", "settings"]),
        "configmap \"settings\" deleted from default namespace\n"
    );
    assert_eq!(
        k.fails(&["get", "cm", "settings"]),
        "Error from server (NotFound): configmaps \"settings\" not found\n"
    );
    assert_eq!(
        k.ok(&["delete", "ns", "team"]),
        "namespace \"team\" deleted\n"
    );

    let verbs: Vec<String> = k
        .audited(&[
            ("resource", "configmaps".into()),
            ("name", "settings".into()),
        ])
        .iter()
        .map(|l| format!("{} {}", l["verb"].as_str().unwrap_or(""), l["code"]))
        .collect();
    for want in [
        "create 201",
        "patch 200",
        "get 200",
        "delete 200",
        "get 404",
    ] {
        assert!(verbs.iter().any(|v| v == want), "{want} not in {verbs:?}");
    }
}

#[test]
fn a_pod_runs_its_command_with_logs_watch_and_describe() {
    let k = Standin::start();
    k.run_pod("ticker", "while true; do echo tick; sleep 0.3; done", "");
    let table = k.ok(&["get", "pods"]);
    let mut lines = table.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"])
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row.get(..4),
        Some(&["ticker", "1/1", "Running", "0"][..]),
        "{table}"
    );
    let described = k.ok(&["describe", "pod", "ticker"]);
    assert!(
        described.contains("Status:           Running"),
        "{described}"
    );
    assert!(described.contains("Started container main"), "{described}");

    let (guard, mut logs) = k.spawn(&["logs", "-f", "ticker"]);
    logs.wait_for("tick");
    logs.wait_for("tick");
    drop(guard);
    assert_eq!(k.ok(&["logs", "ticker", "--tail=1"]), "tick\n");

    // A watch prints the pod, then the change a label makes.
    let (guard, mut watch) = k.spawn(&["get", "pods", "-w"]);
    watch.wait_for("ticker");
    k.ok(&["label", "pod", "ticker", "seen=yes"]);
    watch.wait_for("ticker");
    drop(guard);
    let (guard, mut events) = k.spawn(&["get", "pods", "--watch-only", "-o", "json"]);
    std::thread::sleep(Duration::from_millis(500));
    k.ok(&["annotate", "pod", "ticker", "note=hi"]);
    events.wait_for(r#""note": "hi""#);
    drop(guard);
    assert!(
        !k.audited(&[
            ("verb", "watch".into()),
            ("resource", "pods".into()),
            ("code", 200.into())
        ])
        .is_empty()
    );

    assert_eq!(
        k.ok(&["delete", "pod", "ticker"]),
        "pod \"ticker\" deleted from default namespace\n"
    );
    assert_eq!(
        k.fails(&["logs", "ticker"]),
        "error: error from server (NotFound): pods \"ticker\" not found in namespace \"default\"\n"
    );
}

#[test]
fn exec_with_and_without_a_terminal_and_cp_both_ways() {
    let k = Standin::start();
    k.run_pod("box", "sleep 1000", "");

    let out = k.kubectl(&[
        "exec",
        "box",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(
        text(&out.stderr),
        "err\ncommand terminated with exit code 3\n"
    );
    let out = bounded(
        k.command(&["exec", "-i", "box", "--", "tr", "a-z", "A-Z"]),
        b"piped through\n",
    );
    assert_eq!(text(&out.stdout), "PIPED THROUGH\n");
    // Without WebSockets kubectl speaks SPDY/3.1 (as kubectl before 1.30 always did).
    let mut spdy = k.command(&[
        "exec",
        "-i",
        "box",
        "--",
        "sh",
        "-c",
        "cat; echo e >&2; exit 2",
    ]);
    spdy.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
    let out = bounded(spdy, b"over spdy\n");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "over spdy\n");
    assert_eq!(
        text(&out.stderr),
        "e\ncommand terminated with exit code 2\n"
    );
    let posted = k.audited(&[("subresource", "exec".into()), ("method", "POST".into())]);
    assert_eq!(posted.len(), 1, "{posted:#?}");

    // -it under a pty of its own (`script`): the command sees a terminal of the client's size.
    let inner = format!(
        "stty cols 91 rows 27; {} exec -it box -- sh",
        kubectl_bin().display()
    );
    let mut script = Command::new("script");
    k.environment(&mut script);
    script.args(["-qec", &inner, "/dev/null"]);
    let out = bounded(script, b"stty size; tty; exit 4\n");
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{shown}");
    assert!(shown.contains("27 91"), "{shown}");
    assert!(shown.contains("/dev/pts/"), "{shown}");

    // cp: a file and a directory into the pod, and back out.
    std::fs::write(k.dir.join("local.txt"), "hello pod\n").expect("write");
    std::fs::create_dir_all(k.dir.join("tree/inner")).expect("mkdir");
    std::fs::write(k.dir.join("tree/inner/deep.txt"), "deep\n").expect("write");
    k.ok(&["cp", "local.txt", "box:copied.txt"]);
    k.ok(&["cp", "tree", "box:tree"]);
    assert_eq!(
        k.ok(&[
            "exec",
            "box",
            "--",
            "cat",
            "copied.txt",
            "tree/inner/deep.txt"
        ]),
        "hello pod\ndeep\n"
    );
    k.ok(&["cp", "box:copied.txt", "back.txt"]);
    k.ok(&["cp", "box:tree", "tree-back"]);
    assert_eq!(
        std::fs::read_to_string(k.dir.join("back.txt")).expect("back"),
        "hello pod\n"
    );
    assert_eq!(
        std::fs::read_to_string(k.dir.join("tree-back/inner/deep.txt")).expect("deep"),
        "deep\n"
    );

    let execs = k.audited(&[("subresource", "exec".into()), ("code", 101.into())]);
    assert!(execs.len() >= 8, "{execs:#?}");
    assert!(execs.iter().any(|l| {
        l["requestURI"]
            .as_str()
            .is_some_and(|u| u.contains("command=tar"))
    }));
}

#[test]
fn port_forward_reaches_the_port_the_pod_declares() {
    let echo = TcpListener::bind("127.0.0.1:0").expect("bind");
    let echo_port = echo.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in echo.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&[b"echo:", &buf[..n]].concat()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let k = Standin::start();
    k.run_pod(
        "web",
        "sleep 1000",
        &format!("standin/port-80: \"127.0.0.1:{echo_port}\""),
    );

    // Over the WebSocket tunnel (kubectl's first choice), then over SPDY/3.1 alone.
    for websockets in ["true", "false"] {
        let mut command = k.command(&["port-forward", "pod/web", ":80", "--address=127.0.0.1"]);
        command.env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets);
        let (guard, mut lines) = spawn(command);
        let line = lines.wait_for("Forwarding from 127.0.0.1:");
        let local: u16 = line
            .trim_start_matches("Forwarding from 127.0.0.1:")
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the local port");
        for word in ["one", "two"] {
            let mut conn = TcpStream::connect(("127.0.0.1", local)).expect("connect");
            conn.set_read_timeout(Some(DEADLINE)).expect("timeout");
            conn.write_all(word.as_bytes()).expect("send");
            let mut buf = [0u8; 64];
            let n = conn.read(&mut buf).expect("echo");
            assert_eq!(&buf[..n], format!("echo:{word}").as_bytes());
        }
        lines.wait_for("Handling connection for");
        drop(guard);
    }
    let forwards: Vec<_> = k
        .audited(&[("subresource", "portforward".into()), ("code", 101.into())])
        .iter()
        .map(|l| l["method"].clone())
        .collect();
    assert_eq!(forwards, ["GET", "POST"]);
}

#[test]
fn errors_and_impersonation_print_as_for_a_real_cluster() {
    let k = Standin::start();
    assert_eq!(
        k.fails(&["get", "pod", "nope"]),
        "Error from server (NotFound): pods \"nope\" not found\n"
    );
    assert_eq!(
        k.fails(&["get", "pods", "--token=wrong"]),
        "error: You must be logged in to the server (Unauthorized)\n"
    );

    // alice may not impersonate; the audit line says whom she asked to act as.
    assert_eq!(
        k.fails(&["get", "pods", "--as=bob"]),
        "Error from server (Forbidden): users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope\n"
    );
    let refused = k.audited(&[("user", "alice".into()), ("code", 403.into())]);
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0]["impersonatedUser"], "bob");

    // ward may: the request acts as bob in group dev.
    k.ok(&[
        "--context=ward",
        "get",
        "pods",
        "--as=bob",
        "--as-group=dev",
    ]);
    let acted = k.audited(&[("user", "ward".into()), ("verb", "list".into())]);
    assert_eq!(acted.len(), 1, "{acted:#?}");
    assert_eq!(acted[0]["impersonatedUser"], "bob");
    assert_eq!(
        acted[0]["impersonatedGroups"],
        serde_json::json!(["dev", "system:authenticated"])
    );
    assert_eq!(acted[0]["resource"], "pods");
    assert_eq!(acted[0]["namespace"], "default");
    assert_eq!(acted[0]["code"], 200);

    // viewer reads, and may not write.
    k.ok(&["--context=viewer", "get", "configmaps"]);
    assert_eq!(
        k.fails(&[
            "--context=viewer",
            "create",
            "configmap",
            "x",
            "--from-literal=a=b"
        ]),
        "error: failed to create configmap: configmaps is forbidden: User \"viewer\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\"\n"
    );

    k.ok(&["create", "configmap", "dup"]);
    assert_eq!(
        k.fails(&["create", "configmap", "dup"]),
        "error: failed to create configmap: configmaps \"dup\" already exists\n"
    );
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n";
    let out = bounded(k.command(&["apply", "-f", "-"]), bad.as_bytes());
    let shown = text(&out.stderr);
    assert!(
        shown.contains("The ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
        "{shown}"
    );
    assert!(k.audited(&[("code", 422.into())]).len() == 1);
}
