//! What Ward's gateways share on the wire: [`accept`], every listener's accept loop, and, for
//! the database gateways (PostgreSQL, MySQL), [`Stream`], a connection that starts as plain
//! TCP and may turn into TLS mid-handshake, and [`send`].

mod stream;

pub use stream::Stream;

use tokio::io::{AsyncWrite, AsyncWriteExt};

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
