//! The command phase: the client's commands one at a time, each checked, recorded and
//! forwarded, and the server's answer read packet by packet, recorded (results masked and
//! capped) and passed on, masked for the client when its grant says so.
//!
//! MySQL's classic protocol is half duplex: a client sends one command and reads its whole
//! answer before the next, so one task serves both directions in turn.
//!
//! # Performance
//! Every packet of an answer that is already buffered is handled before one write to the
//! client; rows are kept for the record as slices of the read buffer, not copies.

use std::borrow::Cow;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::watch;
use ward_admit::Admitted;
use ward_mask::{CellPlan, ColumnRef, MaskReport, Masker};
use ward_net::Stream;
use ward_policy::{Dialect, SessionGuardrails};
use ward_store::{SessionRecorder, Sink};

use crate::codec::packet::{self, Next};
use crate::codec::reader::put_lenenc_str;
use crate::codec::{ProtocolError, command, malformed, response};
use crate::gateway::Limits;
use crate::record::{self, Complete, Query, ResultSet, ServerError};
use crate::results::{Response, Seen, Shape};
use crate::session::{err_packet, errors};
use crate::upstream::Upstream;
use crate::wire::{PacketReader, WireError};

/// Why the relay stopped.
#[derive(Debug)]
pub(crate) enum RelayEnd {
    /// COM_QUIT, or the client closed the connection between commands.
    ClientClosed,
    ClientIo(std::io::Error),
    ClientProtocol(ProtocolError),
    UpstreamClosed,
    UpstreamIo(std::io::Error),
    UpstreamProtocol(ProtocolError),
    /// The store cannot record: nothing more may pass.
    StoreUnavailable,
    /// Ended from outside ([`ward_admit::Control`]).
    Terminated,
    /// Ward is stopping.
    Shutdown,
}

pub(crate) struct Ended {
    pub why: RelayEnd,
    pub up: u64,
    pub down: u64,
}

/// The two connections as the login left them.
pub(crate) struct Sides {
    pub client: Stream,
    /// Bytes the client sent after its login, not read yet.
    pub client_buf: BytesMut,
    pub upstream: Upstream,
    /// The capabilities the client negotiated (the same reached the server).
    pub capabilities: u32,
}

/// Relays until either side ends, Ward stops or the session is terminated, and tells the
/// client why when it can.
pub(crate) async fn run(
    sides: Sides,
    rec: &SessionRecorder,
    admitted: Admitted,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) -> Ended {
    let Sides {
        client,
        client_buf,
        upstream,
        capabilities,
    } = sides;
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut ur, mut uw) = tokio::io::split(upstream.stream);
    let mut creader = PacketReader::new(limits.max_message);
    creader.buf = client_buf;
    let mut relay = Relay {
        rec,
        limits,
        capabilities,
        guardrails: admitted.guardrails,
        reviewer: admitted.reviewer,
        client_masker: admitted.client_masker,
        ubuf: upstream.reader.buf,
        up: 0,
        down: 0,
    };
    let mut terminable = admitted.terminable;
    let why = tokio::select! {
        why = relay.serve(&mut creader, &mut cr, &mut cw, &mut ur, &mut uw) => why,
        _ = shutdown.changed() => RelayEnd::Shutdown,
        why = terminable.terminated() => {
            rec.record(why.event()).await;
            let message = format!("Ward ended this session: {why}");
            tell(&mut cw, errors::CONNECTION_KILLED, &message, None).await;
            let _ = uw.shutdown().await;
            return Ended { why: RelayEnd::Terminated, up: relay.up, down: relay.down };
        }
    };
    // Closing the upstream connection rolls back a transaction left open.
    let _ = uw.shutdown().await;
    let told = match &why {
        RelayEnd::ClientClosed | RelayEnd::ClientIo(_) | RelayEnd::Terminated => None,
        RelayEnd::ClientProtocol(e) => Some((
            errors::MALFORMED,
            format!("invalid packet from the client: {e}"),
        )),
        RelayEnd::UpstreamClosed => Some((
            errors::UPSTREAM,
            "the server closed the connection".to_owned(),
        )),
        RelayEnd::UpstreamIo(e) => Some((
            errors::UPSTREAM,
            format!("the connection to the server failed: {e}"),
        )),
        RelayEnd::UpstreamProtocol(e) => Some((
            errors::UPSTREAM,
            format!("invalid packet from the server: {e}"),
        )),
        RelayEnd::StoreUnavailable => Some((
            errors::DISK_FULL,
            "Ward cannot write its audit record, so this session is ended: nothing unrecorded may pass".to_owned(),
        )),
        RelayEnd::Shutdown => Some((errors::SERVER_SHUTDOWN, "Ward is shutting down".to_owned())),
    };
    match told {
        Some((code, message)) => tell(&mut cw, code, &message, Some(rec)).await,
        None => {
            let _ = cw.shutdown().await;
        }
    }
    Ended {
        why,
        up: relay.up,
        down: relay.down,
    }
}

