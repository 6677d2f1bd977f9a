//! Reading whole messages from a socket during the handshakes (before the relay takes over).

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::codec::ProtocolError;
use crate::codec::frame::{self, Next};

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("connection closed")]
    Closed,
}

/// A socket's read buffer. Bytes after the handshake stay in it for the relay.
pub struct MessageReader {
    pub buf: BytesMut,
    max: usize,
}

impl MessageReader {
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(8 * 1024),
            max,
        }
    }

    /// The next whole message: its type and body.
    pub async fn next<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
    ) -> Result<(u8, BytesMut), WireError> {
        self.next_within(s, self.max).await
    }

    /// The next whole message, refused (before its bytes are buffered) when it is longer than
    /// `max`: for messages a client sends before it is authenticated.
    pub async fn next_within<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        max: usize,
    ) -> Result<(u8, BytesMut), WireError> {
        loop {
            match frame::next(&self.buf, max)? {
                Next::Frame { tag, len } => {
                    let mut msg = self.buf.split_to(len);
                    let body = msg.split_off(frame::HEADER);
                    return Ok((tag, body));
                }
                Next::Partial { len } => self.buf.reserve(len - self.buf.len()),
                Next::NeedHeader => {}
            }
            if s.read_buf(&mut self.buf).await? == 0 {
                return Err(WireError::Closed);
            }
        }
    }

    /// Reads until `parse` can decode a packet from the start of the buffer (startup packets).
    pub async fn fill_until<S, T>(
        &mut self,
        s: &mut S,
        parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ProtocolError>,
    ) -> Result<T, WireError>
    where
        S: AsyncRead + Unpin,
    {
        loop {
            if let Some((msg, len)) = parse(&self.buf)? {
                let _ = self.buf.split_to(len);
                return Ok(msg);
            }
            if s.read_buf(&mut self.buf).await? == 0 {
                return Err(WireError::Closed);
            }
        }
    }
}

pub use ward_net::send;
