//! Event payloads on their way into the store: hashed while they are written, and compressed
//! with zstd once they grow past a threshold, so a large result is never held twice.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::chain::Hash;

/// Payloads up to this size are stored as plain JSON; larger ones are compressed.
pub const COMPRESS_OVER: usize = 64 * 1024;
const ZSTD_LEVEL: i32 = 3;

enum Sink {
    Plain(Vec<u8>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

/// Receives a payload's JSON bytes.
pub struct PayloadWriter {
    hasher: Sha256,
    sink: Sink,
    error: Option<io::Error>,
}

/// A payload ready to store.
pub struct StoredPayload {
    pub bytes: Vec<u8>,
    pub compressed: bool,
    pub digest: Hash,
}

impl PayloadWriter {
    pub fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            sink: Sink::Plain(Vec::new()),
            error: None,
        }
    }

    pub fn finish(self) -> io::Result<StoredPayload> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(match self.sink {
            Sink::Plain(bytes) => {
                let digest = Sha256::digest(&bytes).into();
                StoredPayload {
                    bytes,
                    compressed: false,
                    digest,
                }
            }
            Sink::Zstd(enc) => StoredPayload {
                bytes: enc.finish()?,
                compressed: true,
                digest: self.hasher.finalize().into(),
            },
        })
    }
}

impl Default for PayloadWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for PayloadWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            // Small payloads are hashed once, in `finish`: serializers write many tiny pieces.
            Sink::Plain(v) => {
                v.extend_from_slice(buf);
                if v.len() > COMPRESS_OVER {
                    self.hasher.update(&*v);
                    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
                    enc.write_all(v)?;
                    self.sink = Sink::Zstd(enc);
                }
            }
            Sink::Zstd(enc) => {
                self.hasher.update(buf);
                if let Err(e) = enc.write_all(buf) {
                    self.error = Some(io::Error::new(e.kind(), e.to_string()));
                    return Err(e);
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The JSON bytes of a stored payload.
pub fn decode(bytes: &[u8], compressed: bool) -> io::Result<Vec<u8>> {
    if !compressed {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(bytes)?.read_to_end(&mut out)?;
    Ok(out)
}

/// `SHA-256` of a stored payload's JSON bytes, decompressing as a stream.
pub fn digest(bytes: &[u8], compressed: bool) -> io::Result<Hash> {
    if !compressed {
        return Ok(Sha256::digest(bytes).into());
    }
    let mut hasher = Sha256::new();
    let mut dec = zstd::stream::read::Decoder::new(bytes)?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = dec.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_stays_plain_large_is_compressed_and_both_round_trip() {
        for size in [10, COMPRESS_OVER + 1, 1 << 20] {
            let data: Vec<u8> = (0..size).map(|i| b"abcdefgh"[i % 8]).collect();
            let mut w = PayloadWriter::new();
            for chunk in data.chunks(1000) {
                w.write_all(chunk).expect("write");
            }
            let p = w.finish().expect("finish");
            assert_eq!(p.compressed, size > COMPRESS_OVER);
            assert_eq!(p.digest, crate::chain::payload_digest(&data));
            assert_eq!(decode(&p.bytes, p.compressed).expect("decode"), data);
            assert_eq!(digest(&p.bytes, p.compressed).expect("digest"), p.digest);
        }
    }
}
