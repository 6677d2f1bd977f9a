//! The relay's two observers driven message by message, without a database: what reaches the
//! server, what reaches the client, and what is recorded, for pipelined batches with a denial,
//! COPY both ways, errors in each phase, and a store that stops taking events.

use std::sync::Mutex;

use serde_json::Value;
use ward_mask::MaskReport;
use ward_policy::{GuardrailConfig, Guardrails, StatementKind};
use ward_store::EventBody;

use super::*;

/// Records each event's kind and payload (written as the store would, masked) in a list.
struct Events {
    masker: Masker,
    list: Mutex<Vec<(EventKind, Value)>>,
    healthy: bool,
}

impl Events {
    fn new(healthy: bool) -> Self {
        Self {
            masker: Masker::builtin().expect("the built-in rules"),
            list: Mutex::new(Vec::new()),
            healthy,
        }
    }

    fn taken(&self) -> Vec<(EventKind, Value)> {
        std::mem::take(&mut *self.list.lock().expect("events"))
    }
}

impl Sink for Events {
    fn record(&self, body: impl EventBody) -> impl Future<Output = ()> + Send {
        let mut out = Vec::new();
        body.write_payload(&mut out, &self.masker, &mut MaskReport::new());
        let payload = serde_json::from_slice(&out).unwrap_or(Value::Null);
        self.list
            .lock()
            .expect("events")
            .push((body.kind(), payload));
        std::future::ready(())
    }
    fn may_release(&self) -> impl Future<Output = bool> + Send {
        std::future::ready(self.healthy)
    }
    fn store_healthy(&self) -> bool {
        self.healthy
    }
}

fn m(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode::message(&mut out, tag, |b| b.extend_from_slice(body));
    out
}

fn cstr(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(p.as_bytes());
        out.push(0);
    }
    out
}

fn query(sql: &str) -> Vec<u8> {
    m(b'Q', &cstr(&[sql]))
}

/// Parse, Bind and Execute of the unnamed statement and portal, no parameters, text results.
fn extended(sql: &str) -> Vec<u8> {
    let mut parse = cstr(&["", sql]);
    parse.extend_from_slice(&0i16.to_be_bytes());
    let mut out = m(b'P', &parse);
    let mut bind = cstr(&["", ""]);
    bind.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    out.extend(m(b'B', &bind));
    let mut execute = cstr(&[""]);
    execute.extend_from_slice(&0i32.to_be_bytes());
    out.extend(m(b'E', &execute));
    out
}

fn data_row(cells: &[&str]) -> Vec<u8> {
    let mut body = (cells.len() as i16).to_be_bytes().to_vec();
    for c in cells {
        body.extend_from_slice(&(c.len() as i32).to_be_bytes());
        body.extend_from_slice(c.as_bytes());
    }
    m(b'D', &body)
}

/// A RowDescription of text columns computed by the statement (no table).
fn row_description(names: &[&str]) -> Vec<u8> {
    let mut body = (names.len() as i16).to_be_bytes().to_vec();
    for n in names {
        body.extend(cstr(&[n]));
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&25u32.to_be_bytes());
        body.extend_from_slice(&(-1i16).to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
    }
    m(b'T', &body)
}

fn complete(tag: &str) -> Vec<u8> {
    m(b'C', &cstr(&[tag]))
}

fn ready() -> Vec<u8> {
    m(b'Z', b"I")
}

fn error(code: &str, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode::error_response(&mut out, "ERROR", code, text);
    out
}

/// A COPY response (`G` in, `H` out) of one text column.
fn copy_response(tag: u8) -> Vec<u8> {
    m(tag, &[0, 0, 1, 0, 0])
}

const LIMITS: Limits = Limits {
    max_message: 1 << 20,
    max_result: 1 << 20,
};

/// What one session's relay did with `client` bytes, then with the `server`'s answers.
struct Relayed {
    to_server: Vec<u8>,
    client_end: RelayEnd,
    to_client: Vec<u8>,
    server_end: RelayEnd,
}

async fn relay(
    (mut client_side, mut server_side): (ClientSide, ServerSide),
    client: &[u8],
    server: &[u8],
    sink: &Events,
) -> Relayed {
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let client_end = pump(
        &mut client_side,
        &mut &client[..],
        &mut to_server,
        &mut BytesMut::new(),
        LIMITS,
        sink,
    )
    .await;
    let server_end = pump(
        &mut server_side,
        &mut &server[..],
        &mut to_client,
        &mut BytesMut::new(),
        LIMITS,
        sink,
    )
    .await;
    Relayed {
        to_server,
        client_end,
        to_client,
        server_end,
    }
}

