//! The web API against a real Ward and real psql sessions: sign-in (cookie, CSRF, lockout),
//! who sees what, the session list with filters and full-text search, a session's integrity
//! (green, then red after tampering), its events page by page, export, and that every view is
//! itself recorded. Then, when Chromium is installed, the UI end to end (`web/e2e/run.mjs`).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ward_testkit::{
    ClusterOptions, PASSWORD, Postgres, Psql, Sshd, Ward, free_port, psql, ssh_client, success,
};

/// A browser-like HTTP client: curl with its own cookie jar.
struct Client {
    base: String,
    jar: PathBuf,
    csrf: String,
}

impl Client {
    fn new(ward: &Ward, name: &str) -> Self {
        Self {
            base: ward.web_url(),
            jar: ward.dir.join(format!("cookies-{name}")),
            csrf: String::new(),
        }
    }

    /// `METHOD PATH [JSON]`: the status and the body (JSON when it parses).
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut c = Command::new("curl");
        c.args(["-sk", "-X", method, "-o", "-", "-w", "\n%{http_code}"])
            .arg("-b")
            .arg(&self.jar)
            .arg("-c")
            .arg(&self.jar)
            .args(["-H", &format!("X-CSRF-Token: {}", self.csrf)]);
        if let Some(b) = body {
            c.args(["-H", "content-type: application/json", "-d", &b.to_string()]);
        }
        let out = c
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').expect("status line");
        let value = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
        (status.trim().parse().expect("status"), value)
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn login(&mut self, user: &str, password: &str) -> (u16, Value) {
        let (status, body) = self.call(
            "POST",
            "/api/v1/login",
            Some(&json!({ "username": user, "password": password })),
        );
        if status == 200 {
            self.csrf = body["csrf"].as_str().unwrap_or_default().to_owned();
        }
        (status, body)
    }
}

struct Setup {
    ward: Ward,
    _pg: Postgres,
    /// alice's session that returned a card number, and audrey's own session.
    card_session: String,
    audrey_session: String,
}

fn setup() -> Setup {
    setup_with(None)
}

/// The grant for `vault`: group dev reaches it only within a request that an auditor approved.
const VAULT_GRANT: &str = "[[grants]]\ngroup = \"dev\"\nresources = [\"vault\"]\n\
    requires_approval = true\napprovers = [\"auditors\"]\nmax_duration = \"2h\"\n";

/// With `sshd`, Ward also serves SSH (on the returned port) with that host as resource `web1`,
/// which auditors may reach. Resource `vault` (the same database as `shop`) needs an approved
/// access request ([`VAULT_GRANT`]).
fn setup_with(sshd: Option<(&mut Sshd, u16)>) -> Setup {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let mut builder = Ward::builder(crate::WARD)
        .postgres_resource("shop", &pg)
        .postgres_resource("vault", &pg)
        .grant("dev", "shop")
        .grant("auditors", "shop")
        .config(VAULT_GRANT)
        .user("alice", &["dev"])
        .user("audrey", &["auditors"])
        .web(free_port().expect("port"));
    if let Some((sshd, port)) = &sshd {
        builder = builder
            .ssh(*port)
            .grant("auditors", "web1")
            .ssh_resource("web1", sshd);
    }
    let ward = builder.start().expect("ward");
    if let Some((sshd, _)) = sshd {
        sshd.start(&ward.dir.join("ssh_client_key.pub"))
            .expect("sshd");
    }
    success(&psql(
        &ward.url("alice", "shop"),
        &[
            "-c",
            "select 'wire the refund to 4111 1111 1111 1111' as note",
            "-c",
            "select count(*) from pg_class where relname = 'zebra_orders'",
        ],
    ));
    success(&psql(&ward.url("audrey", "shop"), &["-c", "select 1"]));
    let sessions = ward.wait_sessions(2);
    let id = |user: &str| {
        sessions
            .iter()
            .find(|s| s["user"] == user)
            .and_then(|s| s["id"].as_str())
            .expect("session")
            .to_owned()
    };
    Setup {
        card_session: id("alice"),
        audrey_session: id("audrey"),
        ward,
        _pg: pg,
    }
}

