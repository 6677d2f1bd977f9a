//! Two `ward serve` processes share one PostgreSQL audit store, as replicas behind a load
//! balancer would: their concurrent sessions all land in one store with valid chains and one
//! linear chain of signed checkpoints.

use ward_testkit::{ClusterOptions, Postgres, Ward, run, success};

const WARD: &str = env!("CARGO_BIN_EXE_ward");

#[test]
fn two_wards_share_one_postgres_store() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let (admin, url) = pg.audit_store("audit").expect("store database");
    let shared = std::env::temp_dir().join(format!("ward-shared-{}", std::process::id()));
    std::fs::create_dir_all(&shared).expect("dir");
    let key = shared.join("signing.key");
    let replica = |node: &str| {
        Ward::builder(WARD)
            .postgres_resource("bench", &pg)
            .user("carol", &["dev"])
            .grant("dev", "bench")
            .store(&format!("url = \"{url}\"\nnode = \"{node}\""))
            .config(&format!("[evidence]\nsigning_key = \"{}\"", key.display()))
    };
    // Before the owner sets the store up, Ward (whose role cannot create tables) says how.
    let err = match replica("a").start() {
        Ok(_) => panic!("started on an empty store database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("ward store migrate"), "{err}");
    ward_audit::Store::migrate_postgres(&admin, "audit_ward").expect("migrate");
    let a = replica("a").start().expect("ward a");
    let b = replica("b").start().expect("ward b");
    let again = success(&a.cli(&["store", "migrate", "--admin-url", &admin]));
    assert!(again.contains("up to date"), "{again}");

    success(&run(
        "pgbench",
        &["-i", "-s", "1", "-q", &a.url("carol", "bench")],
    ));
    let bench = |ward: &Ward| {
        let url = ward.url("carol", "bench");
        std::thread::spawn(move || {
            success(&run(
                "pgbench",
                &["-S", "-c", "4", "-j", "2", "-t", "50", "-n", &url],
            ))
        })
    };
    let (ta, tb) = (bench(&a), bench(&b));
    for t in [ta, tb] {
        let out = t.join().expect("pgbench");
        assert!(out.contains("200/200"), "{out}");
    }
    // pgbench -i, then 1 + 4 sessions per run.
    let sessions = a.wait_sessions(11);
    assert_eq!(sessions.len(), 11, "{sessions:?}");
    assert_eq!(b.sessions().len(), 11, "both replicas read the same store");
    let public = {
        let out = a.cli(&["keys", "show", "--json"]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        doc["public_key"].as_str().expect("key").to_owned()
    };
    let verify = a.cli(&["verify", "--key", &public]);
    let text = success(&verify);
    assert!(text.contains("11 session(s): 11 verified"), "{text}");
    let _ = std::fs::remove_dir_all(&shared);
}
