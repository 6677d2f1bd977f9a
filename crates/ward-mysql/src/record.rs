//! The events a MySQL session records. They hold the packets' bytes as they came (zero-copy
//! slices) and are decoded and masked on the recorder thread, off the relay's path, into the
//! payload types every reader shares ([`ward_core::payload`]).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use ward_core::EventKind;
use ward_core::payload::{
    DbComplete, DbCopy, DbMessage, DbQuery, DbResult, PolicyDenied, ResultColumn,
};
use ward_mask::{CellPlan, ColumnRef, MaskReport, Masker};
use ward_store::EventBody;

use crate::codec::binary;
use crate::codec::response::{self, Column};

fn write<T: Serialize>(out: &mut dyn Write, v: &T) {
    // The recorder's payload writer reports its own failures when it is finished.
    let _ = serde_json::to_writer(out, v);
}

fn text_of(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn masked(b: &[u8], mask: &Masker, report: &mut MaskReport) -> String {
    mask.mask_str(&text_of(b), report).into_owned()
}

/// Whether a column of this type (`MYSQL_TYPE_*`) shows only numbers, dates and times, whose
/// text no value detector could take for a secret. `BIGINT` and `DECIMAL` are not among them:
/// a card number fits in either.
pub fn cannot_hold_secrets(type_code: u8) -> bool {
    matches!(type_code, 1..=7 | 9..=13)
}

/// How a result's column is matched by the masking profile's column rules: by its name, and by
/// its table and name in that table when the server says (MySQL's column definitions do).
pub fn masking_ref(c: &Column) -> ColumnRef<'_> {
    if c.org_table.is_empty() {
        ColumnRef::new(None, &c.name)
    } else {
        let source = if c.org_name.is_empty() {
            &c.name
        } else {
            &c.org_name
        };
        ColumnRef::of_table(&c.name, &c.org_table, source)
    }
}

/// Masks one cell of column `i` as recorded or as sent to a `mask_client` client.
pub fn mask_cell<'a>(
    plan: &CellPlan,
    columns: &[Column],
    i: usize,
    cell: &'a [u8],
    report: &mut MaskReport,
) -> Cow<'a, [u8]> {
    let ty = columns.get(i).map_or(0xfd, |c| c.type_code);
    if cannot_hold_secrets(ty) && plan.column_rule(i).is_none() {
        return Cow::Borrowed(cell);
    }
    plan.mask_cell(i, cell, report)
}

/// `db.query`: a statement the client sent (COM_QUERY), an execution of a prepared one
/// (COM_STMT_EXECUTE, with its parameters), or `USE db` for COM_INIT_DB.
pub struct Query {
    pub text: Bytes,
    /// The prepared statement's id.
    pub statement: Option<u32>,
    /// The parameters of an execution (`None` for NULL).
    pub params: Option<Vec<Option<Param>>>,
}

impl Query {
    /// A statement's text alone.
    pub fn text(text: Bytes) -> Self {
        Self {
            text,
            statement: None,
            params: None,
        }
    }
}

/// A parameter of an execution, as text.
pub struct Param {
    pub text: String,
    /// A number, date or time, which no value detector could take for a secret.
    pub numeric: bool,
    /// Long data cut at the cap.
    pub truncated: bool,
}

impl EventBody for Query {
    fn kind(&self) -> EventKind {
        EventKind::DbQuery
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let params = self.params.as_ref().map(|params| {
            params
                .iter()
                .map(|p| {
                    p.as_ref().map(|p| {
                        let mut text = if p.numeric {
                            p.text.clone()
                        } else {
                            mask.mask_str(&p.text, report).into_owned()
                        };
                        if p.truncated {
                            text.push('…');
                        }
                        text
                    })
                })
                .collect()
        });
        write(
            out,
            &DbQuery {
                text: masked(&self.text, mask, report),
                statement: self.statement.map(|s| s.to_string()),
                params,
                resource: None,
            },
        );
    }
}

/// How a statement ended, as `db.complete` says it (or the `tag` of its `db.result`).
pub struct Complete {
    pub affected_rows: u64,
    pub warnings: u16,
    pub duration_us: u64,
}

impl Complete {
    fn tag(&self) -> String {
        let rows = if self.affected_rows == 1 {
            "row"
        } else {
            "rows"
        };
        let mut tag = format!("OK, {} {rows} affected", self.affected_rows);
        if self.warnings > 0 {
            tag.push_str(&format!(", {} warnings", self.warnings));
        }
        tag
    }
}

impl Complete {
    /// A result's end, as the mysql client says it: `2 rows in set`.
    fn rows_tag(&self, rows: u64) -> String {
        let mut tag = format!("{rows} {} in set", if rows == 1 { "row" } else { "rows" });
        if self.warnings > 0 {
            tag.push_str(&format!(", {} warnings", self.warnings));
        }
        tag
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
                tag: Some(self.tag()),
                duration_us: self.duration_us,
                suspended: false,
            },
        );
    }
}

/// Rows kept for the record, copied out of the read buffer one after the other (each after
/// its length as 4 bytes), so an event holds what it records and no buffer of the socket's.
#[derive(Debug, Default)]
pub struct Rows {
    bytes: Vec<u8>,
    count: usize,
}

impl Rows {
    pub fn push(&mut self, row: &[u8]) {
        self.bytes
            .extend_from_slice(&(row.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(row);
        self.count += 1;
    }

    /// The bytes kept, lengths included.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = self.bytes.as_slice();
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let row = tail.get(..len)?;
            rest = tail.get(len..).unwrap_or_default();
            Some(row)
        })
    }
}

