//! Webhooks against a receiver on loopback: an access refused, a statement a guardrail
//! refused and a session ended each arrive, signed, masked like the record, retried after a
//! failure, and in Slack's shape for a Slack webhook.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_testkit::{ClusterOptions, Postgres, Psql, Ward, free_port, psql, success};

/// A request the receiver took: its path, headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// The JSON bodies received so far.
pub fn bodies(got: &Mutex<Vec<Received>>) -> Vec<Value> {
    got.lock()
        .expect("lock")
        .iter()
        .filter_map(|r| serde_json::from_str(&r.body).ok())
        .collect()
}

/// Takes requests on `listener` until the test ends; answers the first one 500, the rest 200.
pub fn receive(listener: TcpListener, got: Arc<Mutex<Vec<Received>>>) {
    let mut first = true;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let length = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let status = if first {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        first = false;
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        got.lock().expect("lock").push(Received {
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
}

/// The HMAC-SHA256 of `TIMESTAMP.BODY` under `key`, as Python's hmac computes it.
fn python_hmac(key: &str, at: &str, body: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), (sys.argv[2] + '.' + sys.argv[3]).encode(), hashlib.sha256).hexdigest())",
            key,
            at,
            body,
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn refusals_guardrails_and_terminations_reach_webhooks_signed_masked_and_retried() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("CREATE TABLE t (n int); ALTER TABLE t OWNER TO app")
        .expect("table");
    let port = free_port().expect("port");
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("receiver");
    let got = Arc::new(Mutex::new(Vec::new()));
    {
        let got = got.clone();
        std::thread::spawn(move || receive(listener, got));
    }
    let ward = Ward::builder(crate::WARD)
        .postgres_resource("shop", &pg)
        .postgres_resource("hr", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .file("hook.secret", "s3cret\n")
        .config(&format!(
            "[[guardrails]]\nname = \"no-drops\"\ndeny = [\"drop\"]\n\n\
             [[webhooks]]\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret_file = \"hook.secret\"\n\n\
             [[webhooks]]\nurl = \"http://127.0.0.1:{port}/slack\"\nformat = \"slack\"\nevents = [\"session.terminated\"]\n"
        ))
        .start()
        .expect("ward");

    let refused = psql(&ward.url("alice", "hr"), &["-c", "SELECT 1"]);
    assert!(!refused.status.success());
    let denied = psql(
        &ward.url("alice", "shop"),
        &["-c", "DROP TABLE t -- card 4111 1111 1111 1111"],
    );
    assert!(!denied.status.success());
    let mut open = Psql::open(&ward.url("alice", "shop"));
    assert_eq!(open.ask("SELECT 'here';"), "here");
    let live = ward.live_sessions(&[], |_| true);
    let id = live[0]["id"].as_str().expect("the open session").to_owned();
    success(&ward.cli(&["sessions", "terminate", &id, "--reason", "incident 7"]));

    // Every event arrives; the first post was refused (500) and came again.
    let wanted = ["access.denied", "guardrail.denied", "session.terminated"];
    let deadline = Instant::now() + Duration::from_secs(20);
    let received = loop {
        let received = got.lock().expect("lock").clone();
        let hooks: Vec<Value> = received
            .iter()
            .filter(|r| r.path == "/hook")
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect();
        let all = wanted
            .iter()
            .all(|w| hooks.iter().any(|h| h["event"] == *w));
        let slack = received.iter().any(|r| r.path == "/slack");
        if all && slack && received.len() >= 5 {
            break received;
        }
        assert!(
            Instant::now() < deadline,
            "webhooks did not all arrive: {received:#?}\n{}",
            ward.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let first = &received[0];
    let again = received
        .iter()
        .skip(1)
        .find(|r| r.headers.get("x-ward-delivery") == first.headers.get("x-ward-delivery"));
    assert!(
        again.is_some(),
        "the refused post came again: {received:#?}"
    );

    for r in received.iter().filter(|r| r.path == "/hook") {
        let at = r.headers.get("x-ward-timestamp").expect("timestamp");
        let signature = r.headers.get("x-ward-signature").expect("signature");
        assert_eq!(
            signature,
            &format!("v1={}", python_hmac("s3cret", at, &r.body)),
            "{r:?}"
        );
        assert!(
            !r.body.contains("4111 1111 1111 1111"),
            "masked: {}",
            r.body
        );
    }
    let body = |event: &str| -> Value {
        received
            .iter()
            .filter(|r| r.path == "/hook")
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .find(|b| b["event"] == event)
            .expect("the event")
    };
    let access = body("access.denied");
    assert_eq!(
        (&access["user"], &access["resource"]),
        (&"alice".into(), &"hr".into())
    );
    assert!(
        access["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Ward refused alice access to hr")
    );
    let guardrail = body("guardrail.denied");
    assert!(
        guardrail["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Guardrail no-drops stopped alice on shop"),
        "{guardrail}"
    );
    let ended = body("session.terminated");
    assert_eq!(ended["session"], id.as_str());
    assert!(
        ended["text"]
            .as_str()
            .unwrap_or_default()
            .contains("incident 7")
    );
    let slack = received.iter().find(|r| r.path == "/slack").expect("slack");
    let slack: Value = serde_json::from_str(&slack.body).expect("json");
    assert!(
        slack["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Ward ended alice's session on shop: terminated by an administrator"),
        "{slack}"
    );
    drop(open);
}
