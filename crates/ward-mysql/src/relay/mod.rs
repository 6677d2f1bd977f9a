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

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::watch;
use ward_admit::Admitted;
use ward_mask::Masker;
use ward_net::Stream;
use ward_policy::SessionGuardrails;
use ward_store::SessionRecorder;

use crate::codec::ProtocolError;
use crate::codec::packet;
use crate::gateway::Limits;
use crate::kill::Killer;
use crate::prepared::Statements;
use crate::record::ServerError;
use crate::session::{err_packet, errors};
use crate::upstream::Upstream;
use crate::wire::PacketReader;

mod answer;
mod commands;

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
    killer: Killer,
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
        local_infile: admitted.grant.local_infile,
        ubuf: upstream.reader.buf,
        statements: Statements::new(limits.max_result),
        killer,
        client_seq: 0,
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
            let seq = relay.client_seq;
            tell((&mut cr, &mut cw), seq, (errors::CONNECTION_KILLED, &message), None, false).await;
            let _ = uw.shutdown().await;
            return Ended { why: RelayEnd::Terminated, up: relay.up, down: relay.down };
        }
    };
    // Closing the upstream connection rolls back a transaction left open.
    let _ = uw.shutdown().await;
    let told = match &why {
        RelayEnd::ClientClosed | RelayEnd::ClientIo(_) | RelayEnd::Terminated => None,
        RelayEnd::ClientProtocol(e @ ProtocolError::TooLong { .. }) => Some((
            errors::NET_PACKET_TOO_LARGE,
            format!("packet from the client refused: {e}"),
        )),
        RelayEnd::ClientProtocol(e) => Some((
            errors::MALFORMED,
            format!("invalid packet from the client: {e}"),
        )),
        RelayEnd::UpstreamClosed => Some((
            errors::UPSTREAM_LOST,
            "the server closed the connection".to_owned(),
        )),
        RelayEnd::UpstreamIo(e) => Some((
            errors::UPSTREAM_LOST,
            format!("the connection to the server failed: {e}"),
        )),
        RelayEnd::UpstreamProtocol(e) => Some((
            errors::UPSTREAM_LOST,
            format!("invalid packet from the server: {e}"),
        )),
        RelayEnd::StoreUnavailable => Some((
            errors::DISK_FULL,
            "Ward cannot write its audit record, so this session is ended: nothing unrecorded may pass".to_owned(),
        )),
        RelayEnd::Shutdown => Some((errors::SERVER_SHUTDOWN, "Ward is shutting down".to_owned())),
    };
    // A packet the client sent that Ward refused is answered in its sequence (the command's
    // packet was 0); otherwise the client waits for packet `client_seq`.
    let seq = match &why {
        RelayEnd::ClientProtocol(_) => 1,
        _ => relay.client_seq,
    };
    match told {
        Some((code, message)) => {
            let refused_input = matches!(why, RelayEnd::ClientProtocol(_));
            tell(
                (&mut cr, &mut cw),
                seq,
                (code, &message),
                Some(rec),
                refused_input,
            )
            .await
        }
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

/// Sends a last ERR as packet `seq` (0 when the client is between commands: it reads it as
/// the answer to its next one) and closes; after `refused_input`, reading what the client still
/// sends so that it gets to read the ERR. With `rec`, the error is recorded.
async fn tell(
    (cr, cw): (&mut ReadHalf<Stream>, &mut WriteHalf<Stream>),
    seq: u8,
    (code, message): (errors::Code, &str),
    rec: Option<&SessionRecorder>,
    refused_input: bool,
) {
    let mut out = Vec::new();
    err_packet(&mut out, seq, code, message);
    if let Some(rec) = rec {
        let payload = out.get(packet::HEADER..).unwrap_or_default();
        rec.record(ServerError(Bytes::copy_from_slice(payload)))
            .await;
    }
    let _ = ward_net::send(cw, &out).await;
    if refused_input {
        // The client may still be sending what was refused: it reads the ERR first.
        ward_net::close_gently(cr, cw).await;
    } else {
        let _ = cw.shutdown().await;
    }
}

struct Relay<'r, R> {
    rec: &'r R,
    limits: Limits,
    capabilities: u32,
    guardrails: Option<SessionGuardrails>,
    reviewer: ward_admit::Reviewer,
    client_masker: Option<Masker>,
    /// The grant allows `LOAD DATA LOCAL INFILE`.
    local_infile: bool,
    /// The upstream's read buffer.
    ubuf: BytesMut,
    statements: Statements,
    killer: Killer,
    /// The sequence number of the packet the client waits for: 0 between commands.
    client_seq: u8,
    up: u64,
    down: u64,
}
