//! Bad packets on Ward's MySQL listener get an ERR packet (or, where no answer is possible, a
//! clean close) in bounded time, every session they open ends in the record, and Ward goes on
//! serving: a raw client over plain TCP on loopback (`allow_plaintext_loopback`) sends each
//! malformed login or command on a fresh connection, and the real `mariadb` client checks
//! Ward after each.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use ward_testkit::{Mariadb, PASSWORD, Ward, mysql, of_kind};

use crate::WARD;

/// How long any answer may take.
const BOUND: Duration = Duration::from_secs(10);

/// Capability flags of the raw client (`CLIENT_*`).
const PROTOCOL_41: u32 = 1 << 9;
const CONNECT_WITH_DB: u32 = 1 << 3;
const SECURE_CONNECTION: u32 = 1 << 15;
const PLUGIN_AUTH: u32 = 1 << 19;
const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
const DEPRECATE_EOF: u32 = 1 << 24;
const CAPABILITIES: u32 = PROTOCOL_41
    | SECURE_CONNECTION
    | PLUGIN_AUTH
    | PLUGIN_AUTH_LENENC_CLIENT_DATA
    | CONNECT_WITH_DB
    | DEPRECATE_EOF;

/// Commands (`COM_*`).
const COM_QUIT: u8 = 0x01;
const COM_QUERY: u8 = 0x03;
const COM_CHANGE_USER: u8 = 0x11;
const COM_BINLOG_DUMP: u8 = 0x12;

/// One packet: a 3-byte little-endian payload length, the sequence number, the payload.
fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let [a, b, c, _] = (payload.len() as u32).to_le_bytes();
    let mut out = vec![a, b, c, seq];
    out.extend_from_slice(payload);
    out
}

/// A HandshakeResponse41 for alice on `shop`, with `capabilities`, an empty auth response
/// (Ward switches a plaintext loopback client to `mysql_clear_password` anyway).
fn hello(capabilities: u32) -> Vec<u8> {
    let mut p = capabilities.to_le_bytes().to_vec();
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(b"alice\0");
    p.push(0);
    p.extend_from_slice(b"shop\0");
    p.extend_from_slice(b"caching_sha2_password\0");
    p
}

/// Reads one packet: its sequence number and payload.
fn read_packet(s: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 4];
    s.read_exact(&mut header)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload)?;
    Ok((header[3], payload))
}

/// What the client got.
#[derive(Debug, PartialEq)]
enum Answer {
    /// An ERR packet: its error number, SQLSTATE and message.
    Err(u16, String, String),
    /// The connection closed with nothing (more) to read.
    Closed,
    /// Another packet.
    Other(Vec<u8>),
}

/// The next packet, read as an ERR when it is one.
fn answer(s: &mut TcpStream) -> Answer {
    match read_packet(s) {
        Ok((_, p)) => err_of(&p).unwrap_or(Answer::Other(p)),
        // A reset counts as a close: Ward closes with bytes of the refused packet unread.
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            Answer::Closed
        }
        Err(e) => panic!("reading an answer: {e}"),
    }
}

/// An ERR packet with a SQLSTATE (`0xff`, error number, `#`, five characters, message).
fn err_of(p: &[u8]) -> Option<Answer> {
    let [0xff, lo, hi, b'#', rest @ ..] = p else {
        return None;
    };
    let (state, message) = rest.split_at_checked(5)?;
    Some(Answer::Err(
        u16::from_le_bytes([*lo, *hi]),
        String::from_utf8_lossy(state).into_owned(),
        String::from_utf8_lossy(message).into_owned(),
    ))
}

fn connect(ward: &Ward) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", ward.mysql_port.expect("mysql listener")))
        .expect("connect");
    s.set_read_timeout(Some(BOUND)).expect("timeout");
    s
}

/// A connection with Ward's greeting read.
fn greeted(ward: &Ward) -> TcpStream {
    let mut s = connect(ward);
    let (seq, greeting) = read_packet(&mut s).expect("greeting");
    assert_eq!((seq, greeting.first()), (0, Some(&10)), "{greeting:?}");
    s
}

