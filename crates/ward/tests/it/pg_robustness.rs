//! Bad input gets a clear error and nothing else breaks: malformed messages, clients that
//! vanish mid-result, a gateway killed mid-session; and memory stays bounded on huge results.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ward_testkit::{ClusterOptions, PASSWORD, Postgres, Ward, psql, success};

use crate::WARD;

fn startup(params: &[(&str, &str)], version: u32) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads messages until an ErrorResponse (returns its SQLSTATE and message), ReadyForQuery
/// (returns None) or the end of the stream.
fn read_until(s: &mut TcpStream, stop_at_ready: bool) -> Result<Option<(String, String)>, String> {
    loop {
        let mut header = [0u8; 5];
        if let Err(e) = s.read_exact(&mut header) {
            return Err(format!("closed: {e}"));
        }
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        s.read_exact(&mut body)
            .map_err(|e| format!("closed in body: {e}"))?;
        match header[0] {
            b'E' => {
                let mut code = String::new();
                let mut msg = String::new();
                for field in body.split(|b| *b == 0) {
                    match field.first() {
                        Some(b'C') => code = String::from_utf8_lossy(&field[1..]).into(),
                        Some(b'M') => msg = String::from_utf8_lossy(&field[1..]).into(),
                        _ => {}
                    }
                }
                return Ok(Some((code, msg)));
            }
            b'Z' if stop_at_ready => return Ok(None),
            _ => {}
        }
    }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

/// A plaintext (loopback) login as alice, up to the first ReadyForQuery.
fn login(port: u16) -> TcpStream {
    let mut s = connect(port);
    s.write_all(&startup(&[("user", "alice"), ("database", "db")], 196_608))
        .expect("startup");
    let mut pw = PASSWORD.as_bytes().to_vec();
    pw.push(0);
    let mut r = [0u8; 9];
    s.read_exact(&mut r).expect("auth request");
    assert_eq!(r[0], b'R');
    s.write_all(&message(b'p', &pw)).expect("password");
    assert_eq!(read_until(&mut s, true), Ok(None), "login");
    s
}

fn healthy(client: &tokio_postgres::Client, rt: &tokio::runtime::Runtime) {
    let row = rt
        .block_on(client.query_one("SELECT 6 * 7", &[]))
        .expect("healthy session still works");
    assert_eq!(row.get::<_, i32>(0), 42);
}

#[test]
fn malformed_input_gets_an_error_and_other_sessions_are_unaffected() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("alice", &["dev"])
        .grant("dev", "db")
        .plaintext_loopback()
        .recording("max_message_bytes = \"1MiB\"")
        .start()
        .expect("ward");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let conn = format!(
        "host=127.0.0.1 port={} user=alice password='{PASSWORD}' dbname=db",
        ward.port
    );
    let (client, connection) = rt
        .block_on(tokio_postgres::connect(&conn, tokio_postgres::NoTls))
        .expect("healthy");
    rt.spawn(connection);
    healthy(&client, &rt);

    // Before login.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage startup",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            "08P01",
        ),
        (
            "startup length below 8",
            vec![0, 0, 0, 4, 0, 3, 0, 0],
            "08P01",
        ),
        (
            "unknown protocol version",
            startup(&[("user", "alice")], 0x0002_0000),
            "0A000",
        ),
        (
            "parameters without terminator",
            vec![0, 0, 0, 12, 0, 3, 0, 0, b'u', 0, b'x', 0],
            "08P01",
        ),
    ];
    for (name, bytes, code) in cases {
        let mut s = connect(ward.port);
        s.write_all(&bytes).expect("send");
        let got = read_until(&mut s, false);
        assert!(
            matches!(&got, Ok(Some((c, _))) if c == code),
            "{name}: {got:?}"
        );
        healthy(&client, &rt);
    }
    // GSSAPI encryption is declined with 'N'; the client then goes on without it.
    let mut s = connect(ward.port);
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30])
        .expect("GSSENCRequest");
    let mut answer = [0u8; 1];
    s.read_exact(&mut answer).expect("answer");
    assert_eq!(&answer, b"N");
    s.write_all(&startup(&[("user", "alice"), ("database", "db")], 196_608))
        .expect("startup");
    let mut r = [0u8; 9];
    s.read_exact(&mut r).expect("auth request");
    assert_eq!(
        r,
        [b'R', 0, 0, 0, 8, 0, 0, 0, 3],
        "cleartext password request"
    );
    drop(s);

    // A truncated startup packet and a silent close: nothing to answer, nothing breaks.
    let mut s = connect(ward.port);
    s.write_all(&[0, 0, 0, 40, 0, 3]).expect("send");
    drop(s);
    healthy(&client, &rt);

    // After login.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "length below 4",
            vec![b'Q', 0, 0, 0, 2],
            "below the minimum",
        ),
        (
            "length over the limit",
            vec![b'Q', 0x10, 0, 0, 0],
            "over the limit",
        ),
        (
            "query without terminator",
            message(b'Q', b"select 1"),
            "malformed Query",
        ),
        (
            "bind with bad counts",
            message(b'B', &[0, 0, 0, 5]),
            "malformed Bind",
        ),
    ];
    for (name, bytes, text) in cases {
        let mut s = login(ward.port);
        s.write_all(&bytes).expect("send");
        let got = read_until(&mut s, false);
        assert!(
            matches!(&got, Ok(Some((c, m))) if c == "08P01" && m.contains(text)),
            "{name}: {got:?}"
        );
        healthy(&client, &rt);
    }
    // A message cut short, then the client leaves.
    let mut s = login(ward.port);
    s.write_all(&message(b'Q', b"select 1\0")[..7])
        .expect("send");
    drop(s);
    healthy(&client, &rt);
    drop(client);

    // One session per login above, plus the healthy one; the protocol errors are recorded.
    let sessions = ward.wait_sessions(6);
    assert_eq!(sessions.len(), 6, "{sessions:?}");
    let errors = sessions.iter().filter(|s| s["outcome"] == "error").count();
    assert_eq!(errors, 4, "{sessions:?}");
    let bad = ward.events(sessions[1]["id"].as_str().expect("id"));
    assert!(
        bad.iter()
            .any(|e| e["kind"] == "db.error" && e["payload"]["code"] == "08P01"),
        "{bad:?}"
    );
    assert!(ward.cli(&["verify"]).status.success());
}

