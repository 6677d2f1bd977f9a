//! A grant with `require_reason`: a psql or ssh client without a reason is refused with how to
//! give one; with one (`-c ward.reason=…` in PGOPTIONS, `user:resource:reason` for ssh) it is
//! let in, the reason is recorded masked in `session.start` and `policy.decision`, never
//! reaches the server, and finds the session in a search.

use std::process::Command;

use ward_testkit::{ClusterOptions, PASSWORD, Postgres, of_kind, ssh_client, ssh_gateway, success};

#[test]
fn a_grant_that_requires_a_reason_gets_one_records_it_and_finds_sessions_by_it() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let (_sshd, ward, ssh_port) = ssh_gateway(crate::WARD, |b, sshd| {
        b.user("alice", &["dev"])
            .postgres_resource("shop", &pg)
            .ssh_resource("web1", sshd)
            .config(
                "[[grants]]\ngroup = \"dev\"\nresources = [\"shop\", \"web1\"]\nrequire_reason = true\n",
            )
    });
    let psql_with = |options: Option<&str>| {
        let mut c = Command::new("psql");
        c.arg(ward.url("alice", "shop"))
            .args(["-X", "-A", "-t", "-c", "SHOW ward.reason"]);
        if let Some(o) = options {
            c.env("PGOPTIONS", o);
        }
        c.output().expect("psql")
    };

    let refused = psql_with(None);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("requires a reason for each access: give one in the connection's options, e.g. PGOPTIONS='-c ward.reason=TICKET-123'"),
        "{said}"
    );
    let out = ssh_client(&ward.dir, ssh_port, "alice:web1", PASSWORD, &["true"], None);
    assert!(!out.status.success());

    // The reason never reaches the server: PostgreSQL has no such setting.
    let given = psql_with(Some(
        "-c ward.reason=INC-4711:\\ rotate\\ key\\ sk_live_abcdefghijklmnop1234",
    ));
    let said = String::from_utf8_lossy(&given.stderr);
    assert!(
        said.contains("unrecognized configuration parameter \"ward.reason\""),
        "{said}"
    );
    let out = ssh_client(
        &ward.dir,
        ssh_port,
        "alice:web1:INC-4711 restart the web server",
        PASSWORD,
        &["echo up"],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "up", "{out:?}");

    let sessions = ward.wait_sessions(4);
    let of = |protocol: &str, outcome: &str| {
        sessions
            .iter()
            .find(|s| s["protocol"] == protocol && s["outcome"] == outcome)
            .unwrap_or_else(|| panic!("a {protocol} session ended {outcome}: {sessions:?}"))
    };
    let denied = ward.events(of("postgres", "denied")["id"].as_str().expect("id"));
    let decision = &of_kind(&denied, "policy.decision")[0]["payload"];
    assert_eq!(decision["reason"], "reason required", "{decision}");
    for (protocol, reason) in [
        ("postgres", "INC-4711: rotate key "),
        ("ssh", "INC-4711 restart the web server"),
    ] {
        let id = of(protocol, "ok")["id"].as_str().expect("id").to_owned();
        let events = ward.events(&id);
        let start = &of_kind(&events, "session.start")[0]["payload"];
        let decision = &of_kind(&events, "policy.decision")[0]["payload"];
        let given = decision["reason_given"].as_str().expect("reason_given");
        assert!(given.starts_with(reason), "{decision}");
        assert_eq!(start["reason"], decision["reason_given"], "{start}");
        // What the client typed is masked like anything else it sends.
        let stored = events.iter().map(ToString::to_string).collect::<String>();
        assert!(!stored.contains("sk_live_abcdefghijklmnop1234"), "{stored}");
        // A search for the ticket finds the session.
        let found = success(&ward.cli(&["sessions", "list", "--json", "--search", "INC-4711"]));
        assert!(found.contains(&id), "{found}");
    }
}
