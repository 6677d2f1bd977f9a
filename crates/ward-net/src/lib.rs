//! What Ward's gateways share on the wire: [`accept`], every listener's accept loop, and, for
//! the database gateways (PostgreSQL, MySQL), [`Stream`], a connection that starts as plain
//! TCP and may turn into TLS mid-handshake, and [`send`].

mod stream;

pub use stream::Stream;

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// After a last answer that refuses what the peer is sending: closes the writing side, then
/// reads and drops what the peer still sends (the rest of a refused packet) while it keeps
/// coming, for at most two seconds in all. Closing a socket with unread bytes resets the
/// connection, and the peer, still writing, would lose the answer. A peer that sends nothing
/// for a quarter of a second is taken to be done.
pub async fn close_gently<R, W>(reader: &mut R, writer: &mut W)
where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    let _ = writer.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 16 * 1024];
        let quiet = Duration::from_millis(250);
        while matches!(tokio::time::timeout(quiet, reader.read(&mut sink)).await, Ok(Ok(n)) if n > 0)
        {
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Writes `bytes` and flushes.
pub async fn send<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}

/// The next connection on `listener`, with Nagle off, or `None` once `shutdown` changes. A
/// failed accept (out of file descriptors, a connection reset before it was taken) is logged
/// as `what`'s and retried after a pause, so the listener keeps serving.
pub async fn accept(
    listener: &tokio::net::TcpListener,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    what: &str,
) -> Option<(tokio::net::TcpStream, std::net::SocketAddr)> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    return Some((tcp, peer));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "{what} listener: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return None,
        }
    }
}
