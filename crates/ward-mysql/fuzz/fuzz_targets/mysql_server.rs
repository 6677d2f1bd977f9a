//! Fuzz target: what a server sends, on arbitrary bytes — its greeting and authentication
//! replies, each answer packet the relay reads (OK, ERR, EOF, column count, column definition,
//! text and binary row, COM_STMT_PREPARE's OK), whole responses followed packet by packet by
//! `results::Response` after framing at arbitrary read boundaries, and the `db.*` records built
//! from them. Well-formed responses built from the input must be followed exactly.
//!
//! The input is a control byte, then the server's byte stream. The control byte's bits 0, 1 and
//! 4 pick the first command's answer shape, bit 2 `CLIENT_DEPRECATE_EOF`, bit 3
//! `CLIENT_SESSION_TRACK`, and the high bit a small packet limit (`ward_mysql_fuzz::limit`).
#![no_main]

use std::borrow::Cow;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ward_mysql::codec::binary::{self, types};
use ward_mysql::codec::handshake::{self, AuthReply, Greeting};
use ward_mysql::codec::reader::put_lenenc;
use ward_mysql::codec::response::{self, Column};
use ward_mysql::codec::{ProtocolError, caps, packet, status};
use ward_mysql::record::{Complete, ResultSet, Rows, ServerError};
use ward_mysql::results::{Response, Seen, Shape};
use ward_mysql_fuzz::{encode_column, encode_row};

const SHAPES: [Shape; 5] = [
    Shape::Results,
    Shape::Single,
    Shape::FieldList,
    Shape::Text,
    Shape::Prepare,
];

/// Column types of binary rows: each fixed size, the dates and times, strings.
const TYPES: [u8; 16] = [
    types::DECIMAL,
    types::TINY,
    types::SHORT,
    types::LONG,
    types::FLOAT,
    types::DOUBLE,
    types::NULL,
    types::TIMESTAMP,
    types::LONGLONG,
    types::INT24,
    types::DATE,
    types::TIME,
    types::DATETIME,
    types::YEAR,
    0xfd,
    0xfc,
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let max = ward_mysql_fuzz::limit(control);
    let capabilities = capabilities(control);
    // Each parser sees the raw bytes as a payload, without framing in the way.
    greeting(stream);
    greeting_built(stream);
    auth_reply(stream);
    answers(stream, capabilities);
    binary_row(stream);
    // The raw bytes as the answers to a series of commands.
    responses(stream, max, control);
    // A well-formed answer made from the input.
    built(stream, capabilities);
});

fn capabilities(control: u8) -> u32 {
    let mut c = caps::WARD & !(caps::DEPRECATE_EOF | caps::SESSION_TRACK);
    if control & 4 != 0 {
        c |= caps::DEPRECATE_EOF;
    }
    if control & 8 != 0 {
        c |= caps::SESSION_TRACK;
    }
    c
}

/// A greeting, and what must hold of what it parses to: `Greeting::encode` gives it back when
/// its scramble is one the encoder takes (20 bytes or more, as `SECURE_CONNECTION` sends it).
fn greeting(payload: &[u8]) {
    let g = match handshake::greeting(payload) {
        Ok(g) => g,
        Err(ProtocolError::Unsupported) => return,
        Err(e) => {
            assert!(matches!(e, ProtocolError::Malformed { .. }), "{e:?}");
            return;
        }
    };
    assert_eq!(payload.first(), Some(&10));
    assert!(g.capabilities & caps::PROTOCOL_41 != 0);
    assert!(!g.server_version.contains(&0) && !g.auth_plugin.contains(&0));
    assert!(g.scramble.len() >= 8);
    if g.capabilities & caps::SECURE_CONNECTION != 0 && (20..=254).contains(&g.scramble.len()) {
        let mut out = Vec::new();
        g.encode(&mut out);
        assert_eq!(handshake::greeting(&out), Ok(g));
    }
}

