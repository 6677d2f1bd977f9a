//! Fuzz target: what a server sends, on arbitrary bytes — the framing of the message stream at
//! arbitrary read boundaries, each message the relay observes, value rendering for arbitrary
//! type oids and formats, the `db.*` records built from them, and the errors, notices and
//! notifications a `mask_client` client receives instead.
#![no_main]

use std::sync::Arc;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ward_store::EventBody;
use ward_core::EventKind;
use ward_pg::codec::backend::{self, Column};
use ward_pg::codec::{encode, frame, value};
use ward_pg::relay::client_mask::ClientMask;
use ward_pg::record::{self, Blocks};

/// The types `value::render` decodes, and some it does not.
const OIDS: [u32; 21] = [
    value::oid::BOOL,
    value::oid::BYTEA,
    value::oid::NAME,
    value::oid::INT8,
    value::oid::INT2,
    value::oid::INT4,
    value::oid::TEXT,
    value::oid::OID,
    value::oid::JSON,
    value::oid::FLOAT4,
    value::oid::FLOAT8,
    value::oid::BPCHAR,
    value::oid::VARCHAR,
    value::oid::DATE,
    value::oid::TIMESTAMP,
    value::oid::TIMESTAMPTZ,
    value::oid::UUID,
    value::oid::JSONB,
    0,
    1700,
    u32::MAX,
];

fuzz_target!(|data: &[u8]| {
    stream(data, ward_pg_fuzz::limit(data));
    // Each parser also sees the raw bytes as a body, without framing in the way.
    for tag in [
        backend::AUTHENTICATION,
        backend::BACKEND_KEY_DATA,
        backend::ROW_DESCRIPTION,
        backend::PARAMETER_DESCRIPTION,
        backend::DATA_ROW,
        backend::COMMAND_COMPLETE,
        backend::ERROR_RESPONSE,
        backend::NOTIFICATION,
    ] {
        message(tag, data, &mut ResultRows::default());
    }
    // The raw bytes as a binary value of every known type (any format but 0 is binary), as text,
    // and as `oid ‖ format ‖ value`.
    for oid in OIDS {
        render(oid, 1, data);
    }
    render(value::oid::INT4, 0, data);
    render(value::oid::INT4, -1, data);
    if let Some((head, bytes)) = data.split_first_chunk::<6>() {
        let [a, b, c, d, e, f] = *head;
        render(
            u32::from_be_bytes([a, b, c, d]),
            i16::from_be_bytes([e, f]),
            bytes,
        );
    }
    // Arbitrary bytes where the record expects back-to-back DataRow messages.
    let mut rows = Blocks::default();
    rows.extend(data);
    payload(&record::ResultSet {
        columns: None,
        rows,
        row_count: 0,
        truncated: true,
        completion: None,
    });
});

/// One statement's result as the relay keeps it: the columns and the whole DataRow messages.
#[derive(Default)]
struct ResultRows {
    columns: Option<Arc<[Column]>>,
    rows: Blocks,
    row_count: u64,
}

fn stream(bytes: &[u8], max: usize) {
    let mut result = ResultRows::default();
    for (tag, body) in ward_pg_fuzz::frames(bytes, max) {
        let body = bytes.get(body).unwrap_or_default();
        if tag == backend::DATA_ROW {
            // The record keeps DataRow messages whole, header included.
            result.rows.push_message(tag, body);
        }
        message(tag, body, &mut result);
    }
}

fn message(tag: u8, body: &[u8], result: &mut ResultRows) {
    match tag {
        backend::AUTHENTICATION => {
            let _ = backend::authentication(body);
        }
        backend::BACKEND_KEY_DATA => {
            let _ = backend::backend_key_data(body);
        }
        backend::ROW_DESCRIPTION => {
            if let Ok(columns) = backend::row_description(body) {
                result.columns = Some(columns.into());
                result.rows = Blocks::default();
                result.row_count = 0;
            }
        }
        backend::PARAMETER_DESCRIPTION => {
            let _ = backend::parameter_description(body);
        }
        backend::DATA_ROW => {
            result.row_count += 1;
            if let Ok(cells) = backend::data_row(body) {
                let columns = result.columns.as_deref().unwrap_or_default();
                for (i, cell) in cells.into_iter().enumerate() {
                    let column = columns.get(i);
                    if let Some(cell) = cell {
                        render(
                            column.map_or(0, |c| c.type_oid),
                            column.map_or(0, |c| c.format),
                            cell,
                        );
                    }
                }
            }
        }
        backend::COMMAND_COMPLETE => {
            let _ = backend::command_complete(body);
            payload(&record::ResultSet {
                columns: result.columns.take(),
                rows: std::mem::take(&mut result.rows),
                row_count: std::mem::take(&mut result.row_count),
                truncated: false,
                completion: Some(record::Complete {
                    tag: Some(Bytes::copy_from_slice(body)),
                    duration_us: 0,
                    suspended: false,
                }),
            });
            payload(&record::Complete {
                tag: Some(Bytes::copy_from_slice(body)),
                duration_us: 0,
                suspended: false,
            });
        }
        backend::ERROR_RESPONSE | backend::NOTICE_RESPONSE => {
            let _ = backend::error_fields(body);
            payload(&record::ServerMessage {
                kind: EventKind::DbError,
                body: Bytes::copy_from_slice(body),
            });
            for_client(tag, body);
        }
        backend::NOTIFICATION => {
            let _ = backend::notification(body);
            payload(&record::Notification(Bytes::copy_from_slice(body)));
            for_client(tag, body);
        }
        _ => {}
    }
}

/// What a `mask_client` client receives for an error, notice or notification: nothing when the
/// server's message does not parse, else one whole message that parses again, with the same
/// fields in the same order and only text changed.
fn for_client(tag: u8, body: &[u8]) {
    let mut original = Vec::new();
    encode::message(&mut original, tag, |b| b.extend_from_slice(body));
    let mask = ClientMask::new(ward_pg_fuzz::masker().clone());
    let mut out = Vec::new();
    if tag == backend::NOTIFICATION {
        mask.notification(body, &original, &mut out);
    } else {
        mask.fields(tag, body, &original, &mut out);
    }
    let sent = match frame::next(&out, usize::MAX) {
        Ok(frame::Next::Frame { tag: sent, len }) => {
            assert_eq!((sent, len), (tag, out.len()), "one whole message");
            out.get(frame::HEADER..).unwrap_or_default()
        }
        _ => {
            assert!(out.is_empty(), "a partial message was sent");
            return;
        }
    };
    if tag == backend::NOTIFICATION {
        let (pid, channel, _) = backend::notification(body).expect("sent, so it parsed");
        let (pid2, channel2, _) = backend::notification(sent).expect("what is sent parses");
        assert_eq!((pid, channel), (pid2, channel2));
    } else {
        let before = backend::error_fields(body).expect("sent, so it parsed");
        let after = backend::error_fields(sent).expect("what is sent parses");
        let codes = |f: &[(u8, &[u8])]| f.iter().map(|(c, _)| *c).collect::<Vec<u8>>();
        assert_eq!(codes(&before), codes(&after));
    }
}

fn render(oid: u32, format: i16, bytes: &[u8]) {
    let text = value::render(oid, format, bytes);
    if format == 0 {
        assert_eq!(text, String::from_utf8_lossy(bytes));
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
