//! Ward as a PostgreSQL client of its own: one statement on a logged-in [`Upstream`] with the
//! extended protocol, parameters and results in text format, for callers that are not a
//! PostgreSQL client themselves (the MCP endpoint's `query` tool).
//!
//! Parameters are sent untyped (type 0), so the server infers each one's type from the
//! statement, as for psql's `\bind`. At most `max_rows` rows are read (the portal is suspended
//! after them), so a huge result costs Ward nothing beyond the rows kept.

use crate::codec::{ProtocolError, backend, encode};
use crate::upstream::Upstream;
use crate::wire::{WireError, send};

/// What the server said about a statement that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// A statement's result, as text.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The columns; empty for a statement without rows.
    pub columns: Vec<backend::Column>,
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows were there than were read.
    pub truncated: bool,
    /// The command tag (`SELECT 2`, `INSERT 0 1`); none when truncated or failed.
    pub tag: Option<String>,
    pub error: Option<ServerError>,
}

fn cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

fn len_i16(n: usize) -> Result<[u8; 2], WireError> {
    i16::try_from(n)
        .map(i16::to_be_bytes)
        .map_err(|_| WireError::Protocol(ProtocolError::Malformed { what: "Bind" }))
}

/// How much of a result [`Upstream::execute`] keeps: rows, and bytes of row data (the row that
/// crosses the byte limit is the last kept). The rest is read and dropped, and the reply says
/// `truncated`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub rows: usize,
    pub bytes: usize,
}

impl Upstream {
    /// Runs `sql` with `params` (text, `None` for NULL), keeping what `limit` allows.
    pub async fn execute(
        &mut self,
        sql: &str,
        params: &[Option<String>],
        limit: Limit,
    ) -> Result<Reply, WireError> {
        let Limit {
            rows: max_rows,
            bytes: max_bytes,
        } = limit;
        let mut kept_bytes = 0usize;
        let mut out = Vec::with_capacity(sql.len() + 64);
        encode::message(&mut out, b'P', |b| {
            cstr(b, b"");
            cstr(b, sql.as_bytes());
            b.extend_from_slice(&0i16.to_be_bytes());
        });
        let count = len_i16(params.len())?;
        encode::message(&mut out, b'B', |b| {
            cstr(b, b"");
            cstr(b, b"");
            b.extend_from_slice(&0i16.to_be_bytes()); // every parameter in text format
            b.extend_from_slice(&count);
            for p in params {
                match p {
                    Some(v) => {
                        let n = i32::try_from(v.len()).unwrap_or(i32::MAX);
                        b.extend_from_slice(&n.to_be_bytes());
                        b.extend_from_slice(v.as_bytes());
                    }
                    None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
            b.extend_from_slice(&0i16.to_be_bytes()); // every result column in text format
        });
        encode::message(&mut out, b'D', |b| {
            b.push(b'P');
            cstr(b, b"");
        });
        let limit = i32::try_from(max_rows.saturating_add(1)).unwrap_or(i32::MAX);
        encode::message(&mut out, b'E', |b| {
            cstr(b, b"");
            b.extend_from_slice(&limit.to_be_bytes());
        });
        encode::message(&mut out, b'S', |_| {});
        send(&mut self.stream, &out).await?;

        let mut reply = Reply::default();
        loop {
            let (tag, body) = self.reader.next(&mut self.stream).await?;
            match tag {
                backend::ROW_DESCRIPTION => {
                    reply.columns = backend::row_description(&body)?;
                }
                backend::DATA_ROW => {
                    if reply.rows.len() < max_rows && kept_bytes < max_bytes {
                        kept_bytes += body.len();
                        let row = backend::data_row(&body)?
                            .into_iter()
                            .map(|c| c.map(|v| String::from_utf8_lossy(v).into_owned()))
                            .collect();
                        reply.rows.push(row);
                    } else {
                        reply.truncated = true;
                    }
                }
                backend::PORTAL_SUSPENDED => reply.truncated = true,
                backend::COMMAND_COMPLETE => {
                    let t = backend::command_complete(&body)?;
                    reply.tag = Some(String::from_utf8_lossy(t).into_owned());
                }
                backend::ERROR_RESPONSE => {
                    let fields = backend::error_fields(&body)?;
                    let field = |code: u8| {
                        fields
                            .iter()
                            .find(|(c, _)| *c == code)
                            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    };
                    reply.error = Some(ServerError {
                        severity: field(b'S').unwrap_or_else(|| "ERROR".into()),
                        code: field(b'C').unwrap_or_default(),
                        message: field(b'M').unwrap_or_default(),
                        detail: field(b'D'),
                        hint: field(b'H'),
                    });
                }
                backend::COPY_IN_RESPONSE => {
                    // Nothing to send: end the COPY, which the server reports as an error.
                    let mut fail = Vec::new();
                    encode::message(&mut fail, b'f', |b| {
                        cstr(
                            b,
                            b"COPY FROM STDIN is not available through this interface",
                        );
                    });
                    send(&mut self.stream, &fail).await?;
                }
                backend::READY_FOR_QUERY => return Ok(reply),
                // ParseComplete, BindComplete, NoData, EmptyQueryResponse, notices,
                // ParameterStatus, notifications: nothing to keep.
                _ => {}
            }
        }
    }
}
