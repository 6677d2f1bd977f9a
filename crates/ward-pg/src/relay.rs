//! The relay: forwards the original bytes both ways and records what it observes.
//!
//! # Performance
//! Each read is split at the last whole message; those messages are observed in place, then the
//! same bytes are written on with one `write_all`. Only what is recorded is copied, and results
//! past the size cap are counted, not kept.
//!
//! # Cancellation safety
//! The two directions run in one `select!`; when one ends the other is dropped between awaits.
//! Their state lives outside the futures, so a result in flight is still recorded afterwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use ward_audit::SessionRecorder;
use ward_core::EventKind;

use crate::codec::backend::{self, Column};
use crate::codec::{ProtocolError, frontend};
use crate::codec::{encode, frame, value};
use crate::record;
use ward_mask::{CellPlan, ColumnRef, MaskReport, Masker, StreamMasker};

/// Size limits of a relay.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message: usize,
    pub max_result: usize,
}

/// Why a relay stopped.
#[derive(Debug)]
pub enum RelayEnd {
    /// The client sent Terminate.
    Terminated,
    /// The client closed its connection.
    ClientClosed,
    /// The upstream closed its connection.
    UpstreamClosed,
    ClientProtocol(ProtocolError),
    UpstreamProtocol(ProtocolError),
    ClientIo(std::io::Error),
    UpstreamIo(std::io::Error),
}

/// What the server's answers correspond to, in the order the client sent it.
enum Pending {
    Simple(Instant),
    /// An Execute: the statement behind its portal (whose described columns apply when the
    /// client did not Describe the portal) and the result formats its Bind asked for.
    Execute(Instant, Option<Arc<record::Prepared>>, Arc<[i16]>),
    /// A Describe of a statement: its ParameterDescription and RowDescription (or NoData) fill
    /// in the statement's parameter types and columns.
    DescribeStatement(Arc<record::Prepared>),
    Sync,
}

struct Statement {
    text: Bytes,
    types: Arc<record::Prepared>,
}

struct Portal {
    statement: Bytes,
    text: Bytes,
    bind: Bytes,
    types: Arc<record::Prepared>,
    result_formats: Arc<[i16]>,
}

/// Data of a COPY being kept for the record, up to the cap.
struct CopyData {
    data: record::Blocks,
    bytes: u64,
    truncated: bool,
}

impl CopyData {
    fn new() -> Self {
        Self {
            data: record::Blocks::default(),
            bytes: 0,
            truncated: false,
        }
    }

    fn push(&mut self, chunk: &[u8], cap: usize) {
        self.bytes += chunk.len() as u64;
        if self.data.len() + chunk.len() <= cap {
            self.data.extend(chunk);
        } else {
            self.truncated = true;
        }
    }

    fn into_event(self, direction: &'static str, failed: bool) -> record::Copy {
        record::Copy {
            direction,
            data: self.data,
            bytes: self.bytes,
            truncated: self.truncated,
            failed,
        }
    }
}

/// State of the client → upstream direction.
pub struct ClientSide {
    statements: HashMap<Bytes, Statement>,
    portals: HashMap<Bytes, Portal>,
    copy: Option<CopyData>,
    pending: UnboundedSender<Pending>,
    pub bytes: u64,
}

/// State of the upstream → client direction.
pub struct ServerSide {
    pending: UnboundedReceiver<Pending>,
    current: Option<Pending>,
    columns: Option<Arc<[Column]>>,
    last_description: Option<(Vec<u8>, Arc<[Column]>)>,
    rows: record::Blocks,
    row_count: u64,
    truncated: bool,
    in_result: bool,
    copy: Option<CopyData>,
    pub bytes: u64,
    client_mask: Option<ClientMask>,
}

/// Masking of result rows on their way to the client, with the cell plan of the current columns.
struct ClientMask {
    masker: Masker,
    plan: Option<(Arc<[Column]>, CellPlan)>,
    /// COPY TO STDOUT data in flight: masked as a stream, so a secret split across CopyData
    /// messages is still caught and never half sent.
    copy: Option<StreamMasker>,
}

