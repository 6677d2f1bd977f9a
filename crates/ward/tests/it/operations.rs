//! Running Ward: the Prometheus metrics listener, read with Prometheus's own Python parser, and
//! JSON log lines when its output is not a terminal.

use serde_json::Value;
use ward_testkit::{ClusterOptions, Postgres, Ward, psql, python_client_at};

use crate::WARD;

/// The value of the sample `name` whose labels include `labels`, if there is one.
fn sample(metrics: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics["families"][family]["samples"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .and_then(|s| s["value"].as_f64())
}

#[test]
fn metrics_count_sessions_refusals_masking_and_the_recorder_and_logs_are_json() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql(
        "CREATE TABLE cards (n text); INSERT INTO cards VALUES ('4111 1111 1111 1111'); \
         ALTER TABLE cards OWNER TO app",
    )
    .expect("table");
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config("[[guardrails]]\nname = \"no-drops\"\ndeny = [\"drop\"]\n")
        .metrics()
        .start()
        .expect("ward");

    let ok = psql(&ward.url("alice", "shop"), &["-c", "SELECT n FROM cards"]);
    assert!(ok.status.success());
    let refused = psql(
        &ward.url_with("alice", "wrong", "shop", "require"),
        &["-c", "SELECT 1"],
    );
    assert!(!refused.status.success());
    let guarded = psql(&ward.url("alice", "shop"), &["-c", "DROP TABLE cards"]);
    assert!(!guarded.status.success());
    ward.wait_sessions(3);

    let url = ward.metrics_url();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let metrics = loop {
        let m = python_client_at("prometheus", &url, "-", std::path::Path::new("-"));
        let settled = sample(
            &m,
            "ward_sessions_active",
            "ward_sessions_active",
            &[("protocol", "postgres")],
        ) == Some(0.0);
        if settled || std::time::Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(
        metrics["content_type"], "text/plain; version=0.0.4",
        "{metrics}"
    );
    let pg = [("protocol", "postgres")];
    let get = |family: &str, name: &str, labels: &[(&str, &str)]| {
        sample(&metrics, family, name, labels)
            .unwrap_or_else(|| panic!("{name} {labels:?}: {metrics:#}"))
    };
    assert_eq!(
        get(
            "ward_sessions",
            "ward_sessions_total",
            &[("protocol", "postgres"), ("outcome", "ok")]
        ),
        2.0
    );
    assert_eq!(
        get(
            "ward_sessions",
            "ward_sessions_total",
            &[("outcome", "denied")]
        ),
        1.0
    );
    assert_eq!(
        get("ward_denials", "ward_denials_total", &[("what", "access")]),
        1.0
    );
    assert_eq!(
        get(
            "ward_denials",
            "ward_denials_total",
            &[("what", "guardrail")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "ward_masked_values",
            "ward_masked_values_total",
            &[("rule", "card")]
        ),
        1.0
    );
    assert!(
        get(
            "ward_bytes_relayed",
            "ward_bytes_relayed_total",
            &[("protocol", "postgres"), ("direction", "down")]
        ) > 0.0
    );
    assert_eq!(
        get(
            "ward_upstream_connect_seconds",
            "ward_upstream_connect_seconds_count",
            &pg
        ),
        2.0,
        "the refused login never reached PostgreSQL"
    );
    assert!(
        get(
            "ward_recorder_commit_seconds",
            "ward_recorder_commit_seconds_count",
            &[]
        ) >= 1.0
    );
    let events = get("ward_events", "ward_events_total", &[]);
    let recorded: usize = ward
        .sessions()
        .iter()
        .map(|s| ward.events(s["id"].as_str().expect("id")).len())
        .sum();
    assert_eq!(events, recorded as f64, "every committed event is counted");
    assert_eq!(
        get(
            "ward_recorder_queue_depth",
            "ward_recorder_queue_depth",
            &[]
        ),
        0.0
    );
    assert_eq!(
        metrics["families"]["ward_recorder_commit_seconds"]["type"],
        "histogram"
    );

    // The probes beside it: the process answers, and the store answers and is written to.
    for (path, want) in [("healthz", "ok"), ("readyz", "ready")] {
        let url = url.replace("/metrics", &format!("/{path}"));
        let out = std::process::Command::new("curl")
            .args(["-sS", "--fail-with-body", &url])
            .output()
            .expect("curl");
        assert_eq!(ward_testkit::success(&out), want, "{path}");
    }

    // Its output is a file here, not a terminal: one JSON object per line.
    let log = ward.log();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "INFO"
            && l["message"].is_string()
            && l["timestamp"].is_string()),
        "{log}"
    );
}

#[test]
fn keys_init_makes_every_key_once_for_replicas_to_share() {
    let dir = std::env::temp_dir().join(format!("ward-keys-init-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).expect("dir");
    let config = dir.join("ward.toml");
    std::fs::write(
        &config,
        "[store]\npath = \"data/ward.db\"\n\n[tls]\ncert = \"data/tls/cert.pem\"\nkey = \"data/tls/key.pem\"\nnames = [\"ward\", \"ward-1\"]\n",
    )
    .expect("config");
    let init = || {
        let out = std::process::Command::new(WARD)
            .args(["keys", "init", "--config"])
            .arg(&config)
            .output()
            .expect("ward keys init");
        ward_testkit::success(&out)
    };
    let first = init();
    for file in [
        "signing.key",
        "mask.key",
        "tls/key.pem",
        "ssh_client_key",
        "ssh_upstream_ca",
        "ssh_user_ca",
        "ssh_host_key",
    ] {
        let meta = std::fs::metadata(dir.join("data").join(file)).expect(file);
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(meta.permissions().mode() & 0o077, 0, "{file} is private");
    }
    assert!(
        first.contains("checkpoint signing key: ed25519:"),
        "{first}"
    );
    assert!(first.contains("SSH Host key:"), "{first}");
    // Run again, it keeps what exists.
    assert_eq!(init(), first);
    // The generated certificate names what the configuration asked for.
    let cert = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(dir.join("data/tls/cert.pem"))
        .output()
        .expect("openssl");
    let names = ward_testkit::success(&cert);
    assert!(
        names.contains("DNS:ward-1") && names.contains("DNS:localhost"),
        "{names}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
