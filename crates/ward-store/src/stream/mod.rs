//! Byte streams a session records as they pass: an SSH command's output, an HTTP body.
//!
//! A stream is masked across its chunks (a secret split across two chunks is still masked),
//! recorded as it arrives, and stored up to a cap (`[recording] max_result_bytes`), like a
//! query's result; past the cap it is counted and hashed (SHA-256), like a file scp moves.

mod hash;

pub use hash::{HASH_HERE, Hasher};

use ward_core::payload::{Payload, Terminal};
use ward_mask::{Masker, StreamMasker};

use crate::{JsonBody, PremaskedJson, SessionRecorder};

/// One stream, masked across its chunks and recorded chunk by chunk as the event `payload`
/// makes of each.
pub struct StreamRecord {
    masker: StreamMasker,
    /// Masked bytes not yet recorded: an incomplete UTF-8 character at the end.
    pending: Vec<u8>,
    /// The event of one chunk.
    payload: fn(Terminal) -> Payload,
    /// Bytes of the stream stored (or held to be stored) so far.
    kept: u64,
    /// Past the cap: how many bytes were not stored, and their SHA-256.
    unstored: Option<(u64, Hasher)>,
}

impl StreamRecord {
    pub fn new(masker: &Masker, payload: fn(Terminal) -> Payload) -> Self {
        Self::with(masker.stream(), payload)
    }

    /// A stream masked by `masker`, a [`StreamMasker`] done with an earlier stream: making one
    /// costs its automata's caches, which a relay of many short streams (HTTP bodies) reuses.
    pub fn with(masker: StreamMasker, payload: fn(Terminal) -> Payload) -> Self {
        Self {
            masker,
            pending: Vec::new(),
            payload,
            kept: 0,
            unstored: None,
        }
    }

    /// The stream's masker, for the next stream, once this one was recorded to its end.
    pub fn into_masker(self) -> StreamMasker {
        self.masker
    }

    /// Bytes of the stream seen so far, stored or not.
    pub fn seen(&self) -> u64 {
        self.kept + self.unstored.as_ref().map_or(0, |(n, _)| *n)
    }

    /// Masks `data` (all of it with `end`) and records what is ready; with `cap`, stores at
    /// most that many bytes of the stream.
    pub async fn record(
        &mut self,
        rec: &SessionRecorder,
        data: &[u8],
        end: bool,
        cap: Option<u64>,
    ) {
        let room = cap.map_or(data.len(), |c| {
            usize::try_from(c.saturating_sub(self.kept)).unwrap_or(usize::MAX)
        });
        let (kept, rest) = data.split_at(room.min(data.len()));
        self.kept += kept.len() as u64;
        let crossed = !rest.is_empty() && self.unstored.is_none();
        if !rest.is_empty() {
            let (n, hash) = self.unstored.get_or_insert_with(|| (0, Hasher::new()));
            *n += rest.len() as u64;
            hash.update(rest);
        }
        self.masker.push_into(kept, &mut self.pending);
        if end || crossed {
            self.masker.finish_into(&mut self.pending);
        }
        let ready = if end || crossed {
            self.pending.len()
        } else {
            match std::str::from_utf8(&self.pending) {
                Ok(_) => self.pending.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => self.pending.len(),
            }
        };
        if ready > 0 {
            let chunk = terminal_data(&self.pending[..ready]);
            self.pending.drain(..ready);
            let (kind, out) = (self.payload)(chunk).into_parts();
            let report = self.masker.take_report();
            rec.record_sized(PremaskedJson(kind, out, report), ready)
                .await;
        }
        if end && let Some((n, hash)) = self.unstored.take() {
            let chunk = Terminal {
                truncated: Some(true),
                bytes_not_stored: Some(n),
                sha256_not_stored: hash.finish().map(hex::encode),
                ..Terminal::default()
            };
            rec.record(JsonBody::from((self.payload)(chunk))).await;
        }
    }
}

/// A chunk of a stream as recorded: `data`, the text, when it is text a terminal shows; else
/// `data_b64`, the bytes in base64 (a binary stream would cost six JSON bytes per NUL).
pub fn terminal_data(bytes: &[u8]) -> Terminal {
    let shown =
        |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x1b' | '\x07' | '\x08');
    match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().all(shown) => Terminal {
            data: Some(text.to_owned()),
            ..Terminal::default()
        },
        _ => {
            use base64::Engine as _;
            Terminal {
                data_b64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                ..Terminal::default()
            }
        }
    }
}
