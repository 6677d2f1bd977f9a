//! Two `ward serve` processes share one PostgreSQL audit store, as replicas behind a load
//! balancer would: their concurrent sessions all land in one store with valid chains and one
//! linear chain of signed checkpoints. The store's server takes TLS connections only, and Ward
//! checks its certificate. A session one replica serves is ended by a request made through the
//! other, and a user disabled through one is refused by the other. Their SIEM stream is sent
//! by one of them at a time.

use std::sync::Arc;

use ward_testkit::{ClusterOptions, Postgres, Psql, Ward, run, success, tls_pair};

use crate::WARD;

#[test]
fn two_wards_share_one_postgres_store() {
    let (cert, key) = tls_pair();
    let pg = Postgres::start(&ClusterOptions {
        tls: Some((cert.clone(), key)),
        ..Default::default()
    })
    .expect("postgres with TLS only");
    let (admin, url) = pg.audit_store("audit").expect("store database");
    let shared = std::env::temp_dir().join(format!("ward-shared-{}", std::process::id()));
    std::fs::create_dir_all(&shared).expect("dir");
    let key = shared.join("signing.key");
    // Both replicas stream every event to one webhook; one of them at a time holds the stream.
    let siem = ward_testkit::SiemPeer::start(0).expect("siem peer");
    // The resource's CA file (`bench-ca.pem`, the cluster's certificate) serves the store too.
    let with_store = |node: &str, store: &str| {
        Ward::builder(WARD)
            .postgres_resource("bench", &pg)
            .user("carol", &["dev"])
            .grant("dev", "bench")
            .store(&format!("node = \"{node}\"\n{store}"))
            .config(&format!(
                "[evidence]\nsigning_key = \"{}\"\n\n[[siem]]\nname = \"lake\"\nkind = \"webhook\"\nurl = \"{}/hook\"\nbatch = 50\nstart = \"beginning\"\n",
                key.display(),
                siem.url()
            ))
    };
    let replica = |node: &str| {
        with_store(
            node,
            &format!("url = \"{url}\"\ntls = \"verify-full\"\nca_file = \"bench-ca.pem\""),
        )
    };
    // A certificate from another CA is refused, and so is asking for TLS in the URL alone.
    let (other_ca, _) = tls_pair();
    let refused = |builder: ward_testkit::WardBuilder| match builder.start() {
        Ok(_) => panic!("started"),
        Err(e) => format!("{e:#}"),
    };
    let err = refused(
        with_store(
            "x",
            &format!("url = \"{url}\"\ntls = \"verify-full\"\nca_file = \"other-ca.pem\""),
        )
        .file("other-ca.pem", &other_ca),
    );
    assert!(err.contains("certificate"), "{err}");
    let err = refused(with_store("x", &format!("url = \"{url} sslmode=require\"")));
    assert!(err.contains("[store] tls"), "{err}");
    // Before the owner sets the store up, Ward (whose role cannot create tables) says how.
    let err = match replica("a").start() {
        Ok(_) => panic!("started on an empty store database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("ward store migrate"), "{err}");
    let tls = ward_store::StoreTls {
        config: Arc::new(
            ward_config::tls::client_config(
                ward_config::UpstreamTls::VerifyFull,
                Some(&write_ca(&cert)),
            )
            .expect("roots")
            .expect("TLS on"),
        ),
        server_name: None,
    };
    ward_store::Store::migrate_postgres(&admin, Some(&tls), "audit_ward").expect("migrate");
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
    // The stream holds every event once (give or take a batch), whichever replica sent it.
    let store = crate::siem::events_by_session(&a);
    let total: usize = store.values().map(Vec::len).sum();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let got = crate::siem::received(
            siem.received("hook")
                .into_iter()
                .map(|r| r["event"].clone()),
        );
        let whole =
            crate::siem::covers(&got, &store).and_then(|()| match got.len() <= total + 50 {
                true => Ok(()),
                false => Err(format!(
                    "{} events sent for {total}: both replicas sent",
                    got.len()
                )),
            });
        match whole {
            Ok(()) => break,
            Err(why) => assert!(std::time::Instant::now() < deadline, "{why}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // A session served by b is ended by a request made through a's store, and a user disabled
    // there is refused by b.
    let mut open = Psql::open(&b.url("carol", "bench"));
    assert_eq!(open.ask("SELECT 'on b';"), "on b");
    let live = a.live_sessions(&[], |_| true);
    let id = live[0]["id"].as_str().expect("the session on b").to_owned();
    success(&a.cli(&["sessions", "terminate", &id, "--reason", "asked on a"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !a
        .sessions()
        .iter()
        .any(|s| s["id"] == id.as_str() && s["outcome"] == "terminated")
    {
        assert!(std::time::Instant::now() < deadline, "b ends the session");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stderr = open.finish("SELECT 'still on b';");
    assert!(
        stderr.contains("terminated by an administrator (ward sessions terminate): asked on a"),
        "{stderr}"
    );
    success(&a.cli(&["users", "disable", "carol"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let out = ward_testkit::psql(&b.url("carol", "bench"), &["-c", "SELECT 1"]);
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        if said.contains("user \"carol\" is disabled") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "b refuses carol: {said}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&shared);
}

/// The cluster's certificate in a file, as a CA bundle.
fn write_ca(pem: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("ward-store-ca-{}.pem", std::process::id()));
    std::fs::write(&path, pem).expect("write CA");
    path
}
