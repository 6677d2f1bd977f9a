//! The server's answer to one command, packet by packet: recorded (results masked on the
//! recorder's thread, capped), passed on (rows masked for a `mask_client` client), until the
//! answer ends.

use std::borrow::Cow;
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ward_mask::{CellPlan, ColumnRef, MaskReport, Masker};
use ward_store::Sink;

use super::{Relay, RelayEnd};
use crate::codec::packet::{self, Next};
use crate::codec::reader::put_lenenc_str;
use crate::codec::{binary, malformed, response};
use crate::record::{self, Complete, Query, ResultSet, ServerError};
use crate::results::{Response, Seen, Shape};
use crate::wire::{PacketReader, WireError};

/// What the command was, for reading its answer.
pub(super) enum Context {
    /// Results in the text protocol.
    Text,
    /// Results of a prepared statement: binary rows.
    Binary,
    /// COM_STMT_PREPARE of this text: kept when the server prepares it, recorded with the
    /// error when it does not.
    Prepare(Bytes),
}

/// Both connections, as an answer uses them.
pub(super) struct Io<'a, CR, CW, UR, UW> {
    pub creader: &'a mut PacketReader,
    pub cr: &'a mut CR,
    pub cw: &'a mut CW,
    pub ur: &'a mut UR,
    pub uw: &'a mut UW,
}

impl<R: Sink> Relay<'_, R> {
    /// Reads the answer to a command and passes it on, recording what it holds.
    pub(super) async fn answer<CR, CW, UR, UW>(
        &mut self,
        shape: Shape,
        context: &mut Context,
        io: Io<'_, CR, CW, UR, UW>,
    ) -> Result<(), RelayEnd>
    where
        CR: AsyncRead + Unpin,
        CW: AsyncWrite + Unpin,
        UR: AsyncRead + Unpin,
        UW: AsyncWrite + Unpin,
    {
        let Io {
            creader,
            cr,
            cw,
            ur,
            uw,
        } = io;
        let started = Instant::now();
        let mut response = Response::new(shape, self.capabilities);
        let mut result: Option<Building> = None;
        let binary = matches!(context, Context::Binary);
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
                    } if shape == Shape::Results => {
                        let complete = Complete {
                            affected_rows,
                            warnings,
                            duration_us: micros(started),
                        };
                        self.rec.record(complete).await;
                    }
                    Seen::Err => {
                        if let Context::Prepare(text) = context {
                            self.rec.record(Query::text(text.clone())).await;
                        }
                        if let Some(b) = result.take() {
                            self.rec.record(b.finish(None)).await;
                        }
                        // Copied: an event holds no buffer of the socket's.
                        let error = Bytes::copy_from_slice(&payload);
                        self.rec.record(ServerError(error)).await;
                    }
                    Seen::Prepared(ok) => {
                        if let Context::Prepare(text) = context {
                            self.statements.prepared(ok, text.clone());
                        }
                    }
                    Seen::Columns(_) if shape == Shape::Results => {
                        result = Some(Building::new(binary));
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
                    Seen::LocalInfile if self.local_infile => {
                        // The client gets the request now, and its file goes to the server.
                        out.extend_from_slice(&wire);
                        self.client_seq = 0;
                        self.release(&mut out, cw).await?;
                        self.send_file(creader, cr, uw).await?;
                        response.expect_result();
                        continue;
                    }
                    Seen::LocalInfile => {
                        // Without the grant Ward never offers the server LOCAL INFILE, so it
                        // cannot ask.
                        let what = "LOCAL INFILE request";
                        return Err(RelayEnd::UpstreamProtocol(malformed(what)));
                    }
                    Seen::Ok { .. }
                    | Seen::Columns(_)
                    | Seen::ColumnsEnd
                    | Seen::Opaque
                    | Seen::Definition => {}
                }
                let seq = wire.get(3).copied().unwrap_or(0);
                self.client_seq = seq.wrapping_add(1);
                match masked_row {
                    Some(row) => {
                        packet::write(&mut out, seq, &row);
                    }
                    None => out.extend_from_slice(&wire),
                }
            }
            self.release(&mut out, cw).await?;
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