/// `db.result`: one result set's columns and rows (the first ones, up to the size cap).
pub struct ResultSet {
    pub columns: Vec<Column>,
    /// The rows are binary (a prepared statement's), not text.
    pub binary: bool,
    /// The kept rows' payloads, each after its length ([`Rows`]).
    pub rows: Rows,
    pub row_count: u64,
    pub truncated: bool,
    /// The end of the rows, when they ended: a result and its end are one event.
    pub completion: Option<Complete>,
}

impl EventBody for ResultSet {
    fn kind(&self) -> EventKind {
        EventKind::DbResult
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        /// The kept rows, decoded and masked as they are written.
        struct Cells<'a, 'r> {
            rows: &'a Rows,
            binary: bool,
            columns: &'a [Column],
            plan: CellPlan,
            report: RefCell<&'r mut MaskReport>,
        }
        impl Serialize for Cells<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.rows.count))?;
                let mut report = self.report.borrow_mut();
                let types: Vec<u8> = self.columns.iter().map(|c| c.type_code).collect();
                for row in self.rows.iter() {
                    let cells = if self.binary {
                        binary::row(row, &types)
                    } else {
                        response::text_row(row)
                    };
                    let cells: Vec<Option<String>> = match cells {
                        Ok(cells) => cells
                            .into_iter()
                            .enumerate()
                            .map(|(i, c)| {
                                c.map(|c| {
                                    let shown = match self.columns.get(i) {
                                        Some(col) if self.binary => binary::render(
                                            col.type_code,
                                            col.flags & binary::UNSIGNED_FLAG != 0,
                                            c,
                                        ),
                                        _ => text_of(c),
                                    };
                                    let cell = mask_cell(
                                        &self.plan,
                                        self.columns,
                                        i,
                                        shown.as_bytes(),
                                        &mut report,
                                    );
                                    text_of(&cell).into_owned()
                                })
                            })
                            .collect(),
                        Err(_) => vec![Some(hex(row))],
                    };
                    seq.serialize_element(&cells)?;
                }
                seq.end()
            }
        }
        let refs: Vec<ColumnRef<'_>> = self.columns.iter().map(masking_ref).collect();
        let columns = self
            .columns
            .iter()
            .map(|c| ResultColumn {
                name: c.name.clone(),
                type_oid: u32::from(c.type_code),
            })
            .collect();
        write(
            out,
            &DbResult {
                columns,
                rows: Cells {
                    rows: &self.rows,
                    binary: self.binary,
                    columns: &self.columns,
                    plan: mask.plan_columns(&refs),
                    report: RefCell::new(report),
                },
                row_count: self.row_count,
                truncated: self.truncated,
                tag: self.completion.as_ref().map(|c| c.rows_tag(self.row_count)),
                duration_us: self.completion.as_ref().map(|c| c.duration_us),
                suspended: false,
                resource: None,
            },
        );
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// `db.copy`: a file the client sent for `LOAD DATA LOCAL INFILE` (the first bytes, up to the
/// size cap).
pub struct Copy {
    pub data: Vec<u8>,
    /// The true size.
    pub bytes: u64,
}

impl EventBody for Copy {
    fn kind(&self) -> EventKind {
        EventKind::DbCopy
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        write(
            out,
            &DbCopy {
                direction: "in".into(),
                data: Some(masked(&self.data, mask, report)),
                bytes: self.bytes,
                truncated: self.bytes > self.data.len() as u64,
                failed: false,
            },
        );
    }
}

/// `db.error`: an ERR packet from the server, or one Ward sent.
pub struct ServerError(pub Bytes);

impl EventBody for ServerError {
    fn kind(&self) -> EventKind {
        EventKind::DbError
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        let message = match response::err(&self.0) {
            Ok(e) => DbMessage {
                severity: Some("ERROR".into()),
                code: Some(text_of(e.sqlstate).into_owned()),
                message: masked(e.message, mask, report),
                other: BTreeMap::from([("error_code".to_owned(), e.code.into())]),
                ..DbMessage::default()
            },
            Err(_) => DbMessage {
                message: hex(&self.0),
                ..DbMessage::default()
            },
        };
        write(out, &message);
    }
}

/// `policy.denied`: a statement or command Ward refused; it did not reach the resource.
pub struct Denied {
    /// The guardrail, or `None` for what Ward itself refuses (a command it does not relay).
    pub rule: Option<String>,
    /// `drop`, `truncate`, …, `pattern`, `unparsed`, or `command`.
    pub reason: &'static str,
    /// For a statement kind: which statement of a multi-statement query (1-based).
    pub statement: Option<usize>,
    /// What the client was told; it can quote the statement, so it is masked.
    pub message: String,
    /// `query` (COM_QUERY) or `command` (another command refused whole).
    pub protocol: &'static str,
    /// A command refused, by name (`COM_CHANGE_USER`, or `command byte 0x99`).
    pub command: Option<String>,
}

impl EventBody for Denied {
    fn kind(&self) -> EventKind {
        EventKind::PolicyDenied
    }

    fn write_payload(&self, out: &mut dyn Write, mask: &Masker, report: &mut MaskReport) {
        write(
            out,
            &PolicyDenied {
                rule: self.rule.clone(),
                reason: Some(self.reason.into()),
                statement: self.statement.map(|n| n as u64),
                protocol: Some(self.protocol.into()),
                message: Some(mask.mask_str(&self.message, report).into_owned()),
                command: self.command.clone(),
                ..PolicyDenied::default()
            },
        );
    }
}