/// A greeting as Ward writes its own (20-byte scramble without NULs, `SECURE_CONNECTION` and
/// `PLUGIN_AUTH`), with fields from the input: `encode` then `greeting` gives it back.
fn greeting_built(data: &[u8]) {
    let no_nul = |b: &[u8]| -> Vec<u8> { b.iter().map(|&b| b.max(1)).collect() };
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let mut scramble = no_nul(data.get(..20.min(data.len())).unwrap_or_default());
    scramble.resize(20, b'x');
    let word = u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)]);
    let g = Greeting {
        server_version: no_nul(data.get(20..40.min(data.len())).unwrap_or_default()),
        connection_id: word,
        scramble,
        capabilities: word.rotate_left(7)
            | caps::PROTOCOL_41
            | caps::SECURE_CONNECTION
            | caps::PLUGIN_AUTH,
        charset: byte(4),
        status: u16::from_le_bytes([byte(5), byte(6)]),
        auth_plugin: no_nul(data.get(40..).unwrap_or_default()),
    };
    let mut out = Vec::new();
    g.encode(&mut out);
    assert_eq!(handshake::greeting(&out), Ok(g));
}

/// What the server says during authentication; a switch request round-trips through
/// `auth_switch`.
fn auth_reply(payload: &[u8]) {
    let got = handshake::auth_reply(payload);
    match (payload.first(), &got) {
        (Some(0x00), Ok(AuthReply::Ok)) | (Some(0xff), Ok(AuthReply::Err)) => {}
        (Some(0x01), Ok(AuthReply::More(rest))) => assert_eq!(Some(*rest), payload.get(1..)),
        (Some(0xfe), Ok(AuthReply::Switch { plugin, data })) => {
            assert!(!plugin.contains(&0));
            let mut out = Vec::new();
            handshake::auth_switch(&mut out, plugin, data);
            assert_eq!(handshake::auth_reply(&out), got);
        }
        (_, Err(_)) => assert!(!matches!(payload.first(), Some(0x00 | 0x01 | 0xfe | 0xff))),
        (first, got) => panic!("header {first:?} read as {got:?}"),
    }
}

/// Each answer packet parser on `payload`, and what must hold of what it reads: what it reads
/// is written back by the matching encoder (Ward's own, or the fuzz harness's for column
/// definitions and rows) and read again the same.
fn answers(payload: &[u8], capabilities: u32) {
    assert_eq!(response::is_err(payload), payload.first() == Some(&0xff));
    if let Ok(ok) = response::ok(payload, capabilities) {
        assert!(matches!(payload.first(), Some(0x00 | 0xfe)));
        let mut out = Vec::new();
        response::encode_ok(&mut out, ok.affected_rows, ok.status, ok.warnings);
        assert!(response::is_ok(&out));
        let again = response::ok(&out, capabilities).expect("Ward's OK reads");
        assert_eq!(
            (
                again.affected_rows,
                again.last_insert_id,
                again.status,
                again.warnings
            ),
            (ok.affected_rows, 0, ok.status, ok.warnings)
        );
        assert!(again.info.is_empty());
        if capabilities & caps::DEPRECATE_EOF != 0 {
            assert_eq!(
                response::end_status(payload, capabilities),
                Ok((ok.status, ok.warnings))
            );
        }
    }
    if capabilities & caps::DEPRECATE_EOF == 0 {
        let eof = response::end_status(payload, capabilities);
        assert_eq!(eof.is_ok(), payload.len() >= 5);
    }
    match response::err(payload) {
        Ok(e) => {
            assert_eq!(payload.first(), Some(&0xff));
            assert_eq!(e.sqlstate.len(), 5);
            assert!(payload.ends_with(e.message));
            if let (Ok(state), Ok(message)) = (
                std::str::from_utf8(e.sqlstate),
                std::str::from_utf8(e.message),
            ) {
                let mut out = Vec::new();
                response::encode_err(&mut out, e.code, state, message);
                assert_eq!(response::err(&out), Ok(e.clone()));
            }
            ward_mysql_fuzz::record(&ServerError(Bytes::copy_from_slice(payload)));
        }
        // Not an ERR, cut short, or a SQLSTATE marker without its five characters.
        Err(_) => assert!(
            payload.first() != Some(&0xff)
                || payload.len() < 3
                || (payload.get(3) == Some(&b'#') && payload.len() < 9)
        ),
    }
    if let Ok(c) = response::column(payload) {
        let mut out = Vec::new();
        encode_column(&mut out, &c);
        assert_eq!(response::column(&out), Ok(c));
    }
    if let Ok(n) = response::column_count(payload) {
        assert!(n > 0);
        let mut out = Vec::new();
        put_lenenc(&mut out, n);
        assert!(out.len() <= payload.len());
        assert_eq!(response::column_count(&out), Ok(n));
    }
    if let Ok(cells) = response::text_row(payload) {
        let mut out = Vec::new();
        encode_row(&mut out, &cells);
        assert!(
            out.len() <= payload.len(),
            "canonical lengths are the shortest"
        );
        assert_eq!(response::text_row(&out), Ok(cells));
    }
    // The raw bytes as rows of a result, as the record decodes them.
    ward_mysql_fuzz::record(&ResultSet {
        columns: response::column(payload).into_iter().collect(),
        rows: one_row(payload),
        row_count: 1,
        truncated: false,
        completion: None,
        binary: false,
    });
    if let Ok(ok) = binary::prepare_ok(payload) {
        assert_eq!(payload.first(), Some(&0));
        assert!(payload.len() >= 9);
        let _ = (ok.statement, ok.columns, ok.params);
    }
}

