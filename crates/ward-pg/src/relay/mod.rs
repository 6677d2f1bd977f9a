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
use ward_core::EventKind;
use ward_store::Sink;

use crate::codec::backend::{self, Column};
use crate::codec::{ProtocolError, frontend};
use crate::codec::{encode, frame, value};
use crate::{fastpath, record};
use ward_mask::{CellPlan, ColumnRef, MaskReport, Masker, StreamMasker};
use ward_policy::SessionGuardrails;

mod client;
pub mod client_mask;
mod server;
#[cfg(test)]
mod tests;

pub use client::{ClientSide, FastPath};
use client_mask::ClientMask;
pub use server::ServerSide;

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
    /// The audit store cannot be written: nothing more may pass (fail closed).
    StoreUnavailable,
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
    /// A statement a guardrail denied: the ErrorResponse (whole message) the client gets just
    /// before the ReadyForQuery that answers the Sync after it.
    Denied(Vec<u8>),
    /// A Sync Ward sent in place of the client's Flush after a denied Parse, so the error reaches
    /// a client that waits for it before its own Sync; its ReadyForQuery is not for the client.
    WardSync,
    Sync,
    /// A fast-path call, answered by a FunctionCallResponse (or an error) and a ReadyForQuery.
    FunctionCall {
        started: Instant,
        function: u32,
        name: Arc<str>,
        result_format: i16,
    },
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

/// Creates the two halves of a relay's state. With `client_mask` (the grant's `mask_client`, with
/// its profile), rows, COPY data, errors, notices and notifications reach the client masked. With
/// `guardrails`, denied statements never reach the upstream (see [`ClientSide`]).
/// Where a session looks names up in its resource's catalog (`crate::catalog`): the tables its
/// results come from, the functions it calls by OID.
#[derive(Clone)]
pub struct Lookup {
    pub target: Arc<crate::upstream::Target>,
    pub max_message: usize,
}

/// The two directions of a session's relay. Names are looked up in the catalog through
/// `lookup` (none: functions are named by OID, columns by label); result columns only when
/// `columns` (a column rule of the session's maskers could apply to them).
pub fn state(
    client_mask: Option<Masker>,
    guardrails: Option<SessionGuardrails>,
    fast_path: FastPath,
    lookup: Option<Lookup>,
    columns: bool,
) -> (ClientSide, ServerSide) {
    let (tx, rx) = unbounded_channel();
    let client = ClientSide {
        statements: HashMap::new(),
        portals: HashMap::new(),
        copy: None,
        pending: tx,
        bytes: 0,
        guardrails,
        discarding: None,
        divert: None,
        fast_path,
        functions: HashMap::new(),
        lookup: lookup.clone(),
        reviewer: None,
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
        client_mask: client_mask.map(ClientMask::new),
        insert: Vec::new(),
        errored: false,
        swallow: false,
        sources: lookup
            .filter(|_| columns)
            .map(|l| (l, crate::catalog::Tables::default())),
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
    /// Whether this direction carries responses to the client, which in strict durability
    /// mode wait until the events before them are durable.
    const TO_CLIENT: bool;

    fn observe(
        &mut self,
        tag: u8,
        body: &[u8],
        limits: Limits,
        rec: &impl Sink,
    ) -> impl Future<Output = Step> + Send;
    fn count(&mut self, bytes: u64);

    /// Whether messages may be rewritten on their way (see [`Observer::forward`]).
    fn rewrites(&self) -> bool {
        false
    }

    /// Whether the message just observed must go through [`Observer::forward`] although the
    /// observer does not rewrite as a rule (it is dropped, replaced, or has something before it).
    fn diverts(&self) -> bool {
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
    rec: &impl Sink,
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
            let mut rewrite = obs.rewrites();
            // Where the chunk is cut: a message Ward cannot read, and what follows it, is not
            // passed on.
            let mut cut = chunk.len();
            out.clear();
            for (tag, range) in frame::frames(&chunk) {
                let body = chunk.get(range.clone()).unwrap_or_default();
                let start = range.start.saturating_sub(frame::HEADER);
                if let Step::Stop(end) = obs.observe(tag, body, limits, rec).await {
                    let unreadable = matches!(
                        end,
                        RelayEnd::ClientProtocol(_) | RelayEnd::UpstreamProtocol(_)
                    );
                    stop = Some(end);
                    if unreadable {
                        cut = start;
                        break;
                    }
                }
                if !rewrite && obs.diverts() {
                    // From here on the chunk is rebuilt; the messages before pass unchanged.
                    out.extend_from_slice(chunk.get(..start).unwrap_or_default());
                    rewrite = true;
                }
                if rewrite {
                    let whole_frame = chunk.get(start..range.end).unwrap_or_default();
                    obs.forward(tag, body, whole_frame, &mut out);
                }
                if stop.is_some() {
                    break;
                }
            }
            // Fail closed: what the store cannot keep does not pass (see SessionRecorder).
            let may_pass = if O::TO_CLIENT {
                rec.may_release().await
            } else {
                rec.store_healthy()
            };
            if !may_pass {
                return RelayEnd::StoreUnavailable;
            }
            // Without rewriting, the original bytes go on untouched.
            let sent: &[u8] = if rewrite {
                &out
            } else {
                chunk.get(..cut).unwrap_or_default()
            };
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
