//! Fuzz target: what a client sends, on arbitrary bytes — the startup packet, the framing of the
//! message stream at arbitrary read boundaries, each message the relay observes, and the
//! `db.query` record built from Parse and Bind, and the fast-path call records.
#![no_main]

use std::sync::Arc;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ward_store::EventBody;
use ward_pg::codec::{frontend, startup};
use ward_pg::{fastpath, record};

fuzz_target!(|data: &[u8]| {
    let max = ward_pg_fuzz::limit(data);
    if let Some(len) = startup_packet(data) {
        stream(data.get(len..).unwrap_or_default(), max);
    }
    stream(data, max);
    // Each parser also sees the raw bytes as a body, without framing in the way.
    for tag in [
        frontend::QUERY,
        frontend::PARSE,
        frontend::BIND,
        frontend::EXECUTE,
        frontend::CLOSE,
        frontend::DESCRIBE,
        frontend::PASSWORD,
        frontend::COPY_DATA,
        frontend::FUNCTION_CALL,
    ] {
        message(tag, data, &mut Statement::default());
    }
});

/// Parses the startup packet the handshake reads first; its length if whole.
fn startup_packet(data: &[u8]) -> Option<usize> {
    let (msg, len) = startup::parse(data).ok()??;
    assert!(len >= 8 && len <= data.len() && len <= startup::MAX_STARTUP_LEN);
    // The handshake parses a growing buffer: every shorter one must still be incomplete.
    for cut in [0, 4, len / 2, len - 1] {
        assert_eq!(
            startup::parse(data.get(..cut).unwrap_or_default()),
            Ok(None),
            "cut {cut}"
        );
    }
    let _ = msg.param("user");
    Some(len)
}

/// The last Parse seen, as the relay keeps it for the Bind that follows.
#[derive(Default)]
struct Statement {
    name: Vec<u8>,
    text: Vec<u8>,
    types: Vec<u32>,
    /// Stands in for the server's ParameterDescription: the previous Parse's types, so that
    /// declared and described types differ.
    described: Vec<u32>,
}

fn stream(bytes: &[u8], max: usize) {
    let mut statement = Statement::default();
    for (tag, body) in ward_pg_fuzz::frames(bytes, max) {
        message(tag, bytes.get(body).unwrap_or_default(), &mut statement);
    }
}

fn message(tag: u8, body: &[u8], statement: &mut Statement) {
    match tag {
        frontend::QUERY => {
            if let Ok(sql) = frontend::query(body) {
                assert!(sql.len() < body.len());
                let query = record::Query {
                    text: Bytes::copy_from_slice(sql),
                    statement: None,
                    params: None,
                };
                payload(&query);
            }
        }
        frontend::PARSE => {
            if let Ok(p) = frontend::parse(body) {
                *statement = Statement {
                    name: p.statement.to_vec(),
                    text: p.query.to_vec(),
                    described: std::mem::replace(&mut statement.types, p.param_types.clone()),
                    types: p.param_types,
                };
            }
        }
        frontend::BIND => {
            if let Ok(b) = frontend::bind(body) {
                assert_eq!(b.formats.len(), b.values.len());
            }
            // The record decodes the Bind itself, valid or not, with the statement's types.
            let types = record::Prepared {
                declared: statement.types.clone(),
                ..Default::default()
            };
            let _ = types.described.set(statement.described.clone());
            let query = record::Query {
                text: Bytes::copy_from_slice(&statement.text),
                statement: Some(Bytes::copy_from_slice(&statement.name)),
                params: Some(record::Params {
                    bind: Bytes::copy_from_slice(body),
                    types: Arc::new(types),
                }),
            };
            payload(&query);
        }
        frontend::EXECUTE => {
            let _ = frontend::execute(body);
        }
        frontend::CLOSE => {
            let _ = frontend::close(body);
        }
        frontend::DESCRIBE => {
            let _ = frontend::describe(body);
        }
        frontend::PASSWORD => {
            let _ = frontend::password(body);
        }
        frontend::FUNCTION_CALL => {
            if let Ok(call) = frontend::function_call(body) {
                assert_eq!(call.formats.len(), call.args.len());
            }
            // The record decodes the call itself, valid or not, and its answer likewise.
            let cap = body.len() / 2;
            payload(&fastpath::Call {
                body: Bytes::copy_from_slice(body),
                cap,
                name: "f".into(),
            });
            payload(&fastpath::Return {
                // loread (a known bytea result) or a function Ward cannot name.
                function: if body.first().is_some_and(|b| b % 2 == 0) {
                    954
                } else {
                    16_500
                },
                name: "f".into(),
                result_format: 1,
                body: Bytes::copy_from_slice(body),
                cap,
                took: std::time::Duration::ZERO,
            });
        }
        frontend::COPY_DATA => {
            let mut data = record::Blocks::default();
            data.extend(body);
            payload(&record::Copy {
                direction: "in",
                data,
                bytes: body.len() as u64,
                truncated: false,
                failed: false,
            });
        }
        _ => {}
    }
}

fn payload(event: &impl EventBody) {
    let mut out = Vec::new();
    event.write_payload(
        &mut out,
        ward_pg_fuzz::masker(),
        &mut ward_mask::MaskReport::new(),
    );
    ward_pg_fuzz::assert_json(&out);
}