#[test]
fn sign_in_access_search_integrity_and_recorded_views() {
    let s = setup();
    let mut anon = Client::new(&s.ward, "anon");
    let (status, body) = anon.call("GET", "/api/v1/sessions", None);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, _) = anon.call("GET", "/healthz", None);
    assert_eq!(status, 200);
    let (status, _) = anon.call("GET", "/readyz", None);
    assert_eq!(status, 200);

    // Wrong passwords, then the lockout.
    for _ in 0..5 {
        let (status, body) = anon.login("mallory", "wrong password");
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("bad_credentials"))
        );
    }
    let (status, body) = anon.login("mallory", "wrong password");
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited"))
    );

    // alice sees her own sessions only.
    let mut alice = Client::new(&s.ward, "alice");
    let (status, me) = alice.login("alice", PASSWORD);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["auditor"], false);
    let cookies = std::fs::read_to_string(&alice.jar).expect("jar");
    assert!(cookies.contains("#HttpOnly_"), "{cookies}");
    // (Her own sign-in is a session too: protocol `web`.)
    let list = alice.get("/api/v1/sessions");
    let listed = list["sessions"].as_array().expect("sessions");
    assert!(listed.iter().all(|x| x["user"] == "alice"), "{list}");
    assert!(listed.iter().any(|x| x["id"] == s.card_session.as_str()));
    let (status, body) = alice.call(
        "GET",
        &format!("/api/v1/sessions/{}", s.audrey_session),
        None,
    );
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));

    // The auditor sees everything, searches statements, opens a session.
    let mut audrey = Client::new(&s.ward, "audrey");
    let (status, me) = audrey.login("audrey", PASSWORD);
    assert_eq!((status, me["auditor"].as_bool()), (200, Some(true)));
    let all = audrey.get("/api/v1/sessions?limit=1");
    assert_eq!(all["sessions"].as_array().map(Vec::len), Some(1));
    let cursor = all["next_cursor"].as_str().expect("a second page");
    let page2 = audrey.get(&format!("/api/v1/sessions?limit=1&cursor={cursor}"));
    assert_eq!(page2["sessions"].as_array().map(Vec::len), Some(1));
    assert_ne!(page2["sessions"][0]["id"], all["sessions"][0]["id"]);
    let found = audrey.get("/api/v1/sessions?q=zebra_orders");
    let hits = found["sessions"].as_array().expect("sessions");
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["id"], s.card_session.as_str());
    let snippet = &hits[0]["matches"][0]["snippet"];
    assert!(
        snippet
            .as_array()
            .expect("segments")
            .iter()
            .any(|seg| seg["mark"] == true && seg["text"] == "zebra_orders"),
        "{snippet}"
    );
    let none = audrey.get("/api/v1/sessions?q=nothing_like_this");
    assert_eq!(none["sessions"].as_array().map(Vec::len), Some(0));
    let filtered = audrey.get("/api/v1/sessions?user=audrey&outcome=ok&protocol=postgres");
    assert_eq!(filtered["sessions"].as_array().map(Vec::len), Some(1));

    let detail = audrey.get(&format!("/api/v1/sessions/{}", s.card_session));
    assert_eq!(detail["integrity"]["ok"], true, "{detail}");
    assert_eq!(detail["session"]["user"], "alice");
    // Events page by page; the card number is masked in the record.
    let first = audrey.get(&format!(
        "/api/v1/sessions/{}/events?limit=3",
        s.card_session
    ));
    assert_eq!(first["events"].as_array().map(Vec::len), Some(3));
    let after = first["next_after_seq"].as_i64().expect("more events");
    let rest = audrey.get(&format!(
        "/api/v1/sessions/{}/events?after_seq={after}",
        s.card_session
    ));
    let rest = rest["events"].as_array().expect("events");
    assert_eq!(rest[0]["seq"].as_i64(), Some(after + 1));
    let text = rest.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains("4111 1111 1111 1111"), "{text}");
    assert!(
        text.contains("[REDACTED:card]") || text.contains("1111"),
        "{text}"
    );
    let bundle = audrey.get(&format!("/api/v1/sessions/{}/export", s.card_session));
    assert_eq!(bundle["session"]["id"], s.card_session.as_str());

    // State changes need the CSRF token.
    let mut forged = Client::new(&s.ward, "audrey");
    forged.csrf = "forged".into();
    let (status, body) = forged.call("POST", "/api/v1/logout", None);
    assert_eq!((status, body["error"].as_str()), (403, Some("csrf")));
    let (status, _) = audrey.call("POST", "/api/v1/logout", None);
    assert_eq!(status, 204);
    let (status, _) = audrey.call("GET", "/api/v1/me", None);
    assert_eq!(status, 401);

    // audrey's views are recorded in her own web session.
    let sessions = s.ward.wait_sessions(3);
    let web = sessions
        .iter()
        .find(|x| x["protocol"] == "web" && x["user"] == "audrey")
        .expect("audrey's web session");
    let events = s.ward.events(web["id"].as_str().expect("id"));
    let views: Vec<&Value> = events.iter().filter(|e| e["kind"] == "ui.view").collect();
    assert!(
        views
            .iter()
            .any(|v| v["payload"]["session"] == s.card_session.as_str()
                && v["payload"]["what"] == "detail"),
        "{events:?}"
    );
    assert!(views.iter().any(|v| v["payload"]["what"] == "export"));
    // Every read of recorded content: each page of events, and search snippets.
    let whats: Vec<&str> = views
        .iter()
        .filter(|v| v["payload"]["session"] == s.card_session.as_str())
        .filter_map(|v| v["payload"]["what"].as_str())
        .collect();
    assert!(whats.contains(&"events 0..2"), "{whats:?}");
    assert!(
        whats.contains(
            &format!(
                "events {}..{}",
                after + 1,
                rest.last().map_or(0, |e| e["seq"].as_i64().unwrap_or(0))
            )
            .as_str()
        ),
        "{whats:?}"
    );
    assert!(whats.contains(&"search snippets"), "{whats:?}");

    // Tampering turns the integrity red.
    let db = s.ward.dir.join("ward.db");
    let (conn, _) = ward_testkit::sqlite_without_triggers(&db).expect("open");
    let sid: ward_core::SessionId = s.card_session.parse().expect("id");
    conn.execute(
        "UPDATE events SET payload = CAST(replace(CAST(payload AS TEXT), 'zebra', 'zebrb') AS BLOB) WHERE session_id = ?1 AND kind = 'db.query'",
        [&sid.0.as_bytes()[..]],
    )
    .expect("tamper");
    drop(conn);
    let mut audrey = Client::new(&s.ward, "audrey2");
    audrey.login("audrey", PASSWORD);
    let detail = audrey.get(&format!("/api/v1/sessions/{}", s.card_session));
    assert_eq!(detail["integrity"]["ok"], false, "{detail}");
    assert_eq!(detail["integrity"]["status"], "tampered");

    // The OpenAPI document describes what the API really sends.
    let doc = anon.get("/api/openapi.json");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    for path in [
        "/api/v1/login",
        "/api/v1/logout",
        "/api/v1/me",
        "/api/v1/info",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/{id}/events",
        "/api/v1/sessions/{id}/export",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not in the document");
    }
    let conforms = |schema: &str, value: &Value| {
        let s = &doc["components"]["schemas"][schema];
        let props = s["properties"].as_object().expect("properties");
        let keys = value.as_object().expect("an object");
        // A schema that names its open-ended fields (`additionalProperties`) takes others.
        let open = s.get("additionalProperties").is_some_and(|a| a != false);
        for k in keys.keys() {
            assert!(open || props.contains_key(k), "{schema} lacks {k}");
        }
        for r in s["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            assert!(keys.contains_key(r), "{schema}.{r} missing in {value}");
        }
    };
    conforms("SessionDetail", &detail);
    conforms("Session", &detail["session"]);
    conforms("Integrity", &detail["integrity"]);
    conforms("SessionList", &found);
    conforms("Session", &found["sessions"][0]);
    conforms("Match", &found["sessions"][0]["matches"][0]);
    conforms("EventPage", &first);
    // Each event is its kind's payload type: the `Payload` variant whose `kind` it has.
    for event in first["events"].as_array().expect("events") {
        let variants = doc["components"]["schemas"]["Payload"]["oneOf"]
            .as_array()
            .expect("Payload is one of its kinds");
        let variant = variants
            .iter()
            .find(|v| v["properties"]["kind"]["enum"][0] == event["kind"])
            .unwrap_or_else(|| panic!("no Payload variant for {}", event["kind"]));
        let schema = variant["properties"]["payload"]["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .expect("a payload type");
        conforms(schema, &event["payload"]);
        assert!(event["seq"].is_i64() && event["at"].is_string(), "{event}");
    }

    // The UI is served for any other path.
    let (status, page) = anon.call("GET", "/sessions/anything", None);
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap_or_default().contains("<"), "{page}");
}

