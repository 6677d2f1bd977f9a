//! The events a PostgreSQL session records. They hold the original message bytes (zero-copy
//! slices) and are decoded on the recorder thread, off the hot path, into the payload types
//! every reader shares ([`ward_core::payload`]); a result's rows stream into its payload.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use ward_core::EventKind;
use ward_core::payload::{
    DbComplete, DbCopy, DbMessage, DbNotification, DbQuery, DbResult, PolicyDenied, ResultColumn,
};
use ward_mask::{CellPlan, ColumnRef, MaskReport, Masker};
use ward_store::EventBody;

use crate::codec::backend::{self, Column};
use crate::codec::{frame, frontend, value};

fn write<T: Serialize>(out: &mut dyn Write, v: &T) {
    // The recorder's payload writer reports its own failures when it is finished.
    let _ = serde_json::to_writer(out, v);
}

fn text_of(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Text from a peer, masked.
fn masked(b: &[u8], mask: &Masker, report: &mut MaskReport) -> String {
    mask.mask_str(&text_of(b), report).into_owned()
}

/// Recorded bytes kept in blocks, so growing never copies (or doubles) what is already kept.
#[derive(Debug, Default)]
pub struct Blocks {
    full: Vec<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
}

/// Blocks start small (most results are a few rows) and double up to this size.
const FIRST_BLOCK: usize = 1024;
const MAX_BLOCK: usize = 256 * 1024;

impl Blocks {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block to append `need` bytes to, opening a new one when they do not fit.
    fn room(&mut self, need: usize) -> &mut Vec<u8> {
        if self.current.capacity() - self.current.len() < need {
            let size = if self.current.capacity() == 0 {
                FIRST_BLOCK
            } else {
                (self.current.capacity() * 2).min(MAX_BLOCK)
            };
            let full = std::mem::replace(&mut self.current, Vec::with_capacity(need.max(size)));
            if !full.is_empty() {
                self.full.push(full);
            }
        }
        self.len += need;
        &mut self.current
    }

    /// Appends a whole protocol message; a message never spans two blocks.
    pub fn push_message(&mut self, tag: u8, body: &[u8]) {
        let block = self.room(body.len() + crate::codec::frame::HEADER);
        crate::codec::encode::message(block, tag, |b| b.extend_from_slice(body));
    }

    pub fn extend(&mut self, data: &[u8]) {
        self.room(data.len()).extend_from_slice(data);
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.full
            .iter()
            .map(Vec::as_slice)
            .chain(std::iter::once(self.current.as_slice()))
    }
}

/// What Ward keeps about a prepared statement: its parameter types as the client declared them
/// in Parse and as the server described them (filled in when its ParameterDescription arrives),
/// and its text once masked.
#[derive(Debug, Default)]
pub struct Prepared {
    pub declared: Vec<u32>,
    pub described: OnceLock<Vec<u32>>,
    /// The result columns the server described for the statement (formats as described: text).
    pub columns: OnceLock<Arc<[Column]>>,
    /// The statement's text masked, with its report: a statement executed many times is
    /// masked once.
    pub masked_text: OnceLock<(String, MaskReport)>,
}

impl Prepared {
    /// The type of parameter `i`: declared if the client gave one, else as described, else 0.
    pub fn get(&self, i: usize) -> u32 {
        match self.declared.get(i) {
            Some(&t) if t != 0 => t,
            _ => self
                .described
                .get()
                .and_then(|d| d.get(i).copied())
                .unwrap_or(0),
        }
    }
}

/// Parameters of an extended-protocol execution: the Bind body and the statement's types.
pub struct Params {
    pub bind: Bytes,
    pub types: Arc<Prepared>,
}

/// `db.query`: a statement sent by the client.
pub struct Query {
    pub text: Bytes,
    /// The prepared statement's name, for the extended protocol (empty for the unnamed one).
    pub statement: Option<Bytes>,
    pub params: Option<Params>,
}

impl EventBody for Query {
    fn kind(&self) -> EventKind {
        EventKind::DbQuery
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let params = self.params.as_ref().map(|p| match frontend::bind(&p.bind) {
            Ok(b) => b
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let ty = p.types.get(i);
                    let format = b.formats.get(i).copied().unwrap_or(0);
                    v.map(|v| {
                        let shown = value::render(ty, format, v);
                        if value::cannot_hold_secrets(ty) {
                            shown.into_owned()
                        } else {
                            mask.mask_str(&shown, report).into_owned()
                        }
                    })
                })
                .collect(),
            Err(_) => vec![Some(value::hex(&p.bind))],
        });
        let text = match &self.params {
            // A prepared statement's text is masked once, however often it runs.
            Some(p) => {
                let (text, found) = p.types.masked_text.get_or_init(|| {
                    let mut found = MaskReport::new();
                    (masked(&self.text, mask, &mut found), found)
                });
                report.merge(found);
                text.clone()
            }
            None => masked(&self.text, mask, report),
        };
        write(
            out,
            &DbQuery {
                text,
                statement: self.statement.as_deref().map(|s| text_of(s).into_owned()),
                params,
                resource: None,
            },
        );
    }
}