/// Sends an ERR the client did not ask for (as packet 0, which it reads as the answer to its
/// next command) and closes; with `rec`, the error is recorded.
async fn tell(
    cw: &mut WriteHalf<Stream>,
    code: errors::Code,
    message: &str,
    rec: Option<&SessionRecorder>,
) {
    let mut out = Vec::new();
    err_packet(&mut out, 0, code, message);
    if let Some(rec) = rec {
        let payload = out.get(packet::HEADER..).unwrap_or_default();
        rec.record(ServerError(Bytes::copy_from_slice(payload)))
            .await;
    }
    let _ = ward_net::send(cw, &out).await;
    let _ = cw.shutdown().await;
}

struct Relay<'r, R> {
    rec: &'r R,
    limits: Limits,
    capabilities: u32,
    guardrails: Option<SessionGuardrails>,
    reviewer: ward_admit::Reviewer,
    client_masker: Option<Masker>,
    /// The upstream's read buffer.
    ubuf: BytesMut,
    up: u64,
    down: u64,
}

/// What to do with a client's command.
enum Handling {
    Forward(Shape),
    /// Refused with this error and message; recorded as `policy.denied` with the reason.
    Refuse(errors::Code, &'static str, String),
}

impl<R: Sink> Relay<'_, R> {
    async fn serve<CR, CW, UR, UW>(
        &mut self,
        creader: &mut PacketReader,
        cr: &mut CR,
        cw: &mut CW,
        ur: &mut UR,
        uw: &mut UW,
    ) -> RelayEnd
    where
        CR: AsyncRead + Unpin,
        CW: AsyncWrite + Unpin,
        UR: AsyncRead + Unpin,
        UW: AsyncWrite + Unpin,
    {
        loop {
            let cmd = match creader.next(cr).await {
                Ok(p) => p,
                Err(WireError::Closed) => return RelayEnd::ClientClosed,
                Err(WireError::Io(e)) => return RelayEnd::ClientIo(e),
                Err(WireError::Protocol(e)) => return RelayEnd::ClientProtocol(e),
            };
            self.up += cmd.wire.len() as u64;
            if cmd.seq != 0 {
                return RelayEnd::ClientProtocol(ProtocolError::Sequence {
                    expected: 0,
                    got: cmd.seq,
                });
            }
            let payload = cmd.payload();
            let Some((&code, body)) = payload.split_first() else {
                return RelayEnd::ClientProtocol(malformed("command"));
            };
            let handling = match code {
                command::QUIT => {
                    let _ = uw.write_all(&cmd.wire).await;
                    return RelayEnd::ClientClosed;
                }
                command::QUERY => match self.check(body).await {
                    Some(refusal) => Handling::Refuse(errors::SPECIFIC_ACCESS_DENIED, "", refusal),
                    None => {
                        self.rec
                            .record(Query {
                                text: Bytes::copy_from_slice(body),
                            })
                            .await;
                        Handling::Forward(Shape::Results)
                    }
                },
                command::INIT_DB => {
                    let mut text = b"USE `".to_vec();
                    text.extend_from_slice(body);
                    text.push(b'`');
                    self.rec.record(Query { text: text.into() }).await;
                    Handling::Forward(Shape::Single)
                }
                command::PING | command::SET_OPTION => Handling::Forward(Shape::Single),
                command::RESET_CONNECTION => {
                    let text = Bytes::from_static(b"COM_RESET_CONNECTION");
                    self.rec.record(Query { text }).await;
                    Handling::Forward(Shape::Single)
                }
                command::STATISTICS => Handling::Forward(Shape::Text),
                command::FIELD_LIST => Handling::Forward(Shape::FieldList),
                command::CHANGE_USER => Handling::Refuse(
                    errors::SPECIFIC_ACCESS_DENIED,
                    "change user",
                    "Ward does not let a session change its user (COM_CHANGE_USER): connect again as that user".into(),
                ),
                command::STMT_PREPARE
                | command::STMT_EXECUTE
                | command::STMT_SEND_LONG_DATA
                | command::STMT_CLOSE
                | command::STMT_RESET
                | command::STMT_FETCH => Handling::Refuse(
                    errors::NOT_SUPPORTED_YET,
                    "prepared statements",
                    "Ward does not relay server-side prepared statements yet; use client-side ones (for example useServerPrepStmts=false)".into(),
                ),
                other => Handling::Refuse(
                    errors::UNKNOWN_COM,
                    "command",
                    format!("Ward does not relay {}", command::name(other)),
                ),
            };
            drop(payload);
            match handling {
                Handling::Refuse(code, reason, message) => {
                    if !reason.is_empty() {
                        self.rec
                            .record(record::Denied {
                                rule: None,
                                reason,
                                statement: None,
                                message: message.clone(),
                                protocol: "command",
                                command: Some(command::name(cmd.wire.get(4).copied().unwrap_or(0))),
                            })
                            .await;
                    }
                    let mut out = Vec::new();
                    err_packet(&mut out, cmd.next_seq(), code, &message);
                    if let Err(e) = ward_net::send(cw, &out).await {
                        return RelayEnd::ClientIo(e);
                    }
                }
                Handling::Forward(shape) => {
                    // Fail closed: what the store cannot keep does not pass.
                    if !self.rec.store_healthy() {
                        return RelayEnd::StoreUnavailable;
                    }
                    if let Err(e) = ward_net::send(uw, &cmd.wire).await {
                        return RelayEnd::UpstreamIo(e);
                    }
                    if let Err(end) = self.answer(shape, ur, cw).await {
                        return end;
                    }
                }
            }
        }
    }

