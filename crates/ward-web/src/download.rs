//! Downloads written as they are produced: an export is written on a blocking thread into a
//! small channel, a chunk at a time, and sent as it comes, so a session of any size is
//! exported in bounded memory. An error ends the body early: the download is then incomplete,
//! and a bundle cut short does not parse, so it cannot pass for a whole one.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight: how far the writer may run ahead of a slow client.
const IN_FLIGHT: usize = 4;

type Chunk = Result<Bytes, std::io::Error>;

/// A download named `filename`, its body written by `write`.
pub fn streamed(
    content_type: &'static str,
    filename: String,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()> + Send + 'static,
) -> Response {
    let (tx, rx) = mpsc::channel::<Chunk>(IN_FLIGHT);
    let disposition = format!("attachment; filename=\"{filename}\"");
    tokio::task::spawn_blocking(move || {
        let mut out = Chunks {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let written = write(&mut out).and_then(|()| Ok(out.flush()?));
        if let Err(e) = written {
            tracing::warn!(error = %e, %filename, "a download stopped before its end");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(Receiver(rx)),
    )
        .into_response()
}

/// The writer's end: gathers bytes into chunks and sends each, waiting while the channel is
/// full (the client reads slower than the store is read).
struct Chunks {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

/// The body's end of the channel.
struct Receiver(mpsc::Receiver<Chunk>);

impl futures_core::Stream for Receiver {
    type Item = Chunk;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}