/// A binary row for columns of types drawn from its first byte: what it reads is written back
/// by `binary::encode_row` (as the relay does for a `mask_client` client) and read again the
/// same; each value renders as text.
fn binary_row(payload: &[u8]) {
    let n = payload.get(1).map_or(0, |b| usize::from(b % 12));
    let columns: Vec<u8> = payload
        .iter()
        .rev()
        .take(n)
        .map(|b| TYPES[usize::from(b % 16)])
        .collect();
    let Ok(cells) = binary::row(payload, &columns) else {
        return;
    };
    assert_eq!(cells.len(), columns.len());
    for (cell, &ty) in cells.iter().zip(&columns) {
        if let Some(v) = cell {
            let _ = binary::render(ty, v.first().is_some_and(|b| b & 1 != 0), v);
        }
    }
    let borrowed: Vec<Option<Cow<'_, [u8]>>> = cells.iter().map(|c| c.map(Cow::Borrowed)).collect();
    let mut out = Vec::new();
    binary::encode_row(&mut out, &columns, &borrowed);
    assert!(
        out.len() <= payload.len(),
        "canonical lengths are the shortest"
    );
    assert_eq!(binary::row(&out, &columns), Ok(cells));
    let columns = columns
        .iter()
        .map(|&type_code| Column {
            type_code,
            flags: binary::UNSIGNED_FLAG,
            ..Column::default()
        })
        .collect();
    ward_mysql_fuzz::record(&ResultSet {
        columns,
        rows: one_row(payload),
        row_count: 1,
        truncated: false,
        completion: None,
        binary: true,
    });
}

/// Where a response stands, as this target expects it: a simpler model than `Response`'s own,
/// checked against it packet by packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// OK, ERR, LOCAL INFILE request or a column count (COM_QUERY); OK, ERR or EOF (Single).
    First,
    /// This many column definitions.
    Columns(u64),
    /// The old EOF after the column definitions.
    ColumnsEof,
    /// Rows (or column definitions for COM_FIELD_LIST) until an EOF.
    Rows,
    /// After COM_STMT_PREPARE's OK: this many parameter definitions, an EOF when `true`, this
    /// many column definitions, an EOF when `true`.
    Definitions(u16, bool, u16, bool),
    Done,
}

impl Expect {
    /// The definitions of a prepared statement end once none is left to read.
    fn settled(self) -> Self {
        match self {
            Expect::Definitions(0, false, 0, false) => Expect::Done,
            other => other,
        }
    }
}

/// One command's answer being followed, with the result set being built for the record.
struct Followed {
    shape: Shape,
    capabilities: u32,
    response: Response,
    expect: Expect,
    columns: Vec<Column>,
    rows: Rows,
}

impl Followed {
    fn new(shape: Shape, capabilities: u32) -> Self {
        Self {
            shape,
            capabilities,
            response: Response::new(shape, capabilities),
            expect: if shape == Shape::FieldList {
                Expect::Rows
            } else {
                Expect::First
            },
            columns: Vec::new(),
            rows: Rows::default(),
        }
    }

    /// After an OK or the end of rows with these status flags.
    fn after(&self, status: u16) -> Expect {
        if self.shape == Shape::Results && status & status::MORE_RESULTS_EXISTS != 0 {
            Expect::First
        } else {
            Expect::Done
        }
    }

    /// Records the result set built so far, ended or not, as the relay does.
    fn record_result(&mut self, completion: Option<Complete>) {
        ward_mysql_fuzz::record(&ResultSet {
            columns: std::mem::take(&mut self.columns),
            rows: std::mem::take(&mut self.rows),
            row_count: 0,
            truncated: false,
            completion,
            binary: false,
        });
    }