/// The tags of the messages in `bytes`, as a string (`12DCZ`).
fn tags(bytes: &[u8]) -> String {
    frame::frames(bytes).map(|(tag, _)| tag as char).collect()
}

fn kinds(events: &[(EventKind, Value)]) -> Vec<&'static str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

fn no_drops() -> Option<SessionGuardrails> {
    let rule = GuardrailConfig {
        name: "no-drops".into(),
        resources: Vec::new(),
        group: None,
        user: None,
        deny: vec![StatementKind::Drop],
        pattern: None,
        unparsed: Default::default(),
        action: Default::default(),
        approvers: Vec::new(),
        review_timeout: None,
        methods: Vec::new(),
        paths: Vec::new(),
        secrets: Vec::new(),
    };
    Guardrails::compile(&[rule])
        .expect("compiles")
        .for_session("db", "alice", &[])
}

#[tokio::test]
async fn a_denial_inside_a_pipelined_batch_passes_what_came_before_and_answers_once() {
    let sink = Events::new(true);
    let sides = state(None, no_drops(), FastPath::Allowed, None, false);
    let mut client = extended("SELECT 1");
    client.extend(extended("DROP TABLE t"));
    client.extend(m(b'S', b""));
    client.extend(query("SELECT 2"));
    let mut server = [m(b'1', b""), m(b'2', b""), data_row(&["1"])].concat();
    server.extend([complete("SELECT 1"), ready()].concat());
    server.extend([row_description(&["n"]), data_row(&["2"])].concat());
    server.extend([complete("SELECT 1"), ready()].concat());
    let r = relay(sides, &client, &server, &sink).await;

    // The denied Parse and the Bind and Execute after it never reach the server; its Sync does.
    assert_eq!(tags(&r.to_server), "PBESQ");
    assert!(matches!(r.client_end, RelayEnd::ClientClosed));
    // One error for the batch, just before its ReadyForQuery.
    assert_eq!(tags(&r.to_client), "12DCEZTDCZ");
    let denied = frame::frames(&r.to_client)
        .find(|(tag, _)| *tag == b'E')
        .map(|(_, range)| r.to_client[range].to_vec())
        .expect("the error");
    let code = backend::error_fields(&denied).expect("fields");
    assert!(
        code.iter().any(|(f, v)| *f == b'C' && *v == b"42501"),
        "{code:?}"
    );
    assert!(matches!(r.server_end, RelayEnd::UpstreamClosed));

    let events = sink.taken();
    assert_eq!(
        kinds(&events),
        [
            "db.query",
            "db.query",
            "policy.denied",
            "db.query",
            "db.result",
            "db.result"
        ]
    );
    assert_eq!(events[1].1["text"], "DROP TABLE t");
    assert_eq!(events[2].1["reason"], "drop");
    assert_eq!(events[4].1["rows"], serde_json::json!([["1"]]));
    assert_eq!(events[5].1["columns"][0]["name"], "n");
    assert_eq!(events[5].1["rows"], serde_json::json!([["2"]]));
}

#[tokio::test]
async fn copy_both_ways_is_recorded_masked_and_masked_for_a_mask_client_client() {
    let sink = Events::new(true);
    let mask = Masker::builtin().expect("the built-in rules");
    let sides = state(Some(mask), None, FastPath::Allowed, None, false);
    let card = "4111 1111 1111 1111";
    let mut client = query("COPY t FROM STDIN");
    client.extend(m(b'd', format!("a {card}\n").as_bytes()));
    client.extend(m(b'd', b"b\n"));
    client.extend(m(b'c', b""));
    client.extend(query("COPY t TO STDOUT"));
    let mut server = [copy_response(b'G'), complete("COPY 2"), ready()].concat();
    server.extend(copy_response(b'H'));
    server.extend(m(b'd', format!("a {card}\n").as_bytes()));
    server.extend(m(b'c', b""));
    server.extend([complete("COPY 1"), ready()].concat());
    let r = relay(sides, &client, &server, &sink).await;

    // What the client sends goes to the server as it is.
    assert_eq!(r.to_server, client);
    assert_eq!(tags(&r.to_client), "GCZHdcCZ");
    let shown = String::from_utf8_lossy(&r.to_client);
    assert!(!shown.contains(card), "{shown}");
    assert!(shown.contains("[REDACTED:card]"), "{shown}");

    let events = sink.taken();
    let copies: Vec<&Value> = events
        .iter()
        .filter(|(k, _)| *k == EventKind::DbCopy)
        .map(|(_, p)| p)
        .collect();
    assert_eq!(copies.len(), 2, "{events:?}");
    assert_eq!(copies[0]["direction"], "in");
    assert_eq!(copies[1]["direction"], "out");
    let recorded = serde_json::to_string(&events).expect("json");
    assert!(!recorded.contains(card), "{recorded}");
}