/// A logged-in connection: greeting, login, the switch to `mysql_clear_password` answered with
/// the password, Ward's OK.
fn login(ward: &Ward) -> TcpStream {
    let mut s = greeted(ward);
    s.write_all(&packet(1, &hello(CAPABILITIES)))
        .expect("login");
    let (seq, switch) = read_packet(&mut s).expect("auth switch");
    assert_eq!(seq, 2);
    assert!(
        switch.starts_with(b"\xfemysql_clear_password\0"),
        "{:?}",
        String::from_utf8_lossy(&switch)
    );
    let mut password = PASSWORD.as_bytes().to_vec();
    password.push(0);
    s.write_all(&packet(3, &password)).expect("password");
    let (seq, ok) = read_packet(&mut s).expect("login answer");
    assert_eq!((seq, ok.first()), (4, Some(&0)), "{:?}", answer_of(&ok));
    s
}

fn answer_of(p: &[u8]) -> Answer {
    err_of(p).unwrap_or_else(|| Answer::Other(p.to_vec()))
}

/// Runs COM_QUERY `sql` on a logged-in connection; the rows' cells, or the ERR.
fn query(s: &mut TcpStream, sql: &str) -> Result<Vec<Vec<u8>>, Answer> {
    let mut command = vec![COM_QUERY];
    command.extend_from_slice(sql.as_bytes());
    s.write_all(&packet(0, &command)).expect("query");
    let (_, first) = read_packet(s).expect("answer");
    match first.first() {
        Some(0x00) => return Ok(Vec::new()),
        Some(0xff) => return Err(answer_of(&first)),
        _ => {}
    }
    let columns = usize::from(first.first().copied().expect("a column count"));
    for _ in 0..columns {
        read_packet(s).expect("column definition");
    }
    let mut rows = Vec::new();
    loop {
        let (_, p) = read_packet(s).expect("row");
        match p.first() {
            Some(0xfe) if p.len() < 9 => return Ok(rows),
            Some(0xff) => return Err(answer_of(&p)),
            _ => rows.push(p),
        }
    }
}

/// The real client through Ward, over TLS: `SELECT 6 * 7` answers 42.
fn serves_mariadb(ward: &Ward, after: &str) {
    let out = ward.mysql_client("alice", "shop", "SELECT 6 * 7", &["--skip-column-names"]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "42",
        "after {after}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        ward.log()
    );
}

/// Asserts `got` is an ERR with error number `code` whose message contains `text`.
#[track_caller]
fn assert_err(case: &str, got: &Answer, code: u16, text: &str, ward: &Ward) {
    match got {
        Answer::Err(c, state, message)
            if *c == code && state.len() == 5 && message.contains(text) => {}
        other => panic!(
            "{case}: {other:?}, where ERR {code} with \"{text}\" was expected\n{}",
            ward.log()
        ),
    }
}

/// After an ERR that ends the connection, Ward closes it.
#[track_caller]
fn assert_closed(case: &str, s: &mut TcpStream) {
    let got = answer(s);
    assert_eq!(got, Answer::Closed, "{case}: not closed after the ERR");
}

