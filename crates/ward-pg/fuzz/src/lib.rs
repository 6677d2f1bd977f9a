//! Shared harness of the ward-pg fuzz targets: the relay's framing loop replayed over arbitrary
//! read boundaries, checked against a one-shot walk of the same bytes.
//!
//! Every check here is an invariant of `ward_pg::codec::frame`; a failed `assert!` is a bug in the
//! codec (or in how the relay uses it), not in the input.

use std::ops::Range;

use ward_pg::codec::ProtocolError;
use ward_pg::codec::frame::{self, HEADER, Next};

/// One whole message of a stream: its type byte and the range of its body in the stream.
pub type Frame = (u8, Range<usize>);

/// The message size limit to frame with, taken from the input so that both `TooLong` and
/// large messages are reached: a first byte with the high bit set selects a small limit.
pub fn limit(data: &[u8]) -> usize {
    match data.first() {
        Some(&b) if b & 0x80 != 0 => HEADER + usize::from(b & 0x7f) * 8,
        _ => 1 << 20,
    }
}

/// How a stream of regular messages ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every byte belongs to a whole message.
    Clean,
    /// The stream stops inside a message (or its header).
    Partial,
    /// A header is invalid (length below 4 or over the limit).
    Invalid,
}

/// Walks `stream` one `frame::next` at a time, checking each answer against the buffer.
pub fn walk(stream: &[u8], max: usize) -> (Vec<Frame>, End) {
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        let rest = stream.get(at..).unwrap_or_default();
        match frame::next(rest, max) {
            Ok(Next::Frame { tag, len }) => {
                assert!(
                    len >= HEADER && len <= rest.len() && len <= max,
                    "frame {len}"
                );
                assert_eq!(rest.first(), Some(&tag));
                frames.push((tag, at + HEADER..at + len));
                at += len;
            }
            Ok(Next::Partial { len }) => {
                assert!(
                    len > rest.len() && len >= HEADER && len <= max,
                    "partial {len}"
                );
                return (frames, End::Partial);
            }
            Ok(Next::NeedHeader) => {
                assert!(rest.len() < HEADER);
                let end = if rest.is_empty() {
                    End::Clean
                } else {
                    End::Partial
                };
                return (frames, end);
            }
            Err(ProtocolError::TooShort { len, .. }) => {
                assert!(len < 4, "too short {len}");
                return (frames, End::Invalid);
            }
            Err(ProtocolError::TooLong { len, .. }) => {
                assert!(
                    usize::try_from(len).is_ok_and(|l| l + 1 > max),
                    "too long {len}"
                );
                return (frames, End::Invalid);
            }
            Err(e) => panic!("frame::next gave {e:?}"),
        }
    }
}

/// Replays the relay's read loop (`relay::pump`): bytes of `stream` arrive in reads of the sizes
/// `reads` yields; after each read the buffer is split at its last whole message with
/// `frame::complete_prefix` and those messages are walked with `frame::frames`.
pub fn relay(
    stream: &[u8],
    max: usize,
    mut reads: impl Iterator<Item = usize>,
) -> (Vec<Frame>, bool) {
    let mut frames = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    // Where `buf` starts in the stream, and how much of the stream has been read.
    let mut base = 0;
    let mut read = 0;
    loop {
        let (whole, need) = match frame::complete_prefix(&buf, max) {
            Ok(v) => v,
            Err(_) => return (frames, true),
        };
        assert!(whole <= buf.len(), "whole {whole} of {}", buf.len());
        assert!(need > whole, "need {need} whole {whole}");
        if whole > 0 {
            let chunk = buf.get(..whole).unwrap_or_default();
            let mut walked = 0;
            for (tag, body) in frame::frames(chunk) {
                assert_eq!(body.start, walked + HEADER, "frames skipped bytes");
                assert!(body.end <= whole);
                assert_eq!(chunk.get(walked), Some(&tag));
                frames.push((tag, base + body.start..base + body.end));
                walked = body.end;
            }
            assert_eq!(walked, whole, "frames stopped before the whole prefix");
            buf.drain(..whole);
            base += whole;
            continue;
        }
        // Nothing whole: the relay reserves `need` bytes and reads again.
        assert!(need > buf.len(), "need {need} with {} buffered", buf.len());
        let left = stream.len() - read;
        if left == 0 {
            return (frames, false);
        }
        let n = reads.next().unwrap_or(left).clamp(1, left);
        buf.extend_from_slice(stream.get(read..read + n).unwrap_or_default());
        read += n;
    }
}

/// Frames `stream` in one walk and through the relay loop at several sets of read boundaries
/// (one byte at a time, sizes drawn from the input, all at once), checks they agree, and returns
/// the whole messages.
pub fn frames(stream: &[u8], max: usize) -> Vec<Frame> {
    let (walked, end) = walk(stream, max);

    let (all_at_once, _) = relay(stream, max, std::iter::empty());
    let byte_by_byte = relay(stream, max, std::iter::repeat(1));
    let drawn = stream
        .iter()
        .rev()
        .map(|&b| usize::from(b % 17) + 1)
        .cycle();
    let arbitrary = relay(stream, max, drawn);

    for (seen, invalid) in [byte_by_byte, arbitrary] {
        assert_eq!(
            invalid,
            end == End::Invalid,
            "relay and walk disagree on validity"
        );
        if invalid {
            // The relay stops at the read that brings the bad header, so it may miss some of
            // the whole messages that came in the same read.
            assert!(walked.starts_with(&seen), "relay saw other messages");
        } else {
            assert_eq!(seen, walked, "relay split the stream differently");
        }
    }
    if end != End::Invalid {
        assert_eq!(all_at_once, walked);
    }
    walked
}

/// Checks that a record payload is one valid JSON value.
pub fn assert_json(payload: &[u8]) {
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(payload) {
        panic!(
            "payload is not JSON ({e}): {}",
            String::from_utf8_lossy(payload)
        );
    }
}

/// The built-in masker, compiled once: record payloads are masked as the recorder masks them.
pub fn masker() -> &'static ward_mask::Masker {
    static MASKER: std::sync::OnceLock<ward_mask::Masker> = std::sync::OnceLock::new();
    MASKER.get_or_init(|| match ward_mask::Masker::builtin() {
        Ok(m) => m,
        Err(e) => panic!("built-in masking rules: {e}"),
    })
}