    /// Reads one packet; what `Response` saw, or `None` when it refused it (the relay ends).
    fn step(&mut self, payload: &[u8]) -> Option<Seen> {
        assert_eq!(self.response.done(), self.expect == Expect::Done);
        let head = payload.first().copied();
        let seen = match self.response.step(payload) {
            Ok(seen) => seen,
            Err(e) => {
                assert!(head != Some(0xff) || self.expect == Expect::Done, "{e:?}");
                self.record_result(None);
                return None;
            }
        };
        let deprecate_eof = self.capabilities & caps::DEPRECATE_EOF != 0;
        self.expect = match (self.expect, &seen) {
            (Expect::Done, _) => panic!("{seen:?} after the response"),
            (_, Seen::Err) => {
                assert_eq!(head, Some(0xff));
                self.record_result(None);
                ward_mysql_fuzz::record(&ServerError(Bytes::copy_from_slice(payload)));
                Expect::Done
            }
            (_, _) if head == Some(0xff) => panic!("an ERR read as {seen:?}"),
            (_, Seen::Opaque) => {
                assert_eq!(self.shape, Shape::Text);
                Expect::Done
            }
            (_, _) if self.shape == Shape::Text => panic!("one packet of text read as {seen:?}"),
            (
                Expect::First,
                Seen::Ok {
                    affected_rows,
                    warnings,
                },
            ) => {
                let st = if head == Some(0x00) {
                    let ok = response::ok(payload, self.capabilities).expect("an OK");
                    assert_eq!((ok.affected_rows, ok.warnings), (*affected_rows, *warnings));
                    ok.status
                } else {
                    assert_eq!((head, self.shape), (Some(0xfe), Shape::Single));
                    response::end_status(payload, 0).expect("an EOF").0
                };
                ward_mysql_fuzz::record(&Complete {
                    affected_rows: *affected_rows,
                    warnings: *warnings,
                    duration_us: 0,
                });
                self.after(st)
            }
            (Expect::First, Seen::LocalInfile) => {
                assert_eq!((head, self.shape), (Some(0xfb), Shape::Results));
                // The client would send the file; the server's OK or ERR comes next.
                self.response.expect_result();
                Expect::First
            }
            (Expect::First, Seen::Prepared(ok)) => {
                assert_eq!(self.shape, Shape::Prepare);
                assert_eq!(binary::prepare_ok(payload), Ok(*ok));
                // Each EOF only after definitions, and not with `CLIENT_DEPRECATE_EOF`.
                let eofs = !deprecate_eof;
                Expect::Definitions(
                    ok.params,
                    eofs && ok.params > 0,
                    ok.columns,
                    eofs && ok.columns > 0,
                )
                .settled()
            }
            (Expect::Definitions(params, params_eof, columns, columns_eof), seen) => {
                let next = if params > 0 {
                    assert!(matches!(seen, Seen::Definition));
                    assert!(response::column(payload).is_ok());
                    Expect::Definitions(params - 1, params_eof, columns, columns_eof)
                } else if params_eof {
                    assert!(matches!(seen, Seen::Definition));
                    assert!(response::is_eof(payload));
                    Expect::Definitions(0, false, columns, columns_eof)
                } else if columns > 0 {
                    let Seen::Column(c) = seen else {
                        panic!("{seen:?} where a column definition was expected");
                    };
                    assert_eq!(response::column(payload).as_ref(), Ok(&**c));
                    Expect::Definitions(0, false, columns - 1, columns_eof)
                } else {
                    assert!(matches!(seen, Seen::Definition) && columns_eof);
                    assert!(response::is_eof(payload));
                    Expect::Done
                };
                next.settled()
            }
            (Expect::First, Seen::Columns(n)) => {
                assert_eq!(self.shape, Shape::Results);
                assert_eq!(response::column_count(payload), Ok(*n));
                Expect::Columns(*n)
            }
            (Expect::Columns(n), Seen::Column(c)) => {
                assert_eq!(response::column(payload).as_ref(), Ok(&**c));
                self.columns.push(*c.clone());
                match n - 1 {
                    0 if deprecate_eof => Expect::Rows,
                    0 => Expect::ColumnsEof,
                    left => Expect::Columns(left),
                }
            }
            (Expect::ColumnsEof, Seen::ColumnsEnd) => {
                assert_eq!(head, Some(0xfe));
                Expect::Rows
            }
            (Expect::Rows, Seen::Column(c)) => {
                assert_eq!(self.shape, Shape::FieldList);
                assert_eq!(response::column(payload).as_ref(), Ok(&**c));
                Expect::Rows
            }
            (Expect::Rows, Seen::Row) => {
                assert_eq!(self.shape, Shape::Results);
                assert!(head != Some(0xfe), "an EOF read as a row");
                self.rows.push(payload);
                Expect::Rows
            }
            (Expect::Rows, Seen::RowsEnd { warnings }) => {
                assert_eq!(head, Some(0xfe));
                let caps = if self.shape == Shape::FieldList {
                    0
                } else {
                    self.capabilities
                };
                let (st, w) = response::end_status(payload, caps).expect("an end of rows");
                assert_eq!(w, *warnings);
                if self.shape == Shape::FieldList {
                    Expect::Done
                } else {
                    self.record_result(Some(Complete {
                        affected_rows: 0,
                        warnings: w,
                        duration_us: 0,
                    }));
                    self.after(st)
                }
            }
            (expect, seen) => panic!("{seen:?} where {expect:?} was expected ({:?})", self.shape),
        };
        assert_eq!(self.response.done(), self.expect == Expect::Done);
        Some(seen)
    }
}