#[tokio::test]
async fn errors_in_each_phase_are_recorded_and_reach_the_client() {
    let sink = Events::new(true);
    let sides = state(None, None, FastPath::Allowed, None, false);
    // A statement the server cannot parse; one that fails after two rows; a COPY the client
    // gives up.
    let mut client = extended("SELEC 1");
    client.extend(m(b'S', b""));
    client.extend(query("SELECT 1/(2-n) FROM t"));
    client.extend(query("COPY t FROM STDIN"));
    client.extend(m(b'd', b"partial"));
    client.extend(m(b'f', &cstr(&["the client gave up"])));
    let mut server = [error("42601", "syntax error at or near \"SELEC\""), ready()].concat();
    server.extend(row_description(&["x"]));
    server.extend([data_row(&["1"]), data_row(&["2"])].concat());
    server.extend([error("22012", "division by zero"), ready()].concat());
    server.extend(copy_response(b'G'));
    server.extend([error("57014", "COPY from stdin failed"), ready()].concat());
    let r = relay(sides, &client, &server, &sink).await;

    assert_eq!(tags(&r.to_server), "PBESQQdf");
    assert_eq!(tags(&r.to_client), "EZTDDEZGEZ");
    let events = sink.taken();
    assert_eq!(
        kinds(&events),
        [
            "db.query",
            "db.query",
            "db.query",
            "db.copy",
            "db.error",
            "db.result",
            "db.error",
            "db.error"
        ]
    );
    assert_eq!(events[3].1["failed"], true, "{:?}", events[3]);
    // The rows that came before the error are kept, without a completion.
    assert_eq!(events[5].1["rows"], serde_json::json!([["1"], ["2"]]));
    assert!(events[5].1.get("tag").is_none(), "{:?}", events[5]);
    assert_eq!(events[6].1["code"], "22012");
}

#[tokio::test]
async fn nothing_passes_once_the_store_stops_taking_events() {
    let sink = Events::new(false);
    let sides = state(None, None, FastPath::Allowed, None, false);
    let r = relay(
        sides,
        &query("SELECT 1"),
        &[complete("SELECT 1"), ready()].concat(),
        &sink,
    )
    .await;
    assert!(matches!(r.client_end, RelayEnd::StoreUnavailable));
    assert!(r.to_server.is_empty());
    assert!(matches!(r.server_end, RelayEnd::StoreUnavailable));
    assert!(r.to_client.is_empty());
}

/// A message Ward cannot read ends the relay with a protocol error, and neither it nor what
/// follows it is passed on, while the whole messages before it are.
#[tokio::test]
async fn an_unreadable_message_is_not_passed_on() {
    let sink = Events::new(true);
    let sides = state(None, None, FastPath::Allowed, None, false);
    // A Query without its terminating NUL, between two good ones, in one write.
    let client = [query("SELECT 1"), m(b'Q', b"SELECT 2"), query("SELECT 3")].concat();
    let server = [complete("SELECT 1"), ready(), m(b'T', &[0xff]), ready()].concat();
    let r = relay(sides, &client, &server, &sink).await;
    assert!(matches!(r.client_end, RelayEnd::ClientProtocol(_)));
    assert_eq!(r.to_server, query("SELECT 1"));
    assert!(matches!(r.server_end, RelayEnd::UpstreamProtocol(_)));
    assert_eq!(tags(&r.to_client), "CZ");

    // A message longer than the limit is refused by its length, before it is read.
    let sides = state(None, None, FastPath::Allowed, None, false);
    let mut huge = vec![b'Q'];
    huge.extend_from_slice(&((LIMITS.max_message as i32) + 8).to_be_bytes());
    let r = relay(sides, &huge, &[], &sink).await;
    assert!(matches!(r.client_end, RelayEnd::ClientProtocol(_)));
    assert!(r.to_server.is_empty());
}
