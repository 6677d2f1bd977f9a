//! The bodies Ward relays: fed from a channel by the task that records them, so a chunk goes
//! on only after it was handed to the recorder (and, with `mask_client`, masked).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Chunks queued between the recording task and the connection that sends them.
const QUEUED: usize = 4;

/// The other side of a relayed body went away, or its sender did.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Aborted(pub String);

/// A body whose frames come from a [`Feed`].
pub struct Piped {
    rx: mpsc::Receiver<Result<Frame<Bytes>, Aborted>>,
    /// Known up front (Ward's own answers).
    exact: Option<u64>,
}

/// Where a [`Piped`] body's frames are sent from.
pub type Feed = mpsc::Sender<Result<Frame<Bytes>, Aborted>>;

impl Piped {
    /// A body and the channel that feeds it.
    pub fn channel() -> (Feed, Self) {
        let (tx, rx) = mpsc::channel(QUEUED);
        (tx, Self { rx, exact: None })
    }

    /// A body of `bytes`, whole.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let (tx, rx) = mpsc::channel(1);
        let exact = Some(bytes.len() as u64);
        if !bytes.is_empty() {
            let _ = tx.try_send(Ok(Frame::data(bytes)));
        }
        Self { rx, exact }
    }

    pub fn empty() -> Self {
        Self::full(Bytes::new())
    }
}

impl Body for Piped {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        self.rx.poll_recv(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.exact == Some(0)
    }

    fn size_hint(&self) -> SizeHint {
        self.exact.map(SizeHint::with_exact).unwrap_or_default()
    }
}
