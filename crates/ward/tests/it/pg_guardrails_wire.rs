//! Guardrail denials at the wire level, with a hand-written client: the exact messages a client
//! gets for pipelined simple and extended batches, after a Flush, and inside a transaction block.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ward_testkit::{ClusterOptions, PASSWORD, Postgres, Ward};

use crate::WARD;

fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn query(sql: &str) -> Vec<u8> {
    msg(b'Q', &cstr(sql))
}

fn parse(sql: &str) -> Vec<u8> {
    let mut b = cstr("");
    b.extend(cstr(sql));
    b.extend_from_slice(&0i16.to_be_bytes());
    msg(b'P', &b)
}

/// Bind of the unnamed portal and statement, no parameters, text results; then Execute.
fn bind_execute() -> Vec<u8> {
    let mut b = cstr("");
    b.extend(cstr(""));
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut m = msg(b'B', &b);
    let mut e = cstr("");
    e.extend_from_slice(&0i32.to_be_bytes());
    m.extend(msg(b'E', &e));
    m
}

fn sync() -> Vec<u8> {
    msg(b'S', &[])
}

struct Client(TcpStream);

impl Client {
    fn connect(ward: &Ward) -> Self {
        let tcp = TcpStream::connect(("127.0.0.1", ward.port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut c = Client(tcp);
        let mut body = 196608i32.to_be_bytes().to_vec();
        for s in ["user", "alice", "database", "shop", ""] {
            body.extend(cstr(s));
        }
        let mut startup = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        startup.extend(body);
        c.send(&startup);
        let (tag, _) = c.read();
        assert_eq!(tag, b'R', "password request");
        c.send(&msg(b'p', &cstr(PASSWORD)));
        c.until_ready();
        c
    }

    fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).expect("write");
    }

    fn read(&mut self) -> (u8, Vec<u8>) {
        let mut head = [0u8; 5];
        self.0.read_exact(&mut head).expect("message header");
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        self.0.read_exact(&mut body).expect("message body");
        (head[0], body)
    }

    /// Messages up to and including ReadyForQuery: their tags (as a string), the SQLSTATEs of
    /// errors and the transaction status.
    fn until_ready(&mut self) -> (String, Vec<String>, char) {
        let (mut tags, mut codes) = (String::new(), Vec::new());
        loop {
            let (tag, body) = self.read();
            match tag {
                b'E' => codes.push(field(&body, b'C')),
                b'Z' => return (tags + "Z", codes, body.first().map_or('?', |s| *s as char)),
                b'S' | b'K' | b'R' | b'N' => continue,
                _ => {}
            }
            tags.push(tag as char);
        }
    }
}

fn field(body: &[u8], code: u8) -> String {
    body.split(|b| *b == 0)
        .find(|f| f.first() == Some(&code))
        .map(|f| String::from_utf8_lossy(&f[1..]).into_owned())
        .unwrap_or_default()
}

fn start(pg: &Postgres) -> Ward {
    Ward::builder(WARD)
        .postgres_resource("shop", pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config("[[guardrails]]\nname = \"safety\"\ndeny = [\"drop\", \"truncate\"]\n")
        .plaintext_loopback()
        .start()
        .expect("ward")
}

#[test]
fn pipelined_batches_get_their_answers_in_order() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("CREATE TABLE items (id int); ALTER TABLE items OWNER TO app")
        .expect("table");
    let ward = start(&pg);
    let mut c = Client::connect(&ward);

    // Three simple queries in one write, the middle one denied.
    let mut batch = query("SELECT 1");
    batch.extend(query("TRUNCATE items"));
    batch.extend(query("SELECT 2"));
    c.send(&batch);
    assert_eq!(c.until_ready(), ("TDCZ".into(), vec![], 'I'));
    assert_eq!(c.until_ready(), ("EZ".into(), vec!["42501".into()], 'I'));
    assert_eq!(c.until_ready(), ("TDCZ".into(), vec![], 'I'));

    // An extended batch in one write: the statement before the denied one runs, the messages
    // after it up to Sync are skipped, then one error and one ReadyForQuery.
    let mut batch = parse("SELECT 1");
    batch.extend(bind_execute());
    batch.extend(parse("DROP TABLE items"));
    batch.extend(bind_execute());
    batch.extend(sync());
    batch.extend(query("SELECT 'after'"));
    c.send(&batch);
    assert_eq!(
        c.until_ready(),
        ("12DCEZ".into(), vec!["42501".into()], 'I')
    );
    assert_eq!(c.until_ready(), ("TDCZ".into(), vec![], 'I'));

    // Inside a transaction block, ReadyForQuery carries the server's status.
    c.send(&query("BEGIN"));
    assert_eq!(c.until_ready(), ("CZ".into(), vec![], 'T'));
    c.send(&query("DROP TABLE items"));
    assert_eq!(c.until_ready(), ("EZ".into(), vec!["42501".into()], 'T'));
    c.send(&query("SELECT 1/0"));
    assert_eq!(c.until_ready(), ("EZ".into(), vec!["22012".into()], 'E'));
    c.send(&query("DROP TABLE items"));
    assert_eq!(c.until_ready(), ("EZ".into(), vec!["42501".into()], 'E'));
    c.send(&query("ROLLBACK"));
    assert_eq!(c.until_ready(), ("CZ".into(), vec![], 'I'));
    let n = pg
        .sql("SELECT count(*) FROM pg_tables WHERE tablename = 'items'")
        .expect("table");
    assert_eq!(n.trim(), "1");
}

