//! What Ward's database gateways (PostgreSQL, MySQL) share on the wire: [`Stream`], a
//! connection that starts as plain TCP and may turn into TLS mid-handshake, and [`send`].

mod stream;

pub use stream::Stream;

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Writes `bytes` and flushes.
pub async fn send<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}