/// `stream` as the answers to a series of commands: framed as the relay frames them, each
/// packet stepped through a `Response`, the next command's once one is done.
fn responses(stream: &[u8], max: usize, control: u8) {
    let capabilities = capabilities(control);
    let (frames, _) = ward_mysql_fuzz::frames(stream, max);
    let first = usize::from(control & 3) + usize::from(control >> 4 & 1) * 4;
    let mut shapes = SHAPES.iter().cycle().skip(first);
    let mut followed = Followed::new(Shape::Results, capabilities);
    let mut first = true;
    for frame in frames {
        if first || followed.response.done() {
            let shape = *shapes.next().expect("a cycle");
            followed = Followed::new(shape, capabilities);
            first = false;
        }
        let payload = frame.packet(stream).payload().into_owned();
        if followed.step(&payload).is_none() {
            return;
        }
    }
}

/// Well-formed answers to COM_QUERY made from the input (OKs and result sets with
/// `MORE_RESULTS_EXISTS` between them, in either EOF style), and to COM_FIELD_LIST and a
/// single-packet command: `Response` follows each exactly and ends on its last packet.
fn built(data: &[u8], capabilities: u32) {
    let deprecate_eof = capabilities & caps::DEPRECATE_EOF != 0;
    let mut input = data.iter().copied();
    let mut next = || input.next().unwrap_or(0);
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let mut expected: Vec<&'static str> = Vec::new();
    let results = usize::from(next() % 3) + 1;
    for i in 0..results {
        let more = if i + 1 < results {
            status::MORE_RESULTS_EXISTS
        } else {
            0
        } | status::AUTOCOMMIT;
        let columns = usize::from(next() % 5);
        if columns == 0 {
            let mut ok = Vec::new();
            response::encode_ok(&mut ok, u64::from(next()) << (next() % 60), more, 0);
            payloads.push(ok);
            expected.push("Ok");
            continue;
        }
        let mut count = Vec::new();
        put_lenenc(&mut count, columns as u64);
        payloads.push(count);
        expected.push("Columns");
        for _ in 0..columns {
            let name: String = (0..next() % 8)
                .map(|_| char::from(b'a' + next() % 26))
                .collect();
            let c = Column {
                schema: "app".into(),
                table: "t".into(),
                org_table: "t".into(),
                org_name: name.clone(),
                name,
                charset: u16::from(next()),
                length: u32::from(next()) << 8,
                type_code: next(),
                flags: u16::from(next()),
                decimals: next(),
            };
            let mut def = Vec::new();
            encode_column(&mut def, &c);
            payloads.push(def);
            expected.push("Column");
        }
        if !deprecate_eof {
            payloads.push(vec![0xfe, 0, 0, status::AUTOCOMMIT as u8, 0]);
            expected.push("ColumnsEnd");
        }
        for _ in 0..next() % 4 {
            let cells: Vec<Vec<u8>> = (0..columns)
                .map(|_| (0..next() % 12).map(|_| next()).collect())
                .collect();
            let cells: Vec<Option<&[u8]>> = cells
                .iter()
                .map(|c| (c.first() != Some(&0xfb)).then_some(c.as_slice()))
                .collect();
            let mut row = Vec::new();
            encode_row(&mut row, &cells);
            payloads.push(row);
            expected.push("Row");
        }
        let [lo, hi] = more.to_le_bytes();
        let warnings = next();
        payloads.push(if deprecate_eof {
            vec![0xfe, 0, 0, lo, hi, warnings, 0]
        } else {
            vec![0xfe, warnings, 0, lo, hi]
        });
        expected.push("RowsEnd");
    }
    follow(Shape::Results, capabilities, &payloads, &expected);

    // COM_FIELD_LIST: column definitions, then an old-style EOF whatever the capabilities.
    let defs = payloads
        .iter()
        .filter(|p| response::column(p).is_ok() && p.first() == Some(&3))
        .cloned();
    let mut list: Vec<Vec<u8>> = defs.collect();
    let mut expect_list = vec!["Column"; list.len()];
    list.push(vec![0xfe, 0, 0, 2, 0]);
    expect_list.push("RowsEnd");
    follow(Shape::FieldList, capabilities, &list, &expect_list);

    // A single-packet answer: OK, EOF or ERR.
    let mut single = Vec::new();
    match next() % 3 {
        0 => response::encode_ok(&mut single, u64::from(next()), status::AUTOCOMMIT, 0),
        1 => single.extend_from_slice(&[0xfe, 0, 0, 2, 0]),
        _ => response::encode_err(&mut single, 1064, "42000", "You have an error"),
    }
    let kind = if single.first() == Some(&0xff) {
        "Err"
    } else {
        "Ok"
    };
    follow(Shape::Single, capabilities, &[single], &[kind]);

    // COM_STMT_PREPARE: its OK, the parameters' definitions, the columns', each followed by an
    // EOF unless `CLIENT_DEPRECATE_EOF`.
    let params = usize::from(next() % 4);
    let columns = usize::from(next() % 4);
    let mut prepare = vec![vec![
        0,
        next(),
        0,
        0,
        0,
        columns as u8,
        0,
        params as u8,
        0,
        0,
        0,
        0,
    ]];
    let mut expect_prepare = vec!["Prepared"];
    for (n, def) in [(params, "Definition"), (columns, "Column")] {
        for _ in 0..n {
            let mut d = Vec::new();
            encode_column(&mut d, &Column::default());
            prepare.push(d);
            expect_prepare.push(def);
        }
        if n > 0 && !deprecate_eof {
            prepare.push(vec![0xfe, 0, 0, 2, 0]);
            expect_prepare.push("Definition");
        }
    }
    follow(Shape::Prepare, capabilities, &prepare, &expect_prepare);
}