/// `db.result`: the rows of one statement's result (the first ones, up to the size cap).
pub struct ResultSet {
    pub columns: Option<Arc<[Column]>>,
    /// The kept DataRow messages, whole (header included), back to back.
    pub rows: Blocks,
    pub row_count: u64,
    pub truncated: bool,
    /// How the statement ended, when it did: a result and its completion are one event (one
    /// hash and one row instead of two per statement).
    pub completion: Option<Complete>,
}

impl EventBody for ResultSet {
    fn kind(&self) -> EventKind {
        EventKind::DbResult
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        /// The kept DataRows, decoded and masked as they are written.
        struct Rows<'a, 'r> {
            blocks: &'a Blocks,
            columns: &'a [Column],
            plan: CellPlan,
            report: RefCell<&'r mut MaskReport>,
        }
        impl Serialize for Rows<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(None)?;
                let mut report = self.report.borrow_mut();
                for (block, (_, range)) in self
                    .blocks
                    .iter()
                    .flat_map(|b| frame::frames(b).map(move |f| (b, f)))
                {
                    let row = block.get(range).unwrap_or_default();
                    let cells: Vec<Option<String>> = match backend::data_row(row) {
                        Ok(cells) => cells
                            .into_iter()
                            .enumerate()
                            .map(|(i, c)| {
                                let col = self.columns.get(i);
                                c.map(|c| {
                                    let ty = col.map_or(0, |c| c.type_oid);
                                    let shown = value::render(ty, col.map_or(0, |c| c.format), c);
                                    // Column rules apply whatever the type; value detectors only
                                    // where the type's text can look like a secret.
                                    if value::cannot_hold_secrets(ty)
                                        && self.plan.column_rule(i).is_none()
                                    {
                                        return shown.into_owned();
                                    }
                                    let cell =
                                        self.plan.mask_cell(i, shown.as_bytes(), &mut report);
                                    String::from_utf8_lossy(&cell).into_owned()
                                })
                            })
                            .collect(),
                        Err(_) => vec![Some(value::hex(row))],
                    };
                    seq.serialize_element(&cells)?;
                }
                seq.end()
            }
        }
        let cols: &[Column] = self.columns.as_deref().unwrap_or(&[]);
        let refs: Vec<ColumnRef<'_>> = cols.iter().map(Column::masking_ref).collect();
        let columns = cols
            .iter()
            .map(|c| ResultColumn {
                name: c.name.clone(),
                type_oid: c.type_oid,
            })
            .collect();
        write(
            out,
            &DbResult {
                columns,
                rows: Rows {
                    blocks: &self.rows,
                    columns: cols,
                    plan: mask.plan_columns(&refs),
                    report: RefCell::new(report),
                },
                row_count: self.row_count,
                truncated: self.truncated,
                tag: self.completion.as_ref().and_then(Complete::tag_text),
                duration_us: self.completion.as_ref().map(|c| c.duration_us),
                suspended: self.completion.as_ref().is_some_and(|c| c.suspended),
                resource: None,
            },
        );
    }
}

/// `db.complete`: a statement that returned no rows finished (one that did ends its
/// `db.result`).
pub struct Complete {
    /// The command tag; `None` for an empty query.
    pub tag: Option<Bytes>,
    pub duration_us: u64,
    /// The portal was suspended (row limit reached) rather than finished.
    pub suspended: bool,
}