/// Creates the two halves of a relay's state. With `client_mask`, result rows reach the client
/// masked (the grant's `mask_client`).
pub fn state(client_mask: Option<Masker>) -> (ClientSide, ServerSide) {
    let (tx, rx) = unbounded_channel();
    let client = ClientSide {
        statements: HashMap::new(),
        portals: HashMap::new(),
        copy: None,
        pending: tx,
        bytes: 0,
    };
    let server = ServerSide {
        pending: rx,
        current: None,
        columns: None,
        last_description: None,
        rows: record::Blocks::default(),
        row_count: 0,
        truncated: false,
        in_result: false,
        copy: None,
        bytes: 0,
        client_mask: client_mask.map(|masker| ClientMask {
            masker,
            plan: None,
            copy: None,
        }),
    };
    (client, server)
}

pub(crate) enum Step {
    Continue,
    Stop(RelayEnd),
}

/// One direction's observer: sees each whole message before it is forwarded.
pub(crate) trait Observer {
    /// How this direction's failures are reported: read side, write side, protocol, end of input.
    const READ: fn(std::io::Error) -> RelayEnd;
    const WRITE: fn(std::io::Error) -> RelayEnd;
    const PROTOCOL: fn(ProtocolError) -> RelayEnd;
    const EOF: fn() -> RelayEnd;

    fn observe(
        &mut self,
        tag: u8,
        body: &[u8],
        limits: Limits,
        rec: &SessionRecorder,
    ) -> impl Future<Output = Step> + Send;
    fn count(&mut self, bytes: u64);

    /// Whether messages may be rewritten on their way (see [`Observer::forward`]).
    fn rewrites(&self) -> bool {
        false
    }

    /// Appends what to send for one message: `frame` unchanged, or a rewritten message.
    fn forward(&mut self, _tag: u8, _body: &[u8], frame: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(frame);
    }
}

/// Relays one direction until it stops or fails: reads whole messages from `from`, lets the
/// observer see each, and writes them to `to` (unchanged unless the observer rewrites).
pub(crate) async fn pump<R, W, O>(
    obs: &mut O,
    from: &mut R,
    to: &mut W,
    buf: &mut BytesMut,
    limits: Limits,
    rec: &SessionRecorder,
) -> RelayEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    O: Observer,
{
    let mut out = Vec::new();
    loop {
        let (whole, need) = match frame::complete_prefix(buf, limits.max_message) {
            Ok(v) => v,
            Err(e) => return O::PROTOCOL(e),
        };
        if whole > 0 {
            let chunk = buf.split_to(whole);
            let mut stop = None;
            let rewrite = obs.rewrites();
            out.clear();
            for (tag, range) in frame::frames(&chunk) {
                let body = chunk.get(range.clone()).unwrap_or_default();
                if let Step::Stop(end) = obs.observe(tag, body, limits, rec).await {
                    stop = Some(end);
                }
                if rewrite {
                    let whole_frame = chunk
                        .get(range.start - frame::HEADER..range.end)
                        .unwrap_or_default();
                    obs.forward(tag, body, whole_frame, &mut out);
                }
            }
            // Without rewriting, the original bytes go on untouched.
            let sent: &[u8] = if rewrite { &out } else { &chunk };
            if let Err(e) = to.write_all(sent).await {
                return O::WRITE(e);
            }
            if let Err(e) = to.flush().await {
                return O::WRITE(e);
            }
            obs.count(whole as u64);
            if let Some(end) = stop {
                return end;
            }
            continue;
        }
        if buf.capacity() < need {
            buf.reserve(need - buf.len());
        } else if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        match from.read_buf(buf).await {
            Ok(0) => return O::EOF(),
            Ok(_) => {}
            Err(e) => return O::READ(e),
        }
    }
}

impl Observer for ClientSide {
    const READ: fn(std::io::Error) -> RelayEnd = RelayEnd::ClientIo;
    const WRITE: fn(std::io::Error) -> RelayEnd = RelayEnd::UpstreamIo;
    const PROTOCOL: fn(ProtocolError) -> RelayEnd = RelayEnd::ClientProtocol;
    const EOF: fn() -> RelayEnd = || RelayEnd::ClientClosed;

    fn count(&mut self, bytes: u64) {
        self.bytes += bytes;
    }