/// The UI in headless Chromium, when the browser and the built UI are there (`.ci/run`
/// installs and builds both).
#[test]
fn ui_end_to_end_in_chromium() {
    let Some(runner) = ward_testkit::chromium_e2e("run.mjs") else {
        return;
    };
    let mut sshd = Sshd::prepare().expect("sshd");
    let ssh_port = free_port().expect("port");
    let s = setup_with(Some((&mut sshd, ssh_port)));
    // A terminal session to play back.
    let shell = ssh_client(
        &s.ward.dir,
        ssh_port,
        "audrey:web1",
        PASSWORD,
        &["-tt"],
        Some("echo terminal says $((6*7)) hello\nexit\n"),
    );
    assert!(
        String::from_utf8_lossy(&shell.stdout).contains("terminal says 42 hello"),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );
    let terminal = s
        .ward
        .wait_for_session(|x| x["protocol"] == "ssh" && !x["ended_at"].is_null())
        .iter()
        .find(|x| x["protocol"] == "ssh")
        .and_then(|x| x["id"].as_str())
        .expect("the terminal session")
        .to_owned();
    // A terminal session the auditor follows live in the browser: it prints a line, waits until
    // the browser saw it (the e2e script creates `go`; at most two minutes), prints another
    // (built by the shell, so the typed command line does not show it early) and ends soon after.
    let go = s.ward.dir.join("live-terminal-go");
    let script = format!(
        "echo first-live-line\n\
         i=0; while [ ! -e '{}' ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done\n\
         L=line; echo second-live-$L\nsleep 2\nexit\n",
        go.display()
    );
    let (dir, port) = (s.ward.dir.clone(), ssh_port);
    let followed = std::thread::spawn(move || {
        ssh_client(&dir, port, "audrey:web1", PASSWORD, &["-tt"], Some(&script))
    });
    let followed_id = s
        .ward
        .wait_for_session(|x| x["protocol"] == "ssh" && x["ended_at"].is_null())
        .iter()
        .find(|x| x["protocol"] == "ssh" && x["ended_at"].is_null())
        .and_then(|x| x["id"].as_str())
        .expect("the live terminal session")
        .to_owned();
    // A second session for audrey, tampered with.
    success(&psql(&s.ward.url("audrey", "shop"), &["-c", "select 2"]));
    let sessions = s.ward.wait_sessions(4);
    let tampered = sessions
        .iter()
        .filter(|x| x["user"] == "audrey" && x["protocol"] == "postgres")
        .filter_map(|x| x["id"].as_str())
        .find(|id| *id != s.audrey_session)
        .expect("second audrey session")
        .to_owned();
    let (conn, _) =
        ward_testkit::sqlite_without_triggers(&s.ward.dir.join("ward.db")).expect("open");
    let sid: ward_core::SessionId = tampered.parse().expect("id");
    conn.execute(
        "DELETE FROM events WHERE session_id = ?1 AND seq = 1",
        [&sid.0.as_bytes()[..]],
    )
    .expect("tamper");
    drop(conn);
    // A live session for the auditor to end.
    let mut live = Psql::open(&s.ward.url("alice", "shop"));
    assert_eq!(live.ask("SELECT 'working';"), "working");
    let live_id = s
        .ward
        .sessions()
        .iter()
        .find(|x| x["protocol"] == "postgres" && x["ended_at"].is_null())
        .and_then(|x| x["id"].as_str())
        .expect("the live session")
        .to_owned();
    // Until a request for it is approved, alice may not reach vault.
    let refused = psql(&s.ward.url("alice", "vault"), &["-c", "select 1"]);
    let why = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success(), "alice reached vault unapproved");
    assert!(why.contains("needs an approved access request"), "{why}");
    let out_dir = std::env::var_os("WARD_E2E_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| s.ward.dir.join("e2e-output"));
    let out: Output = Command::new("node")
        .arg(&runner)
        .args(["--url", &s.ward.web_url()])
        .args(["--user", "alice", "--password", PASSWORD])
        .args(["--auditor-user", "audrey", "--auditor-password", PASSWORD])
        .args(["--search", "zebra_orders"])
        .args(["--masked-session", &s.card_session])
        .args(["--tampered-session", &tampered])
        .args(["--forbidden-session", &s.audrey_session])
        .args(["--terminal-session", &terminal])
        .args(["--terminal-text", "terminal says 42 hello"])
        .args(["--live-session", &live_id])
        .args(["--terminate-reason", "ended from the browser"])
        .args(["--live-terminal-session", &followed_id])
        .args(["--live-terminal-text", "first-live-line"])
        .args(["--live-terminal-later-text", "second-live-line"])
        .arg("--live-terminal-signal")
        .arg(&go)
        .args(["--request-resource", "vault", "--request-duration", "30m"])
        .args(["--request-reason", "INC-4711 rebuild the ledger index"])
        .args(["--approval-comment", "ok for the incident"])
        .arg("--out")
        .arg(&out_dir)
        .current_dir(ward_testkit::web_dir())
        .output()
        .expect("node e2e/run.mjs");
    assert!(
        out.status.success(),
        "e2e failed (screenshots in {}):\n{}{}",
        out_dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The followed session went on and ended by itself.
    let followed = followed.join().expect("the followed ssh session");
    let said = String::from_utf8_lossy(&followed.stdout);
    assert!(
        said.contains("first-live-line") && said.contains("second-live-line"),
        "{said}{}",
        String::from_utf8_lossy(&followed.stderr)
    );
    let stderr = live.finish("SELECT 'after';");
    assert!(
        stderr.contains("terminated by auditor audrey: ended from the browser"),
        "{stderr}"
    );
    // audrey approved alice's request in the browser: Ward reads approvals from the store every
    // half second, so alice reaches vault within a few.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let out = psql(&s.ward.url("alice", "vault"), &["-c", "select 1"]);
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alice still cannot reach vault after the approval: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A session of 160 MiB of recorded results: its export streams (Ward's memory grows by a
/// bounded amount, not by the session's size), the downloaded bundle verifies, and its events
/// come a bounded page at a time.
#[test]
fn a_huge_session_exports_and_pages_in_bounded_memory() {
    let s = setup();
    let script = s.ward.dir.join("big.sql");
    let statements = (0..160)
        .map(|i| format!("SELECT {i}, repeat('x', 1048576) AS filler;\n"))
        .collect::<String>();
    std::fs::write(&script, statements).expect("script");
    let out = psql(
        &s.ward.url("alice", "shop"),
        &[
            "-q",
            "-o",
            "/dev/null",
            "-f",
            script.to_str().expect("path"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let sessions = s.ward.wait_sessions(3);
    let big = sessions
        .iter()
        .filter(|x| x["user"] == "alice")
        .max_by_key(|x| x["event_count"].as_u64())
        .expect("the big session");
    let id = big["id"].as_str().expect("id");
    let events = big["event_count"].as_u64().expect("count");

    let mut audrey = Client::new(&s.ward, "audrey");
    assert_eq!(audrey.login("audrey", PASSWORD).0, 200);
    let before = s.ward.peak_rss_kib();
    let file = s.ward.dir.join("big-bundle.json");
    let got = Command::new("curl")
        .args(["-sk", "-f", "-o"])
        .arg(&file)
        .arg("-b")
        .arg(&audrey.jar)
        .arg(format!("{}/api/v1/sessions/{id}/export", audrey.base))
        .output()
        .expect("curl");
    assert!(got.status.success(), "{got:?}");
    let grew = s.ward.peak_rss_kib().saturating_sub(before);
    let size = std::fs::metadata(&file).expect("bundle").len();
    assert!(
        size > 160 << 20,
        "the bundle holds the results: {size} bytes"
    );
    assert!(
        grew < 64 * 1024,
        "exporting {size} bytes grew Ward's peak memory by {grew} KiB"
    );
    let keys: Value =
        serde_json::from_slice(&s.ward.cli(&["keys", "show", "--json"]).stdout).expect("keys");
    let key = keys["public_key"].as_str().expect("key");
    let bundle = file.to_str().expect("path");
    let verified = s.ward.cli(&["verify", "--bundle", bundle, "--key", key]);
    assert!(verified.status.success(), "{verified:?}");

    // A page asked for 1000 events stops once it holds 8 MiB of payloads, and says where to go on.
    let page = audrey.get(&format!("/api/v1/sessions/{id}/events?limit=1000"));
    let n = page["events"].as_array().map_or(0, Vec::len) as u64;
    assert!(n < events && n < 1000, "{n} of {events} events in one page");
    assert!(
        page["next_after_seq"].is_i64(),
        "{}",
        page["next_after_seq"]
    );
}

#[test]
fn an_auditor_ends_a_live_session_and_both_records_say_so() {
    let s = setup();
    let mut live = Psql::open(&s.ward.url("alice", "shop"));
    assert_eq!(live.ask("SELECT 'working';"), "working");
    let open = s.ward.live_sessions(&[], |x| x["protocol"] == "postgres");
    assert_eq!(
        open.len(),
        1,
        "only the open psql session is live: {open:?}"
    );
    let id = open[0]["id"].as_str().expect("id").to_owned();

    // alice may not end sessions, not even her own; an auditor must say why.
    let mut alice = Client::new(&s.ward, "alice");
    assert_eq!(alice.login("alice", PASSWORD).0, 200);
    let path = format!("/api/v1/sessions/{id}/terminate");
    let (status, body) = alice.call("POST", &path, Some(&json!({ "reason": "mine" })));
    assert_eq!(status, 403, "{body}");
    let mut audrey = Client::new(&s.ward, "audrey");
    assert_eq!(audrey.login("audrey", PASSWORD).0, 200);
    let (status, body) = audrey.call("POST", &path, Some(&json!({ "reason": " " })));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("reason_required"))
    );
    let (status, body) = audrey.call(
        "POST",
        &path,
        Some(&json!({ "reason": "incident 42: stop all writes" })),
    );
    assert_eq!(status, 202, "{body}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ended = loop {
        let session = audrey.get(&format!("/api/v1/sessions/{id}"));
        if session["session"]["outcome"] == "terminated" {
            break session;
        }
        assert!(std::time::Instant::now() < deadline, "{session}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(ended["integrity"]["ok"], true, "{ended}");
    let events = audrey.get(&format!("/api/v1/sessions/{id}/events"));
    let why = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "session.terminated")
        .cloned()
        .expect("session.terminated");
    assert_eq!(why["payload"]["by"], "auditor audrey");
    assert_eq!(why["payload"]["reason"], "incident 42: stop all writes");
    // psql is told why at its next statement.
    let stderr = live.finish("SELECT 'still working';");
    assert!(
        stderr.contains("terminated by auditor audrey: incident 42: stop all writes"),
        "{stderr}"
    );
    // The request is in audrey's own record too; an ended session cannot be ended again.
    let mine: Vec<Value> = audrey.get("/api/v1/sessions?user=audrey&protocol=web")["sessions"]
        .as_array()
        .expect("sessions")
        .clone();
    let asked = mine.iter().any(|m| {
        let events = audrey.get(&format!(
            "/api/v1/sessions/{}/events",
            m["id"].as_str().unwrap_or_default()
        ));
        events["events"].as_array().is_some_and(|e| {
            e.iter()
                .any(|e| e["kind"] == "control.terminate" && e["payload"]["session"] == id.as_str())
        })
    });
    assert!(asked, "control.terminate in audrey's session: {mine:?}");
    let (status, _) = audrey.call("POST", &path, Some(&json!({ "reason": "again" })));
    assert_eq!(status, 409);
    let again = s
        .ward
        .cli(&["sessions", "terminate", &id, "--reason", "again"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("ended already (terminated)"));
}
