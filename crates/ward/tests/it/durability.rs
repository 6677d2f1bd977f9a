//! Crash safety and failing closed: `kill -9` during a pgbench run loses nothing that was
//! acknowledged in strict mode, and a full store disk ends sessions instead of letting
//! unrecorded traffic through.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ward_testkit::{ClusterOptions, PASSWORD, Postgres, Ward, run, success};

use crate::WARD;

fn conn_str(ward: &Ward, user: &str, db: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user={user} password='{PASSWORD}' dbname={db}",
        ward.port
    )
}

/// Runs `SELECT n` for n = 1, 2, … until the connection fails; `acked` holds the last n whose
/// result came back.
async fn count_until_failure(conn: String, acked: Arc<AtomicU64>) {
    let Ok((client, connection)) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await
    else {
        return;
    };
    tokio::spawn(connection);
    for n in 1u64..1_000_000 {
        match client.simple_query(&format!("SELECT {n} AS n")).await {
            Ok(_) => acked.store(n, Ordering::SeqCst),
            Err(_) => return,
        }
    }
}

fn query_texts(ward: &Ward, id: &str) -> Vec<String> {
    ward.events(id)
        .iter()
        .filter(|e| e["kind"] == "db.query")
        .filter_map(|e| e["payload"]["text"].as_str().map(str::to_owned))
        .collect()
}

fn public_key(ward: &Ward) -> String {
    let out = ward.cli(&["keys", "show", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("keys json");
    doc["public_key"].as_str().expect("key").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_pgbench_in_strict_mode_loses_nothing_acknowledged() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let mut ward = Ward::builder(WARD)
        .postgres_resource("bench", &pg)
        .user("carol", &["dev"])
        .grant("dev", "bench")
        .store("path = \"ward.db\"\ndurability = \"strict\"")
        .plaintext_loopback()
        .start()
        .expect("ward");
    let url = ward.url("carol", "bench");
    success(&run("pgbench", &["-i", "-s", "1", "-q", &url]));
    let key = public_key(&ward);

    let mut bench = Command::new("pgbench")
        .args(["-S", "-c", "4", "-j", "2", "-T", "60", "-n", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pgbench");
    let acked = Arc::new(AtomicU64::new(0));
    let counter = tokio::spawn(count_until_failure(
        conn_str(&ward, "carol", "bench"),
        acked.clone(),
    ));
    // Let the load run, then crash Ward in the middle of it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.load(Ordering::SeqCst) < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ward.kill();
    let last_acked = acked.load(Ordering::SeqCst);
    assert!(
        last_acked >= 200,
        "the counting client got {last_acked} answers"
    );
    let _ = tokio::time::timeout(Duration::from_secs(10), counter).await;
    let _ = bench.kill();
    let _ = bench.wait();

    // On restart the interrupted sessions are ended as incomplete and signed.
    ward.restart().expect("restart");
    let sessions = ward.sessions();
    let incomplete: Vec<_> = sessions
        .iter()
        .filter(|s| s["outcome"] == "incomplete")
        .collect();
    assert!(
        incomplete.len() >= 5,
        "4 pgbench clients and the counter were cut off: {sessions:?}"
    );
    assert!(sessions.iter().all(|s| !s["ended_at"].is_null()));
    let verify = ward.cli(&["verify", "--key", &key]);
    let text = success(&verify);
    assert!(
        text.contains(&format!(
            "{} session(s): {} verified",
            sessions.len(),
            sessions.len()
        )),
        "{text}"
    );

    // Every statement whose answer reached the client is in the record.
    let counter_session = incomplete
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .find(|id| query_texts(&ward, id).iter().any(|q| q == "SELECT 1 AS n"))
        .expect("the counting session");
    let texts = query_texts(&ward, counter_session);
    for n in 1..=last_acked {
        assert!(
            texts.iter().any(|t| *t == format!("SELECT {n} AS n")),
            "acknowledged SELECT {n} missing (last acknowledged {last_acked}, {} recorded)",
            texts.len()
        );
    }
}

/// A small tmpfs, so that the store's disk can really fill up.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ward-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test fills a small tmpfs and needs root to mount it (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir)
    }

    /// Writes a file until the filesystem is full.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0x5a_u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn store_path(fs: &Path) -> String {
    fs.join("ward.db").display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_disk_fails_closed_and_loses_nothing() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let fs = Tmpfs::mount("24m");
    let mut ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("dave", &["dev"])
        .grant("dev", "db")
        .store(&format!(
            "path = \"{}\"\ndurability = \"strict\"",
            store_path(&fs.0)
        ))
        .plaintext_loopback()
        .start()
        .expect("ward");
    let key = public_key(&ward);
    let (client, connection) =
        tokio_postgres::connect(&conn_str(&ward, "dave", "db"), tokio_postgres::NoTls)
            .await
            .expect("connect");
    let conn_task = tokio::spawn(connection);
    client.simple_query("SELECT 1").await.expect("before");

    let filler = fs.fill();
    // A result that the store cannot take: its answer must not reach the client.
    let big = "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 200000) g";
    let err = client
        .simple_query(big)
        .await
        .expect_err("the session is ended, not answered");
    let db_err = err
        .as_db_error()
        .map(|e| (e.code().code().to_owned(), e.message().to_owned()));
    assert!(
        db_err
            .as_ref()
            .is_some_and(|(code, msg)| code == "53100" && msg.contains("audit record")),
        "{err:?}"
    );
    let _ = conn_task.await;
    // New sessions are refused while the store cannot be written.
    let refused = tokio_postgres::connect(&conn_str(&ward, "dave", "db"), tokio_postgres::NoTls)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        refused.as_db_error().map(|e| e.code().code()),
        Some("53100"),
        "{refused:?}"
    );

    // Space again: the queued events are written and sessions are accepted again.
    std::fs::remove_file(&filler).expect("free space");
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        match tokio_postgres::connect(&conn_str(&ward, "dave", "db"), tokio_postgres::NoTls).await {
            Ok((c, connection)) => {
                tokio::spawn(connection);
                break c;
            }
            Err(e) if Instant::now() > deadline => panic!("still refused: {e:?}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    client.simple_query("SELECT 2").await.expect("after");
    drop(client);
    ward.wait_sessions(3);
    ward.stop();

    let sessions = ward.sessions();
    let first = sessions[0]["id"].as_str().expect("id");
    let texts = query_texts(&ward, first);
    assert!(texts.iter().any(|t| t == big), "{texts:?}");
    let events = ward.events(first);
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "db.result" && e["payload"]["row_count"] == 1),
        "the result that was withheld from the client is in the record"
    );
    let verify = ward.cli(&["verify", "--key", &key]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    drop(ward);
}