impl Complete {
    fn tag_text(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|t| text_of(backend::command_complete(t).unwrap_or(t)).into_owned())
    }
}

impl EventBody for Complete {
    fn kind(&self) -> EventKind {
        EventKind::DbComplete
    }

    fn write_payload(&self, out: &mut dyn Write, _mask: &Masker, _report: &mut MaskReport) {
        write(
            out,
            &DbComplete {
                tag: self.tag_text(),
                duration_us: self.duration_us,
                suspended: self.suspended,
            },
        );
    }
}

/// `db.error` or `db.notice`: an ErrorResponse or NoticeResponse from the server, or one Ward sent.
pub struct ServerMessage {
    pub kind: EventKind,
    pub body: Bytes,
}

impl EventBody for ServerMessage {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let mut message = DbMessage::default();
        for (code, v) in backend::error_fields(&self.body).unwrap_or_default() {
            let name = match code {
                b'S' => "severity",
                b'C' => "code",
                b'M' => "message",
                b'D' => "detail",
                b'H' => "hint",
                b'P' => "position",
                b'W' => "where",
                b's' => "schema",
                b't' => "table",
                b'c' => "column",
                b'n' => "constraint",
                _ => continue,
            };
            let value = match code {
                b'M' | b'D' | b'H' | b'W' => masked(v, mask, report),
                _ => text_of(v).into_owned(),
            };
            match code {
                b'S' => message.severity = Some(value),
                b'C' => message.code = Some(value),
                b'M' => message.message = value,
                b'D' => message.detail = Some(value),
                b'H' => message.hint = Some(value),
                _ => {
                    message.other.insert(name.into(), value.into());
                }
            }
        }
        write(out, &message);
    }
}

/// `db.notification`: a NOTIFY delivered to this session.
pub struct Notification(pub Bytes);

impl EventBody for Notification {
    fn kind(&self) -> EventKind {
        EventKind::DbNotification
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let notification = match backend::notification(&self.0) {
            Ok((pid, channel, payload)) => DbNotification {
                pid: pid.into(),
                channel: text_of(channel).into_owned(),
                payload: masked(payload, mask, report),
                raw: None,
            },
            Err(_) => DbNotification {
                raw: Some(value::hex(&self.0)),
                ..DbNotification::default()
            },
        };
        write(out, &notification);
    }
}

/// `db.copy`: the data of one COPY, in either direction (the first bytes, up to the size cap).
pub struct Copy {
    pub direction: &'static str,
    /// The kept data, up to the size cap.
    pub data: Blocks,
    pub bytes: u64,
    pub truncated: bool,
    /// The client aborted the COPY with CopyFail.
    pub failed: bool,
}

impl EventBody for Copy {
    fn kind(&self) -> EventKind {
        EventKind::DbCopy
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let joined: Vec<u8> = self.data.iter().flatten().copied().collect();
        write(
            out,
            &DbCopy {
                direction: self.direction.into(),
                data: Some(masked(&joined, mask, report)),
                bytes: self.bytes,
                truncated: self.truncated,
                failed: self.failed,
            },
        );
    }
}

/// `policy.denied`: a statement a guardrail refused; it did not reach the resource. The
/// statement's text is in the `db.query` event just before.
pub struct Denied {
    pub rule: String,
    /// `drop`, `truncate`, …, `pattern` or `unparsed`.
    pub reason: &'static str,
    /// For a statement kind: which statement of a multi-statement query (1-based).
    pub statement: Option<usize>,
    /// `simple` (a Query message) or `extended` (a Parse message).
    pub protocol: &'static str,
    /// What the client was told; it can quote the statement, so it is masked.
    pub message: String,
}

impl EventBody for Denied {
    fn kind(&self) -> EventKind {
        EventKind::PolicyDenied
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        write(
            out,
            &PolicyDenied {
                rule: Some(self.rule.clone()),
                reason: Some(self.reason.into()),
                statement: self.statement.map(|n| n as u64),
                protocol: Some(self.protocol.into()),
                message: Some(mask.mask_str(&self.message, report).into_owned()),
                ..PolicyDenied::default()
            },
        );
    }
}