#[test]
fn a_flush_after_a_denied_parse_brings_the_error_before_the_sync() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    pg.sql("CREATE TABLE items (id int); ALTER TABLE items OWNER TO app")
        .expect("table");
    let ward = start(&pg);
    let mut c = Client::connect(&ward);
    let mut batch = parse("DROP TABLE items");
    batch.extend(msg(b'H', &[]));
    c.send(&batch);
    // The error comes without a ReadyForQuery: the client has not synced yet.
    let (tag, body) = c.read();
    assert_eq!((tag, field(&body, b'C')), (b'E', "42501".to_owned()));
    assert!(field(&body, b'M').contains("guardrail \"safety\""));
    let mut rest = bind_execute();
    rest.extend(msg(b'H', &[]));
    rest.extend(sync());
    c.send(&rest);
    assert_eq!(c.until_ready(), ("Z".into(), vec![], 'I'));
    c.send(&query("SELECT 'after'"));
    assert_eq!(c.until_ready(), ("TDCZ".into(), vec![], 'I'));
}

/// A FunctionCall of `oid` with one text argument, text result.
fn function_call(oid: u32, arg: &str) -> Vec<u8> {
    let mut b = oid.to_be_bytes().to_vec();
    b.extend_from_slice(&[0, 1, 0, 0, 0, 1]);
    b.extend_from_slice(&(arg.len() as i32).to_be_bytes());
    b.extend_from_slice(arg.as_bytes());
    b.extend_from_slice(&[0, 0]);
    msg(b'F', &b)
}

/// A fast-path call names a function by OID only. Ward looks the name up in the catalog, so a
/// guardrail pattern on a function's name stops it whatever the function (not only libpq's
/// large-object ones), and the record names it.
#[test]
fn fast_path_calls_of_any_function_are_named_and_meet_name_patterns() {
    let pg = Postgres::start(&ClusterOptions::default()).expect("postgres");
    let oid = |sig: &str| -> u32 {
        pg.sql(&format!("SELECT '{sig}'::regprocedure::oid"))
            .expect("oid")
            .trim()
            .parse()
            .expect("a number")
    };
    let (md5, length) = (oid("md5(text)"), oid("length(text)"));
    let ward = Ward::builder(WARD)
        .postgres_resource("shop", &pg)
        .user("alice", &["dev"])
        .grant("dev", "shop")
        .config("[[guardrails]]\nname = \"no-md5\"\npattern = \"md5\"\n")
        .plaintext_loopback()
        .start()
        .expect("ward");
    let mut c = Client::connect(&ward);
    c.send(&function_call(md5, "secret"));
    assert_eq!(c.until_ready(), ("EZ".into(), vec!["42501".into()], 'I'));
    c.send(&function_call(length, "abc"));
    let (tag, body) = c.read();
    assert_eq!(
        tag,
        b'V',
        "the allowed call is answered: {}",
        field(&body, b'M')
    );
    assert_eq!(&body[4..], b"3");
    assert_eq!(c.until_ready(), ("Z".into(), vec![], 'I'));
    drop(c);

    let sessions = ward.wait_sessions(1);
    let events = ward.events(sessions[0]["id"].as_str().expect("id"));
    let named = |kind: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["payload"]["function"].as_str().unwrap_or("?").to_owned())
            .collect()
    };
    assert_eq!(named("db.function_call"), ["md5", "length"]);
    assert_eq!(named("db.function_result"), ["length"]);
    let denied = events
        .iter()
        .find(|e| e["kind"] == "policy.denied")
        .expect("the denial");
    assert_eq!(denied["payload"]["rule"], "no-md5", "{denied}");
}