    /// Checks a query against the guardrails: the message the client gets when it is refused
    /// (the attempt is recorded), or `None` to let it run. A statement a review rule holds
    /// waits here for an approver.
    async fn check(&mut self, text: &[u8]) -> Option<String> {
        let denial = self
            .guardrails
            .as_ref()
            .and_then(|g| g.check_sql(text, Dialect::Mysql))?;
        let held = String::from_utf8_lossy(text);
        let step = (held.as_ref(), "the statement");
        let message = match self
            .reviewer
            .decide(&denial, step, denial.message(), self.rec)
            .await
        {
            Ok(()) => return None,
            Err(message) => message,
        };
        self.rec
            .record(Query {
                text: Bytes::copy_from_slice(text),
            })
            .await;
        self.rec
            .record(record::Denied {
                rule: Some(denial.rule.clone()),
                reason: denial.code(),
                statement: match denial.reason {
                    ward_policy::Reason::Kind { statement, .. } => Some(statement),
                    _ => None,
                },
                message: message.clone(),
                protocol: "query",
                command: None,
            })
            .await;
        Some(message)
    }

    /// Reads the answer to a command and passes it on, recording what it holds.
    async fn answer<UR, CW>(
        &mut self,
        shape: Shape,
        ur: &mut UR,
        cw: &mut CW,
    ) -> Result<(), RelayEnd>
    where
        UR: AsyncRead + Unpin,
        CW: AsyncWrite + Unpin,
    {
        let started = Instant::now();
        let mut response = Response::new(shape, self.capabilities);
        let mut result: Option<Building> = None;
        let mut out = Vec::new();
        loop {
            while !response.done() {
                let len = match packet::next(&self.ubuf, self.limits.max_message) {
                    Ok(Next::Packet { len, .. }) => len,
                    Ok(_) => break,
                    Err(e) => return Err(RelayEnd::UpstreamProtocol(e)),
                };
                let wire = self.ubuf.split_to(len).freeze();
                self.down += wire.len() as u64;
                let payload: Bytes = if len - packet::HEADER < packet::MAX_PAYLOAD {
                    wire.slice(packet::HEADER..)
                } else {
                    packet::payload(&wire).into()
                };
                let seen = response
                    .step(&payload)
                    .map_err(RelayEnd::UpstreamProtocol)?;
                let mut masked_row = None;
                match seen {
                    Seen::Ok {
                        affected_rows,
                        warnings,
                    } => {
                        let complete = Complete {
                            affected_rows,
                            warnings,
                            duration_us: micros(started),
                        };
                        if shape == Shape::Results {
                            self.rec.record(complete).await;
                        }
                    }
                    Seen::Err => {
                        if let Some(b) = result.take() {
                            self.rec.record(b.finish(None)).await;
                        }
                        self.rec.record(ServerError(payload.clone())).await;
                    }
                    Seen::Columns(_) if shape == Shape::Results => {
                        result = Some(Building::new(self.client_masker.is_some()));
                    }
                    Seen::Column(c) => {
                        if let Some(b) = result.as_mut() {
                            b.columns.push(*c);
                        }
                    }
                    Seen::Row => {
                        if let Some(b) = result.as_mut() {
                            b.row(&payload, self.limits.max_result);
                            if let Some(mask) = &self.client_masker {
                                masked_row = b.mask_for_client(mask, &payload);
                            }
                        }
                    }
                    Seen::RowsEnd { warnings } => {
                        if let Some(b) = result.take() {
                            let complete = Complete {
                                affected_rows: 0,
                                warnings,
                                duration_us: micros(started),
                            };
                            self.rec.record(b.finish(Some(complete))).await;
                        }
                    }
                    Seen::LocalInfile => {
                        // Ward never offers the server LOCAL INFILE, so it cannot ask.
                        return Err(RelayEnd::UpstreamProtocol(malformed(
                            "LOCAL INFILE request",
                        )));
                    }
                    Seen::Columns(_) | Seen::ColumnsEnd | Seen::Opaque => {}
                }
                match masked_row {
                    Some(row) => {
                        let seq = wire.get(3).copied().unwrap_or(0);
                        packet::write(&mut out, seq, &row);
                    }
                    None => out.extend_from_slice(&wire),
                }
            }
            if !out.is_empty() {
                // Fail closed: what the store cannot keep does not reach the client.
                if !self.rec.may_release().await {
                    return Err(RelayEnd::StoreUnavailable);
                }
                cw.write_all(&out).await.map_err(RelayEnd::ClientIo)?;
                cw.flush().await.map_err(RelayEnd::ClientIo)?;
                out.clear();
            }
            if response.done() {
                return Ok(());
            }
            match ur.read_buf(&mut self.ubuf).await {
                Ok(0) => {
                    if let Some(b) = result.take() {
                        self.rec.record(b.finish(None)).await;
                    }
                    return Err(RelayEnd::UpstreamClosed);
                }
                Ok(_) => {}
                Err(e) => return Err(RelayEnd::UpstreamIo(e)),
            }
        }
    }
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// A result set being read.
struct Building {
    columns: Vec<response::Column>,
    rows: Vec<Bytes>,
    kept: usize,
    row_count: u64,
    truncated: bool,
    /// The client's masking plan, made when the first row arrives.
    plan: Option<CellPlan>,
    masks_client: bool,
}

impl Building {
    fn new(masks_client: bool) -> Self {
        Self {
            columns: Vec::new(),
            rows: Vec::new(),
            kept: 0,
            row_count: 0,
            truncated: false,
            plan: None,
            masks_client,
        }
    }