#[test]
fn malformed_packets_get_an_err_and_ward_keeps_serving() {
    let db = Mariadb::start(false).expect("mariadb");
    let ward = Ward::builder(WARD)
        .mysql()
        .plaintext_loopback()
        .mysql_resource("shop", &db, "app")
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .recording("max_message_bytes = \"64KiB\"")
        .start()
        .expect("ward");
    // Sessions that log in; each one must end in the record.
    let mut sessions = 0;

    serves_mariadb(&ward, "start");
    sessions += 1;
    // A session open throughout: the bad ones around it do not disturb it.
    let mut steady = login(&ward);
    assert_eq!(query(&mut steady, "SELECT 1"), Ok(vec![b"\x011".to_vec()]));
    sessions += 1;

    // Before login: each is refused with an ERR and the connection closed.
    let mut huge = vec![0xff, 0xff, 0x01, 1];
    huge.extend_from_slice(&[b'x'; 1024]);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        // "GET " read as a header declares 2 MiB.
        (
            "garbage instead of a login",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            1153,
            "over the limit",
        ),
        (
            "a framed login of garbage",
            packet(1, &[0xff; 48]),
            1043,
            "malformed handshake response",
        ),
        (
            "a login cut short",
            packet(1, hello(CAPABILITIES).get(..20).expect("20 bytes")),
            1043,
            "malformed handshake response",
        ),
        (
            "a login declaring 128 KiB",
            huge,
            1153,
            "over the limit of 65536 bytes",
        ),
        (
            "a login with a wrong sequence number",
            packet(5, &hello(CAPABILITIES)),
            1043,
            "out of sequence (expected number 1, got 5)",
        ),
        (
            "a login without CLIENT_PROTOCOL_41",
            packet(1, &hello(CAPABILITIES & !PROTOCOL_41)),
            1043,
            "protocol 4.1",
        ),
    ];
    for (case, bytes, code, text) in cases {
        let started = Instant::now();
        let mut s = greeted(&ward);
        let _ = s.write_all(&bytes);
        assert_err(case, &answer(&mut s), code, text, &ward);
        assert_closed(case, &mut s);
        assert!(started.elapsed() < BOUND, "{case}: {:?}", started.elapsed());
        serves_mariadb(&ward, case);
        sessions += 1;
    }

    // A login packet that stops halfway, then the client leaves: nothing to answer, no session.
    let started = Instant::now();
    let mut s = greeted(&ward);
    let login_packet = packet(1, &hello(CAPABILITIES));
    s.write_all(&login_packet[..30]).expect("half a login");
    s.shutdown(Shutdown::Write).expect("half close");
    assert_eq!(answer(&mut s), Answer::Closed, "a login cut by the client");
    assert!(started.elapsed() < BOUND);
    serves_mariadb(&ward, "a login cut by the client");
    sessions += 1;

    // After login: the packet ends the session with an ERR, and Ward closes the connection.
    let mut too_big = vec![COM_QUERY];
    too_big.extend_from_slice(b"SELECT '");
    too_big.resize(100 * 1024, b'a');
    too_big.push(b'\'');
    let ending: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "an empty command packet",
            packet(0, b""),
            1835,
            "malformed command",
        ),
        (
            "a command with a wrong sequence number",
            packet(3, b"\x03SELECT 1"),
            1835,
            "out of sequence (expected number 0, got 3)",
        ),
        (
            "a command over max_message_bytes",
            packet(0, &too_big),
            1153,
            "over the limit of 65536 bytes",
        ),
    ];
    for (case, bytes, code, text) in ending {
        let started = Instant::now();
        let mut s = login(&ward);
        sessions += 1;
        // Ward may close before it has read all of it.
        let _ = s.write_all(&bytes);
        assert_err(case, &answer(&mut s), code, text, &ward);
        assert_closed(case, &mut s);
        assert!(started.elapsed() < BOUND, "{case}: {:?}", started.elapsed());
        serves_mariadb(&ward, case);
        sessions += 1;
    }

    // A real client still writing a statement Ward refuses reads Ward's ERR: Ward reads on
    // until the client is done before it closes. So does one whose password is too long.
    let big = format!("SELECT '{}'", "a".repeat(100 * 1024));
    let long_password = format!("-p{}", "p".repeat(70 * 1024));
    let port = ward.mysql_port.expect("port").to_string();
    for round in 0..3 {
        let out = ward.mysql_client("alice", "shop", &big, &[]);
        sessions += 1;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("ERROR 1153"),
            "statement, round {round}: {err}"
        );
        let out = mysql(&[
            "-h",
            "127.0.0.1",
            "-P",
            &port,
            "-u",
            "alice",
            &long_password,
            "-D",
            "shop",
            "--ssl",
            "-e",
            "SELECT 1",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("ERROR 1153"), "password, round {round}: {err}");
    }

    // After login: the command is refused with an ERR, recorded, and the session goes on.
    let mut change_user = vec![COM_CHANGE_USER];
    change_user.extend_from_slice(b"root\0\0app\0");
    let refused: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "an unknown command byte",
            vec![0x99, 1, 2, 3],
            1047,
            "Ward does not relay command byte 0x99",
        ),
        (
            "COM_BINLOG_DUMP",
            vec![COM_BINLOG_DUMP, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0],
            1047,
            "COM_BINLOG_DUMP",
        ),
        ("COM_CHANGE_USER", change_user, 1227, "COM_CHANGE_USER"),
    ];
    for (case, payload, code, text) in &refused {
        let started = Instant::now();
        let mut s = login(&ward);
        sessions += 1;
        s.write_all(&packet(0, payload)).expect("send");
        assert_err(case, &answer(&mut s), *code, text, &ward);
        assert!(started.elapsed() < BOUND, "{case}: {:?}", started.elapsed());
        // The same session still answers, then ends cleanly.
        assert_eq!(
            query(&mut s, "SELECT 2"),
            Ok(vec![b"\x012".to_vec()]),
            "{case}: the session goes on"
        );
        s.write_all(&packet(0, &[COM_QUIT])).expect("quit");
        assert_eq!(answer(&mut s), Answer::Closed, "{case}: after COM_QUIT");
        serves_mariadb(&ward, case);
        sessions += 1;
    }

    // A client that leaves in the middle of its command, and one that leaves while the server
    // is still answering: nothing to tell, and the session ends.
    let mut s = login(&ward);
    sessions += 1;
    s.write_all(&packet(0, b"\x03SELECT 'never finished'")[..12])
        .expect("half a command");
    drop(s);
    let mut s = login(&ward);
    sessions += 1;
    s.write_all(&packet(0, b"\x03SELECT SLEEP(1)"))
        .expect("a slow query");
    drop(s);
    serves_mariadb(&ward, "clients leaving mid-command");
    sessions += 1;

    // The steady session was not disturbed.
    assert_eq!(query(&mut steady, "SELECT 3"), Ok(vec![b"\x013".to_vec()]));
    steady.write_all(&packet(0, &[COM_QUIT])).expect("quit");
    drop(steady);

    // The record: every session ends with an outcome.
    let listed = ward.wait_sessions(sessions);
    assert_eq!(listed.len(), sessions, "{listed:#?}");
    for s in &listed {
        assert!(
            !s["ended_at"].is_null() && s["outcome"].is_string(),
            "a session without an end: {s:#}\n{}",
            ward.log()
        );
    }
    let events: Vec<Vec<serde_json::Value>> = listed
        .iter()
        .map(|s| ward.events(s["id"].as_str().expect("id")))
        .collect();
    // The sessions Ward ended for a bad packet end in error, with the ERR it sent recorded.
    let errors: Vec<&str> = listed
        .iter()
        .zip(&events)
        .filter(|(s, _)| s["outcome"] == "error")
        .flat_map(|(_, events)| of_kind(events, "db.error"))
        .filter_map(|e| e["payload"]["message"].as_str())
        .collect();
    // Three raw packets, then the real client's three oversize statements.
    assert_eq!(errors.len(), 6, "{listed:#?}");
    let expected = [
        ("invalid packet from the client", "malformed command"),
        ("invalid packet from the client", "out of sequence"),
        ("packet from the client refused", "over the limit"),
        ("packet from the client refused", "over the limit"),
        ("packet from the client refused", "over the limit"),
        ("packet from the client refused", "over the limit"),
    ];
    for (error, (start, text)) in errors.iter().zip(expected) {
        assert!(
            error.starts_with(start) && error.contains(text),
            "{errors:?}"
        );
    }
    // Every refused command is a `policy.denied` naming it, in its own session.
    let denied: Vec<&serde_json::Value> = events
        .iter()
        .flat_map(|events| of_kind(events, "policy.denied"))
        .collect();
    let commands: Vec<(&str, &str)> = denied
        .iter()
        .map(|d| {
            let p = &d["payload"];
            (
                p["command"].as_str().unwrap_or_default(),
                p["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        commands,
        [
            ("command byte 0x99", "command"),
            ("COM_BINLOG_DUMP", "command"),
            ("COM_CHANGE_USER", "change user")
        ],
        "{denied:#?}"
    );
    assert!(
        denied.iter().all(|d| d["payload"]["protocol"] == "command"),
        "{denied:#?}"
    );
    let verify = ward.cli(&["verify"]);
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(!ward.log().contains("panicked"), "{}", ward.log());
}