#[test]
fn client_gone_mid_result_and_gateway_killed_mid_session() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let mut ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("alice", &["dev"])
        .grant("dev", "db")
        .plaintext_loopback()
        .start()
        .expect("ward");

    // The client asks for far more rows than it reads, then vanishes.
    let mut s = login(ward.port);
    s.write_all(&message(
        b'Q',
        b"SELECT g, repeat('x', 100) FROM generate_series(1, 5000000) g\0",
    ))
    .expect("query");
    let mut some = vec![0u8; 64 * 1024];
    s.read_exact(&mut some).expect("first rows");
    drop(s);
    let sessions = ward.wait_sessions(1);
    assert_eq!(sessions.len(), 1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let result = events
        .iter()
        .find(|e| e["kind"] == "db.result")
        .expect("partial result recorded");
    assert!(
        result["payload"]["row_count"]
            .as_u64()
            .is_some_and(|n| n > 0 && n < 5_000_000),
        "{result}"
    );
    // The gateway goes on serving.
    let out = psql(
        &ward.url("alice", "db"),
        &["-A", "-t", "-c", "SELECT 'next'"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "next");

    // A session is open when the gateway dies; after a restart it is marked incomplete.
    let mut s = login(ward.port);
    s.write_all(&message(b'Q', b"SELECT 'before the crash'\0"))
        .expect("query");
    assert_eq!(read_until(&mut s, true), Ok(None));
    std::thread::sleep(Duration::from_millis(300));
    ward.kill();
    drop(s);
    ward.restart().expect("restart");
    let sessions = ward.sessions();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[2]["outcome"], "incomplete", "{sessions:?}");
    let events = ward.events(sessions[2]["id"].as_str().expect("id"));
    assert!(
        events
            .iter()
            .any(|e| e["payload"]["text"] == "SELECT 'before the crash'"),
        "accepted events survive the crash"
    );
    assert!(ward.cli(&["verify"]).status.success());
}