    /// Counts a row, and keeps it while the result's record is under `cap` bytes.
    fn row(&mut self, payload: &Bytes, cap: usize) {
        self.row_count += 1;
        if self.truncated || self.kept + payload.len() > cap {
            self.truncated = true;
            return;
        }
        self.kept += payload.len();
        self.rows.push(payload.clone());
    }

    /// The row as a `mask_client` client gets it, when masking changed it.
    fn mask_for_client(&mut self, mask: &Masker, payload: &[u8]) -> Option<Vec<u8>> {
        debug_assert!(self.masks_client);
        let columns = &self.columns;
        let plan = self.plan.get_or_insert_with(|| {
            let refs: Vec<ColumnRef<'_>> = columns.iter().map(record::masking_ref).collect();
            mask.plan_columns(&refs)
        });
        let cells = response::text_row(payload).ok()?;
        let mut report = MaskReport::new();
        let mut changed = false;
        let mut out = Vec::with_capacity(payload.len());
        for (i, cell) in cells.into_iter().enumerate() {
            match cell {
                None => out.push(0xfb),
                Some(c) => {
                    let m = record::mask_cell(plan, columns, i, c, &mut report);
                    changed |= matches!(m, Cow::Owned(_));
                    put_lenenc_str(&mut out, &m);
                }
            }
        }
        changed.then_some(out)
    }

    fn finish(self, completion: Option<Complete>) -> ResultSet {
        ResultSet {
            columns: self.columns,
            rows: self.rows,
            row_count: self.row_count,
            truncated: self.truncated,
            completion,
        }
    }
}