    async fn observe(
        &mut self,
        tag: u8,
        body: &[u8],
        limits: Limits,
        rec: &SessionRecorder,
    ) -> Step {
        let result = match tag {
            frontend::QUERY => match frontend::query(body) {
                Ok(text) => {
                    let _ = self.pending.send(Pending::Simple(Instant::now()));
                    rec.record(record::Query {
                        text: Bytes::copy_from_slice(text),
                        statement: None,
                        params: None,
                    })
                    .await;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            frontend::PARSE => frontend::parse(body).map(|p| {
                let statement = Statement {
                    text: Bytes::copy_from_slice(p.query),
                    types: Arc::new(record::Prepared {
                        declared: p.param_types,
                        ..Default::default()
                    }),
                };
                self.statements
                    .insert(Bytes::copy_from_slice(p.statement), statement);
            }),
            frontend::BIND => frontend::bind(body).map(|b| {
                let (text, types) = match self.statements.get(b.statement) {
                    Some(s) => (s.text.clone(), s.types.clone()),
                    None => (Bytes::new(), Arc::default()),
                };
                let portal = Portal {
                    statement: Bytes::copy_from_slice(b.statement),
                    text,
                    bind: Bytes::copy_from_slice(body),
                    types,
                    result_formats: b.result_formats.into(),
                };
                self.portals
                    .insert(Bytes::copy_from_slice(b.portal), portal);
            }),
            frontend::EXECUTE => match frontend::execute(body) {
                Ok(name) => {
                    let portal = self.portals.get(name);
                    let _ = self.pending.send(Pending::Execute(
                        Instant::now(),
                        portal.map(|p| p.types.clone()),
                        portal.map_or_else(|| Arc::from([]), |p| p.result_formats.clone()),
                    ));
                    let query = match portal {
                        Some(p) => record::Query {
                            text: p.text.clone(),
                            statement: Some(p.statement.clone()),
                            params: Some(record::Params {
                                bind: p.bind.clone(),
                                types: p.types.clone(),
                            }),
                        },
                        None => record::Query {
                            text: Bytes::new(),
                            statement: None,
                            params: None,
                        },
                    };
                    rec.record(query).await;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            frontend::DESCRIBE => frontend::describe(body).map(|(kind, name)| {
                if let (b'S', Some(s)) = (kind, self.statements.get(name)) {
                    let _ = self
                        .pending
                        .send(Pending::DescribeStatement(s.types.clone()));
                }
            }),
            frontend::SYNC => {
                let _ = self.pending.send(Pending::Sync);
                Ok(())
            }
            frontend::CLOSE => frontend::close(body).map(|(kind, name)| {
                if kind == b'S' {
                    self.statements.remove(name);
                } else {
                    self.portals.remove(name);
                }
            }),
            frontend::COPY_DATA => {
                self.copy
                    .get_or_insert_with(CopyData::new)
                    .push(body, limits.max_result);
                Ok(())
            }
            frontend::COPY_DONE | frontend::COPY_FAIL => {
                let copy = self.copy.take().unwrap_or_else(CopyData::new);
                rec.record(copy.into_event("in", tag == frontend::COPY_FAIL))
                    .await;
                Ok(())
            }
            frontend::TERMINATE => return Step::Stop(RelayEnd::Terminated),
            _ => Ok(()),
        };
        match result {
            Ok(()) => Step::Continue,
            Err(e) => Step::Stop(RelayEnd::ClientProtocol(e)),
        }
    }
}

impl ServerSide {
    fn front(&mut self) -> Option<&Pending> {
        if self.current.is_none() {
            self.current = self.pending.try_recv().ok();
        }
        self.current.as_ref()
    }

    fn started(&mut self) -> Option<Instant> {
        match self.front() {
            Some(Pending::Simple(t) | Pending::Execute(t, ..)) => Some(*t),
            _ => None,
        }
    }

    async fn observe_message(
        &mut self,
        tag: u8,
        body: &[u8],
        limits: Limits,
        rec: &SessionRecorder,
    ) -> Result<(), ProtocolError> {
        match tag {
            backend::DATA_ROW => {
                self.in_result = true;
                self.row_count += 1;
                if self.rows.len() + body.len() + frame::HEADER <= limits.max_result {
                    self.rows.push_message(tag, body);
                } else {
                    self.truncated = true;
                }
            }
            backend::PARAMETER_DESCRIPTION => {
                let types = backend::parameter_description(body)?;
                // The RowDescription or NoData that follows completes the Describe.
                if let Some(Pending::DescribeStatement(statement)) = self.front() {
                    let _ = statement.described.set(types);
                }
            }
            backend::ROW_DESCRIPTION => {
                // Sessions repeat the same statements: reuse the parsed columns when the bytes match.
                let columns = match &self.last_description {
                    Some((bytes, cols)) if bytes.as_slice() == body => cols.clone(),
                    _ => {
                        let cols: Arc<[Column]> = backend::row_description(body)?.into();
                        self.last_description = Some((body.to_vec(), cols.clone()));
                        cols
                    }
                };
                match self.front() {
                    // A statement Describe (at prepare time): the columns belong to the statement,
                    // for executions whose portal the client does not Describe.
                    Some(Pending::DescribeStatement(statement)) => {
                        let _ = statement.columns.set(columns);
                        self.current = None;
                    }
                    front => {
                        self.in_result =
                            matches!(front, Some(Pending::Simple(_) | Pending::Execute(..)));
                        self.columns = Some(columns);
                    }
                }
            }
            backend::NO_DATA => {
                if matches!(self.front(), Some(Pending::DescribeStatement(_))) {
                    self.current = None;
                }
            }
            backend::COMMAND_COMPLETE | backend::EMPTY_QUERY | backend::PORTAL_SUSPENDED => {
                self.finish_result(rec).await;
                let started = self.started();
                let tag_bytes =
                    (tag == backend::COMMAND_COMPLETE).then(|| Bytes::copy_from_slice(body));
                let duration_us = started.map_or(0, |t| {
                    u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
                });
                let suspended = tag == backend::PORTAL_SUSPENDED;
                rec.record(record::Complete {
                    tag: tag_bytes,
                    duration_us,
                    suspended,
                })
                .await;
                if matches!(self.front(), Some(Pending::Execute(..))) {
                    self.current = None;
                }
            }
            backend::ERROR_RESPONSE => {
                backend::error_fields(body)?;
                self.finish_result(rec).await;
                rec.record(record::ServerMessage {
                    kind: EventKind::DbError,
                    body: Bytes::copy_from_slice(body),
                })
                .await;
            }
            backend::READY_FOR_QUERY => {
                self.finish_result(rec).await;
                self.columns = None;
                // Everything up to the Sync (or simple Query) this answers is done, including
                // executions the server skipped after an error.
                while let Some(p) = self.front() {
                    let done = matches!(p, Pending::Sync | Pending::Simple(_));
                    self.current = None;
                    if done {
                        break;
                    }
                }
            }
            backend::NOTICE_RESPONSE => {
                backend::error_fields(body)?;
                rec.record(record::ServerMessage {
                    kind: EventKind::DbNotice,
                    body: Bytes::copy_from_slice(body),
                })
                .await;
            }
            backend::NOTIFICATION => {
                backend::notification(body)?;
                rec.record(record::Notification(Bytes::copy_from_slice(body)))
                    .await;
            }
            backend::COPY_OUT_RESPONSE => self.copy = Some(CopyData::new()),
            backend::COPY_DATA => {
                if let Some(c) = self.copy.as_mut() {
                    c.push(body, limits.max_result);
                }
            }
            backend::COPY_DONE => {
                if let Some(c) = self.copy.take() {
                    rec.record(c.into_event("out", false)).await;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The columns of the result being received: from its RowDescription, or else those the
    /// statement behind the current Execute was described with, in the formats its Bind asked for.
    fn effective_columns(&mut self) -> Option<Arc<[Column]>> {
        match (self.columns.clone(), self.front()) {
            (Some(described), _) => Some(described),
            (None, Some(Pending::Execute(_, Some(statement), formats))) => {
                statement.columns.get().map(|c| with_formats(c, formats))
            }
            (None, _) => None,
        }
    }

    /// Appends a DataRow with its cells masked for the client. Text cells are masked in place;
    /// a binary cell under a column rule becomes NULL (a masked value would not decode), other
    /// binary cells pass unchanged.
    fn masked_row(&mut self, body: &[u8], frame: &[u8], out: &mut Vec<u8>) {
        let columns = self.effective_columns().unwrap_or_else(|| Arc::from([]));
        let Some(mask) = self.client_mask.as_mut() else {
            out.extend_from_slice(frame);
            return;
        };
        if !mask
            .plan
            .as_ref()
            .is_some_and(|(c, _)| Arc::ptr_eq(c, &columns))
        {
            let refs: Vec<ColumnRef<'_>> = columns
                .iter()
                .map(|c| ColumnRef::new(None, &c.name))
                .collect();
            let plan = mask.masker.plan_columns(&refs);
            mask.plan = Some((columns.clone(), plan));
        }
        let (Some((_, plan)), Ok(cells)) = (mask.plan.as_ref(), backend::data_row(body)) else {
            // Not decodable: the upstream's bytes go on and the client reports the problem.
            out.extend_from_slice(frame);
            return;
        };
        let mut report = MaskReport::new();
        encode::message(out, backend::DATA_ROW, |b| {
            b.extend_from_slice(&i16::try_from(cells.len()).unwrap_or(i16::MAX).to_be_bytes());
            for (i, cell) in cells.iter().enumerate() {
                let col = columns.get(i);
                let (ty, format) = (col.map_or(0, |c| c.type_oid), col.map_or(0, |c| c.format));
                let ruled = plan.column_rule(i).is_some();
                let value: Option<std::borrow::Cow<'_, [u8]>> = match cell {
                    None => None,
                    Some(v) if format == 0 || value::is_text_type(ty) => {
                        if value::cannot_hold_secrets(ty) && !ruled {
                            Some((*v).into())
                        } else {
                            Some(plan.mask_cell(i, v, &mut report))
                        }
                    }
                    Some(_) if ruled => None,
                    Some(v) => Some((*v).into()),
                };
                match value {
                    None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        b.extend_from_slice(
                            &i32::try_from(v.len()).unwrap_or(i32::MAX).to_be_bytes(),
                        );
                        b.extend_from_slice(&v);
                    }
                }
            }
        });
    }

    /// Records the rows gathered so far, if a result is open.
    pub async fn finish_result(&mut self, rec: &SessionRecorder) {
        if !self.in_result {
            return;
        }
        self.in_result = false;
        let columns = self.effective_columns();
        let result = record::ResultSet {
            columns,
            rows: std::mem::take(&mut self.rows),
            row_count: std::mem::take(&mut self.row_count),
            truncated: std::mem::take(&mut self.truncated),
        };
        if result.row_count > 0 || result.columns.is_some() {
            rec.record(result).await;
        }
        self.columns = None;
    }
}

/// A statement's described columns with the result formats a Bind asked for (none: all text;
/// one: for all; else one per column).
fn with_formats(columns: &Arc<[Column]>, formats: &[i16]) -> Arc<[Column]> {
    match formats {
        [] => columns.clone(),
        [one] => columns
            .iter()
            .map(|c| Column {
                format: *one,
                ..c.clone()
            })
            .collect(),
        many => columns
            .iter()
            .zip(many.iter().chain(std::iter::repeat(&0)))
            .map(|(c, f)| Column {
                format: *f,
                ..c.clone()
            })
            .collect(),
    }
}

impl Observer for ServerSide {
    const READ: fn(std::io::Error) -> RelayEnd = RelayEnd::UpstreamIo;
    const WRITE: fn(std::io::Error) -> RelayEnd = RelayEnd::ClientIo;
    const PROTOCOL: fn(ProtocolError) -> RelayEnd = RelayEnd::UpstreamProtocol;
    const EOF: fn() -> RelayEnd = || RelayEnd::UpstreamClosed;

    fn count(&mut self, bytes: u64) {
        self.bytes += bytes;
    }

    fn rewrites(&self) -> bool {
        self.client_mask.is_some()
    }

    fn forward(&mut self, tag: u8, body: &[u8], frame: &[u8], out: &mut Vec<u8>) {
        if tag == backend::DATA_ROW {
            return self.masked_row(body, frame, out);
        }
        if let Some(mask) = self.client_mask.as_mut() {
            let copy_data = |out: &mut Vec<u8>, data: Vec<u8>| {
                if !data.is_empty() {
                    encode::message(out, backend::COPY_DATA, |b| b.extend_from_slice(&data));
                }
            };
            match (tag, mask.copy.as_mut()) {
                (backend::COPY_OUT_RESPONSE, _) => mask.copy = Some(mask.masker.stream()),
                (backend::COPY_DATA, Some(stream)) => return copy_data(out, stream.push(body)),
                // The held-back end of the data goes out before the COPY ends, either way.
                (backend::COPY_DONE | backend::ERROR_RESPONSE, Some(stream)) => {
                    copy_data(out, stream.finish());
                    mask.copy = None;
                }
                _ => {}
            }
        }
        out.extend_from_slice(frame);
    }

    async fn observe(
        &mut self,
        tag: u8,
        body: &[u8],
        limits: Limits,
        rec: &SessionRecorder,
    ) -> Step {
        match self.observe_message(tag, body, limits, rec).await {
            Ok(()) => Step::Continue,
            Err(e) => Step::Stop(RelayEnd::UpstreamProtocol(e)),
        }
    }
}