#[test]
fn a_million_row_select_streams_in_bounded_memory() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("alice", &["dev"])
        .grant("dev", "db")
        .start()
        .expect("ward");
    // What Ward holds before the big result: its code and heap after one small session.
    success(&psql(&ward.url("alice", "db"), &["-c", "SELECT 1"]));
    let before = ward.peak_rss_kib();
    let out = psql(
        &ward.url("alice", "db"),
        &[
            "-A",
            "-t",
            "-o",
            "/dev/null",
            "-c",
            "SELECT g, md5(g::text) FROM generate_series(1, 1000000) g",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sessions = ward.wait_sessions(2);
    let events = ward.events(sessions[1]["id"].as_str().expect("id"));
    let r = events
        .iter()
        .find(|e| e["kind"] == "db.result")
        .expect("result");
    assert_eq!(r["payload"]["row_count"], 1_000_000);
    assert_eq!(r["payload"]["truncated"], true);
    let peak = ward.peak_rss_kib();
    eprintln!("ward peak RSS: {before} KiB before, {peak} KiB after a 1,000,000-row SELECT");
    // The result is 1,000,000 rows (about 45 MB); Ward may hold what it records of it (up to
    // max_result_bytes, 16 MiB) and its buffers, not the result.
    assert!(
        before > 0 && peak - before < 32 * 1024,
        "ward grew from {before} to {peak} KiB"
    );
}

#[test]
fn sigterm_ends_live_sessions_incomplete_with_a_message_and_records_them() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let mut ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("alice", &["dev"])
        .grant("dev", "db")
        .plaintext_loopback()
        .start()
        .expect("ward");
    let mut s = login(ward.port);
    s.write_all(&message(b'Q', b"SELECT 1\0")).expect("query");
    assert_eq!(read_until(&mut s, true), Ok(None));
    ward.stop();
    let got = read_until(&mut s, false);
    assert!(
        matches!(&got, Ok(Some((c, m))) if c == "57P01" && m.contains("shutting down")),
        "{got:?}"
    );
    ward.restart().expect("restart");
    // Cut short by the stop (a rolling upgrade, say): `incomplete`, ended and signed by the
    // stopping Ward itself, with what the client was told on the record.
    let sessions = ward.sessions();
    assert_eq!(sessions[0]["outcome"], "incomplete");
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    assert!(
        events
            .iter()
            .any(|e| e["payload"].to_string().contains("Ward is shutting down")),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(|e| e["kind"].clone()),
        Some("session.end".into())
    );
    assert!(
        !ward
            .log()
            .contains("ended sessions left open by the previous run"),
        "the stopping Ward ended it, not the restart"
    );
}

/// Before a client is authenticated it is held to little: a password message past 64 KiB is
/// refused by its length (its bytes are never buffered), and past 256 connections in their
/// handshake the next is refused at once with 53300; once they go, clients log in again.
#[test]
fn unauthenticated_clients_are_bounded() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let ward = Ward::builder(WARD)
        .postgres_resource("db", &pg)
        .user("alice", &["dev"])
        .grant("dev", "db")
        .plaintext_loopback()
        .start()
        .expect("ward");

    let mut s = connect(ward.port);
    s.write_all(&startup(&[("user", "alice"), ("database", "db")], 196_608))
        .expect("startup");
    let mut r = [0u8; 9];
    s.read_exact(&mut r).expect("auth request");
    // Only the header of a 16 MiB password message: the length alone is refused.
    s.write_all(&[b'p', 0x01, 0, 0, 0]).expect("header");
    let got = read_until(&mut s, false);
    assert!(
        matches!(&got, Ok(Some((code, msg))) if code == "08P01" && msg.contains("invalid password message")),
        "{got:?}"
    );

    let waiting: Vec<TcpStream> = (0..256).map(|_| connect(ward.port)).collect();
    // Each is accepted and waits for its startup packet: give the last ones time to be taken.
    std::thread::sleep(Duration::from_millis(500));
    let mut one_more = connect(ward.port);
    let got = read_until(&mut one_more, false);
    assert!(
        matches!(&got, Ok(Some((code, msg))) if code == "53300" && msg.contains("too many connections logging in")),
        "{got:?}"
    );
    drop(waiting);
    std::thread::sleep(Duration::from_millis(500));
    success(&psql(&ward.url("alice", "db"), &["-c", "select 1"]));
}