/// Frames `payloads` as a server sends them and follows them; `Response` must see `expected`
/// (by variant name) and be done exactly after the last.
fn follow(shape: Shape, capabilities: u32, payloads: &[Vec<u8>], expected: &[&str]) {
    let mut wire = Vec::new();
    let mut seq = 1u8;
    for p in payloads {
        seq = packet::write(&mut wire, seq, p);
    }
    let (frames, end) = ward_mysql_fuzz::frames(&wire, usize::MAX);
    assert_eq!(end, ward_mysql_fuzz::End::Clean);
    assert_eq!(frames.len(), payloads.len());
    let mut followed = Followed::new(shape, capabilities);
    for (i, (frame, want)) in frames.iter().zip(expected).enumerate() {
        assert!(
            !followed.response.done(),
            "done before packet {i} of {payloads:?}"
        );
        let payload = frame.packet(&wire).payload().into_owned();
        let seen = followed.step(&payload);
        let name = seen.as_ref().map(|s| format!("{s:?}"));
        let variant = name
            .as_deref()
            .and_then(|n| n.split(['(', ' ', '{']).next());
        assert!(
            variant == Some(*want),
            "packet {i} ({shape:?}): {name:?} where {want} was expected, in {payloads:?}"
        );
    }
    assert!(followed.response.done(), "not done after {payloads:?}");
}

/// The raw bytes as the one row of a result.
fn one_row(payload: &[u8]) -> Rows {
    let mut rows = Rows::default();
    rows.push(payload);
    rows
}
