//! Reading whole logical packets from a socket, and the errors of a connection.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::codec::ProtocolError;
use crate::codec::packet::{self, Next};

pub use ward_net::send;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("connection closed")]
    Closed,
}

/// A logical packet as it came: its bytes on the wire (headers included, to forward as they
/// are), its payload, and the sequence number of its first packet.
pub struct Packet {
    pub wire: BytesMut,
    pub seq: u8,
    /// How many physical packets it spans (one, unless its payload reached 16 MiB).
    pub packets: u8,
}

impl Packet {
    /// The payload: borrowed when it fits one packet, joined otherwise.
    pub fn payload(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.packets == 1 {
            std::borrow::Cow::Borrowed(self.wire.get(packet::HEADER..).unwrap_or_default())
        } else {
            std::borrow::Cow::Owned(packet::payload(&self.wire))
        }
    }

    /// The sequence number the answer to this packet starts with.
    pub fn next_seq(&self) -> u8 {
        self.seq.wrapping_add(self.packets)
    }
}

/// A socket's read buffer.
pub struct PacketReader {
    pub buf: BytesMut,
    max: usize,
}

impl PacketReader {
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(8 * 1024),
            max,
        }
    }

    /// The next logical packet, refused (before its bytes are buffered) when its payload is
    /// over the reader's limit.
    pub async fn next<S: AsyncRead + Unpin>(&mut self, s: &mut S) -> Result<Packet, WireError> {
        self.next_within(s, self.max).await
    }

    /// The next logical packet, with a limit of its own (packets of a client not yet
    /// authenticated).
    pub async fn next_within<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        max: usize,
    ) -> Result<Packet, WireError> {
        loop {
            match packet::next(&self.buf, max)? {
                Next::Packet { seq, len, packets } => {
                    return Ok(Packet {
                        wire: self.buf.split_to(len),
                        seq,
                        packets,
                    });
                }
                Next::Partial { len } => self.buf.reserve(len.saturating_sub(self.buf.len())),
                Next::NeedHeader => {}
            }
            if s.read_buf(&mut self.buf).await? == 0 {
                // Closed between packets is a goodbye; closed within one is not.
                if self.buf.is_empty() {
                    return Err(WireError::Closed);
                }
                return Err(WireError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }
}