impl<R: Sink> Relay<'_, R> {
    /// Sends what `out` holds to the client, once what it shows may be released.
    async fn release<CW: AsyncWrite + Unpin>(
        &self,
        out: &mut Vec<u8>,
        cw: &mut CW,
    ) -> Result<(), RelayEnd> {
        if out.is_empty() {
            return Ok(());
        }
        // Fail closed: what the store cannot keep does not reach the client.
        if !self.rec.may_release().await {
            return Err(RelayEnd::StoreUnavailable);
        }
        cw.write_all(out).await.map_err(RelayEnd::ClientIo)?;
        cw.flush().await.map_err(RelayEnd::ClientIo)?;
        out.clear();
        Ok(())
    }

    /// Relays the file of `LOAD DATA LOCAL INFILE` from the client to the server, up to its
    /// empty last packet, and records it (`db.copy`, capped).
    async fn send_file<CR, UW>(
        &mut self,
        creader: &mut PacketReader,
        cr: &mut CR,
        uw: &mut UW,
    ) -> Result<(), RelayEnd>
    where
        CR: AsyncRead + Unpin,
        UW: AsyncWrite + Unpin,
    {
        let mut copy = record::Copy {
            data: Vec::new(),
            bytes: 0,
        };
        loop {
            let p = match creader.next(cr).await {
                Ok(p) => p,
                Err(WireError::Closed) => return Err(RelayEnd::ClientClosed),
                Err(WireError::Io(e)) => return Err(RelayEnd::ClientIo(e)),
                Err(WireError::Protocol(e)) => return Err(RelayEnd::ClientProtocol(e)),
            };
            self.up += p.wire.len() as u64;
            let payload = p.payload();
            copy.bytes += payload.len() as u64;
            let room = self.limits.max_result.saturating_sub(copy.data.len());
            copy.data
                .extend_from_slice(payload.get(..room.min(payload.len())).unwrap_or_default());
            if !self.rec.store_healthy() {
                return Err(RelayEnd::StoreUnavailable);
            }
            uw.write_all(&p.wire).await.map_err(RelayEnd::UpstreamIo)?;
            if payload.is_empty() {
                break;
            }
        }
        uw.flush().await.map_err(RelayEnd::UpstreamIo)?;
        self.rec.record(copy).await;
        Ok(())
    }
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// A result set being read.
struct Building {
    columns: Vec<response::Column>,
    /// Binary rows (a prepared statement's) rather than text ones.
    binary: bool,
    rows: record::Rows,
    row_count: u64,
    truncated: bool,
    /// The client's masking plan, made when the first row arrives.
    plan: Option<CellPlan>,
}

impl Building {
    fn new(binary: bool) -> Self {
        Self {
            columns: Vec::new(),
            binary,
            rows: record::Rows::default(),
            row_count: 0,
            truncated: false,
            plan: None,
        }
    }

    /// Counts a row, and keeps it while the result's record is under `cap` bytes.
    fn row(&mut self, payload: &[u8], cap: usize) {
        self.row_count += 1;
        if self.truncated || self.rows.len() + payload.len() > cap {
            self.truncated = true;
            return;
        }
        self.rows.push(payload);
    }

    /// The row as a `mask_client` client gets it, when masking changed it. In a binary row,
    /// a number, date or time that a column rule masks is withheld (sent as NULL): its type
    /// has no room for the rule's text.
    fn mask_for_client(&mut self, mask: &Masker, payload: &[u8]) -> Option<Vec<u8>> {
        let columns = &self.columns;
        let plan = self.plan.get_or_insert_with(|| {
            let refs: Vec<ColumnRef<'_>> = columns.iter().map(record::masking_ref).collect();
            mask.plan_columns(&refs)
        });
        let mut report = MaskReport::new();
        let mut changed = false;
        let mut out = Vec::with_capacity(payload.len());
        if self.binary {
            let types: Vec<u8> = columns.iter().map(|c| c.type_code).collect();
            let cells = binary::row(payload, &types).ok()?;
            let masked: Vec<Option<Cow<'_, [u8]>>> = cells
                .into_iter()
                .enumerate()
                .map(|(i, cell)| {
                    let cell = cell?;
                    let ty = types.get(i).copied().unwrap_or(0xfd);
                    if !binary::is_text(ty) {
                        if plan.column_rule(i).is_some() {
                            changed = true;
                            return None;
                        }
                        return Some(Cow::Borrowed(cell));
                    }
                    let m = record::mask_cell(plan, columns, i, cell, &mut report);
                    changed |= matches!(m, Cow::Owned(_));
                    Some(m)
                })
                .collect();
            binary::encode_row(&mut out, &types, &masked);
        } else {
            let cells = response::text_row(payload).ok()?;
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
        }
        changed.then_some(out)
    }

    fn finish(self, completion: Option<Complete>) -> ResultSet {
        ResultSet {
            columns: self.columns,
            binary: self.binary,
            rows: self.rows,
            row_count: self.row_count,
            truncated: self.truncated,
            completion,
        }
    }
}
